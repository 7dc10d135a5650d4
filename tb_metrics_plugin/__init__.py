"""tb_metrics_plugin: threshold curves and confusion matrices for every epoch, in TensorBoard.

`import tb_metrics_plugin` needs neither TensorFlow nor Keras; the Keras parts (`MetricsCallback`,
`ThresholdCurves`, `ConfusionMatrix`) and `summary` (whose TensorBoard tensor helpers take 0.3-1 s
to import) are imported on first use, so the `tb-metrics` command line starts fast.
"""

from __future__ import annotations

import importlib

from tb_metrics_plugin import metadata
from tb_metrics_plugin.writer import SummaryWriter

__version__ = "0.1.0"

_KERAS_NAMES = {
    "MetricsCallback": "tb_metrics_plugin.callback",
    "ThresholdCurves": "tb_metrics_plugin.metrics",
    "ConfusionMatrix": "tb_metrics_plugin.metrics",
}

__all__ = ["ConfusionMatrix", "MetricsCallback", "SummaryWriter", "ThresholdCurves", "metadata", "summary"]


def __getattr__(name: str):
    if name == "summary":
        return importlib.import_module("tb_metrics_plugin.summary")
    if name in _KERAS_NAMES:
        return getattr(importlib.import_module(_KERAS_NAMES[name]), name)
    raise AttributeError(f"module 'tb_metrics_plugin' has no attribute {name!r}")
