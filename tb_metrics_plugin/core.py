"""The numeric core: every metric derived from logged counts, as pure numpy functions.

No TensorBoard or Keras imports: the backend, the CLI and the tests use it alike. The browser has
its own copy in JavaScript (`frontend/src/core.js`), pinned to this one by golden vectors.

Conventions (see docs/metrics.md):

- Histograms are the stored rows of a threshold-curves tensor: `positive_histograms[..., k]` is the
  weight of positives with `t_{k-1} < score <= t_k` (shape `(..., T + 1)`), likewise negatives.
  A prediction is positive at threshold `t` when `score > t`.
- Every histogram-level function works on one class (`(T + 1,)`) or on many (`(C, T + 1)`, one row per
  class, vectorised). With `average="micro" | "macro" | "weighted"` it takes `(C, T + 1)` and returns
  one averaged result: micro sums the histograms over classes (one-vs-rest), macro is the plain mean
  over classes, weighted the mean weighted by each class's positives (support). Classes whose value
  is NaN (undefined for lack of data) are left out of macro and weighted means.
- Zero division gives 0, as scikit-learn's `zero_division=0` (precision with nothing predicted
  positive, ...). NaN only where a quantity is undefined for lack of data (ROC-AUC without positives
  or negatives, accuracy of nothing). `json_safe` turns NaN and infinities into None.
- Curves run from the highest threshold to the lowest, as scikit-learn's `roc_curve`: the first point
  is "nothing positive" (threshold +inf), then one point per stored threshold `t_{T-1}, ..., t_0`,
  and the last is "everything positive" (threshold -inf), so `T + 2` points with their thresholds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

AVERAGES = ("micro", "macro", "weighted")
# A float for one class or an average, a (C,) array for per-class input.
FloatOrArray = float | np.ndarray
NORMALIZATIONS = ("true", "pred", "all", "none")
# Keras' `AUC(summation_method=...)` Riemann sums that bound the PR curve's area from above / below.
SUMMATION_METHODS = ("majoring", "minoring")
# Cohen's kappa disagreement weights for ordinal classes: |i − j| and (i − j)².
KAPPA_WEIGHTS = ("linear", "quadratic")

__all__ = [
    "AVERAGES",
    "NORMALIZATIONS",
    "average_over_classes",
    "average_precision",
    "align_classes",
    "average_threshold_metrics",
    "best_fbeta_threshold",
    "best_youden_threshold",
    "confusion_at_thresholds",
    "confusion_matrix_summary",
    "counts_at_index",
    "det_curve",
    "expected_calibration_error",
    "hanley_mcneil_se",
    "json_safe",
    "matrix_metrics",
    "min_cost_threshold",
    "normalize_matrix",
    "partial_roc_auc",
    "pr_auc",
    "pr_auc_bound",
    "pr_curve",
    "precision_at_recall",
    "recall_at_precision",
    "reliability_diagram",
    "roc_auc",
    "roc_curve",
    "score_distribution",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
    "threshold_curves_summary",
    "threshold_index",
    "threshold_metrics",
    "top_confusions",
    "weighted_kappa",
    "wilson_interval",
]


# --------------------------------------------------------------------------------------------------
# Input checks and small helpers


def _histogram_pair(positive_histograms, negative_histograms) -> tuple[np.ndarray, np.ndarray]:
    positive = np.asarray(positive_histograms, dtype=np.float64)
    negative = np.asarray(negative_histograms, dtype=np.float64)
    if positive.shape != negative.shape:
        raise ValueError(
            f"positive_histograms has shape {positive.shape} but negative_histograms has shape "
            f"{negative.shape}; pass the two halves of one threshold-curves tensor"
        )
    if positive.ndim not in (1, 2) or positive.shape[-1] < 2:
        raise ValueError(f"histograms have shape {positive.shape}; expected (T + 1,) or (C, T + 1) with T >= 1")
    if not (np.all(np.isfinite(positive)) and np.all(np.isfinite(negative))):
        raise ValueError("histograms contain NaN or infinity; counts must be finite weights")
    return positive, negative


def _thresholds_for(thresholds, positive: np.ndarray) -> np.ndarray:
    """`thresholds` as float64: (T,) shared by every class, or (C, T), one row per class."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    width = positive.shape[-1] - 1
    if thresholds.shape == (width,) or (positive.ndim == 2 and thresholds.shape == (positive.shape[0], width)):
        return thresholds
    raise ValueError(
        f"thresholds has shape {thresholds.shape}, expected ({width},) or, per class, "
        f"({positive.shape[0] if positive.ndim == 2 else 'C'}, {width}): one per histogram bin but the last "
        f"(histograms have {positive.shape[-1]} bins)"
    )


def _shared_thresholds(thresholds: np.ndarray, average: str | None) -> np.ndarray:
    """The one threshold row an average needs; per-class rows must first be aligned (`align_classes`)."""
    if average is None or thresholds.ndim == 1:
        return thresholds
    if not np.array_equal(thresholds, np.broadcast_to(thresholds[:1], thresholds.shape)):
        raise ValueError(
            f"average={average!r} needs thresholds shared by every class; these classes have their own "
            "(exact-mode or mixed counts): align them first with core.align_classes(...)"
        )
    return thresholds[0]


def _check_average(average: str | None, positive: np.ndarray) -> None:
    if average is None:
        return
    if average not in AVERAGES:
        raise ValueError(f"average={average!r}; expected None or one of {AVERAGES}")
    if positive.ndim != 2:
        raise ValueError(
            f"average={average!r} needs per-class histograms of shape (C, T + 1); got shape {positive.shape}"
        )


def _checked_inputs(
    positive_histograms, negative_histograms, thresholds, average: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positive, negative, thresholds) checked for one call with `average`: float64 histograms of one
    shape, thresholds that fit them, a known average, and one shared threshold row for an average."""
    positive, negative = _histogram_pair(positive_histograms, negative_histograms)
    thresholds = _thresholds_for(thresholds, positive)
    _check_average(average, positive)
    return positive, negative, _shared_thresholds(thresholds, average)


def _divide(numerator, denominator, undefined: float = 0.0) -> np.ndarray:
    """numerator / denominator elementwise, `undefined` where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, undefined, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _scalar(values: np.ndarray) -> Any:
    """A 0-d array as a Python float (or int); anything else unchanged."""
    values = np.asarray(values)
    if values.ndim == 0:
        return int(values) if np.issubdtype(values.dtype, np.integer) else float(values)
    return values


def average_over_classes(per_class_values: ArrayLike, support: ArrayLike, average: str) -> float:
    """Averages per-class values into one number, leaving out classes where the value is NaN.

    macro = mean_c v_c;  weighted = Σ_c s_c v_c / Σ_c s_c  (s_c = support, the positives of class c),
    both over the classes with a defined (non-NaN) value. NaN when no class has one, or (weighted)
    when their total support is 0. For "micro", average the counts instead (see the module docstring):
    this function refuses it.

    >>> average_over_classes([0.5, float("nan"), 1.0], [1, 5, 3], "weighted")
    0.875
    """
    values = np.asarray(per_class_values, dtype=np.float64)
    support = np.asarray(support, dtype=np.float64)
    defined = ~np.isnan(values)
    if average == "macro":
        return float(np.mean(values[defined])) if np.any(defined) else math.nan
    if average == "weighted":
        total = float(np.sum(support[defined]))
        return float(np.sum(support[defined] * values[defined]) / total) if total > 0 else math.nan
    raise ValueError(f"average={average!r}; average_over_classes takes 'macro' or 'weighted'")


def _average_rows(values: np.ndarray, support: np.ndarray, average: str) -> np.ndarray:
    """`average_over_classes` along axis 0 of a (C, T) array, for every column at once."""
    defined = ~np.isnan(values)
    filled = np.where(defined, values, 0.0)
    if average == "macro":
        weights = defined.astype(np.float64)
    else:
        weights = defined * support[:, None]
    return _divide(np.sum(weights * filled, axis=0), np.sum(weights, axis=0), math.nan)


def _area(area_rows, positive_histograms: ArrayLike, negative_histograms: ArrayLike, average: str | None):
    """Shared body of the area functions: `area_rows(positive, negative)` per class, their average
    (macro / weighted), or the area of the summed counts (micro)."""
    positive, negative = _histogram_pair(positive_histograms, negative_histograms)
    _check_average(average, positive)
    if average == "micro":
        return float(area_rows(*_summed(positive, negative)))
    per_class = area_rows(positive, negative)
    if average is None:
        return _scalar(per_class)
    return average_over_classes(per_class, positive.sum(axis=-1), average)


