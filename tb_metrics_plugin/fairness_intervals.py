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
    "AVERAGES",
    "RATE_COUNTS",
    "averaged_gap_intervals",
    "averaged_rate_intervals",
    "gap_intervals",
    "katz_ratio_interval",
    "matrix_gap_intervals",
    "matrix_rate_intervals",
    "newcombe_difference_interval",
    "rate_intervals",
]

# The class averages of a rate with an (approximate) interval; "micro" pools the counts (rate_intervals).
AVERAGES = ("macro", "weighted")


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


def averaged_rate_intervals(
    tp: ArrayLike, fp: ArrayLike, tn: ArrayLike, fn: ArrayLike, average: str, z: float = 1.96
) -> dict[str, dict[str, np.ndarray]]:
    """Each rate of `GAP_RATES` of each slice averaged over classes, with an approximate interval.

    Counts are (S, C): slice s, class c. With p_c = x_c / n_c the class's rate (`RATE_COUNTS`),
    over the classes where it is defined (n_c > 0):
      value m = Σ w_c p_c / W,   W = Σ w_c,   w_c = 1 ("macro") or the class's positives P_c ("weighted"),
      se² = Σ (w_c / W)² p_c (1 − p_c) / n_c,   interval [m − z·se, m + z·se] clipped to [0, 1].
    There is no closed-form score interval for a mean of proportions; this Wald interval of the
    weighted mean treats the classes as independent samples. That is exact in variance when the
    classes' samples are disjoint (TPR and FNR of single-label data: each sample is a positive of
    one class) and ignores the covariance between classes otherwise (FPR, precision, selection
    rate and accuracy count a sample for several classes); like any Wald interval it shrinks to a
    point where every p_c is 0 or 1. NaN when no class has the rate defined.

    Returns:
      {rate: {"value", "low", "high", "se"}}, each an (S,) array.

    >>> rates = averaged_rate_intervals([[8, 2]], [[1, 3]], [[10, 14]], [[2, 2]], "macro")
    >>> [round(float(rates["tpr"][key][0]), 4) for key in ("value", "low", "high")]
    [0.65, 0.3754, 0.9246]
    """
    if average not in AVERAGES:
        raise ValueError(f"average={average!r}; expected one of {AVERAGES} (a class or micro: rate_intervals)")
    counts = tuple(np.asarray(x, dtype=np.float64) for x in (tp, fp, tn, fn))
    if len({c.shape for c in counts}) != 1 or counts[0].ndim != 2:
        raise ValueError(f"tp, fp, tn, fn have shapes {[c.shape for c in counts]}; pass (S, C) each: slices by classes")
    if not all(np.all(np.isfinite(c)) and np.all(c >= 0) for c in counts):
        raise ValueError("counts must be finite and >= 0 (weighted counts are fine)")
    support = counts[0] + counts[3]
    result = {}
    for rate in GAP_RATES:
        successes, trials = RATE_COUNTS[rate](*counts)
        defined = trials > 0
        proportion = np.where(defined, successes / np.where(defined, trials, 1.0), 0.0)
        weights = np.where(defined, 1.0 if average == "macro" else support, 0.0)
        total = weights.sum(axis=1)
        share = core._divide(weights, total[:, None], 0.0)
        value = np.where(total > 0, (share * proportion).sum(axis=1), np.nan)
        variance = (share**2 * core._divide(proportion * (1 - proportion), trials, 0.0)).sum(axis=1)
        se = np.where(total > 0, np.sqrt(variance), np.nan)
        result[rate] = {
            "value": value,
            "low": np.clip(value - z * se, 0.0, 1.0),
            "high": np.clip(value + z * se, 0.0, 1.0),
            "se": se,
        }
    return result


def averaged_gap_intervals(
    tp: ArrayLike, fp: ArrayLike, tn: ArrayLike, fn: ArrayLike, average: str, reference: int, z: float = 1.96
) -> dict[str, dict[str, np.ndarray]]:
    """Gaps of every slice's class-averaged rate (`averaged_rate_intervals`) to slice `reference`.

    Slices are disjoint samples, so with m and se of each slice:
      difference d = m_s − m_r,  interval d ± z √(se_s² + se_r²);
      ratio R = m_s / m_r,  interval R · exp(±z √(se_s² / m_s² + se_r² / m_r²))  (delta method on ln R).
    Approximate as the rates' intervals are. The ratio is NaN when m_r = 0, its interval when m_s = 0;
    the reference's own row is difference 0, ratio 1, NaN intervals.

    Returns:
      {rate: {"difference", "difference_low", "difference_high", "ratio", "ratio_low", "ratio_high"}},
      each an (S,) array.
    """
    rates = averaged_rate_intervals(tp, fp, tn, fn, average, z)
    num_slices = rates["tpr"]["value"].shape[0]
    if not (isinstance(reference, int | np.integer) and 0 <= reference < num_slices):
        raise ValueError(f"reference={reference!r}; expected the index of a slice, 0 <= reference < {num_slices}")
    result = {}
    for rate, values in rates.items():
        value, se = values["value"], values["se"]
        base, base_se = value[reference], se[reference]
        difference = value - base
        spread = z * np.sqrt(se**2 + base_se**2)
        ratio = core._divide(value, np.full(num_slices, base), math.nan)
        log_spread = z * np.sqrt(core._divide(se**2, value**2, math.nan) + core._divide(base_se**2, base**2, math.nan))
        entry = {
            "difference": difference,
            "difference_low": difference - spread,
            "difference_high": difference + spread,
            "ratio": ratio,
            "ratio_low": ratio * np.exp(-log_spread),
            "ratio_high": ratio * np.exp(log_spread),
        }
        for key in ("difference_low", "difference_high", "ratio_low", "ratio_high"):
            entry[key][reference] = math.nan
        result[rate] = entry
    return result
