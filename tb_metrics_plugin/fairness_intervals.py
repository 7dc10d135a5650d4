"""95 % intervals for the fairness rates of each slice (`fairness.py`) and for the gaps between slices.

Pure numpy on confusion counts, one entry per slice: (S,) arrays of TP, FP, TN, FN at the shared
threshold, or (S, C, C) confusion matrices of a tag counted at its logged decision. The browser has
its own copy (`frontend/src/fairness.js`), pinned to this one by golden vectors
(`scripts/make_fairness_vectors.py`). Formulas: docs/metrics.md, "Slices".

Every rate is a proportion p̂ = successes / trials (see `fairness.RATE_COUNTS`), so its interval is the Wilson
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
from tb_metrics_plugin.fairness import GAP_RATES, RATE_COUNTS

__all__ = [
    "RATE_COUNTS",
    "gap_intervals",
    "katz_ratio_interval",
    "matrix_gap_intervals",
    "matrix_rate_intervals",
    "newcombe_difference_interval",
    "rate_intervals",
]

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

    value: `fairness.slice_rates` (NaN where the rate's trials are 0: no TPR without positives, no
    rate at all in an empty slice). low / high: `core.wilson_interval` of (successes, trials)
    from `RATE_COUNTS`, NaN for trials = 0. `trials` is returned too, so that a view can flag rates
    that rest on few samples.

    Returns:
      {rate: {"value", "low", "high", "trials"}}, each an (S,) array.

    >>> rates = rate_intervals([8, 0], [2, 0], [85, 0], [5, 0])
    >>> rates["tpr"]["value"].round(4).tolist(), rates["accuracy"]["value"].tolist()
    ([0.6154, nan], [0.93, nan])
    """
    counts = _counts(tp, fp, tn, fn)
    return _proportion_intervals({rate: RATE_COUNTS[rate](*counts) for rate in GAP_RATES}, z)


def matrix_rate_intervals(matrices: ArrayLike, class_index: int | None, z: float = 1.96) -> dict[str, dict]:
    """`rate_intervals` of S confusion matrices (S, C, C) at their logged decision: class
    `class_index` one-vs-rest, accuracy the multiclass one (`fairness.matrix_rate_counts`; with
    `class_index` None only accuracy is defined).

    >>> rates = matrix_rate_intervals([[[5, 1], [2, 6]], [[0, 0], [3, 1]]], 1)
    >>> rates["tpr"]["value"].round(4).tolist(), rates["accuracy"]["value"].round(4).tolist()
    ([0.75, 0.25], [0.7857, 0.25])
    """
    return _proportion_intervals(fairness.matrix_rate_counts(matrices, class_index), z)


def _proportion_intervals(proportions: dict[str, tuple[np.ndarray, np.ndarray]], z: float) -> dict[str, dict]:
    """{rate: {"value", "low", "high", "trials"}} of {rate: (successes, trials)}: value NaN where trials is 0."""
    result = {}
    for rate, (successes, trials) in proportions.items():
        low, high = core.wilson_interval(successes, trials, z)
        result[rate] = {
            "value": fairness._proportion(successes, trials),
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
    return _proportion_gap_intervals({rate: RATE_COUNTS[rate](*counts) for rate in GAP_RATES}, reference, z)


def matrix_gap_intervals(
    matrices: ArrayLike, class_index: int | None, reference: int, z: float = 1.96
) -> dict[str, dict[str, np.ndarray]]:
    """`gap_intervals` of S confusion matrices (S, C, C) at their logged decision, the rates of
    `matrix_rate_intervals` (class `class_index` one-vs-rest; accuracy the multiclass one)."""
    return _proportion_gap_intervals(fairness.matrix_rate_counts(matrices, class_index), reference, z)


def _proportion_gap_intervals(
    proportions: dict[str, tuple[np.ndarray, np.ndarray]], reference: int, z: float
) -> dict[str, dict[str, np.ndarray]]:
    """Gaps with intervals of every slice to slice `reference`, for {rate: (successes, trials)}."""
    num_slices = next(iter(proportions.values()))[0].shape[0]
    if not (isinstance(reference, int | np.integer) and 0 <= reference < num_slices):
        raise ValueError(f"reference={reference!r}; expected the index of a slice, 0 <= reference < {num_slices}")
    result = {}
    for rate, (successes, trials) in proportions.items():
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
