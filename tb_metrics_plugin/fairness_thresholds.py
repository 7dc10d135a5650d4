"""Per-slice decision thresholds: one for all, one per slice, or per slice under a fairness constraint.

The slices' histograms share one threshold axis (slices with their own thresholds are put on one with
`core.align_classes` first). The overall objective is that of the pooled counts, each slice counted
at its own threshold: TP = Σ_s TP_s(t_s), and so on. Modes:

- "single": one threshold t for every slice, maximising the overall objective;
- "per_slice": each slice's own threshold maximises the objective of that slice alone;
- "equal_opportunity", "demographic_parity", "equal_accuracy": per-slice thresholds whose TPR,
  selection rate or accuracy lie within `tolerance` of each other (max − min ≤ tolerance over the
  slices where the rate is defined; where no slice has it defined, nothing is constrained),
  maximising the overall objective.

The constrained search is exact: the optimum's smallest constrained rate is one of the attained
rates ℓ, so every band [ℓ, ℓ + tolerance] is tried; within a band, linear objectives (accuracy,
Youden's J) split into one independent choice per slice, and F-beta, a ratio of two linear
functions of the counts, is maximised by Dinkelbach's iteration (each step again one choice per
slice). Work: O(B · S · K) per band iteration for B ≤ S · K bands, S slices, K thresholds.

Empty slices (no samples) take no threshold (index −1, NaN) in every mode and add nothing.
The browser has its own copy (`frontend/src/fairness.js`), pinned by golden vectors; it searches
each band's thresholds as runs sorted by rate and skips bands that allow a subset of the band
before, which gives the same result with less work (docs/metrics.md, "Slices").
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from tb_metrics_plugin import core

__all__ = ["CONSTRAINED_RATES", "MODES", "OBJECTIVES", "slice_thresholds"]

OBJECTIVES = ("fbeta", "accuracy", "youden")
# The rate each fairness constraint equalises, as a function of (tp, fp, tn, fn) and its trials.
CONSTRAINED_RATES = {
    "equal_opportunity": ("tpr", lambda tp, fp, tn, fn: (tp, tp + fn)),
    "demographic_parity": ("selection_rate", lambda tp, fp, tn, fn: (tp + fp, tp + fp + tn + fn)),
    "equal_accuracy": ("accuracy", lambda tp, fp, tn, fn: (tp + tn, tp + fp + tn + fn)),
}
MODES = ("single", "per_slice", *CONSTRAINED_RATES)
# Dinkelbach's iteration ends in a few steps; this only bounds it against floating-point cycling.
_MAX_ITERATIONS = 100
# Rates are ratios of counts: 0.55 − 0.5 is 0.050000000000000044 in floating point, and a user's
# tolerance of 0.05 means to admit it.
_ROUNDING = 1e-12


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else 0.0


def _objective_terms(tp, fp, tn, fn, objective: str, beta: float):
    """Per-slice terms (numerator, denominator or None) with objective = Σ_s num_s / Σ_s den_s.

    fbeta: num = (1 + β²) TP, den = (1 + β²) TP + β² FN + FP (0 when den = 0).
    accuracy: num = (TP + TN) / n (linear, den None). youden: num = TP / P − FP / N (pooled P, N).
    """
    if objective == "fbeta":
        beta2 = beta * beta
        return (1 + beta2) * tp, (1 + beta2) * tp + beta2 * fn + fp
    total = float(np.sum((tp + fp + tn + fn)[:, 0]))
    if objective == "accuracy":
        return (tp + tn) * _ratio(1.0, total), None
    positives, negatives = float(np.sum((tp + fn)[:, 0])), float(np.sum((fp + tn)[:, 0]))
    return tp * _ratio(1.0, positives) - fp * _ratio(1.0, negatives), None


def _pooled_objective(tp, fp, tn, fn, objective: str, beta: float) -> float:
    """The objective of pooled counts (floats), as core.threshold_metrics gives it."""
    metrics = core.threshold_metrics(tp, fp, tn, fn, beta)
    if objective == "fbeta":
        return float(metrics["fbeta"])
    if objective == "accuracy":
        return float(metrics["accuracy"])
    return float(metrics["recall"] - metrics["fpr"])


def _pooled_counts(counts, indices) -> tuple[float, float, float, float]:
    pooled = [0.0, 0.0, 0.0, 0.0]
    for s, k in enumerate(indices):
        if k >= 0:
            for which in range(4):
                pooled[which] += float(counts[which][s, k])
    return pooled[0], pooled[1], pooled[2], pooled[3]


def _first_best(values: np.ndarray, feasible: np.ndarray) -> int:
    """First index of the maximum of `values` where `feasible` (−1 if none)."""
    best = -1
    for k in range(values.shape[0]):
        if feasible[k] and (best < 0 or values[k] > values[best]):
            best = k
    return best


def _best_choice(numerator, denominator, feasible, active, floor: float = -math.inf):
    """The per-slice indices maximising Σ num / Σ den over `feasible` (S, K) masks, and the value;
    None when no choice beats `floor` (a ratio objective only).

    Linear objectives (denominator None): each slice's argmax. Ratios: Dinkelbach's iteration from
    λ = max(0, floor): pick each slice's argmax of num − λ·den, set λ to the ratio of the picks, stop
    when it no longer grows (then no choice has Σ num − λ Σ den > 0, so λ is the maximum). When the
    first picks do not beat `floor`, no choice does (Σ num − floor · Σ den ≤ 0 for all): None, so a
    band that cannot beat the best so far costs one pass.
    """
    num_slices = numerator.shape[0]

    def picks_for(scores):
        return [_first_best(scores[s], feasible[s]) if active[s] else -1 for s in range(num_slices)]

    def value_of(indices):
        top, bottom = 0.0, 0.0
        for s, k in enumerate(indices):
            if k >= 0:
                top += float(numerator[s, k])
                bottom += float(denominator[s, k]) if denominator is not None else 0.0
        return top if denominator is None else _ratio(top, bottom)

    if denominator is None:
        indices = picks_for(numerator)
        return indices, value_of(indices)
    best_indices, best_value = None, -math.inf
    level = max(0.0, floor)
    for _ in range(_MAX_ITERATIONS):
        indices = picks_for(numerator - level * denominator)
        value = value_of(indices)
        if best_indices is None and not value > floor:
            return None
        if best_indices is not None and not value > best_value:
            break
        best_indices, best_value, level = indices, value, value
    return best_indices, best_value


def slice_thresholds(
    positive_histograms: ArrayLike,
    negative_histograms: ArrayLike,
    thresholds: ArrayLike,
    mode: str = "single",
    objective: str = "fbeta",
    tolerance: float = 0.05,
    beta: float = 1.0,
) -> dict:
    """Per-slice thresholds for `mode` (see the module docstring), and their cost against "single".

    Args:
      positive_histograms, negative_histograms: (S, K + 1), one row per slice, on one axis.
      thresholds: (K,) the shared increasing thresholds.
      mode: one of `MODES`.
      objective: "fbeta" (F-beta of the pooled counts, `beta`), "accuracy", or "youden" (pooled
        TPR − FPR).
      tolerance: the largest allowed max − min of the constrained rate over the slices, in [0, 1].

    Returns:
      {"indices": [S] ints (−1: no threshold), "thresholds": (S,) floats (NaN for −1), "value": the
      overall objective, "single": {"index", "threshold", "value"} of mode "single", "cost": single
      value − value (negative: the mode gains), "rates": (S,) the constrained rate at each slice's
      threshold (NaN where undefined, or for modes without a constraint), "feasible": bool}.
      When no thresholds satisfy the constraint, indices are −1 and value, cost NaN.
    """
    positive, negative = core._histogram_pair(positive_histograms, negative_histograms)
    positive, negative = np.atleast_2d(positive), np.atleast_2d(negative)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.shape != (positive.shape[1] - 1,):
        raise ValueError(
            f"thresholds has shape {thresholds.shape}; expected ({positive.shape[1] - 1},), one axis shared "
            "by every slice (align slices with their own thresholds with core.align_classes first)"
        )
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}; expected one of {MODES}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r}; expected one of {OBJECTIVES}")
    if not (0 <= tolerance <= 1):
        raise ValueError(f"tolerance={tolerance!r}; expected the largest allowed gap of a rate, in [0, 1]")
    if not beta > 0:
        raise ValueError(f"beta={beta!r}; F-beta needs beta > 0 (beta = 1 gives F1)")
    counts = tuple(np.atleast_2d(c) for c in core.confusion_at_thresholds(positive, negative))
    num_slices, num_thresholds = counts[0].shape
    active = [bool(positive[s].sum() + negative[s].sum() > 0) for s in range(num_slices)]
    numerator, denominator = _objective_terms(*counts, objective, beta)

    pooled_rows = [np.sum(c, axis=0) for c in counts]
    pooled = np.array(
        [_pooled_objective(*(row[k] for row in pooled_rows), objective, beta) for k in range(num_thresholds)]
    )
    single_index = _first_best(pooled, ~np.isnan(pooled))
    single = {
        "index": single_index,
        "threshold": float(thresholds[single_index]) if single_index >= 0 else math.nan,
        "value": float(pooled[single_index]) if single_index >= 0 else math.nan,
    }

    rates = np.full(num_slices, math.nan)
    everywhere = np.ones((num_slices, num_thresholds), dtype=bool)
    if mode == "single":
        indices = [single_index if active[s] else -1 for s in range(num_slices)]
    elif mode == "per_slice":
        indices = []
        for s in range(num_slices):
            own = tuple(c[s : s + 1] for c in counts)
            own_numerator, own_denominator = _objective_terms(*own, objective, beta)
            indices.append(_best_choice(own_numerator, own_denominator, everywhere[s : s + 1], [active[s]])[0][0])
    else:
        _, rate_of = CONSTRAINED_RATES[mode]
        successes, trials = rate_of(*counts)
        rate = core._divide(successes, trials, math.nan)
        constrained = np.array([active[s] and trials[s, 0] > 0 for s in range(num_slices)])
        indices, best_value = None, -math.inf
        # No slice with the rate defined (no positives for TPR): nothing is constrained, one band.
        lows = np.unique(rate[constrained]) if constrained.any() else [0.0]
        for low in lows:
            feasible = np.where(constrained[:, None], (rate >= low) & (rate - low <= tolerance + _ROUNDING), True)
            if not all(feasible[s].any() for s in range(num_slices) if constrained[s]):
                continue
            choice = _best_choice(numerator, denominator, feasible, active, best_value)
            if choice is not None and choice[1] > best_value:
                indices, best_value = choice
        if indices is None:
            nowhere = [-1] * num_slices
            return {
                "indices": nowhere,
                "thresholds": np.full(num_slices, math.nan),
                "value": math.nan,
                "single": single,
                "cost": math.nan,
                "rates": rates,
                "feasible": False,
            }
        for s, k in enumerate(indices):
            if constrained[s] and k >= 0:
                rates[s] = rate[s, k]

    value = _pooled_objective(*_pooled_counts(counts, indices), objective, beta)
    return {
        "indices": indices,
        "thresholds": np.array([thresholds[k] if k >= 0 else math.nan for k in indices]),
        "value": value,
        "single": single,
        "cost": single["value"] - value,
        "rates": rates,
        "feasible": True,
    }
