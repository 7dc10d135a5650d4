"""The rates fairness work compares across slices at one threshold, and the gaps between slices.

Everything here is derived from each slice's TP, FP, TN, FN at one threshold (`counts_at_threshold`,
which resolves the threshold as `core.threshold_index` does). With P = TP + FN, N = FP + TN and
n = P + N of one slice:

==============  =====================  ========================================  ============
rate            formula                fairness criterion                        when 0/0
==============  =====================  ========================================  ============
tpr             TP / P                 equal opportunity                         0 (core)
fpr             FP / N                 equalized odds (with tpr)                 0 (core)
fnr             FN / P                                                           0 (core)
precision       TP / (TP + FP)         predictive parity                         0 (core)
selection_rate  (TP + FP) / n          demographic parity                        NaN
accuracy        (TP + TN) / n          equal accuracy                            NaN (core)
==============  =====================  ========================================  ============

The first five come from `core.threshold_metrics`, so a slice's rate is the number the readout
shows. A slice with nothing counted (n = 0) has NaN selection rate and accuracy and is left out of
the largest gap.

Gaps of slice s to a reference slice r: difference = rate_s − rate_r, ratio = rate_s / rate_r
(NaN when rate_r = 0 or either is NaN). The largest gap of a key is max − min of the rate over its
non-empty slices; for the selection rate that is Fairlearn's `demographic_parity_difference`, and
the larger of the tpr and fpr largest gaps is its `equalized_odds_difference`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tb_metrics_plugin import core, layout

GAP_RATES = ("tpr", "fpr", "fnr", "precision", "selection_rate", "accuracy")

__all__ = ["GAP_RATES", "counts_at_threshold", "gaps", "largest_gap", "slice_rates"]


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
    """{rate: values} of `GAP_RATES`, elementwise over arrays of counts (formulas in the module docstring).

    >>> {k: float(v) for k, v in slice_rates(3, 1, 4, 2).items()}  # doctest: +NORMALIZE_WHITESPACE
    {'tpr': 0.6, 'fpr': 0.2, 'fnr': 0.4, 'precision': 0.75, 'selection_rate': 0.4, 'accuracy': 0.7}
    """
    tp, fp, tn, fn = (np.asarray(values, dtype=np.float64) for values in (tp, fp, tn, fn))
    metrics = core.threshold_metrics(tp, fp, tn, fn)
    total = tp + fp + tn + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        selection_rate = np.where(total > 0, (tp + fp) / np.where(total > 0, total, 1.0), np.nan)
    return {
        "tpr": metrics["recall"],
        "fpr": metrics["fpr"],
        "fnr": metrics["fnr"],
        "precision": metrics["precision"],
        "selection_rate": selection_rate,
        "accuracy": metrics["accuracy"],
    }


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
