"""95 % intervals for the fairness rates of each slice (`fairness.py`) and for the gaps between slices.

Pure numpy on confusion counts, one entry per slice (`(S,)` arrays of TP, FP, TN, FN at the shared
threshold). The browser has its own copy (`frontend/src/fairness.js`), pinned to this one by golden
vectors (`scripts/make_fairness_vectors.py`). Formulas: docs/metrics.md, "Slices".

Every rate is a proportion p̂ = successes / trials (see `RATE_COUNTS`), so its interval is the Wilson
score interval the readout uses (`core.wilson_interval`). A gap compares slice s with a reference
slice r: the difference p̂_s − p̂_r with Newcombe's hybrid score interval (built from the two Wilson
intervals, so it agrees with the per-slice intervals shown beside it) and the ratio p̂_s / p̂_r with
the Katz log interval.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from tb_metrics_plugin import core, fairness
from tb_metrics_plugin.fairness import GAP_RATES

__all__ = [
    "RATE_COUNTS",
    "gap_intervals",
    "katz_ratio_interval",
    "newcombe_difference_interval",
    "rate_intervals",
]

# Each rate of `fairness.GAP_RATES` as (successes, trials) of the counts (tp, fp, tn, fn).
RATE_COUNTS = {
    "tpr": lambda tp, fp, tn, fn: (tp, tp + fn),
    "fpr": lambda tp, fp, tn, fn: (fp, fp + tn),
    "fnr": lambda tp, fp, tn, fn: (fn, tp + fn),
    "precision": lambda tp, fp, tn, fn: (tp, tp + fp),
    "selection_rate": lambda tp, fp, tn, fn: (tp + fp, tp + fp + tn + fn),
    "accuracy": lambda tp, fp, tn, fn: (tp + tn, tp + fp + tn + fn),
}


def _counts(tp: ArrayLike, fp: ArrayLike, tn: ArrayLike, fn: ArrayLike) -> tuple[np.ndarray, ...]:
    counts = tuple(np.atleast_1d(np.asarray(x, dtype=np.float64)) for x in (tp, fp, tn, fn))
    if len({c.shape for c in counts}) != 1 or counts[0].ndim != 1:
        raise ValueError(
            f"tp, fp, tn, fn have shapes {[c.shape for c in counts]}; pass one count per slice, (S,) each"
        )
    if not all(np.all(np.isfinite(c)) and np.all(c >= 0) for c in counts):
        raise ValueError("counts must be finite and >= 0 (weighted counts are fine)")
    return counts


def rate_intervals(tp: ArrayLike, fp: ArrayLike, tn: ArrayLike, fn: ArrayLike, z: float = 1.96) -> dict[str, dict]:
    """Each rate of `fairness.GAP_RATES` of each slice with its Wilson interval.

    value: `fairness.slice_rates` (0 for TPR, FPR, FNR and precision at 0/0, NaN for the selection
    rate and accuracy of an empty slice). low / high: `core.wilson_interval` of (successes, trials)
    from `RATE_COUNTS`, NaN for trials = 0. `trials` is returned too, so that a view can flag rates
    that rest on few samples.

    Returns:
      {rate: {"value", "low", "high", "trials"}}, each an (S,) array.

    >>> rates = rate_intervals([8, 0], [2, 0], [85, 0], [5, 0])
    >>> rates["tpr"]["value"].round(4).tolist(), rates["accuracy"]["value"].tolist()
    ([0.6154, 0.0], [0.93, nan])
    """
    counts = _counts(tp, fp, tn, fn)
    values = fairness.slice_rates(*counts)
    result = {}
    for rate in GAP_RATES:
        successes, trials = RATE_COUNTS[rate](*counts)
        low, high = core.wilson_interval(successes, trials, z)
        result[rate] = {
            "value": values[rate],
            "low": np.asarray(low),
            "high": np.asarray(high),
            "trials": trials,
        }
    return result


def newcombe_difference_interval(
    successes_a: ArrayLike, trials_a: ArrayLike, successes_b: ArrayLike, trials_b: ArrayLike, z: float = 1.96
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p̂_a − p̂_b with Newcombe's hybrid score interval (1998, method 10), for independent samples.

    With the Wilson intervals (l_a, u_a) and (l_b, u_b):
      low  = d − √((p̂_a − l_a)² + (u_b − p̂_b)²),   high = d + √((u_a − p̂_a)² + (p̂_b − l_b)²).
    It stays inside [−1, 1] and behaves at p̂ = 0 or 1, where the Wald interval collapses. NaN
    (difference and interval) when either trials is 0.

    >>> [round(float(x), 4) for x in newcombe_difference_interval(56, 70, 48, 80)]  # Newcombe (1998), Table II
    [0.2, 0.0524, 0.3339]
    """
    successes_a, trials_a, successes_b, trials_b = (
        np.asarray(x, dtype=np.float64) for x in (successes_a, trials_a, successes_b, trials_b)
    )
    p_a = core._divide(successes_a, trials_a, math.nan)
    p_b = core._divide(successes_b, trials_b, math.nan)
    low_a, high_a = core.wilson_interval(successes_a, trials_a, z)
    low_b, high_b = core.wilson_interval(successes_b, trials_b, z)
    difference = p_a - p_b
    low = difference - np.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    high = difference + np.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return difference, low, high


