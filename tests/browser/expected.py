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


def class_row(curves, c: int) -> tuple[np.ndarray, bool]:
    """Class c's own stored thresholds (finite, float64) and its `exact` flag (format v2: the
    distinct scores of an exact class, else the grid)."""
    row = np.asarray(curves.per_class_thresholds[c], dtype=np.float64)
    return row[np.isfinite(row)], bool(curves.exact[c])


def class_counts_at(curves, c: int, threshold: float) -> tuple[float, float, float, float]:
    """(TP, FP, TN, FN) of class c at a typed threshold, resolved as the tab does: the floor in
    float32 for an exact class (−1: all positive), the nearest stored threshold on a grid."""
    row, exact = class_row(curves, c)
    index = core.threshold_index(row, threshold, exact=exact)
    return core.counts_at_index(curves.positive_histograms[c], curves.negative_histograms[c], index)


def resolved_threshold(curves, c: int, threshold: float) -> float:
    """The threshold class c's counts hold at: the typed one when exact, else the stored grid one."""
    row, exact = class_row(curves, c)
    return float(threshold) if exact else float(row[core.threshold_index(row, threshold)])


def metrics_at_threshold(curves, class_key: str, threshold: float) -> dict[str, float]:
    """Every readout metric (and TP/FP/TN/FN, except for macro/weighted) at a typed `threshold`.

    Each class resolves the threshold in its own row (`class_counts_at`); micro pools the counts,
    macro/weighted average each class's metrics (`core.average_threshold_metrics`)."""
    if class_key in AVERAGES:
        counts = np.array([class_counts_at(curves, c, threshold) for c in range(curves.positive_histograms.shape[0])])
        tp, fp, tn, fn = (counts[:, [k]] for k in range(4))
        metrics = core.average_threshold_metrics(tp, fp, tn, fn, average=class_key)
        found = {name: float(values[0]) for name, values in metrics.items()}
        if class_key == "micro":
            found.update(tp=float(tp.sum()), fp=float(fp.sum()), tn=float(tn.sum()), fn=float(fn.sum()))
    else:
        tp, fp, tn, fn = class_counts_at(curves, int(class_key), threshold)
        found = {name: float(value) for name, value in core.threshold_metrics(tp, fp, tn, fn).items()}
        found.update(tp=tp, fp=fp, tn=tn, fn=fn)
    found["threshold"] = float(threshold)
    return found


def stored_value_near(curves, value: float, c: int = 0) -> float:
    """Class c's stored threshold closest to `value`, as a float64 that parses back exactly."""
    row, _ = class_row(curves, c)
    return float(row[int(np.argmin(np.abs(row - value)))])


def curve_inputs(curves, class_key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | None]:
    """(positive, negative, thresholds, average) of the tab's curve for a class key, to hand to a core
    optimiser: a class's own row (padding left out); for an average every class on one axis
    (`core.align_classes`, the union of the classes' thresholds, as the tab does)."""
    if class_key in AVERAGES:
        axis, positive, negative = core.align_classes(
            curves.per_class_thresholds, curves.positive_histograms, curves.negative_histograms, curves.exact)
        return positive, negative, axis, class_key
    c = int(class_key)
    row, _ = class_row(curves, c)
    positive = np.asarray(curves.positive_histograms[c], dtype=np.float64)
    negative = np.asarray(curves.negative_histograms[c], dtype=np.float64)
    assert not positive[row.size + 1:].any() and not negative[row.size + 1:].any(), "weight in padding bins"
    return positive[:row.size + 1], negative[:row.size + 1], row, None


def exact_calibration_error(positive, negative, scores, num_bins: int = 10) -> float:
    """ECE of an exact class binned by its scores, as scikit-learn's `calibration_curve`
    (strategy="uniform": edges `linspace(0, 1, num_bins + 1)`, a score on an inner edge in the lower
    bin): Σ_b (n_b / n) · |Σ_b pos / n_b − Σ_b (pos + neg)·score / n_b| over non-empty bins."""
    scores = np.asarray(scores, dtype=np.float64)
    weight = (np.asarray(positive, dtype=np.float64) + np.asarray(negative, dtype=np.float64))[:scores.size]
    bins = np.searchsorted(np.linspace(0, 1, num_bins + 1)[1:-1], scores, side="left")
    count = np.bincount(bins, weights=weight, minlength=num_bins)
    fraction = np.bincount(bins, weights=np.asarray(positive, dtype=np.float64)[:scores.size], minlength=num_bins)
    predicted = np.bincount(bins, weights=weight * scores, minlength=num_bins)
    # (n_b / n) · |pos_b / n_b − predicted_b / n_b| = |pos_b − predicted_b| / n; empty bins add 0.
    return float(np.sum(np.abs(fraction - predicted)) / count.sum())
