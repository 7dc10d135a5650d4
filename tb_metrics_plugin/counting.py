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

_ONE_BITS = 0x3F800000  # bit pattern of float32 1.0
CELL_SHIFT = 12
# Adding 2**CELL_SHIFT - 1 before the shift makes 0.0 the only score in cell 0, so a threshold at
# exactly 0 is the last value of its cell.
_CELL_OFFSET = (1 << CELL_SHIFT) - 1
KEY_BIAS = np.int32(_ONE_BITS + _CELL_OFFSET)
NUM_CELLS = ((2 * _ONE_BITS + _CELL_OFFSET) >> CELL_SHIFT) + 1
# Items (rows × classes) counted per chunk. Chunk buffers (16 bytes an item, 4 MB) stay in L3; a
# histogram larger than a chunk is added to in place (`_scatter_add`), so chunks need not be larger
# than the histogram. 2^17-2^18 items were fastest for 1e6 binary and 1e5 x 100 scores
# (2^14: 1.4x slower for 100 classes).
_CHUNK_ITEMS = 1 << 18


def score_cells(scores: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Maps float32 scores in [0, 1] to a non-decreasing int32 cell index in [0, NUM_CELLS).

    cell(s) = (bits(s) − bits(1 − s) + bits(1) + 2^12 − 1) >> 12, where bits() is the float32 bit
    pattern read as an integer. bits(s) grows with s and bits(1 − s) shrinks, so the key is
    monotone; near 0 it moves with s's own bits, near 1 with those of 1 − s (exact in float32
    there), so both ends keep float32's relative resolution: a cell spans about 5e-4 of the
    distance to the nearer end of [0, 1], and 1 − 1e-7 and 1 − 2e-7 fall in different cells. Four
    passes over the data, all in place in `out` (float32, the shape of `scores`) when given.
    """
    scores = np.asarray(scores, dtype=np.float32)
    complement = np.subtract(np.float32(1), scores, out=out)
    keys = complement.view(np.int32)
    np.subtract(scores.view(np.int32), keys, out=keys)
    keys += KEY_BIAS
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
        # int32 tables (2 MB) gather faster than intp ones; the caller's next add (class offsets or
        # signs) widens to intp for np.bincount in the same pass.
        self._bin_at_cell_start = np.searchsorted(
            threshold_cells, np.arange(NUM_CELLS, dtype=np.int32), side="left"
        ).astype(np.int32)
        # 2·bin per cell: `twice_bins` plus is_positive gives 2·bin + is_positive with one look-up and one add.
        self._twice_bin_at_cell_start = 2 * self._bin_at_cell_start
        unaligned_cells = threshold_cells[~is_cell_aligned(self.thresholds)]
        self._corrections = int(np.bincount(unaligned_cells).max()) if unaligned_cells.size else 0
        self._thresholds_then_inf = np.append(self.thresholds, np.float32(np.inf))

    def bins(self, scores: np.ndarray, work: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """bins[i] = #{j : thresholds[j] < scores[i]} as int32, for float32 scores in [0, 1].

        `work` (float32) and `out` (int32), shaped like `scores`, are optional reusable buffers.
        """
        return self._look_up(self._bin_at_cell_start, 1, scores, work, out)

    def twice_bins(
        self, scores: np.ndarray, work: np.ndarray | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """2·bins[i] as int32: adding is_positive[i] gives one index for the bin and the sign of each
        score, so a single `np.bincount` counts positives and negatives (interleaved) at once."""
        return self._look_up(self._twice_bin_at_cell_start, 2, scores, work, out)

    def tables(self) -> tuple[np.ndarray, int, np.ndarray]:
        """What `bins` looks up, for other implementations of it (the Keras metrics' graph ops):
        (bin at the start of each cell: int32 (NUM_CELLS,), comparisons after the look-up,
        thresholds then +inf: float32 (T + 1,))."""
        return self._bin_at_cell_start, self._corrections, self._thresholds_then_inf

    def _look_up(self, table, scale, scores, work, out):
        scores = np.asarray(scores, dtype=np.float32)
        # mode="clip" lets np.take write into `out` without a buffer; cells are always in range.
        found = np.take(table, score_cells(scores, work), out=out, mode="clip")
        for _ in range(self._corrections):
            found += scale * (scores > np.take(self._thresholds_then_inf, found // scale))
        return found


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
    true_classes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted score histograms of positives and negatives per class over the threshold bins.

    Args:
      is_positive: bool (N, C), sample n is a positive of class c.
      scores: float32 (N, C) in [0, 1].
      thresholds: float32 (T,), strictly increasing.
      weights: float (N,) sample weights, or None for 1.
      true_classes: optional int (N,) for single-label data with C > 1 columns: the one column of
        each row that `is_positive` marks. It lets the positives be picked out with N look-ups
        instead of a pass over all N·C labels; it must agree with `is_positive`.

    Returns:
      (positive_histograms, negative_histograms), each float64 (C, T + 1). Column k holds the weight
      of samples with thresholds[k-1] < score <= thresholds[k] (thresholds[-1] = -inf,
      thresholds[T] = +inf), so TP(j) = Σ_{k>j} positive_histograms[:, k].

    Two exact ways to count, chosen by which touches less memory:
    - *interleaved*, when the 2·C·(T+1) histogram is small beside a chunk and the data are binary,
      weighted, or have positives for at least a quarter of the items (multi-label; judged on the
      first chunk): each item's index is 2·(class offset + bin) + is_positive, and one scatter per
      chunk counts both signs;
    - otherwise (many classes, few positives: single-label multiclass), unweighted: the negatives'
      histogram is the histogram of all N·C scores minus the positives' one (integer counts), so
      only the positives (N of them instead of N·C) are scattered a second time; weighted: each
      item is added to the histogram of its own sign (no difference can round a count below 0).
    """
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    is_positive = np.ascontiguousarray(is_positive, dtype=bool)
    num_rows, num_classes = scores.shape
    num_bins = len(thresholds) + 1
    histogram_size = num_classes * num_bins
    bucketize = bucketizer(thresholds)
    class_offsets = np.arange(num_classes, dtype=np.intp) * num_bins
    rows_per_chunk = max(1, _CHUNK_ITEMS // max(num_classes, 1))
    buffer_rows = min(rows_per_chunk, num_rows)
    work = np.empty((buffer_rows, num_classes), dtype=np.float32)
    found_bins = np.empty((buffer_rows, num_classes), dtype=np.int32)
    flat_index = np.empty((buffer_rows, num_classes), dtype=np.intp)
    # Positives' share judged on the first chunk: a pass over all N·C labels would cost more than
    # the choice saves.
    first_labels = is_positive[:rows_per_chunk]
    interleaved = 2 * histogram_size <= _CHUNK_ITEMS and (
        weights is not None or num_classes == 1 or 4 * np.count_nonzero(first_labels) > first_labels.size
    )
    if interleaved:
        signed_counts = np.zeros(2 * histogram_size, dtype=np.int64 if weights is None else np.float64)
    elif weights is None:
        all_counts = np.zeros(histogram_size, dtype=np.int64)
        positive_counts = np.zeros(histogram_size, dtype=np.int64)
    else:
        signed_histograms = np.zeros(2 * histogram_size, dtype=np.float64)
    for start in range(0, num_rows, rows_per_chunk):
        rows = slice(start, start + rows_per_chunk)
        chunk_rows = min(rows_per_chunk, num_rows - start)
        chunk_weights = None if weights is None else np.repeat(weights[rows], num_classes)
        chunk_index = flat_index[:chunk_rows]
        buffers = (work[:chunk_rows], found_bins[:chunk_rows])
        if interleaved:
            np.add(bucketize.twice_bins(scores[rows], *buffers), is_positive[rows], out=chunk_index)
            if num_classes > 1:
                chunk_index += 2 * class_offsets
            _scatter_add(signed_counts, chunk_index.reshape(-1), chunk_weights)
            continue
        np.add(bucketize.bins(scores[rows], *buffers), class_offsets, out=chunk_index)
        if weights is None:
            _scatter_add(all_counts, chunk_index.reshape(-1))
            if true_classes is None:
                positive_index = chunk_index.reshape(-1)[np.flatnonzero(is_positive[rows])]
            else:
                positive_index = chunk_index[np.arange(chunk_rows), true_classes[rows]]
            _scatter_add(positive_counts, positive_index)
        else:
            np.add(chunk_index, histogram_size, out=chunk_index, where=~is_positive[rows])
            _scatter_add(signed_histograms, chunk_index.reshape(-1), chunk_weights)
    if interleaved:
        positive, negative = signed_counts[1::2].astype(np.float64), signed_counts[0::2].astype(np.float64)
    elif weights is None:
        positive = positive_counts.astype(np.float64)
        negative = (all_counts - positive_counts).astype(np.float64)
    else:
        positive, negative = signed_histograms[:histogram_size], signed_histograms[histogram_size:]
    return positive.reshape(num_classes, num_bins), negative.reshape(num_classes, num_bins)


def _scatter_add(histogram: np.ndarray, index: np.ndarray, weights: np.ndarray | None = None) -> None:
    """histogram[index] += weights (1 each when None), repeated indices adding up. np.bincount is
    the faster scatter (about 1.3x for 1e5 x 100 scores) but builds a whole histogram per call, so a
    histogram larger than the index is added to in place with np.add.at instead. Weights whose sum
    overflows give inf either way, without a warning: `summary.check_counts` refuses such counts."""
    with np.errstate(over="ignore"):
        if histogram.size <= index.size:
            histogram += np.bincount(index, weights, minlength=histogram.size)
        else:
            np.add.at(histogram, index, 1 if weights is None else weights)


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


def distinct_score_counts(
    scores: np.ndarray, is_positive: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct scores of one class with the weight of its positives and negatives at each.

    Args:
      scores: float32 (N,) in [0, 1]; is_positive: bool (N,); weights: float (N,) or None for 1.

    Returns:
      (values float32 (K,) increasing, positive float64 (K,), negative float64 (K,)); scores whose
      items all weigh 0 are left out, as scikit-learn's curves leave out zero-weight samples.

    >>> values, positive, negative = distinct_score_counts(
    ...     np.array([0.5, 0.2, 0.5], np.float32), np.array([True, False, False]))
    >>> values.tolist(), positive.tolist(), negative.tolist()
    ([0.20000000298023224, 0.5], [0.0, 1.0], [1.0, 1.0])
    """
    values, inverse = np.unique(np.asarray(scores, dtype=np.float32), return_inverse=True)
    weights = np.ones(len(inverse)) if weights is None else np.asarray(weights, dtype=np.float64)
    is_positive = np.asarray(is_positive, dtype=bool)
    with np.errstate(over="ignore"):
        positive = np.bincount(inverse, weights=np.where(is_positive, weights, 0.0), minlength=len(values))
        negative = np.bincount(inverse, weights=np.where(is_positive, 0.0, weights), minlength=len(values))
    kept = (positive != 0) | (negative != 0)
    return values[kept], positive[kept], negative[kept]


def num_distinct_at_most(scores: np.ndarray, limit: int) -> int | None:
    """The number of distinct values in `scores` if it is at most `limit`, else None.

    A prefix of 4·limit + 1 values is checked first, so scores with many distinct values (the usual
    case for large validation sets) cost one small `np.unique` instead of a sort of all of them.
    """
    scores = np.asarray(scores)
    prefix = scores[: 4 * limit + 1]
    if len(np.unique(prefix)) > limit:
        return None
    if len(prefix) == len(scores):
        return len(np.unique(prefix))
    count = len(np.unique(scores))
    return count if count <= limit else None


# Ranks for top-k metrics ---------------------------------------------------------------------------

# How many ranks a confusion matrix's log keeps: ranks 0 … MAX_TOP_K − 1 of each class (and, for the
# true class, "≥ MAX_TOP_K"), so top-k metrics are there for k = 1 … min(C, MAX_TOP_K).
MAX_TOP_K = 10


def top_k_depth(num_classes: int) -> int:
    """K = min(C, `MAX_TOP_K`): the ranks logged for a C-class problem."""
    return min(int(num_classes), MAX_TOP_K)


def rank_counts(
    scores: np.ndarray,
    true_classes: np.ndarray,
    weights: np.ndarray | None = None,
    depth: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted counts of where each class ranks among an item's scores, for top-k metrics.

    The rank of class c on item i is the number of classes scoring strictly higher,
    rank_ic = #{j : s_ij > s_ic}, so tied classes share the better rank: class c is "in the top k"
    exactly when rank_ic < k, `tf.math.in_top_k`'s rule (Keras' `TopKCategoricalAccuracy`).
    scikit-learn's `top_k_accuracy_score` instead breaks ties by class index (higher index first);
    both agree whenever the true class is not tied across the k-th place.

    Args:
      scores: (N, C) scores, C ≥ 2; true_classes: int (N,); weights: (N,) or None for 1;
      depth: K, default `top_k_depth(C)`.

    Returns:
      (true_ranks float64 (C, K + 1), class_ranks float64 (C, K)): true_ranks[c, r] is the weight
      of items of true class c whose true class has rank r (column K: rank ≥ K); class_ranks[c, r]
      the weight of items (of any class) on which class c has rank r < K.

    >>> true_ranks, class_ranks = rank_counts(np.array([[.5, .3, .2], [.1, .6, .3]]), np.array([0, 2]), depth=2)
    >>> true_ranks.tolist(), class_ranks.tolist()
    ([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    """
    scores = np.asarray(scores)
    num_items, num_classes = scores.shape
    depth = top_k_depth(num_classes) if depth is None else int(depth)
    weights = np.ones(num_items) if weights is None else np.asarray(weights, dtype=np.float64)
    true_ranks = np.zeros((num_classes, depth + 1))
    class_ranks = np.zeros((num_classes, depth))
    if num_items == 0:
        return true_ranks, class_ranks
    # The K largest scores of each item, largest first, and their classes.
    if depth < num_classes:
        top_classes = np.argpartition(scores, num_classes - depth, axis=1)[:, num_classes - depth:]
    else:
        top_classes = np.broadcast_to(np.arange(num_classes), (num_items, num_classes))
    top = np.take_along_axis(scores, top_classes, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    top, top_classes = np.take_along_axis(top, order, axis=1), np.take_along_axis(top_classes, order, axis=1)
    # A listed class's rank is the position where its run of equal scores starts.
    starts = np.ones(top.shape, dtype=bool)
    starts[:, 1:] = top[:, 1:] != top[:, :-1]
    top_ranks = np.maximum.accumulate(np.where(starts, np.arange(depth), 0), axis=1)
    items, classes, ranks = np.repeat(np.arange(num_items), depth), top_classes.reshape(-1), top_ranks.reshape(-1)
    # Classes tied with the K-th score but not listed among the K also rank < K (rare: only ties).
    kth = top[:, -1:]
    unlisted = np.count_nonzero(scores >= kth, axis=1) - depth
    if depth < num_classes and unlisted.any():
        tied_items, tied_classes = np.nonzero((scores == kth) & (unlisted > 0)[:, None])
        listed = np.zeros((num_items, num_classes), dtype=bool)
        np.put_along_axis(listed, top_classes, True, axis=1)
        extra = ~listed[tied_items, tied_classes]
        items = np.concatenate([items, tied_items[extra]])
        classes = np.concatenate([classes, tied_classes[extra]])
        ranks = np.concatenate([ranks, top_ranks[tied_items[extra], -1]])
    with np.errstate(over="ignore"):
        class_ranks += np.bincount(
            classes * depth + ranks, weights=weights[items], minlength=num_classes * depth
        ).reshape(num_classes, depth)
        true_scores = scores[np.arange(num_items), true_classes]
        true_rank = np.minimum((top > true_scores[:, None]).sum(axis=1), depth)
        true_ranks += np.bincount(
            true_classes.astype(np.intp) * (depth + 1) + true_rank, weights=weights, minlength=num_classes * (depth + 1)
        ).reshape(num_classes, depth + 1)
    return true_ranks, class_ranks