def katz_ratio_interval(
    successes_a: ArrayLike, trials_a: ArrayLike, successes_b: ArrayLike, trials_b: ArrayLike, z: float = 1.96
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p̂_a / p̂_b with the Katz log interval (Katz et al. 1978), for independent samples.

    ratio = p̂_a / p̂_b,  SE(ln ratio) = √(1/x_a − 1/n_a + 1/x_b − 1/n_b),
    interval = ratio · exp(±z · SE). The ratio is NaN when either trials is 0 or p̂_b = 0 (a ratio to
    nothing); the interval is NaN as well when x_a = 0 (its logarithm is −∞; the ratio itself is 0).

    >>> [round(float(x), 4) for x in katz_ratio_interval(56, 70, 48, 80)]
    [1.3333, 1.0766, 1.6513]
    """
    successes_a, trials_a, successes_b, trials_b = (
        np.asarray(x, dtype=np.float64) for x in (successes_a, trials_a, successes_b, trials_b)
    )
    p_a = core._divide(successes_a, trials_a, math.nan)
    p_b = core._divide(successes_b, trials_b, math.nan)
    ratio = core._divide(p_a, p_b, math.nan)
    variance = (
        core._divide(1.0, successes_a, math.nan)
        - core._divide(1.0, trials_a, math.nan)
        + core._divide(1.0, successes_b, math.nan)
        - core._divide(1.0, trials_b, math.nan)
    )
    spread = np.exp(z * np.sqrt(np.maximum(variance, 0.0)))
    return ratio, ratio / spread, ratio * spread


def gap_intervals(
    tp: ArrayLike, fp: ArrayLike, tn: ArrayLike, fn: ArrayLike, reference: int, z: float = 1.96
) -> dict[str, dict[str, np.ndarray]]:
    """Gaps of every slice to slice `reference` in each of `GAP_RATES`, as differences and ratios,
    with intervals (`fairness.gaps` without them).

    For slice s and a rate p: difference p_s − p_ref with `newcombe_difference_interval`, ratio
    p_s / p_ref with `katz_ratio_interval`. The reference's own row is difference 0 and ratio 1 (if
    its rate is defined) with NaN intervals: a slice is not a sample independent of itself.
    Equal opportunity is the TPR gap, demographic parity the selection-rate gap.

    Returns:
      {rate: {"difference", "difference_low", "difference_high", "ratio", "ratio_low", "ratio_high"}},
      each an (S,) array.
    """
    counts = _counts(tp, fp, tn, fn)
    num_slices = counts[0].shape[0]
    if not (isinstance(reference, int | np.integer) and 0 <= reference < num_slices):
        raise ValueError(f"reference={reference!r}; expected the index of a slice, 0 <= reference < {num_slices}")
    result = {}
    for rate in GAP_RATES:
        successes, trials = RATE_COUNTS[rate](*counts)
        reference_successes = np.full(num_slices, successes[reference])
        reference_trials = np.full(num_slices, trials[reference])
        difference = newcombe_difference_interval(successes, trials, reference_successes, reference_trials, z)
        ratio = katz_ratio_interval(successes, trials, reference_successes, reference_trials, z)
        for values in (*difference[1:], *ratio[1:]):
            values[reference] = math.nan
        result[rate] = {
            "difference": difference[0],
            "difference_low": difference[1],
            "difference_high": difference[2],
            "ratio": ratio[0],
            "ratio_low": ratio[1],
            "ratio_high": ratio[2],
        }
    return result
