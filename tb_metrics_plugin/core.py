"""The numeric core: every metric derived from logged counts, as pure numpy functions.

No TensorBoard or Keras imports: the backend, the CLI and the tests use it alike. The browser has
its own copy in JavaScript, pinned to this one by golden vectors.
"""

from __future__ import annotations

import numpy as np


def confusion_at_thresholds(
    positive_histograms: np.ndarray, negative_histograms: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """TP, FP, TN, FN at every stored threshold, from the per-bin histograms.

    TP[c, j] = Σ_{k>j} pos[c, k]   FN[c, j] = Σ_{k≤j} pos[c, k]
    FP[c, j] = Σ_{k>j} neg[c, k]   TN[c, j] = Σ_{k≤j} neg[c, k]

    Args:
      positive_histograms, negative_histograms: (C, T + 1) or (T + 1,).

    Returns:
      (tp, fp, tn, fn), each (C, T) (or (T,)): counts of `score > thresholds[j]`.
    """
    positive_histograms = np.asarray(positive_histograms, dtype=np.float64)
    negative_histograms = np.asarray(negative_histograms, dtype=np.float64)
    fn = np.cumsum(positive_histograms, axis=-1)[..., :-1]
    tn = np.cumsum(negative_histograms, axis=-1)[..., :-1]
    tp = np.flip(np.cumsum(np.flip(positive_histograms, -1), axis=-1), -1)[..., 1:]
    fp = np.flip(np.cumsum(np.flip(negative_histograms, -1), axis=-1), -1)[..., 1:]
    return tp, fp, tn, fn


def _curve_with_ends(tp: np.ndarray, fp: np.ndarray, positives: float, negatives: float):
    """Counts from "everything positive" (threshold −inf) through the grid to "nothing" (+inf)."""
    tp = np.concatenate([[positives], tp, [0.0]])
    fp = np.concatenate([[negatives], fp, [0.0]])
    return tp, fp


def roc_auc(positive_histogram: np.ndarray, negative_histogram: np.ndarray) -> float:
    """Area under the ROC curve by the trapezoid rule over the stored thresholds, for one class.

    AUC = Σ_j (FPR_j − FPR_{j+1}) · (TPR_j + TPR_{j+1}) / 2 over points ordered by threshold, with
    the end points (1, 1) and (0, 0) included. Scores that share a bin count as ties (½), as in
    scikit-learn's `roc_auc_score`. NaN when there are no positives or no negatives.
    """
    tp, fp, _, _ = confusion_at_thresholds(positive_histogram, negative_histogram)
    positives, negatives = float(np.sum(positive_histogram)), float(np.sum(negative_histogram))
    if positives <= 0 or negatives <= 0:
        return float("nan")
    tp, fp = _curve_with_ends(tp, fp, positives, negatives)
    tpr, fpr = tp / positives, fp / negatives
    return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))


def average_precision(positive_histogram: np.ndarray, negative_histogram: np.ndarray) -> float:
    """Average precision with scikit-learn's step definition, for one class.

    AP = Σ_n (R_n − R_{n−1}) · P_n over thresholds from high to low, where P_n = TP/(TP + FP) and
    R_n = TP / positives (no interpolation). NaN when there are no positives.
    """
    tp, fp, _, _ = confusion_at_thresholds(positive_histogram, negative_histogram)
    positives, negatives = float(np.sum(positive_histogram)), float(np.sum(negative_histogram))
    if positives <= 0:
        return float("nan")
    tp, fp = _curve_with_ends(tp, fp, positives, negatives)
    predicted = tp + fp
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = tp / positives
    return float(np.sum((recall[:-1] - recall[1:]) * precision[:-1]))
