"""How counts are laid out in the summary tensor of each kind, for every format version: the one
module that encodes and decodes them (docs/format.md describes the bytes).

Version 2 (written today): one scalar string tensor per step holding a compact blob (`_pack`):
  threshold_curves: per class either EXACT cells — the class's distinct scores with the weight of
    its positives and negatives at each — or GRID cells — the non-empty bins of a threshold grid;
    only cells holding weight are stored, counts in the smallest integer type that holds them.
  confusion_matrix: the non-zero cells of the C×C matrix, and, when the writer had the scores, the
    rank counts of top-k metrics (`counting.rank_counts`); blobs without them still read.
Version 1: dense float tensors:
  threshold_curves: (1 + 2·C, T + 1): row 0 the thresholds then +inf, rows 1…C positive_histograms,
    rows C+1…2C negative_histograms.
  confusion_matrix: (C, C).

Both decode to the same in-memory counts: for class c, bin k holds the weight with
t_{k−1} < score ≤ t_k, so TP_c(t_j) = Σ_{k>j} positive_histograms[c, k] and
FN_c(t_j) = Σ_{k≤j} positive_histograms[c, k]. An exact class's thresholds are its distinct scores
(bin k holds the items scoring exactly t_k; its last bin is empty).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from tb_metrics_plugin import metadata


@dataclass(frozen=True)
class ThresholdCurveCounts:
    """Decoded threshold-curve summary of one step.

    Attributes:
      thresholds: float32, strictly increasing, in [0, 1]: (T,) shared by every class (grid counts,
        all of version 1), or (C, T) one row per class when some class is exact; a row shorter than
        T is padded at its end with +inf, whose bins hold nothing.
      positive_histograms: float64 (C, T + 1), see the module docstring.
      negative_histograms: float64 (C, T + 1).
      class_names: C names, one per curve.
      exact: bool (C,): True where the class's thresholds are its distinct scores (counts exact at
        every threshold), False where they are a grid (exact at the grid's thresholds).
    """

    thresholds: np.ndarray
    positive_histograms: np.ndarray
    negative_histograms: np.ndarray
    class_names: tuple[str, ...]
    exact: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self):
        if self.exact.shape != (self.positive_histograms.shape[0],):
            object.__setattr__(self, "exact", np.zeros(self.positive_histograms.shape[0], dtype=bool))

    @property
    def per_class_thresholds(self) -> np.ndarray:
        """(C, T) thresholds, one row per class (a shared grid repeated)."""
        if self.thresholds.ndim == 2:
            return self.thresholds
        return np.broadcast_to(self.thresholds, (self.positive_histograms.shape[0], self.thresholds.size))


@dataclass(frozen=True)
class ConfusionMatrixCounts:
    """Decoded confusion-matrix summary of one step.

    Attributes:
      matrix: float64 (C, C), rows true classes, columns predictions.
      class_names: C names.
      ignore_class: the metadata's ignore_class.
      true_ranks: float64 (C, K + 1) or None: weight of items of true class c whose true class ranks
        r among the item's scores (column K: rank ≥ K), K = min(C, 10); see `counting.rank_counts`.
        None when the step was logged without ranks (format version 1, the compiled metric, a
        single sigmoid output, a log written before ranks existed).
      class_ranks: float64 (C, K) or None: weight of items on which class c ranks r < K.
    """

    matrix: np.ndarray
    class_names: tuple[str, ...]
    ignore_class: int | None = None
    true_ranks: np.ndarray | None = None
    class_ranks: np.ndarray | None = None


def compact(values: np.ndarray) -> np.ndarray:
    """`values` as float32 when that is exact, else as float64 (halves the size of typical logs)."""
    values = np.asarray(values, dtype=np.float64)
    # Counts above float32's 3.4e38 become inf there: not exact, kept as float64, no warning needed.
    with np.errstate(over="ignore", invalid="ignore"):
        as_float32 = values.astype(np.float32)
        exact = np.array_equal(as_float32.astype(np.float64), values)
    return as_float32 if exact else values


def encode_threshold_curves(counts: ThresholdCurveCounts) -> np.ndarray:
    """The version-2 tensor (a scalar bytes array) of one step's threshold-curve counts.

    Per class, exact classes store their distinct scores (as deltas of their float32 bit patterns)
    and grid classes the indices of their non-empty bins (as deltas), each with the positive and
    negative weight there; see docs/format.md.
    """
    positive, negative = counts.positive_histograms, counts.negative_histograms
    num_classes = positive.shape[0]
    rows = counts.per_class_thresholds
    grid = _grid_of(counts)
    cells, grid_steps, score_steps, positive_cells, negative_cells = [], [], [], [], []
    for c in range(num_classes):
        held = np.flatnonzero((positive[c] != 0) | (negative[c] != 0))
        if counts.exact[c]:
            scores = rows[c][held].astype(np.float32)  # an exact class's last bin is empty
            bits = scores.view(np.int32).astype(np.int64)
            score_steps.append(np.diff(bits, prepend=0))
        else:
            grid_steps.append(np.diff(held, prepend=-1))
        cells.append(held.size)
        positive_cells.append(positive[c, held])
        negative_cells.append(negative[c, held])
    count_values = np.concatenate(positive_cells + negative_cells)
    arrays = {
        "grid": grid,
        "exact": counts.exact.astype(np.uint8),
        "cells": np.array(cells, dtype=np.uint32),
        "grid_steps": _smallest_unsigned(np.concatenate(grid_steps) if grid_steps else np.zeros(0, np.int64)),
        "score_steps": _smallest_unsigned(np.concatenate(score_steps) if score_steps else np.zeros(0, np.int64)),
        "positive": np.concatenate(positive_cells).astype(_count_dtype(count_values)),
        "negative": np.concatenate(negative_cells).astype(_count_dtype(count_values)),
    }
    return _pack(arrays)


def _grid_of(counts: ThresholdCurveCounts) -> np.ndarray:
    """The threshold grid the grid classes share (empty when every class is exact)."""
    grid_rows = counts.per_class_thresholds[~counts.exact]
    if grid_rows.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    if not np.array_equal(grid_rows, np.broadcast_to(grid_rows[:1], grid_rows.shape)):
        raise ValueError("the grid classes of one step must share their thresholds")
    grid = grid_rows[0]
    return grid[np.isfinite(grid)].astype(np.float32)


def encode_confusion_matrix(
    matrix: np.ndarray, true_ranks: np.ndarray | None = None, class_ranks: np.ndarray | None = None
) -> np.ndarray:
    """The version-2 tensor of a C×C confusion matrix: its non-zero cells (flat index deltas, counts),
    then, when given, the rank counts of top-k metrics (C × (K + 1) and C × K, dense, row-major)."""
    flat = np.asarray(matrix, dtype=np.float64).reshape(-1)
    held = np.flatnonzero(flat)
    arrays = {
        "shape": _smallest_unsigned(np.array(np.shape(matrix))),
        "cell_steps": _smallest_unsigned(np.diff(held, prepend=-1)),
        "counts": flat[held].astype(_count_dtype(flat[held])),
    }
    if (true_ranks is None) != (class_ranks is None):
        raise ValueError("true_ranks and class_ranks are logged together: pass both or neither")
    if true_ranks is not None:
        num_classes = np.shape(matrix)[0]
        depth = np.shape(class_ranks)[1]
        if np.shape(true_ranks) != (num_classes, depth + 1) or np.shape(class_ranks) != (num_classes, depth):
            raise ValueError(
                f"rank counts of shapes {np.shape(true_ranks)} and {np.shape(class_ranks)} do not fit a "
                f"{num_classes}-class matrix: expected (C, K + 1) and (C, K), see counting.rank_counts"
            )
        rank_values = np.concatenate([np.reshape(true_ranks, -1), np.reshape(class_ranks, -1)]).astype(np.float64)
        arrays["true_ranks"] = np.reshape(true_ranks, -1).astype(_count_dtype(rank_values))
        arrays["class_ranks"] = np.reshape(class_ranks, -1).astype(_count_dtype(rank_values))
    return _pack(arrays)


def decode_threshold_curves(tensor: np.ndarray, plugin_data: metadata.PluginData) -> ThresholdCurveCounts:
    """Threshold-curve counts of one step, from a tensor of any format version.

    Raises:
      metadata.UnsupportedFormatError: the tensor does not fit the metadata (wrong dtype, shape or
        lengths, thresholds not increasing, bins out of range, negative or non-finite counts).
    """
    if plugin_data.version == 1:
        return _decode_threshold_curves_v1(tensor, plugin_data)
    kind = metadata.KIND_THRESHOLD_CURVES
    arrays = _unpack(tensor, kind, CURVE_ARRAYS)
    num_classes = len(plugin_data.class_names)
    grid, exact, cells = arrays["grid"].astype(np.float32), arrays["exact"].astype(bool), arrays["cells"]
    _check_curve_cells(exact, cells, {name: array.size for name, array in arrays.items()}, num_classes)
    total, exact_cells = int(cells.sum()), int(cells[exact].sum())
    if grid.size and not np.all(np.diff(grid) > 0):
        raise metadata.UnsupportedFormatError(f"{kind} blob: grid thresholds are not increasing")
    positive_cells = arrays["positive"].astype(np.float64)
    negative_cells = arrays["negative"].astype(np.float64)
    _check_counts(np.concatenate([positive_cells, negative_cells]), kind)
    width = max([grid.size] + [int(n) for n in cells[exact]])  # thresholds per row
    positive = np.zeros((num_classes, width + 1))
    negative = np.zeros((num_classes, width + 1))
    rows = np.full((num_classes, width), np.inf, dtype=np.float32)
    rows[~exact, : grid.size] = grid
    # Every class's cells at once: a class's positions are the running sum of its steps.
    grid_bins = _segment_cumsum(arrays["grid_steps"], cells[~exact]) - 1
    score_bits = _segment_cumsum(arrays["score_steps"], cells[exact])
    if grid_bins.size and (grid_bins.min() < 0 or grid_bins.max() > grid.size):
        raise metadata.UnsupportedFormatError(f"{kind} blob: grid bins are out of range")
    if score_bits.size and (score_bits.min() < 0 or score_bits.max() > np.float32(1).view(np.int32)):
        raise metadata.UnsupportedFormatError(f"{kind} blob: exact scores are not in [0, 1]")
    cell_class = np.repeat(np.arange(num_classes), cells)
    cell_exact = exact[cell_class]
    columns = np.empty(total, dtype=np.int64)
    columns[~cell_exact] = grid_bins
    # An exact class's k-th cell is its k-th distinct score: bin k.
    columns[cell_exact] = np.arange(exact_cells) - np.repeat(np.cumsum(cells[exact]) - cells[exact], cells[exact])
    exact_classes = cell_class[cell_exact]
    rows[exact_classes, columns[cell_exact]] = score_bits.astype(np.int32).view(np.float32)
    with np.errstate(invalid="ignore"):  # inf − inf in the padding
        increasing = (np.diff(rows, axis=1) > 0) | ~np.isfinite(rows[:, 1:])
    if not increasing.all():
        raise metadata.UnsupportedFormatError(f"{kind} blob: a class's thresholds are not increasing")
    grid_rows = cell_class[~cell_exact]
    if grid_bins.size and np.any((np.diff(grid_bins) <= 0) & (np.diff(grid_rows) == 0)):
        raise metadata.UnsupportedFormatError(f"{kind} blob: a class's bins are not increasing")
    positive[cell_class, columns] = positive_cells
    negative[cell_class, columns] = negative_cells
    shared = not exact.any() and width == grid.size
    return ThresholdCurveCounts(
        thresholds=grid if shared else rows,
        positive_histograms=positive,
        negative_histograms=negative,
        class_names=plugin_data.class_names,
        exact=exact,
    )


def _segment_cumsum(steps: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Running sums of `steps` restarting at each segment (one segment of `lengths[i]` per class)."""
    totals = np.cumsum(steps.astype(np.int64))
    starts = np.cumsum(lengths) - lengths  # index of each segment's first step
    before = np.concatenate([[0], totals])[starts]  # the running sum just before each segment
    return totals - np.repeat(before, lengths)


def _decode_threshold_curves_v1(tensor: np.ndarray, plugin_data: metadata.PluginData) -> ThresholdCurveCounts:
    """A version-1 tensor (1 + 2C, T + 1), see the module docstring."""
    tensor = _float_tensor(tensor, metadata.KIND_THRESHOLD_CURVES)
    num_classes = len(plugin_data.class_names)
    if tensor.ndim != 2 or tensor.shape[0] != 1 + 2 * num_classes or tensor.shape[1] < 2:
        raise metadata.UnsupportedFormatError(
            f"threshold_curves tensor has shape {tensor.shape}, expected (1 + 2·{num_classes}, T + 1) "
            f"for {num_classes} class names"
        )
    thresholds = tensor[0, :-1]
    if not (np.all(np.diff(thresholds) > 0) and np.isinf(tensor[0, -1])):
        raise metadata.UnsupportedFormatError("threshold_curves tensor row 0 is not increasing edges")
    _check_counts(tensor[1:], metadata.KIND_THRESHOLD_CURVES)
    return ThresholdCurveCounts(
        thresholds=thresholds.astype(np.float32),
        positive_histograms=tensor[1 : 1 + num_classes],
        negative_histograms=tensor[1 + num_classes :],
        class_names=plugin_data.class_names,
    )


def decode_confusion_matrix(tensor: np.ndarray, plugin_data: metadata.PluginData) -> ConfusionMatrixCounts:
    """A confusion matrix of one step, from a tensor of any format version.

    Raises:
      metadata.UnsupportedFormatError: the tensor is not C×C for the metadata's C class names, not
        numeric, or holds negative or non-finite counts.
    """
    kind = metadata.KIND_CONFUSION_MATRIX
    num_classes = len(plugin_data.class_names)
    if plugin_data.version == 1:
        matrix = _float_tensor(tensor, kind)
    else:
        arrays = _unpack(tensor, kind, MATRIX_ARRAYS, RANK_ARRAYS)
        shape = tuple(int(n) for n in arrays["shape"])
        cells = np.cumsum(arrays["cell_steps"].astype(np.int64)) - 1
        if len(shape) != 2 or cells.size != arrays["counts"].size or (
                cells.size and (cells[0] < 0 or cells[-1] >= np.prod(shape) or np.any(np.diff(cells) <= 0))):
            raise metadata.UnsupportedFormatError(f"{kind} blob: cells do not fit its shape {list(shape)}")
        matrix = np.zeros(int(np.prod(shape)))
        matrix[cells] = arrays["counts"]
        matrix = matrix.reshape(shape)
    if matrix.shape != (num_classes, num_classes):
        raise metadata.UnsupportedFormatError(
            f"confusion_matrix tensor has shape {matrix.shape}, expected ({num_classes}, {num_classes})"
        )
    _check_counts(matrix, kind)
    true_ranks, class_ranks = (None, None) if plugin_data.version == 1 else _decode_ranks(arrays, num_classes)
    return ConfusionMatrixCounts(matrix, plugin_data.class_names, plugin_data.ignore_class, true_ranks, class_ranks)


def _decode_ranks(arrays: dict[str, np.ndarray], num_classes: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The rank counts of a confusion-matrix blob, (None, None) when it has none."""
    if "true_ranks" not in arrays:
        return None, None
    kind = metadata.KIND_CONFUSION_MATRIX
    true_flat, class_flat = arrays["true_ranks"].astype(np.float64), arrays["class_ranks"].astype(np.float64)
    depth = class_flat.size // num_classes if num_classes else 0
    if not 1 <= depth <= num_classes or class_flat.size != num_classes * depth \
            or true_flat.size != num_classes * (depth + 1):
        raise metadata.UnsupportedFormatError(
            f"{kind} blob: rank counts of {true_flat.size} and {class_flat.size} values do not fit "
            f"{num_classes} classes"
        )
    _check_counts(np.concatenate([true_flat, class_flat]), kind)
    return true_flat.reshape(num_classes, depth + 1), class_flat.reshape(num_classes, depth)


def decode(tensor: np.ndarray, plugin_data: metadata.PluginData):
    """Decodes a tensor of either kind according to its metadata."""
    if plugin_data.kind == metadata.KIND_THRESHOLD_CURVES:
        return decode_threshold_curves(tensor, plugin_data)
    return decode_confusion_matrix(tensor, plugin_data)


def check(tensor: np.ndarray, plugin_data: metadata.PluginData) -> None:
    """Checks that a tensor can be a step of its tag, without building its counts: what listing the
    steps needs (`reading.tag_listing`), at a fraction of `decode`'s cost for threshold curves.

    Threshold curves of format version 2: the blob's codec, zlib checksum (which any flipped byte of
    a compressed blob fails), header and lengths, its number of classes against the metadata's,
    cell totals against the arrays' lengths, and counts stored as floats finite and non-negative
    (counts stored as unsigned integers cannot be otherwise). Left to `decode`, when the step is
    read: the order of thresholds and bins, which only a faulty writer (or damage that keeps a
    valid checksum) could break. Everything else (version 1, confusion matrices) is decoded whole.

    Raises:
      metadata.UnsupportedFormatError: as `decode` would, naming the problem.
    """
    if plugin_data.kind != metadata.KIND_THRESHOLD_CURVES or plugin_data.version == 1:
        decode(tensor, plugin_data)
        return
    kind = metadata.KIND_THRESHOLD_CURVES
    body, entries = _blob_layout(tensor, kind, CURVE_ARRAYS)
    by_name = {name: (dtype, length, offset) for name, dtype, length, offset in entries}
    exact = _plane_array(body, *by_name["exact"]).astype(bool)
    cells = _plane_array(body, *by_name["cells"])
    lengths = {name: length for name, (_, length, _) in by_name.items()}
    _check_curve_cells(exact, cells, lengths, len(plugin_data.class_names))
    if by_name["positive"][0].kind == "f" or by_name["negative"][0].kind == "f":  # as `decode` checks them
        counts = [_plane_array(body, *by_name[name]).astype(np.float64) for name in ("positive", "negative")]
        _check_counts(np.concatenate(counts), kind)


def _check_curve_cells(exact: np.ndarray, cells: np.ndarray, lengths: dict[str, int], num_classes: int) -> None:
    """What a version-2 threshold-curves blob must satisfy given only its class flags, cells per
    class and arrays' lengths (`decode` and `check` alike): one entry per class of the metadata,
    positive and negative arrays of Σ cells, grid steps of the grid classes' cells and score steps
    of the exact classes', and a grid when any class is on it."""
    kind = metadata.KIND_THRESHOLD_CURVES
    if exact.shape != (num_classes,) or cells.shape != (num_classes,):
        raise metadata.UnsupportedFormatError(
            f"{kind} blob describes {exact.size} classes but the metadata names {num_classes}"
        )
    total = int(cells.sum())
    if (lengths["positive"], lengths["negative"]) != (total, total) \
            or lengths["grid_steps"] != int(cells[~exact].sum()) or lengths["score_steps"] != int(cells[exact].sum()):
        raise metadata.UnsupportedFormatError(f"{kind} blob: cell counts do not add up to its arrays' lengths")
    if (~exact).any() and lengths["grid"] == 0:
        raise metadata.UnsupportedFormatError(f"{kind} blob: grid classes without a grid")


def _float_tensor(tensor, kind: str) -> np.ndarray:
    # A damaged or foreign log can hold any dtype; only real numbers are counts (strings such as
    # b"1.5" would otherwise be parsed by numpy, and other strings raise a bare ValueError).
    array = np.asarray(tensor)
    if array.dtype.kind not in "fiu":
        raise metadata.UnsupportedFormatError(
            f"{kind} tensor has dtype {array.dtype}, expected float32 or float64 counts"
        )
    return array.astype(np.float64, copy=False)


def _check_counts(counts: np.ndarray, kind: str) -> None:
    # Writers only ever store finite, non-negative weights; anything else is damage (e.g. a flipped
    # sign or exponent bit that the Rust data server, which skips checksums of records that parse,
    # passes on).
    bad = ~np.isfinite(counts) | (counts < 0)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise metadata.UnsupportedFormatError(
            f"{kind} tensor holds {int(bad.sum())} negative or non-finite counts (first {float(counts[index])} at "
            f"{list(index)}); counts are finite and non-negative, so this step of the log is damaged"
        )


# The version-2 blob -------------------------------------------------------------------------------

# The arrays of each kind's blob, in their order (docs/format.md says what each holds).
CURVE_ARRAYS = ("grid", "exact", "cells", "grid_steps", "score_steps", "positive", "negative")
MATRIX_ARRAYS = ("shape", "cell_steps", "counts")
# Optional arrays after MATRIX_ARRAYS: the rank counts of top-k metrics (blobs written before they
# existed end after "counts").
RANK_ARRAYS = ("true_ranks", "class_ranks")
# First byte of a blob: how the rest is stored.
_RAW, _ZLIB = 0, 1
# Array types a blob may hold, by their one-byte code in the header.
_BLOB_DTYPES = tuple(np.dtype(name).newbyteorder("<") for name in
                     ("uint8", "uint16", "uint32", "uint64", "float32", "float64"))


def _smallest_unsigned(values: np.ndarray) -> np.ndarray:
    """Non-negative integers in the smallest of uint8/16/32/64 that holds them all."""
    values = np.asarray(values, dtype=np.int64)
    largest = int(values.max()) if values.size else 0
    for dtype in (np.uint8, np.uint16, np.uint32):
        if largest <= np.iinfo(dtype).max:
            return values.astype(dtype)
    return values.astype(np.uint64)


def _count_dtype(counts: np.ndarray) -> np.dtype:
    """How a step's counts are stored: the smallest unsigned integer type when every count is a whole
    number below 2^32 (unweighted counts), else float32 when that is exact, else float64: weights
    are never rounded."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.size == 0:
        return np.dtype(np.uint8)
    if bool(np.all(counts == np.floor(counts))) and counts.max() < 2**32:
        return _smallest_unsigned(np.array([counts.max()], dtype=np.int64)).dtype
    return compact(counts).dtype


def _pack(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The 1-D arrays of a kind, in its fixed order, as one blob: a codec byte, then (zlib-compressed
    when that is smaller) per array a dtype code byte and its length as an unsigned LEB128 varint,
    then each array's little-endian bytes split into byte planes (all first bytes, then all second
    bytes, ...), which lets zlib find the runs in small counts and nearby scores."""
    if tuple(arrays) not in (CURVE_ARRAYS, MATRIX_ARRAYS, MATRIX_ARRAYS + RANK_ARRAYS):
        raise ValueError(f"arrays {list(arrays)} are not those of a kind, in order")
    header = bytearray()
    planes = []
    for array in arrays.values():
        dtype = array.dtype.newbyteorder("<")
        header.append(_BLOB_DTYPES.index(dtype))
        header += _varint(array.size)
        little = np.ascontiguousarray(array, dtype=dtype)
        planes.append(little.view(np.uint8).reshape(-1, dtype.itemsize).T.tobytes())
    body = bytes(header) + b"".join(planes)
    packed = zlib.compress(body, 6)
    blob = bytes([_ZLIB]) + packed if len(packed) < len(body) else bytes([_RAW]) + body
    return np.array(blob, dtype=object)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _unpack(tensor, kind: str, names: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Inverse of `_pack` for the arrays `names` of `kind`, then, when the blob holds more than
    those, the arrays `optional` (all of them), checking every length. The two cases cannot be
    confused: the optional arrays' header entries take bytes that `names`' data alone would not."""
    body, entries = _blob_layout(tensor, kind, names, optional)
    return {name: _plane_array(body, dtype, length, offset) for name, dtype, length, offset in entries}


def _plane_array(body: bytes, dtype: np.dtype, length: int, offset: int) -> np.ndarray:
    """One array of a blob's body: `length` items of `dtype` stored as byte planes from `offset`."""
    planes = np.frombuffer(body, dtype=np.uint8, count=dtype.itemsize * length, offset=offset)
    return planes.reshape(dtype.itemsize, length).T.copy().view(dtype).reshape(-1)


def _blob_layout(
    tensor, kind: str, names: tuple[str, ...], optional: tuple[str, ...] = ()
) -> tuple[bytes, list[tuple[str, np.dtype, int, int]]]:
    """(body, [(name, dtype, length, offset in body)]) of a blob, its codec, zlib checksum, header
    and lengths checked, no array built (see `_unpack`)."""
    array = np.asarray(tensor)
    if array.dtype.kind not in "OSU" or array.size != 1:
        raise metadata.UnsupportedFormatError(
            f"{kind} tensor has dtype {array.dtype} and shape {array.shape}; format version 2 stores one "
            "string (a blob) per step"
        )
    blob = array.reshape(-1)[0]
    blob = blob.encode("latin-1") if isinstance(blob, str) else bytes(blob)
    try:
        if not blob or blob[0] not in (_RAW, _ZLIB):
            raise ValueError(f"unknown codec byte {blob[:1]!r}")
        body = zlib.decompress(blob[1:]) if blob[0] == _ZLIB else blob[1:]
        offset, layout_of = _read_header(body, 0, names)
        data_size = sum(dtype.itemsize * length for _, dtype, length in layout_of)
        if optional and offset + data_size != len(body):
            offset, more = _read_header(body, offset, optional)
            layout_of += more
        entries = []
        for name, dtype, length in layout_of:
            size = dtype.itemsize * length
            if offset + size > len(body):
                raise ValueError(f"array {name!r} of {length} items runs past the end")
            entries.append((name, dtype, length, offset))
            offset += size
        if offset != len(body):
            raise ValueError(f"{len(body) - offset} bytes left over")
    except (ValueError, TypeError, zlib.error, IndexError) as error:
        raise metadata.UnsupportedFormatError(f"{kind} blob cannot be decoded: {error}") from None
    return body, entries


def _read_header(body: bytes, offset: int, names: tuple[str, ...]) -> tuple[int, list]:
    """The header entries of `names` from `offset`: (offset after them, [(name, dtype, length)])."""
    layout_of = []
    for name in names:
        code = body[offset]
        if code >= len(_BLOB_DTYPES):
            raise ValueError(f"array {name!r} has an unknown type code {code}")
        length, shift = 0, 0
        while True:
            offset += 1
            length |= (body[offset] & 0x7F) << shift
            shift += 7
            if not body[offset] & 0x80:
                break
        offset += 1
        layout_of.append((name, _BLOB_DTYPES[code], length))
    return offset, layout_of
