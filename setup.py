"""Packaging for tb-metrics-plugin: a TensorBoard plugin with a Keras callback."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent

setup(
    name="tb-metrics-plugin",
    version="0.1.0",
    description="Threshold curves (ROC, PR, F1, ...) and confusion matrices for every epoch, in TensorBoard",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["tb_metrics_plugin", "tb_metrics_plugin.*"]),
    package_data={"tb_metrics_plugin": ["static/*"]},
    include_package_data=True,
    install_requires=[
        "tensorboard>=2.21,<3",
        "numpy>=1.26,<3",
        "protobuf>=5.28,<8",
        "werkzeug>=3.0,<4",
    ],
    extras_require={
        # GPU users keep their own TensorFlow build; tensorflow-cpu is enough for the tests.
        "tensorflow": ["tensorflow>=2.21,<2.22", "keras>=3.15,<4"],
        "keras": ["keras>=3.15,<4"],
        # Log dirs on object storage without TensorFlow (or for schemes it lacks, e.g. s3://): add
        # the fsspec back end of your store, e.g. s3fs, gcsfs or adlfs.
        "remote": ["fsspec>=2024.2"],
    },
    entry_points={
        "tensorboard_plugins": ["tb_metrics = tb_metrics_plugin.plugin:MetricsLoader"],
        "console_scripts": ["tb-metrics = tb_metrics_plugin.cli:main"],
    },
    classifiers=[
        "Framework :: TensorFlow",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