# --------------------------------------------------------------------------------------------------
# Counts


def confusion_at_thresholds(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """TP, FP, TN, FN at every stored threshold, from the per-bin histograms.

    TP[c, j] = Σ_{k>j} pos[c, k]   FN[c, j] = Σ_{k≤j} pos[c, k]
    FP[c, j] = Σ_{k>j} neg[c, k]   TN[c, j] = Σ_{k≤j} neg[c, k]

    Args:
      positive_histograms, negative_histograms: (C, T + 1) or (T + 1,).

    Returns:
      (tp, fp, tn, fn), each (C, T) (or (T,)): counts of `score > thresholds[j]`.

    >>> tp, fp, tn, fn = confusion_at_thresholds([1, 0, 2], [2, 1, 0])
    >>> tp.tolist(), fp.tolist(), tn.tolist(), fn.tolist()
    ([2.0, 2.0], [1.0, 0.0], [2.0, 3.0], [1.0, 1.0])
    """
    positive_histograms = np.asarray(positive_histograms, dtype=np.float64)
    negative_histograms = np.asarray(negative_histograms, dtype=np.float64)
    fn = np.cumsum(positive_histograms, axis=-1)[..., :-1]
    tn = np.cumsum(negative_histograms, axis=-1)[..., :-1]
    tp = np.flip(np.cumsum(np.flip(positive_histograms, -1), axis=-1), -1)[..., 1:]
    fp = np.flip(np.cumsum(np.flip(negative_histograms, -1), axis=-1), -1)[..., 1:]
    return tp, fp, tn, fn


def threshold_index(thresholds: ArrayLike, threshold: float, exact: bool = False) -> int:
    """Index of the stored threshold that stands for `threshold`; −1 when there is none.

    Grid counts (`exact=False`) are exact only at stored thresholds: the nearest one stands for
    `threshold` (the lower one on a tie); −1 when there are no thresholds or `threshold` is NaN.
    Exact counts (`exact=True`: the thresholds are the distinct scores) are exact at any threshold:
    the index is that of the largest stored threshold ≤ float32(`threshold`) (scores are compared in
    float32, as Keras does), and −1 when `threshold` lies
    below every score (every item is then predicted positive: TP = P, FP = N, which
    `counts_at_index` gives for −1).

    >>> threshold_index([0.0, 0.25, 0.5, 1.0], 0.3)
    1
    >>> threshold_index([0.2, 0.7], 0.69, exact=True), threshold_index([0.2, 0.7], 0.1, exact=True)
    (0, -1)
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.size == 0 or math.isnan(threshold):
        return -1
    return int(_resolve_indices(thresholds, np.array([threshold], dtype=np.float64), exact)[0])


def _resolve_indices(row: np.ndarray, values: np.ndarray, exact: bool) -> np.ndarray:
    """`threshold_index` of each of `values` (sorted or not) in one increasing row (+inf padding ignored)."""
    finite = row[np.isfinite(row)]
    if finite.size == 0:
        return np.full(values.shape, -1, dtype=np.intp)
    if exact:
        # Scores and thresholds are compared as float32 (Keras' `score > threshold`): 0.3 stands for
        # float32(0.3), which is a little above 0.3; stored thresholds are float32 scores.
        return np.searchsorted(finite.astype(np.float32), values.astype(np.float32), side="right") - 1
    above = np.searchsorted(finite, values, side="right")  # count of stored thresholds <= value
    # Nearest: the last one <= value or the first one > value; the lower one on a tie.
    lower = np.clip(above - 1, 0, finite.size - 1)
    upper = np.clip(above, 0, finite.size - 1)
    return np.where(np.abs(finite[upper] - values) < np.abs(values - finite[lower]), upper, lower)


def counts_at_index(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike, index: int
) -> tuple[float, float, float, float]:
    """(TP, FP, TN, FN) of one class at stored threshold `index` (−1: below every threshold, all
    predicted positive): TP = Σ_{k>index} pos[k], FN = Σ_{k≤index} pos[k], likewise FP and TN.

    >>> counts_at_index([1, 0, 2], [2, 1, 0], -1)
    (3.0, 3.0, 0.0, 0.0)
    """
    positive = np.asarray(positive_histograms, dtype=np.float64)
    negative = np.asarray(negative_histograms, dtype=np.float64)
    split = index + 1
    return (float(positive[split:].sum()), float(negative[split:].sum()),
            float(negative[:split].sum()), float(positive[:split].sum()))


def align_classes(
    thresholds: ArrayLike,
    positive_histograms: ArrayLike,
    negative_histograms: ArrayLike,
    exact: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Puts classes with their own thresholds on one common axis, for averages over classes.

    The axis U is the sorted union of every class's finite thresholds. Class c's counts at u ∈ U are
    those at its own stored threshold that stands for u (`threshold_index` with that class's
    `exact`: the largest ≤ u for exact counts, so exact classes stay exact at every u; the nearest
    for grid counts). Its aligned histograms follow from those counts:
    pos'[0] = FN(u_0), pos'[k] = TP(u_{k−1}) − TP(u_k), pos'[|U|] = TP(u_{|U|−1}); likewise neg'.
    When every class shares one row and none is exact the input comes back unchanged, so the
    averages of grid counts are those of format version 1. Micro averages of aligned exact classes
    equal scikit-learn's micro averages on the raveled scores.

    Args:
      thresholds: (T,) shared, or (C, T) one increasing row per class (+inf padding at the end).
      positive_histograms, negative_histograms: (C, T + 1).
      exact: (C,) bool, True where a class's thresholds are its distinct scores; None: all False.

    Returns:
      (axis (U,), positive (C, U + 1), negative (C, U + 1)), float64.

    >>> axis, pos, neg = align_classes([[0.2, 0.7], [0.5, np.inf]], [[1, 1, 0], [1, 0, 0]],
    ...                                [[0, 1, 0], [1, 0, 0]], exact=[True, True])
    >>> axis.tolist(), pos.tolist()
    ([0.2, 0.5, 0.7], [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    """
    positive, negative = _histogram_pair(positive_histograms, negative_histograms)
    positive, negative = np.atleast_2d(positive), np.atleast_2d(negative)
    thresholds = _thresholds_for(thresholds, positive)
    num_classes = positive.shape[0]
    exact = np.zeros(num_classes, dtype=bool) if exact is None else np.asarray(exact, dtype=bool).reshape(-1)
    if exact.shape != (num_classes,):
        raise ValueError(f"exact has {exact.size} flags for {num_classes} classes; pass one per class")
    if thresholds.ndim == 1:
        thresholds = np.broadcast_to(thresholds, (num_classes, thresholds.size))
    if not exact.any() and np.array_equal(thresholds, np.broadcast_to(thresholds[:1], thresholds.shape)):
        return thresholds[0].copy(), positive, negative
    axis = np.unique(thresholds[np.isfinite(thresholds)])
    aligned = []
    for histograms in (positive, negative):
        # Weight above each stored threshold, with "below every threshold" (index −1) in front.
        above = np.cumsum(histograms[:, ::-1], axis=1)[:, ::-1]  # above[:, k] = Σ_{k' ≥ k}
        rows = []
        for c in range(num_classes):
            index = _resolve_indices(thresholds[c], axis, bool(exact[c]))
            over = above[c, index + 1]  # weight with score above the threshold standing for u
            total = above[c, 0]
            rows.append(np.concatenate([[total - over[0]], over[:-1] - over[1:], [over[-1]]]))
        aligned.append(np.array(rows))
    return axis, aligned[0], aligned[1]


def _curve_counts(positive: np.ndarray, negative: np.ndarray):
    """TP and FP from "nothing positive" (+inf) down the grid to "everything positive" (−inf).

    Returns (tp, fp, positives, negatives) with tp, fp of shape (..., T + 2), decreasing threshold.
    """
    # Reverse cumulative sums: index i counts the bins above threshold T-i (bin T is above t_{T-1}).
    tp = np.concatenate([np.zeros(positive.shape[:-1] + (1,)), np.cumsum(positive[..., ::-1], axis=-1)], -1)
    fp = np.concatenate([np.zeros(negative.shape[:-1] + (1,)), np.cumsum(negative[..., ::-1], axis=-1)], -1)
    return tp, fp, tp[..., -1], fp[..., -1]


def _curve_thresholds(thresholds: np.ndarray) -> np.ndarray:
    """+inf, the stored thresholds from the highest down, −inf: (T + 2,), or (C, T + 2) per class."""
    ends = thresholds.shape[:-1] + (1,)
    return np.concatenate([np.full(ends, np.inf), thresholds[..., ::-1], np.full(ends, -np.inf)], axis=-1)


def _summed(positive: np.ndarray, negative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return positive.sum(axis=0), negative.sum(axis=0)


# --------------------------------------------------------------------------------------------------
# Metrics at a threshold


def threshold_metrics(
    tp: ArrayLike, fp: ArrayLike, tn: ArrayLike, fn: ArrayLike, beta: float = 1.0
) -> dict[str, np.ndarray]:
    """Every confusion-count metric, elementwise over arrays of counts of any (equal) shape.

    With P = TP + FN, N = FP + TN, n = P + N:

    ==================  ====================================================  =================
    key                 formula                                               when 0/0
    ==================  ====================================================  =================
    precision           TP / (TP + FP)                                        0
    recall (TPR)        TP / P                                                0
    specificity (TNR)   TN / N                                                0
    fpr                 FP / N                                                0
    fnr                 FN / P                                                0
    f1, dice            2 TP / (2 TP + FP + FN)                               0
    fbeta               (1 + β²) TP / ((1 + β²) TP + β² FN + FP)             0
    iou                 TP / (TP + FP + FN)                                   0
    accuracy            (TP + TN) / n                                         NaN (n = 0)
    balanced_accuracy   (TPR + TNR) / 2, or the one defined if P or N is 0    NaN (n = 0)
    mcc                 (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN))     0
    kappa               2 (TP·TN − FN·FP) / ((TP+FP)(FP+TN) + (TP+FN)(FN+TN))  NaN
    ==================  ====================================================  =================

    The zeros are scikit-learn's `zero_division=0` (and `matthews_corrcoef`'s 0); kappa is NaN when
    undefined, as `cohen_kappa_score`'s default `replace_undefined_by=np.nan`; balanced accuracy is
    `balanced_accuracy_score`'s mean recall over the classes present. F1 with 2 TP + FP + FN > 0 is
    defined even when precision or recall is 0/0 (scikit-learn ≥ 1.3).

    >>> metrics = threshold_metrics(8, 2, 85, 5)
    >>> round(float(metrics["precision"]), 3), round(float(metrics["recall"]), 4), round(float(metrics["iou"]), 4)
    (0.8, 0.6154, 0.5333)
    """
    if not beta > 0:
        raise ValueError(f"beta={beta!r}; F-beta needs beta > 0 (beta = 1 gives F1)")
    tp, fp, tn, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, tn, fn))
    positives, negatives = tp + fn, fp + tn
    total = positives + negatives
    recall = _divide(tp, positives)
    specificity = _divide(tn, negatives)
    f1 = _divide(2 * tp, 2 * tp + fp + fn)
    beta2 = beta * beta
    fbeta = _divide((1 + beta2) * tp, (1 + beta2) * tp + beta2 * fn + fp)
    has_positives, has_negatives = positives > 0, negatives > 0
    balanced = _divide(
        np.where(has_positives, recall, 0.0) + np.where(has_negatives, specificity, 0.0),
        has_positives.astype(np.float64) + has_negatives,
        math.nan,
    )
    mcc = _divide(tp * tn - fp * fn, np.sqrt((tp + fp) * positives * negatives * (tn + fn)))
    kappa = _divide(2 * (tp * tn - fn * fp), (tp + fp) * negatives + positives * (fn + tn), math.nan)
    return {
        "precision": _divide(tp, tp + fp),
        "recall": recall,
        "specificity": specificity,
        "fpr": _divide(fp, negatives),
        "fnr": _divide(fn, positives),
        "f1": f1,
        "fbeta": fbeta,
        "accuracy": _divide(tp + tn, total, math.nan),
        "balanced_accuracy": balanced,
        "mcc": mcc,
        "kappa": kappa,
        "iou": _divide(tp, tp + fp + fn),
        "dice": f1.copy(),
    }


