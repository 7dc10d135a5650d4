"""O(N) counting of weighted scores into threshold bins and of (true, predicted) pairs.

Both counters are what the numpy writer and the callback use; neither builds an N×T one-hot. A
score lands in bin k = #{j : thresholds[j] < score}, so a sample is predicted positive at
threshold j exactly when its bin is > j (Keras' `score > threshold`). Bins are found with a
lookup table indexed by the float32 bit pattern of the score (see `score_cells`), which is several
times faster than a binary search and exact.
"""

from __future__ import annotations

import functools

import numpy as np

# Bit pattern of float32 0.5; keys below it come from the score's own bits, keys above from 1 - score,
# so that both ends of [0, 1] (where confident models put their scores) keep float32's relative
# resolution.
_HALF_BITS = np.int32(0x3F000000)
CELL_SHIFT = 12
# Adding 2**CELL_SHIFT - 1 before the shift makes 0.0 the only score in cell 0, so a threshold at
# exactly 0 is the last value of its cell.
_CELL_OFFSET = np.int32((1 << CELL_SHIFT) - 1)
NUM_CELLS = ((2 * int(_HALF_BITS) + int(_CELL_OFFSET)) >> CELL_SHIFT) + 1
# Rows processed at once: bounds temporaries to O(chunk · C) whatever N is.
_CHUNK_ELEMENTS = 1 << 14  # small enough for temporaries to stay in cache


def score_cells(scores: np.ndarray) -> np.ndarray:
    """Maps float32 scores in [0, 1] to a non-decreasing int32 cell index in [0, NUM_CELLS).

    key(s) = bits(s) for s < 0.5, and 2·bits(0.5) − bits(1 − s) for s ≥ 0.5 (1 − s is exact in
    float32 there); cell = (key + 2^12 − 1) >> 12. A cell spans about 5e-4 of the distance to the
    nearer end of [0, 1], so scores like 1 − 1e-7 and 1 − 2e-7 fall in different cells. The branch
    is chosen with integer arithmetic (a masked copy is several times slower on random data).
    """
    scores = np.asarray(scores, dtype=np.float32)
    bits = scores.view(np.int32)
    keys = np.subtract(np.float32(1), scores).view(np.int32)
    np.subtract(2 * _HALF_BITS + _CELL_OFFSET, keys, out=keys)  # upper-half key, offset included
    lower_mask = np.subtract(bits, _HALF_BITS)
    lower_mask >>= 31  # all ones where s < 0.5, else zeros
    lower_minus_upper = np.add(bits, _CELL_OFFSET)
    lower_minus_upper -= keys
    lower_minus_upper &= lower_mask
    keys += lower_minus_upper
    keys >>= CELL_SHIFT
    return keys


def is_cell_aligned(thresholds: np.ndarray) -> np.ndarray:
    """True where a float32 threshold is the largest score of its cell (no in-cell comparison)."""
    thresholds = np.asarray(thresholds, dtype=np.float32)
    following = np.nextafter(thresholds, np.float32(np.inf))
    return (thresholds >= np.float32(1)) | (score_cells(following) > score_cells(thresholds))


class Bucketizer:
    """Finds each score's threshold bin with one table lookup (plus a few comparisons when a
    threshold is not at the end of its cell). Build once per threshold grid; see `bucketizer`."""

    def __init__(self, thresholds: np.ndarray):
        self.thresholds = np.asarray(thresholds, dtype=np.float32)
        threshold_cells = score_cells(self.thresholds)
        # int32 halves the table (2 MB) and keeps look-ups in cache better than intp.
        self._bin_at_cell_start = np.searchsorted(
            threshold_cells, np.arange(NUM_CELLS, dtype=np.int32), side="left"
        ).astype(np.int32)
        unaligned_cells = threshold_cells[~is_cell_aligned(self.thresholds)]
        self._corrections = int(np.bincount(unaligned_cells).max()) if unaligned_cells.size else 0
        self._thresholds_then_inf = np.append(self.thresholds, np.float32(np.inf))

    def bins(self, scores: np.ndarray) -> np.ndarray:
        """bins[i] = #{j : thresholds[j] < scores[i]} as int32, for float32 scores in [0, 1]."""
        scores = np.asarray(scores, dtype=np.float32)
        bins = np.take(self._bin_at_cell_start, score_cells(scores))
        for _ in range(self._corrections):
            bins += scores > np.take(self._thresholds_then_inf, bins)
        return bins


@functools.lru_cache(maxsize=8)
def _cached_bucketizer(threshold_bytes: bytes) -> Bucketizer:
    return Bucketizer(np.frombuffer(threshold_bytes, dtype=np.float32))


def bucketizer(thresholds: np.ndarray) -> Bucketizer:
    """A `Bucketizer` for this grid, cached (building the 4 MB table takes a few milliseconds)."""
    return _cached_bucketizer(np.ascontiguousarray(thresholds, dtype=np.float32).tobytes())


def threshold_histograms(
    is_positive: np.ndarray,
    scores: np.ndarray,
    thresholds: np.ndarray,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted score histograms of positives and negatives per class over the threshold bins.

    Args:
      is_positive: bool (N, C), sample n is a positive of class c.
      scores: float32 (N, C) in [0, 1].
      thresholds: float32 (T,), strictly increasing.
      weights: float (N,) sample weights, or None for 1.

    Returns:
      (positive_histograms, negative_histograms), each float64 (C, T + 1). Column k holds the weight
      of samples with thresholds[k-1] < score <= thresholds[k] (thresholds[-1] = -inf,
      thresholds[T] = +inf), so TP(j) = Σ_{k>j} positive_histograms[:, k].
    """
    num_rows, num_classes = scores.shape
    num_bins = len(thresholds) + 1
    bucketize = bucketizer(thresholds)
    class_offsets = np.arange(num_classes, dtype=np.int32) * np.int32(num_bins)
    negative_offset = num_classes * num_bins
    histograms = np.zeros(2 * negative_offset, dtype=np.float64)
    # Each chunk adds a whole histogram-sized bincount: keep chunks several times larger than it.
    chunk_elements = max(_CHUNK_ELEMENTS, 4 * histograms.size)
    rows_per_chunk = max(1, chunk_elements // max(num_classes, 1))
    for start in range(0, num_rows, rows_per_chunk):
        rows = slice(start, start + rows_per_chunk)
        flat_index = bucketize.bins(scores[rows])
        flat_index += class_offsets
        flat_index += np.int32(negative_offset) * ~is_positive[rows]
        chunk_weights = None
        if weights is not None:
            chunk_weights = np.broadcast_to(weights[rows, None], flat_index.shape).ravel()
        histograms += np.bincount(
            flat_index.ravel(), weights=chunk_weights, minlength=histograms.size
        )
    histograms = histograms.reshape(2, num_classes, num_bins)
    return histograms[0], histograms[1]


def confusion_counts(
    true_classes: np.ndarray,
    predicted_classes: np.ndarray,
    num_classes: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted C×C confusion matrix: entry [i, j] is the weight of samples of true class i
    predicted as class j (scikit-learn's `confusion_matrix` orientation)."""
    flat_index = true_classes.astype(np.intp) * num_classes + predicted_classes
    counts = np.bincount(flat_index, weights=weights, minlength=num_classes * num_classes)
    return counts.astype(np.float64).reshape(num_classes, num_classes)
