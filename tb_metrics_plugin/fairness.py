"""The rates fairness work compares across slices at one threshold, and the gaps between slices.

Everything here is derived from each slice's TP, FP, TN, FN at one threshold (`counts_at_threshold`,
which resolves the threshold as `core.threshold_index` does). With P = TP + FN, N = FP + TN and
n = P + N of one slice:

==============  =====================  ========================================  ============
rate            formula                fairness criterion                        when 0/0
==============  =====================  ========================================  ============
tpr             TP / P                 equal opportunity                         NaN
fpr             FP / N                 equalized odds (with tpr)                 NaN
fnr             FN / P                                                           NaN
precision       TP / (TP + FP)         predictive parity                         NaN
selection_rate  (TP + FP) / n          demographic parity                        NaN
accuracy        (TP + TN) / n          equal accuracy                            NaN
==============  =====================  ========================================  ============

Where the denominator is not 0 these are `core.threshold_metrics`' values, so a slice's rate is the
number the readout shows. Where it is 0 the rate is NaN, "not defined" (a slice without positives
has no TPR), not the 0 of the readout's zero-division convention: a gap to an undefined rate is
undefined too, the tab shows it as "–" and the CLI's gap gate leaves that slice out, naming it.

Gaps of slice s to a reference slice r: difference = rate_s − rate_r, ratio = rate_s / rate_r
(NaN when rate_r = 0 or either is NaN). The largest gap of a key is max − min of the rate over the
slices where it is defined; for the selection rate that is Fairlearn's
`demographic_parity_difference`, and the larger of the tpr and fpr largest gaps is its
`equalized_odds_difference`.

A confusion-matrix tag (an argmax classifier, or one sigmoid output at its logged decision) has
the same rates per class, one-vs-rest at the logged decision (`matrix_rate_counts`): TPR is the
class's recall, precision its precision, the selection rate the share of samples predicted as the
class; its accuracy is the matrix's (multiclass) accuracy, Σ_c m[c, c] / n.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tb_metrics_plugin import core, layout

GAP_RATES = ("tpr", "fpr", "fnr", "precision", "selection_rate", "accuracy")

# Each rate of `GAP_RATES` as (successes, trials) of the counts (tp, fp, tn, fn).
RATE_COUNTS = {
    "tpr": lambda tp, fp, tn, fn: (tp, tp + fn),
    "fpr": lambda tp, fp, tn, fn: (fp, fp + tn),
    "fnr": lambda tp, fp, tn, fn: (fn, tp + fn),
    "precision": lambda tp, fp, tn, fn: (tp, tp + fp),
    "selection_rate": lambda tp, fp, tn, fn: (tp + fp, tp + fp + tn + fn),
    "accuracy": lambda tp, fp, tn, fn: (tp + tn, tp + fp + tn + fn),
}

__all__ = [
    "GAP_RATES",
    "RATE_COUNTS",
    "counts_at_threshold",
    "gaps",
    "largest_gap",
    "matrix_class_counts",
    "matrix_rate_counts",
    "slice_rates",
]


def counts_at_threshold(
    counts: layout.ThresholdCurveCounts, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(TP, FP, TN, FN), each float64 (C,), of every class of one step at `threshold`.

    Each class is taken at the stored threshold that stands for `threshold` (`core.threshold_index`:
    the threshold itself for an exact class, the nearest grid threshold otherwise).

    >>> import numpy as np
    >>> c = layout.ThresholdCurveCounts(np.array([0.5], np.float32), np.array([[1.0, 2.0]]),
    ...                                 np.array([[3.0, 1.0]]), ("positive",))
    >>> [values.tolist() for values in counts_at_threshold(c, 0.5)]
    [[2.0], [1.0], [3.0], [1.0]]
    """
    rows = counts.per_class_thresholds
    points = [
        core.counts_at_index(positive, negative, core.threshold_index(row, threshold, bool(exact)))
        for row, exact, positive, negative in zip(
            rows, counts.exact, counts.positive_histograms, counts.negative_histograms, strict=True)
    ]
    tp, fp, tn, fn = (np.array(values, dtype=np.float64) for values in zip(*points, strict=True))
    return tp, fp, tn, fn


def slice_rates(tp, fp, tn, fn) -> dict[str, np.ndarray]:
    """{rate: values} of `GAP_RATES`, elementwise over arrays of counts: successes / trials of
    `RATE_COUNTS`, NaN where trials is 0 (formulas in the module docstring).

    >>> {k: float(v) for k, v in slice_rates(3, 1, 4, 2).items()}  # doctest: +NORMALIZE_WHITESPACE
    {'tpr': 0.6, 'fpr': 0.2, 'fnr': 0.4, 'precision': 0.75, 'selection_rate': 0.4, 'accuracy': 0.7}
    >>> float(slice_rates(0, 1, 4, 0)["tpr"])  # no positives: no TPR
    nan
    """
    tp, fp, tn, fn = (np.asarray(values, dtype=np.float64) for values in (tp, fp, tn, fn))
    return {rate: _proportion(*RATE_COUNTS[rate](tp, fp, tn, fn)) for rate in GAP_RATES}


