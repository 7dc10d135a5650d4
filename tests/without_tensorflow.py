"""Runs Python as in an environment without TensorFlow and Keras: they (and any other named
package) become unimportable.

`python -m tests.without_tensorflow MODULE ARGS...` runs MODULE as `python -m MODULE ARGS...`
would, e.g. `tensorboard.main`, which then falls back to its TensorFlow-free file systems (boto3
for s3://, fsspec for the rest). In a script: `from tests.without_tensorflow import block; block()`.
"""

from __future__ import annotations

import importlib.abc
import runpy
import sys

WITHOUT = ("tensorflow", "keras", "tf_keras")


class _Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, packages: tuple[str, ...]):
        self.packages = packages

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.packages:
            raise ImportError(f"{name} is blocked: this process runs as if it were not installed")
        return None


def block(*also: str) -> None:
    """Makes TensorFlow, Keras and the packages `also` unimportable in this process from now on."""
    packages = WITHOUT + also
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in packages)
    if loaded:
        raise RuntimeError(f"already imported, cannot be blocked: {loaded[:5]}")
    sys.meta_path.insert(0, _Blocker(packages))


if __name__ == "__main__":
    block()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