def average_threshold_metrics(
    tp: ArrayLike, fp: ArrayLike, tn: ArrayLike, fn: ArrayLike, average: str, beta: float = 1.0
) -> dict[str, np.ndarray]:
    """`threshold_metrics` averaged over classes at each threshold; counts are (C, T).

    micro: the metrics of Σ_c counts (one-vs-rest pooled). macro: mean over classes of each metric.
    weighted: mean weighted by each class's positives TP + FN. NaN values (kappa, accuracy of an empty
    class) are left out of the means. At one threshold this is scikit-learn's
    `precision_recall_fscore_support(average=...)` on multilabel indicator predictions.
    """
    tp, fp, tn, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, tn, fn))
    if tp.ndim != 2:
        raise ValueError(f"counts have shape {tp.shape}; averaging needs per-class counts of shape (C, T)")
    if average == "micro":
        return threshold_metrics(tp.sum(0), fp.sum(0), tn.sum(0), fn.sum(0), beta)
    if average not in AVERAGES:
        raise ValueError(f"average={average!r}; expected one of {AVERAGES}")
    per_class = threshold_metrics(tp, fp, tn, fn, beta)
    support = (tp + fn)[:, 0] if tp.shape[1] else np.zeros(tp.shape[0])
    return {name: _average_rows(values, support, average) for name, values in per_class.items()}


def _metrics_at_thresholds(positive, negative, average, beta):
    counts = confusion_at_thresholds(positive, negative)
    if average is None:
        return threshold_metrics(*counts, beta=beta)
    return average_threshold_metrics(*counts, average=average, beta=beta)


# --------------------------------------------------------------------------------------------------
# Curves


def roc_curve(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike, thresholds: ArrayLike, average: str | None = None
) -> dict:
    """ROC curve: false positive rate and true positive rate at every threshold, with the ends.

    FPR = FP / N, TPR = TP / P at `score > t` for t = +inf, t_{T-1}, ..., t_0, −inf (T + 2 points,
    FPR non-decreasing). TPR is NaN without positives and FPR NaN without negatives, as in
    scikit-learn's `roc_curve`. scikit-learn's points (`drop_intermediate=False`, thresholds at the
    distinct scores with `>=`) are ours with thresholds at the distinct scores (`>`), shifted by one
    score. Averages (see the module docstring) are threshold averages (Fawcett 2006): macro FPR(t) and
    TPR(t) are the class means at the same threshold.

    Returns:
      {"fpr", "tpr", "thresholds"}: arrays of shape (..., T + 2); thresholds (T + 2,).
    """
    return _curve(
        positive_histograms, negative_histograms, thresholds, average,
        lambda tp, fp, positives, negatives: {
            "fpr": _divide(fp, negatives, math.nan), "tpr": _divide(tp, positives, math.nan),
        },
    )


def pr_curve(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike, thresholds: ArrayLike, average: str | None = None
) -> dict:
    """Precision–recall curve at every threshold, with the ends; highest threshold first.

    Precision = TP / (TP + FP), recall = TP / P at t = +inf, t_{T-1}, ..., t_0, −inf. Where nothing
    is predicted positive (TP + FP = 0, e.g. the +inf end) precision is 1, scikit-learn's
    `precision_recall_curve` end point, so the curve starts at (recall 0, precision 1); the metric
    `threshold_metrics()["precision"]` is 0 there instead (`zero_division=0`). Recall is NaN without
    positives (scikit-learn sets it to 1 and warns). Averages are threshold averages.

    Returns:
      {"precision", "recall", "thresholds"}: arrays of shape (..., T + 2); thresholds (T + 2,).
    """
    return _curve(
        positive_histograms, negative_histograms, thresholds, average,
        lambda tp, fp, positives, _: {
            "precision": _divide(tp, tp + fp, 1.0), "recall": _divide(tp, positives, math.nan),
        },
    )