def _proportion(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """successes / trials, NaN where trials is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(trials > 0, successes / np.where(trials > 0, trials, 1.0), np.nan)


def matrix_class_counts(matrices) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(TP, FP, TN, FN), each (S, C), of every class one-vs-rest in S confusion matrices (S, C, C):
    TP = m[c, c], FN = R_c − TP, FP = K_c − TP, TN = n − TP − FN − FP (R_c row sum, K_c column sum).

    >>> [values.tolist() for values in matrix_class_counts([[[5.0, 1.0], [2.0, 6.0]]])]
    [[[5.0, 6.0]], [[2.0, 1.0]], [[6.0, 5.0]], [[1.0, 2.0]]]

    Raises:
      ValueError: `matrices` is not (S, C, C) of finite counts >= 0.
    """
    matrices = _checked_matrices(matrices)
    total = matrices.sum(axis=(1, 2))[:, None]
    tp = np.diagonal(matrices, axis1=1, axis2=2).copy()
    fn = matrices.sum(axis=2) - tp
    fp = matrices.sum(axis=1) - tp
    return tp, fp, total - tp - fn - fp, fn


def _checked_matrices(matrices) -> np.ndarray:
    matrices = np.asarray(matrices, dtype=np.float64)
    if matrices.ndim != 3 or matrices.shape[1] != matrices.shape[2]:
        raise ValueError(f"matrices has shape {matrices.shape}; pass one C x C confusion matrix per slice, (S, C, C)")
    if not (np.all(np.isfinite(matrices)) and np.all(matrices >= 0)):
        raise ValueError("matrices must hold finite counts >= 0 (weighted counts are fine)")
    return matrices


def matrix_rate_counts(matrices, class_index: int | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{rate: (successes, trials)} of `GAP_RATES` for S confusion matrices (S, C, C) (rows true
    classes, columns predictions), each an (S,) array.

    For class c, one-vs-rest at the matrix's decision (`matrix_class_counts`), `RATE_COUNTS` of those,
    except `accuracy`, which is the multiclass accuracy (Σ_c m[c, c], n). With `class_index` None
    (an average), only accuracy is defined: the other rates get 0 trials (NaN).

    >>> m = np.array([[[5.0, 1.0, 0.0], [2.0, 6.0, 1.0], [0.0, 0.0, 4.0]]])
    >>> counts = matrix_rate_counts(m, 1)
    >>> {k: (float(s[0]), float(t[0])) for k, (s, t) in counts.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'tpr': (6.0, 9.0), 'fpr': (1.0, 10.0), 'fnr': (3.0, 9.0), 'precision': (6.0, 7.0),
     'selection_rate': (7.0, 19.0), 'accuracy': (15.0, 19.0)}

    Raises:
      ValueError: `matrices` is not (S, C, C) of finite counts >= 0, or `class_index` is not a class.
    """
    matrices = _checked_matrices(matrices)
    num_classes = matrices.shape[1]
    total = matrices.sum(axis=(1, 2))
    correct = np.trace(matrices, axis1=1, axis2=2)
    if class_index is None:
        none = np.zeros_like(total)
        result = {rate: (none, none) for rate in GAP_RATES}
    else:
        if not (isinstance(class_index, int | np.integer) and 0 <= class_index < num_classes):
            raise ValueError(f"class_index={class_index!r}; expected a class, 0 <= class_index < {num_classes}, "
                             "or None for an average")
        tp, fp, tn, fn = (counts[:, class_index] for counts in matrix_class_counts(matrices))
        result = {rate: RATE_COUNTS[rate](tp, fp, tn, fn) for rate in GAP_RATES}
    result["accuracy"] = (correct, total)
    return result


def gaps(values: Mapping[str, float], reference: str) -> dict[str, dict[str, float]]:
    """Each slice's gap to slice `reference`: {slice: {"difference": v − v_ref, "ratio": v / v_ref}}.

    A ratio to 0, and any gap involving NaN (an empty slice), is NaN.

    >>> {k: round(v, 3) for k, v in gaps({"a": 0.8, "b": 0.6}, "a")["b"].items()}
    {'difference': -0.2, 'ratio': 0.75}

    Raises:
      ValueError: `reference` is not one of the slices.
    """
    if reference not in values:
        raise ValueError(f"reference={reference!r} is not one of the slices {sorted(values)}; pick one of them.")
    base = float(values[reference])
    result = {}
    for name, value in values.items():
        value = float(value)
        ratio = value / base if base != 0 and not np.isnan(base) and not np.isnan(value) else float("nan")
        result[name] = {"difference": value - base, "ratio": ratio}
    return result


def largest_gap(values: Mapping[str, float], reference: str | None = None) -> tuple[str, str, float] | None:
    """The largest gap of a rate over slices: (low slice, high slice, high − low) over the slices
    whose rate is defined; with `reference`, the slice farthest from it: (reference, that slice,
    |difference|). None when fewer than two slices have a defined rate (or the reference has none).

    >>> largest_gap({"a": 0.8, "b": 0.6, "c": float("nan")})  # doctest: +ELLIPSIS
    ('b', 'a', 0.2...)

    Raises:
      ValueError: `reference` is not one of the slices.
    """
    defined = {name: float(value) for name, value in values.items() if not np.isnan(float(value))}
    if reference is not None:
        if reference not in values:
            raise ValueError(f"reference={reference!r} is not one of the slices {sorted(values)}; pick one of them.")
        if reference not in defined or len(defined) < 2:
            return None
        far = max((name for name in defined if name != reference),
                  key=lambda name: abs(defined[name] - defined[reference]))
        return reference, far, abs(defined[far] - defined[reference])
    if len(defined) < 2:
        return None
    low = min(defined, key=defined.__getitem__)
    high = max(defined, key=defined.__getitem__)
    return low, high, defined[high] - defined[low]
