"""The threshold grid: the default one, and checks on a grid a user passes.

Every threshold is a float32 value, because Keras compares float32 scores with float32 thresholds;
counting with the same values makes our counts identical to `keras.metrics.TruePositives` etc.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tb_metrics_plugin import counting

# With this many thresholds a binary summary stays under 24 kB even with float64 (weighted) counts:
# (1 + 2·1) rows × 961 columns × 8 bytes = 23,064 bytes of tensor content.
DEFAULT_NUM_THRESHOLDS = 960
# Exact mode (format version 2): a class whose distinct scores in a step number at most
# EXACT_SCORES_PER_THRESHOLD × T (T = the grid's thresholds) is stored as those scores, so every
# operating point and area equals scikit-learn's on the same float32 scores; a step stores at most
# EXACT_STEP_BUDGET_PER_THRESHOLD × T distinct scores in all (classes with the fewest go first, the
# others use the grid), which bounds what averaging over classes must align (core.align_classes).
# At the default grid: up to 3,840 distinct scores per class and 15,360 per step.
EXACT_SCORES_PER_THRESHOLD = 4
EXACT_STEP_BUDGET_PER_THRESHOLD = 16
# The default grid is the quantiles of a mixture: 70 % uniform in score, 30 % uniform in logit over
# [−20, 20]. The first part resolves calibrated models, the second confident ones whose scores pile
# up within 1e-8 of 0 or 1.
_UNIFORM_SHARE = 0.7
_LOGIT_RANGE = 20.0


def default_thresholds(num_thresholds: int = DEFAULT_NUM_THRESHOLDS) -> np.ndarray:
    """The default grid of `num_thresholds` strictly increasing float32 thresholds from 0 to 1.

    t_j = F⁻¹(j / (T − 1)) with F(p) = 0.7·p + 0.3·clip((logit(p) + 20) / 40, 0, 1), each moved up
    to the last float32 of its counting cell (see `counting.score_cells`) so that counting needs no
    comparison; t_0 = 0 and t_{T−1} = 1.

    Raises:
      ValueError: num_thresholds is not an integer ≥ 2.
    """
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)):
        raise ValueError(f"num_thresholds={num_thresholds!r} must be an integer >= 2.")
    if num_thresholds < 2:
        raise ValueError(f"num_thresholds={num_thresholds} must be >= 2 (0 and 1 are always in).")
    if num_thresholds > counting.NUM_CELLS // 4:
        raise ValueError(
            f"num_thresholds={num_thresholds} is more than the default grid supports "
            f"({counting.NUM_CELLS // 4}); pass explicit thresholds=[...] instead."
        )
    return _cached_default(int(num_thresholds)).copy()


def _mixture_cdf(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        logits = np.log(p) - np.log1p(-p)
    logit_part = np.clip((logits + _LOGIT_RANGE) / (2 * _LOGIT_RANGE), 0.0, 1.0)
    return _UNIFORM_SHARE * p + (1 - _UNIFORM_SHARE) * logit_part


def _cached_default(num_thresholds: int, _cache: dict[int, np.ndarray] = {}) -> np.ndarray:  # noqa: B006
    if num_thresholds not in _cache:
        _cache[num_thresholds] = _compute_default(num_thresholds)
    return _cache[num_thresholds]


def _compute_default(num_thresholds: int) -> np.ndarray:
    targets = np.linspace(0.0, 1.0, num_thresholds)
    low, high = np.zeros(num_thresholds), np.ones(num_thresholds)
    for _ in range(64):  # bisection of the monotone mixture CDF
        middle = (low + high) / 2
        below = _mixture_cdf(middle) < targets
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    grid = _last_score_at_or_below_cells(counting.score_cells(high.astype(np.float32)))
    grid[0], grid[-1] = np.float32(0), np.float32(1)
    # Where the ideal grid is finer than the cells (only in the far tails) neighbours coincide:
    # step to the next occupied cell, upwards then downwards, so all num_thresholds are distinct.
    for j in range(1, num_thresholds):
        if grid[j] <= grid[j - 1] < 1:
            above = counting.score_cells(np.nextafter(grid[j - 1 : j], np.float32(2)))
            grid[j] = _last_score_at_or_below_cells(above)[0]
    for j in range(num_thresholds - 2, -1, -1):
        if grid[j] >= grid[j + 1]:
            below = counting.score_cells(grid[j + 1 : j + 2]) - 1
            grid[j] = _last_score_at_or_below_cells(below)[0]
    return grid


def _last_score_at_or_below_cells(cells: np.ndarray) -> np.ndarray:
    """The largest float32 in [0, 1] whose cell is <= `cells[i]`, by bisection on the bit pattern.

    It is the last score of its own cell, so counting never needs to compare with it."""
    low = np.zeros(len(cells), dtype=np.int64)
    high = np.full(len(cells), np.float32(1).view(np.int32), dtype=np.int64)
    for _ in range(32):
        middle = (low + high + 1) // 2
        in_or_before = counting.score_cells(middle.astype(np.int32).view(np.float32)) <= cells
        low, high = np.where(in_or_before, middle, low), np.where(in_or_before, high, middle - 1)
    return low.astype(np.int32).view(np.float32)


def validate_thresholds(thresholds: Sequence[float] | np.ndarray) -> np.ndarray:
    """Checks a user's grid and returns it as float32.

    Raises:
      ValueError: empty, not 1-D, not finite, outside [0, 1], or not strictly increasing (also after
        rounding to float32, which is what Keras compares with).
    """
    try:
        if np.iscomplexobj(thresholds):  # numpy would drop the imaginary part with a mere warning
            raise TypeError("complex numbers")
        values = np.asarray(thresholds, dtype=np.float64)
    except (ValueError, TypeError) as error:  # strings, ragged lists, complex numbers, dicts
        raise ValueError(
            f"thresholds must be a non-empty 1-D list of numbers in [0, 1], got {_shorten(thresholds)} ({error})."
        ) from None
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"thresholds must be a non-empty 1-D list of numbers in [0, 1], got shape {values.shape}."
        )
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        raise ValueError(
            f"thresholds must lie in [0, 1]; thresholds[{int(np.argmax(bad))}]="
            f"{values[bad][0].item()!r} does not. Scores are probabilities: pass from_logits=True if the "
            "model outputs logits, and thresholds in probability space."
        )
    rounded = values.astype(np.float32)
    steps = np.diff(rounded)
    if (steps <= 0).any():
        where = int(np.argmax(steps <= 0))
        raise ValueError(
            f"thresholds must be strictly increasing (as float32); thresholds[{where}]="
            f"{values[where].item()!r} is followed by {values[where + 1].item()!r}. Sort them and drop duplicates."
        )
    return rounded


def _shorten(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