def det_curve(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike, thresholds: ArrayLike, average: str | None = None
) -> dict:
    """Detection error trade-off: FPR = FP / N and FNR = FN / P at every threshold, with the ends.

    Same points and order as `roc_curve` (FNR = 1 − TPR), all kept: scikit-learn's `det_curve` drops
    the points where FN does not change and the runs of FPR = 0 / FNR = 0 at the ends, so its points
    are a subsequence of ours. NaN without positives (FNR) or negatives (FPR).

    Returns:
      {"fpr", "fnr", "thresholds"}: arrays of shape (..., T + 2); thresholds (T + 2,).
    """
    return _curve(
        positive_histograms, negative_histograms, thresholds, average,
        lambda tp, fp, positives, negatives: {
            "fpr": _divide(fp, negatives, math.nan), "fnr": _divide(positives - tp, positives, math.nan),
        },
    )


def _curve(positive_histograms, negative_histograms, thresholds, average: str | None, rates) -> dict:
    """{name: rate per point, ..., "thresholds"}: `rates(tp, fp, P, N)` on the curve counts of
    each class (TP, FP of shape (..., T + 2); P, N of shape (..., 1)), of the summed counts for
    micro, then the class mean (macro) or P-weighted mean (weighted) of each rate at every point."""
    positive, negative, thresholds = _checked_inputs(positive_histograms, negative_histograms, thresholds, average)
    if average == "micro":
        positive, negative = _summed(positive, negative)
    tp, fp, positives, negatives = _curve_counts(positive, negative)
    curves = rates(tp, fp, positives[..., None], negatives[..., None])
    if average in ("macro", "weighted"):
        curves = {name: _average_rows(values, positives, average) for name, values in curves.items()}
    return {**curves, "thresholds": _curve_thresholds(thresholds)}


# --------------------------------------------------------------------------------------------------
# Areas


