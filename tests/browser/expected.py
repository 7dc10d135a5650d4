"""What the tab should show, computed by the Python core from the very event files TensorBoard serves."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from tb_metrics_plugin import core
from tests.readback import read_run

AVERAGES = ("micro", "macro", "weighted")


@functools.cache
def _run(run_dir: str) -> dict:
    return read_run(run_dir)


def counts(logdir: Path, run: str, step: int, tag: str):
    """Decoded counts (`layout.ThresholdCurveCounts` / `ConfusionMatrixCounts`) of one step."""
    return _run(str(Path(logdir) / run))[tag][step]


def histograms(curves, class_key: str) -> tuple[np.ndarray, np.ndarray, str | None]:
    """(positive, negative, average) to hand to a core function for a class key of the UI."""
    if class_key in AVERAGES:
        return curves.positive_histograms, curves.negative_histograms, class_key
    index = int(class_key)
    return curves.positive_histograms[index], curves.negative_histograms[index], None


def metrics_at_index(curves, class_key: str, index: int) -> dict[str, float]:
    """Every readout metric (and TP/FP/TN/FN, except for macro/weighted) at stored threshold `index`."""
    positive, negative, average = histograms(curves, class_key)
    if average == "micro":
        positive, negative, average = positive.sum(0), negative.sum(0), None
    tp, fp, tn, fn = core.confusion_at_thresholds(positive, negative)
    if average is None:
        metrics = core.threshold_metrics(tp, fp, tn, fn)
        found = {name: float(values[index]) for name, values in metrics.items()}
        found.update(tp=float(tp[index]), fp=float(fp[index]), tn=float(tn[index]), fn=float(fn[index]))
    else:
        metrics = core.average_threshold_metrics(tp, fp, tn, fn, average=average)
        found = {name: float(values[index]) for name, values in metrics.items()}
    found["threshold"] = float(curves.thresholds[index])
    return found


def grid_value_near(curves, value: float) -> tuple[int, float]:
    """(index, threshold) of the stored threshold closest to `value`, as a float64 that parses back exactly."""
    thresholds = np.asarray(curves.thresholds, dtype=np.float64)
    index = int(np.argmin(np.abs(thresholds - value)))
    return index, float(thresholds[index])