def _roc_auc_rows(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    return _roc_auc_of_curve(*_curve_counts(positive, negative))


def _roc_auc_of_curve(tp, fp, positives, negatives) -> np.ndarray:
    # Trapezoids in counts, divided once: Σ ΔFP · (TP_i + TP_{i+1}) / 2 / (P · N).
    area = np.sum(np.diff(fp, axis=-1) * (tp[..., 1:] + tp[..., :-1]), axis=-1) / 2
    return _divide(area, positives * negatives, math.nan)


def roc_auc(positive_histograms: ArrayLike, negative_histograms: ArrayLike, average: str | None = None) -> FloatOrArray:
    """Area under the ROC curve by the trapezoid rule over the stored thresholds.

    AUC = Σ_i (FPR_{i+1} − FPR_i) · (TPR_i + TPR_{i+1}) / 2 over the `roc_curve` points, ends
    included. Scores that share a bin count as ties (½), as in scikit-learn's `roc_auc_score`, so with
    thresholds at the distinct scores the two agree exactly; with Keras' `AUC(thresholds=...)` (its
    ends −ε and 1 + ε are our ±inf ends for scores in [0, 1]) too. NaN when there are no positives or
    no negatives. `average` as in the module docstring: macro / weighted are scikit-learn's
    `roc_auc_score(multi_class="ovr", average=...)` and Keras' `AUC(multi_label=True)` (macro),
    micro is Keras' `AUC(multi_label=False)`.

    Returns:
      a float for one class or an average, (C,) array per class.

    >>> roc_auc([0, 1, 1], [1, 1, 0])
    0.875
    """
    return _area(_roc_auc_rows, positive_histograms, negative_histograms, average)


def _check_max_fpr(max_fpr: float) -> float:
    max_fpr = float(max_fpr)
    if not (0.0 < max_fpr <= 1.0):
        raise ValueError(f"max_fpr={max_fpr!r}; expected a false positive rate in (0, 1], e.g. 0.1")
    return max_fpr


def _partial_roc_auc_of_curve(tp, fp, positives, negatives, max_fpr: float) -> np.ndarray:
    positives, negatives = np.asarray(positives, dtype=np.float64), np.asarray(negatives, dtype=np.float64)
    tpr = _divide(tp, positives[..., None], math.nan)
    fpr = _divide(fp, negatives[..., None], math.nan)
    segments = np.diff(fpr, axis=-1) * (tpr[..., 1:] + tpr[..., :-1]) / 2
    defined = (positives > 0) & (negatives > 0)
    if max_fpr == 1.0:
        return np.where(defined, np.sum(segments, axis=-1), math.nan)
    # scikit-learn's cut: the points with FPR <= max_fpr (a prefix: FPR never decreases along the
    # curve, and the last point has FPR 1 > max_fpr), then one at max_fpr, its TPR interpolated.
    stop = np.sum(np.where(defined[..., None], fpr, 2.0) <= max_fpr, axis=-1)
    stop = np.clip(stop, 1, fpr.shape[-1] - 1)[..., None]
    x0, x1 = np.take_along_axis(fpr, stop - 1, -1)[..., 0], np.take_along_axis(fpr, stop, -1)[..., 0]
    y0, y1 = np.take_along_axis(tpr, stop - 1, -1)[..., 0], np.take_along_axis(tpr, stop, -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        y_cut = (y1 - y0) / (x1 - x0) * (max_fpr - x0) + y0  # np.interp's order of operations
    before_cut = np.arange(segments.shape[-1]) < stop - 1
    area = np.sum(np.where(before_cut, segments, 0.0), axis=-1) + (max_fpr - x0) * (y0 + y_cut) / 2
    min_area, max_area = 0.5 * max_fpr**2, max_fpr
    return np.where(defined, 0.5 * (1 + (area - min_area) / (max_area - min_area)), math.nan)


def partial_roc_auc(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike, max_fpr: float, average: str | None = None
) -> FloatOrArray:
    """Standardised partial ROC-AUC up to `max_fpr`, as scikit-learn's `roc_auc_score(max_fpr=...)`.

    The ROC points (see `roc_curve`) with FPR <= max_fpr, plus one point at FPR = max_fpr whose TPR is
    interpolated linearly between its neighbours, give the partial area A_p by trapezoids. McClish's
    standardisation maps a non-discriminant curve to 0.5 and a perfect one to 1:

        pAUC = ½ · (1 + (A_p − max_fpr² / 2) / (max_fpr − max_fpr² / 2))

    `max_fpr = 1` is the plain `roc_auc`. NaN without positives or negatives. Averages as `roc_auc`
    (scikit-learn's multilabel `average=...` with `max_fpr`; micro is the area of the summed counts).

    >>> round(partial_roc_auc([0, 1, 1], [1, 1, 0], 0.5), 6)
    0.833333
    """
    max_fpr = _check_max_fpr(max_fpr)

    def rows(positive, negative):
        return _partial_roc_auc_of_curve(*_curve_counts(positive, negative), max_fpr)

    return _area(rows, positive_histograms, negative_histograms, average)


def _average_precision_rows(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    return _average_precision_of_curve(*_curve_counts(positive, negative))


def _average_precision_of_curve(tp, fp, positives, negatives) -> np.ndarray:
    precision = _divide(tp, tp + fp)
    return _divide(np.sum(np.diff(tp, axis=-1) * precision[..., 1:], axis=-1), positives, math.nan)


def average_precision(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike, average: str | None = None
) -> FloatOrArray:
    """Average precision with scikit-learn's step definition.

    AP = Σ_n (R_n − R_{n−1}) · P_n over thresholds from high to low, P_n = TP / (TP + FP),
    R_n = TP / P (no interpolation), as `average_precision_score`. Scores within one bin are ties (the
    whole bin enters at once), so AP on binned counts equals scikit-learn's only when no two distinct
    scores share a bin; otherwise it is that of the tied scores (a known gap, usually < 1e-3 on the
    default grid, see docs/format.md). NaN when there are no positives.

    >>> average_precision([0, 1, 1], [1, 1, 0])
    0.8333333333333333
    """
    return _area(_average_precision_rows, positive_histograms, negative_histograms, average)


def _pr_auc_rows(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    return _pr_auc_of_curve(*_curve_counts(positive, negative))


def _pr_auc_of_curve(tp, fp, positives, negatives) -> np.ndarray:
    # Keras orders by increasing threshold: A = lower threshold (more predicted), B = the next one.
    tp, predicted = tp[..., ::-1], (tp + fp)[..., ::-1]
    dtp = tp[..., :-1] - tp[..., 1:]
    dp = predicted[..., :-1] - predicted[..., 1:]
    slope = _divide(dtp, np.maximum(dp, 0))
    intercept = tp[..., 1:] - slope * predicted[..., 1:]
    both_positive = (predicted[..., :-1] > 0) & (predicted[..., 1:] > 0)
    ratio = np.where(both_positive, _divide(predicted[..., :-1], np.maximum(predicted[..., 1:], 0)), 1.0)
    increments = slope * (dtp + intercept * np.log(ratio))
    return _divide(np.sum(increments, axis=-1), positives, math.nan)


def pr_auc(positive_histograms: ArrayLike, negative_histograms: ArrayLike, average: str | None = None) -> FloatOrArray:
    """Area under the PR curve with Keras' Davis–Goadrich interpolation (`AUC(curve="PR")`).

    Between successive thresholds A (lower) and B, TP and the predicted positives p = TP + FP vary
    linearly, so precision = TP / p varies along a hyperbola and its integral over recall is

        slope · (ΔTP + intercept · ln(p_A / p_B)) / P,  slope = ΔTP / Δp,  intercept = TP_B − slope · p_B

    (ln term 0 when p_A or p_B is 0; slope 0 when Δp = 0). Summed over the stored thresholds with the
    ±inf ends, which are Keras' −ε and 1 + ε for scores in [0, 1]: with the same thresholds the value
    is Keras' `AUC(curve="PR", thresholds=...)`. NaN when there are no positives (Keras: 0).
    micro = Keras' `multi_label=False`, macro = `multi_label=True`.

    >>> round(pr_auc([0, 1, 1], [1, 1, 0]), 6)
    0.887327
    """
    return _area(_pr_auc_rows, positive_histograms, negative_histograms, average)


def _check_summation_method(summation_method: str) -> None:
    if summation_method not in SUMMATION_METHODS:
        raise ValueError(
            f"summation_method={summation_method!r}; expected one of {SUMMATION_METHODS} "
            "(the interpolated area is pr_auc)"
        )


def _pr_auc_bound_of_curve(tp, fp, positives, negatives, summation_method: str) -> np.ndarray:
    precision = _divide(tp, tp + fp)  # 0 where nothing is predicted positive, as Keras' divide_no_nan
    pick = np.maximum if summation_method == "majoring" else np.minimum
    heights = pick(precision[..., 1:], precision[..., :-1])
    return _divide(np.sum(np.diff(tp, axis=-1) * heights, axis=-1), positives, math.nan)


def pr_auc_bound(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike, summation_method: str, average: str | None = None
) -> FloatOrArray:
    """Keras' Riemann-sum bounds of the PR-AUC: `AUC(curve="PR", summation_method="majoring" | "minoring")`.

    Over the `pr_curve` points from the highest threshold down (the ±inf ends are Keras' 1 + ε and −ε
    for scores in [0, 1]), each recall step is a rectangle whose height is the larger ("majoring") or
    the smaller ("minoring") precision at its two ends:

        Σ_i (R_{i+1} − R_i) · max|min(P_i, P_{i+1}),  P = TP / (TP + FP) (0 when TP + FP = 0)

    With the same thresholds these are Keras' values; minoring <= pr_auc <= majoring. NaN without
    positives (Keras: 0). micro = Keras' `multi_label=False`, macro = `multi_label=True`.

    >>> pr_auc_bound([0, 1, 1], [1, 1, 0], "majoring"), round(pr_auc_bound([0, 1, 1], [1, 1, 0], "minoring"), 6)
    (1.0, 0.333333)
    """
    _check_summation_method(summation_method)

    def rows(positive, negative):
        return _pr_auc_bound_of_curve(*_curve_counts(positive, negative), summation_method)

    return _area(rows, positive_histograms, negative_histograms, average)


# --------------------------------------------------------------------------------------------------
# Operating points


def _best_index(objective: np.ndarray, feasible: np.ndarray, tie_break: np.ndarray | None = None):
    """First index of the maximum of `objective` over `feasible` along the last axis (−1 if none).

    Ties on the objective go to the larger `tie_break`, then to the lowest threshold.
    """
    feasible = feasible & ~np.isnan(objective)
    masked = np.where(feasible, objective, -np.inf)
    best = np.max(masked, axis=-1, keepdims=True)
    candidates = feasible & (masked == best)
    if tie_break is not None:
        secondary = np.where(candidates, tie_break, -np.inf)
        candidates = candidates & (secondary == np.max(secondary, axis=-1, keepdims=True))
    index = np.argmax(candidates, axis=-1)
    return np.where(np.any(feasible, axis=-1), index, -1)


def _operating_point(index: np.ndarray, thresholds: np.ndarray, objective: np.ndarray, infeasible_value: float):
    found = index >= 0
    safe = np.where(found, index, 0)
    value = np.where(found, np.take_along_axis(objective, safe[..., None], axis=-1)[..., 0], infeasible_value)
    if thresholds.ndim == 2:  # one row per class
        chosen = np.take_along_axis(thresholds, np.reshape(safe, (-1, 1)), axis=-1)[:, 0]
    else:
        chosen = thresholds[safe]
    threshold = np.where(found, chosen, math.nan)
    return {"index": _scalar(index), "threshold": _scalar(threshold), "value": _scalar(value)}


def _prepare_point(positive_histograms, negative_histograms, thresholds, average, beta=1.0):
    positive, negative, thresholds = _checked_inputs(positive_histograms, negative_histograms, thresholds, average)
    return positive, negative, thresholds, _metrics_at_thresholds(positive, negative, average, beta)


def _fbeta_of_counts(tp, fp, fn, beta: float) -> np.ndarray:
    beta2 = beta * beta
    return _divide((1 + beta2) * tp, (1 + beta2) * tp + beta2 * fn + fp)


def _averaged_fbeta(positive: np.ndarray, negative: np.ndarray, average: str | None, beta: float) -> np.ndarray:
    """F-beta at every threshold: per class, or of the summed counts (micro), or averaged over classes."""
    if average == "micro":
        positive, negative = _summed(positive, negative)
    tp, fp, _, fn = confusion_at_thresholds(positive, negative)
    fbeta = _fbeta_of_counts(tp, fp, fn, beta)
    if average in ("macro", "weighted"):
        fbeta = _average_rows(fbeta, positive.sum(-1), average)
    return fbeta


def best_fbeta_threshold(
    positive_histograms: ArrayLike,
    negative_histograms: ArrayLike,
    thresholds: ArrayLike,
    beta: float = 1.0,
    average: str | None = None,
) -> dict:
    """The stored threshold that maximises F-beta = (1 + β²) TP / ((1 + β²) TP + β² FN + FP).

    Ties go to the lowest threshold. With `average`, the maximum of the averaged F-beta at one shared
    threshold (macro: mean of the per-class F-beta at t).

    Returns:
      {"index", "threshold", "value"}: index into `thresholds` (-1 and threshold NaN if none), the
      threshold and the F-beta there. Ints/floats for one class or an average; (C,) arrays per class.
    """
    if not beta > 0:
        raise ValueError(f"beta={beta!r}; F-beta needs beta > 0 (beta = 1 gives F1)")
    positive, negative, thresholds = _checked_inputs(positive_histograms, negative_histograms, thresholds, average)
    objective = _averaged_fbeta(positive, negative, average, beta)
    index = _best_index(objective, np.ones(objective.shape, dtype=bool))
    return _operating_point(index, thresholds, objective, math.nan)


def best_youden_threshold(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike, thresholds: ArrayLike, average: str | None = None
) -> dict:
    """The stored threshold that maximises Youden's J = TPR + TNR − 1 = TPR − FPR.

    Ties go to the lowest threshold. None (index −1, value NaN) for a class without positives or
    without negatives. Returns {"index", "threshold", "value"} as `best_fbeta_threshold`.
    """
    positive, negative, thresholds, metrics = _prepare_point(
        positive_histograms, negative_histograms, thresholds, average
    )
    objective = metrics["recall"] - metrics["fpr"]
    if average is None:
        defined = (positive.sum(-1) > 0) & (negative.sum(-1) > 0)
        feasible = np.broadcast_to(defined[..., None], objective.shape)
    else:
        feasible = np.ones(objective.shape, dtype=bool)
    return _operating_point(_best_index(objective, feasible), thresholds, objective, math.nan)


def min_cost_threshold(
    positive_histograms: ArrayLike,
    negative_histograms: ArrayLike,
    thresholds: ArrayLike,
    cost_ratio: float = 1.0,
    prevalence: float | None = None,
    average: str | None = None,
) -> dict:
    """The stored threshold that minimises the expected cost of errors.

    cost(t) = π · FNR(t) + r · (1 − π) · FPR(t), in units of the cost of one false negative, where
    r = `cost_ratio` = cost of a false positive / cost of a false negative and π = `prevalence`. With
    `prevalence=None` π is each class's observed P / (P + N), so cost(t) = (FN + r · FP) / (P + N).
    Ties go to the lowest threshold; `value` is the minimum cost (NaN for an empty class).

    Returns:
      {"index", "threshold", "value"} as `best_fbeta_threshold`.
    """
    if not (cost_ratio >= 0 and math.isfinite(cost_ratio)):
        raise ValueError(f"cost_ratio={cost_ratio!r}; expected a finite cost of a FP per cost of a FN, >= 0")
    if prevalence is not None and not 0 <= prevalence <= 1:
        raise ValueError(f"prevalence={prevalence!r}; expected a fraction in [0, 1] or None (observed)")
    positive, negative, thresholds = _checked_inputs(positive_histograms, negative_histograms, thresholds, average)
    if average == "micro":
        positive, negative = _summed(positive, negative)
    tp, fp, tn, fn = confusion_at_thresholds(positive, negative)
    if prevalence is None:
        cost = _divide(fn + cost_ratio * fp, tp + fn + fp + tn, math.nan)
    else:
        metrics = threshold_metrics(tp, fp, tn, fn)
        cost = prevalence * metrics["fnr"] + cost_ratio * (1 - prevalence) * metrics["fpr"]
    if average in ("macro", "weighted"):
        cost = _average_rows(cost, positive.sum(-1), average)
    index = _best_index(-cost, np.ones(cost.shape, dtype=bool))
    return _operating_point(index, thresholds, cost, math.nan)


def _at_constraint(positive_histograms, negative_histograms, thresholds, average, constrained, dependent, bound):
    if not 0 <= bound <= 1:
        raise ValueError(f"minimum {constrained}={bound!r}; expected a fraction in [0, 1]")
    _, _, thresholds, metrics = _prepare_point(positive_histograms, negative_histograms, thresholds, average)
    index = _best_index(metrics[dependent], metrics[constrained] >= bound, tie_break=metrics[constrained])
    return _operating_point(index, thresholds, metrics[dependent], 0.0)


def recall_at_precision(
    positive_histograms: ArrayLike,
    negative_histograms: ArrayLike,
    thresholds: ArrayLike,
    min_precision: float,
    average: str | None = None,
) -> dict:
    """Best recall over the stored thresholds with precision ≥ `min_precision` (Keras' @-metric).

    max { TP/P : TP/(TP + FP) ≥ p }, precision 0 where nothing is predicted positive; 0 when no
    threshold qualifies, as `keras.metrics.RecallAtPrecision` (then index −1, threshold NaN). With
    Keras' thresholds (`[0] + [(i + 1)/(n − 1) for i < n − 2] + [1]`) the value equals Keras'. Ties go
    to the higher precision, then the lowest threshold.
    """
    return _at_constraint(
        positive_histograms, negative_histograms, thresholds, average, "precision", "recall", min_precision
    )


def precision_at_recall(
    positive_histograms: ArrayLike,
    negative_histograms: ArrayLike,
    thresholds: ArrayLike,
    min_recall: float,
    average: str | None = None,
) -> dict:
    """Best precision over the stored thresholds with recall ≥ `min_recall` (Keras' @-metric).

    max { TP/(TP + FP) : TP/P ≥ r }, 0 when none qualifies, as `keras.metrics.PrecisionAtRecall`.
    Ties go to the higher recall, then the lowest threshold.
    """
    return _at_constraint(
        positive_histograms, negative_histograms, thresholds, average, "recall", "precision", min_recall
    )


def sensitivity_at_specificity(
    positive_histograms: ArrayLike,
    negative_histograms: ArrayLike,
    thresholds: ArrayLike,
    min_specificity: float,
    average: str | None = None,
) -> dict:
    """Best sensitivity TP/P over the stored thresholds with specificity TN/N ≥ `min_specificity`.

    0 when none qualifies, as `keras.metrics.SensitivityAtSpecificity`. Ties go to the higher
    specificity, then the lowest threshold.
    """
    return _at_constraint(
        positive_histograms, negative_histograms, thresholds, average, "specificity", "recall", min_specificity
    )


def specificity_at_sensitivity(
    positive_histograms: ArrayLike,
    negative_histograms: ArrayLike,
    thresholds: ArrayLike,
    min_sensitivity: float,
    average: str | None = None,
) -> dict:
    """Best specificity TN/N with sensitivity TP/P ≥ `min_sensitivity`, as
    `keras.metrics.SpecificityAtSensitivity` (0 when none qualifies)."""
    return _at_constraint(
        positive_histograms, negative_histograms, thresholds, average, "recall", "specificity", min_sensitivity
    )


# --------------------------------------------------------------------------------------------------
# Confusion matrix


def _square(matrix) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"confusion matrix has shape {matrix.shape}; expected (C, C) with C >= 1")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("confusion matrix contains NaN or infinity; counts must be finite weights")
    return matrix


def matrix_metrics(matrix: ArrayLike) -> dict[str, Any]:
    """Metrics of a confusion matrix (rows = true class, columns = predicted class).

    Per class c (arrays of shape (C,)), with TP_c = m[c, c], row sum R_c (support), column sum K_c:
      precision_c = TP_c / K_c, recall_c = TP_c / R_c, f1_c = 2 TP_c / (R_c + K_c),
      iou_c = TP_c / (R_c + K_c − TP_c): 0 where the denominator is 0 (`zero_division=0`), as
      scikit-learn's `precision_recall_fscore_support` / `jaccard_score(average=None)` with every label.
    Scalars, with n = Σ m:
      accuracy = Σ TP_c / n; balanced_accuracy = mean recall over classes with R_c > 0
      (`balanced_accuracy_score`); kappa = (p_o − p_e) / (1 − p_e), p_e = Σ R_c K_c / n²
      (`cohen_kappa_score`, NaN when p_e = 1); kappa_linear, kappa_quadratic: `weighted_kappa`;
      mcc = (n Σ TP_c − Σ R_c K_c) / √((n² − Σ K_c²)(n² − Σ R_c²))
      (multiclass `matthews_corrcoef`, 0 when undefined);
      mean_iou = mean of iou_c over classes with R_c + K_c − TP_c > 0 (Keras' `MeanIoU`; NaN when no
      class qualifies, Keras 0); frequency_weighted_iou = Σ_c (R_c / n) iou_c;
      macro_/weighted_ precision, recall, f1, iou: plain and support-weighted means over all classes
      (scikit-learn `average="macro" | "weighted"` with `labels=range(C)`).
    Everything scalar is NaN for an all-zero matrix.

    >>> metrics = matrix_metrics([[5, 1], [2, 2]])
    >>> metrics["accuracy"], metrics["iou"].round(4).tolist(), round(metrics["mean_iou"], 4)
    (0.7, [0.625, 0.4], 0.5125)
    """
    matrix = _square(matrix)
    true_positives = np.diag(matrix).copy()
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    total = float(matrix.sum())
    union = support + predicted - true_positives
    precision = _divide(true_positives, predicted)
    recall = _divide(true_positives, support)
    f1 = _divide(2 * true_positives, support + predicted)
    iou = _divide(true_positives, union)
    correct = float(true_positives.sum())
    chance = float(np.dot(support, predicted))
    kappa_denominator = total * total - chance
    mcc_denominator = math.sqrt(
        (total * total - float(np.dot(predicted, predicted))) * (total * total - float(np.dot(support, support)))
    )
    has_support = support > 0
    nan_if_empty = total == 0
    per_class = {"precision": precision, "recall": recall, "f1": f1, "iou": iou}
    averages = {}
    for name, values in per_class.items():
        averages[f"macro_{name}"] = float(np.mean(values))
        averages[f"weighted_{name}"] = float(np.dot(support, values) / total) if total > 0 else math.nan
    return {
        **per_class,
        "support": support,
        "predicted": predicted,
        "accuracy": math.nan if nan_if_empty else correct / total,
        "balanced_accuracy": float(np.mean(recall[has_support])) if np.any(has_support) else math.nan,
        "kappa": (total * correct - chance) / kappa_denominator if kappa_denominator != 0 else math.nan,
        "kappa_linear": weighted_kappa(matrix, "linear"),
        "kappa_quadratic": weighted_kappa(matrix, "quadratic"),
        "mcc": math.nan if nan_if_empty else ((total * correct - chance) / mcc_denominator if mcc_denominator else 0.0),
        "mean_iou": float(np.mean(iou[union > 0])) if np.any(union > 0) else math.nan,
        "frequency_weighted_iou": math.nan if nan_if_empty else float(np.dot(support, iou) / total),
        **averages,
    }


def weighted_kappa(matrix: ArrayLike, weights: str = "linear") -> float:
    """Cohen's kappa with disagreement weights for ordinal classes (class index = rank).

    With w_ij = |i − j| ("linear") or (i − j)² ("quadratic"), row sums R_i, column sums K_j and
    n = Σ m:

        κ_w = 1 − Σ_ij w_ij m_ij / Σ_ij w_ij R_i K_j / n

    as scikit-learn's `cohen_kappa_score(weights=...)` with `labels=range(C)` (sample weights are the
    weighted cells). NaN when the denominator is 0 (one class only, or an empty matrix: scikit-learn's
    `replace_undefined_by=np.nan`).

    >>> round(weighted_kappa([[5, 1, 0], [1, 3, 1], [0, 1, 4]], "quadratic"), 6)
    0.817143
    """
    if weights not in KAPPA_WEIGHTS:
        raise ValueError(
            f"weights={weights!r}; expected one of {KAPPA_WEIGHTS} (unweighted kappa is matrix_metrics' kappa)"
        )
    matrix = _square(matrix)
    total = float(matrix.sum())
    if total == 0:
        return math.nan
    ranks = np.arange(matrix.shape[0], dtype=np.float64)
    distance = np.abs(ranks[:, None] - ranks[None, :])
    disagreement = distance if weights == "linear" else distance * distance
    expected = np.outer(matrix.sum(axis=1), matrix.sum(axis=0)) / total
    denominator = float(np.sum(disagreement * expected))
    return 1.0 - float(np.sum(disagreement * matrix)) / denominator if denominator != 0 else math.nan


def normalize_matrix(matrix: ArrayLike, normalize: str | None = "true") -> np.ndarray:
    """The confusion matrix divided by its row sums ("true"), column sums ("pred") or total ("all").

    "none" (or None) returns a float copy. Rows / columns that sum to 0 stay 0, as scikit-learn's
    `confusion_matrix(normalize=...)`.

    >>> normalize_matrix([[3, 1], [0, 0]], "true").tolist()
    [[0.75, 0.25], [0.0, 0.0]]
    """
    matrix = _square(matrix)
    if normalize is None or normalize == "none":
        return matrix.copy()
    if normalize == "true":
        return _divide(matrix, matrix.sum(axis=1, keepdims=True))
    if normalize == "pred":
        return _divide(matrix, matrix.sum(axis=0, keepdims=True))
    if normalize == "all":
        return _divide(matrix, matrix.sum())
    raise ValueError(f"normalize={normalize!r}; expected one of {NORMALIZATIONS}")


def top_confusions(matrix: ArrayLike, k: int = 10) -> dict[str, np.ndarray]:
    """The `k` largest off-diagonal cells (true class i predicted as j ≠ i) with a non-zero count.

    Ordered by count, descending; ties by true class, then predicted class. `fraction_of_true` is
    m[i, j] / Σ_j m[i, j] (how often class i goes to j).

    Returns:
      {"true", "pred"} int arrays, {"count", "fraction_of_true"} float arrays, each of length ≤ k.

    >>> top_confusions([[5, 1, 0], [3, 2, 3], [0, 0, 1]], 2)["pred"].tolist()
    [0, 2]
    """
    matrix = _square(matrix)
    if k < 0:
        raise ValueError(f"k={k!r}; expected the number of cells to return, >= 0")
    true_class, predicted_class = np.nonzero(~np.eye(matrix.shape[0], dtype=bool) & (matrix != 0))
    counts = matrix[true_class, predicted_class]
    order = np.lexsort((predicted_class, true_class, -counts))[:k]
    true_class, predicted_class, counts = true_class[order], predicted_class[order], counts[order]
    return {
        "true": true_class,
        "pred": predicted_class,
        "count": counts,
        "fraction_of_true": _divide(counts, matrix.sum(axis=1)[true_class]),
    }


# --------------------------------------------------------------------------------------------------
# Score distribution and calibration


def _bin_edges(thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edges of the T + 1 bins (per row for (C, T) thresholds), clipped to the scores'
    range: the open outer bins to [0, 1], +inf padding of exact-mode rows to the last score."""
    finite = np.where(np.isfinite(thresholds), thresholds, -np.inf)
    low = np.minimum(0.0, thresholds[..., :1])
    high = np.maximum(1.0, finite.max(axis=-1, keepdims=True))
    lower = np.minimum(np.concatenate([low, thresholds], axis=-1), high)
    upper = np.minimum(np.concatenate([thresholds, high], axis=-1), high)
    return lower, upper


def score_distribution(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike, thresholds: ArrayLike
) -> dict[str, np.ndarray]:
    """Per-bin fractions of positives' and of negatives' weight: the score distribution by class.

    Bin k holds scores in (lower_k, upper_k] = (t_{k−1}, t_k]; the outer bins are shown clipped to
    [0, 1] (scores are probabilities). positive_k = pos_k / Σ pos (NaN without positives), likewise
    negative_k.

    Returns:
      {"lower", "upper"} of shape (T + 1,) (or (C, T + 1) for per-class thresholds), {"positive",
      "negative"} of shape (..., T + 1).
    """
    positive, negative = _histogram_pair(positive_histograms, negative_histograms)
    thresholds = _thresholds_for(thresholds, positive)
    lower, upper = _bin_edges(thresholds)
    return {
        "lower": lower,
        "upper": upper,
        "positive": _divide(positive, positive.sum(-1, keepdims=True), math.nan),
        "negative": _divide(negative, negative.sum(-1, keepdims=True), math.nan),
    }


def _coarse_bins(thresholds: np.ndarray, num_bins: int) -> np.ndarray:
    """For each fine bin (T + 1), the index of the calibration bin it falls in."""
    if not (isinstance(num_bins, int | np.integer) and num_bins >= 1):
        raise ValueError(f"num_bins={num_bins!r}; expected a positive integer")
    targets = np.arange(1, num_bins) / num_bins
    # The threshold nearest to each uniform edge i / num_bins closes a calibration bin.
    nearest = np.abs(thresholds[None, :] - targets[:, None]).argmin(axis=1)
    return np.searchsorted(nearest, np.arange(len(thresholds) + 1), side="left")


def reliability_diagram(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike, thresholds: ArrayLike, num_bins: int = 10
) -> dict:
    """Calibration curve from the histograms of one class: observed frequency vs predicted score.

    The uniform edges i / num_bins are moved to the nearest stored threshold (the data only splits
    there) and the fine bins are merged accordingly. In calibration bin b:
      fraction_positive_b = Σ pos / Σ (pos + neg),  count_b = Σ (pos + neg),
      mean_predicted_b = Σ (pos + neg) · midpoint / count_b  over its fine bins.
    Empty bins are left out. When the stored thresholds contain the edges, fraction_positive is exactly
    scikit-learn's `calibration_curve(strategy="uniform")` `prob_true` (same right-closed bins);
    `prob_pred` is the mean of the actual scores, which counts do not keep: mean_predicted is within
    half the widest fine bin of it.

    Returns:
      {"lower", "upper", "mean_predicted", "fraction_positive", "count"}, one entry per non-empty bin.
    """
    positive, negative = _histogram_pair(positive_histograms, negative_histograms)
    if positive.ndim != 1:
        raise ValueError(f"reliability_diagram takes one class's histograms (T + 1,); got shape {positive.shape}")
    thresholds = _thresholds_for(thresholds, positive)
    bins = _coarse_bins(thresholds, num_bins)
    fine_lower, fine_upper = _bin_edges(thresholds)
    totals = positive + negative
    count = np.bincount(bins, weights=totals, minlength=num_bins)
    positives = np.bincount(bins, weights=positive, minlength=num_bins)
    weighted_midpoints = np.bincount(bins, weights=totals * (fine_lower + fine_upper) / 2, minlength=num_bins)
    lower = np.full(num_bins, np.inf)
    upper = np.full(num_bins, -np.inf)
    np.minimum.at(lower, bins, fine_lower)
    np.maximum.at(upper, bins, fine_upper)
    kept = count > 0
    return {
        "lower": lower[kept],
        "upper": upper[kept],
        "mean_predicted": weighted_midpoints[kept] / count[kept],
        "fraction_positive": positives[kept] / count[kept],
        "count": count[kept],
    }


def expected_calibration_error(
    positive_histograms: ArrayLike, negative_histograms: ArrayLike, thresholds: ArrayLike, num_bins: int = 10
) -> float:
    """ECE = Σ_b (count_b / n) · |fraction_positive_b − mean_predicted_b| over `reliability_diagram` bins.

    NaN when the histograms are empty. mean_predicted comes from bin midpoints (see
    `reliability_diagram`), so the ECE is within half the widest fine bin of the one from raw scores.
    """
    diagram = reliability_diagram(positive_histograms, negative_histograms, thresholds, num_bins)
    total = float(np.sum(diagram["count"]))
    if total <= 0:
        return math.nan
    gaps = np.abs(diagram["fraction_positive"] - diagram["mean_predicted"])
    return float(np.sum(diagram["count"] * gaps) / total)


# --------------------------------------------------------------------------------------------------
# Uncertainty


def wilson_interval(successes: ArrayLike, trials: ArrayLike, z: float = 1.96) -> tuple[FloatOrArray, FloatOrArray]:
    """Wilson score interval for a proportion p̂ = successes / trials (precision: TP of TP + FP, ...).

    centre = (p̂ + z²/(2n)) / (1 + z²/n),  half-width = z / (1 + z²/n) · √(p̂(1 − p̂)/n + z²/(4n²)).
    NaN for trials = 0. Weighted counts are used as if they were counts.

    Returns:
      (low, high): floats, or arrays for array input.

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    successes = np.asarray(successes, dtype=np.float64)
    trials = np.asarray(trials, dtype=np.float64)
    if np.any(successes < 0) or np.any(successes > trials):
        raise ValueError("wilson_interval needs 0 <= successes <= trials")
    if not z > 0:
        raise ValueError(f"z={z!r}; expected a positive normal quantile (1.96 for 95 %)")
    proportion = _divide(successes, trials, math.nan)
    z2_over_n = _divide(z * z, trials, math.nan)
    centre = (proportion + z2_over_n / 2) / (1 + z2_over_n)
    half = (
        z
        / (1 + z2_over_n)
        * np.sqrt(_divide(proportion * (1 - proportion), trials, math.nan) + z2_over_n * z2_over_n / (4 * z * z))
    )
    return _scalar(centre - half), _scalar(centre + half)


def hanley_mcneil_se(auc: ArrayLike, positives: ArrayLike, negatives: ArrayLike) -> FloatOrArray:
    """Standard error of a ROC-AUC from Hanley & McNeil (1982).

    SE² = (A(1 − A) + (n_P − 1)(Q1 − A²) + (n_N − 1)(Q2 − A²)) / (n_P n_N),
    Q1 = A / (2 − A), Q2 = 2A² / (1 + A). NaN when n_P or n_N is 0 or A is NaN.

    >>> round(hanley_mcneil_se(0.8, 50, 50), 6)
    0.044502
    """
    auc = np.asarray(auc, dtype=np.float64)
    positives = np.asarray(positives, dtype=np.float64)
    negatives = np.asarray(negatives, dtype=np.float64)
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    variance = _divide(
        auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc),
        positives * negatives,
        math.nan,
    )
    return _scalar(np.sqrt(np.maximum(variance, 0)))


# --------------------------------------------------------------------------------------------------
# Per-step summaries for the backend and the CLI


def threshold_curves_summary(
    positive_histograms: ArrayLike,
    negative_histograms: ArrayLike,
    thresholds: ArrayLike,
    exact: ArrayLike | None = None,
) -> dict[str, dict[str, Any]]:
    """The per-step numbers of a threshold-curves summary, for every class and every average.

    metrics: roc_auc, average_precision, pr_auc, pr_auc_majoring, pr_auc_minoring (areas, see
    `pr_auc_bound`: macro / weighted average the per-class areas,
    micro is the area of the summed histograms) and best_f1 / best_f1_threshold (per class: the F1
    maximum over thresholds; micro / macro / weighted: the maximum of the averaged F1 at one shared
    threshold, see `best_fbeta_threshold`). Classes with their own thresholds (`exact`, or per-class
    rows) are put on one axis with `align_classes` for the micro numbers and the averaged F1.

    Returns:
      {metric: {"per_class": (C,) array, "micro": float, "macro": float, "weighted": float}}.
    """
    positive, negative = _histogram_pair(positive_histograms, negative_histograms)
    positive, negative = np.atleast_2d(positive), np.atleast_2d(negative)
    thresholds = _thresholds_for(thresholds, positive)
    curve = _curve_counts(positive, negative)
    axis, aligned_positive, aligned_negative = align_classes(thresholds, positive, negative, exact)
    aligned_curve = curve if aligned_positive is positive else _curve_counts(aligned_positive, aligned_negative)
    micro_curve = tuple(np.sum(counts, axis=0) for counts in aligned_curve)
    support = curve[2]
    summary: dict[str, dict[str, Any]] = {}
    for name, area in (
        ("roc_auc", _roc_auc_of_curve),
        ("average_precision", _average_precision_of_curve),
        ("pr_auc", _pr_auc_of_curve),
        ("pr_auc_majoring", lambda *curve: _pr_auc_bound_of_curve(*curve, "majoring")),
        ("pr_auc_minoring", lambda *curve: _pr_auc_bound_of_curve(*curve, "minoring")),
    ):
        per_class = area(*curve)
        summary[name] = {
            "per_class": per_class,
            "micro": float(area(*micro_curve)),
            "macro": average_over_classes(per_class, support, "macro"),
            "weighted": average_over_classes(per_class, support, "weighted"),
        }
    summary["best_f1"], summary["best_f1_threshold"] = {}, {}

    def f1_of(curve_counts):
        # The curve's inner points, back in increasing-threshold order: TP and FP at t_0, ..., t_{T-1}.
        tp, fp = curve_counts[0][:, -2:0:-1], curve_counts[1][:, -2:0:-1]
        return tp, fp, curve_counts[2][:, None] - tp

    tp, fp, fn = f1_of(curve)
    f1_per_class = _fbeta_of_counts(tp, fp, fn, 1.0)
    tp, fp, fn = f1_of(aligned_curve)
    aligned_f1 = _fbeta_of_counts(tp, fp, fn, 1.0)
    f1_by_average = {
        "per_class": (f1_per_class, thresholds),
        "micro": (_fbeta_of_counts(tp.sum(0), fp.sum(0), fn.sum(0), 1.0), axis),
        "macro": (_average_rows(aligned_f1, support, "macro"), axis),
        "weighted": (_average_rows(aligned_f1, support, "weighted"), axis),
    }
    for key, (f1, at) in f1_by_average.items():
        point = _operating_point(_best_index(f1, np.ones(f1.shape, dtype=bool)), at, f1, math.nan)
        summary["best_f1"][key] = point["value"]
        summary["best_f1_threshold"][key] = point["threshold"]
    return summary


def confusion_matrix_summary(matrix: ArrayLike) -> dict[str, dict[str, Any]]:
    """The per-step numbers of a confusion matrix: accuracy, mean_iou, kappa, kappa_linear and
    kappa_quadratic ({"value": float}) and
    per-class iou ({"per_class": (C,) array}); see `matrix_metrics` for the formulas."""
    metrics = matrix_metrics(matrix)
    return {
        "accuracy": {"value": metrics["accuracy"]},
        "mean_iou": {"value": metrics["mean_iou"]},
        "kappa": {"value": metrics["kappa"]},
        "kappa_linear": {"value": metrics["kappa_linear"]},
        "kappa_quadratic": {"value": metrics["kappa_quadratic"]},
        "iou": {"per_class": metrics["iou"]},
    }


def json_safe(value: Any) -> Any:
    """`value` with numpy arrays and scalars as Python lists and numbers, and NaN / ±inf as None.

    >>> json_safe({"a": np.array([1.0, np.nan]), "b": (np.inf, 2)})
    {'a': [1.0, None], 'b': [None, 2]}
    """
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
