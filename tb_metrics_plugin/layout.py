"""How counts are laid out in the summary tensor of each kind (format version 1).

threshold_curves: a float tensor of shape (1 + 2·C, T + 1)
  row 0          bin upper edges: thresholds t_0 < … < t_{T−1} (float32 values), then +inf
  rows 1 … C     positive_histograms[c, k]: weight of positives of class c with t_{k−1} < s ≤ t_k
  rows C+1 … 2C  negative_histograms[c, k]: the same for negatives
  so TP_c(t_j) = Σ_{k>j} positive_histograms[c, k] and FN_c(t_j) = Σ_{k≤j} positive_histograms[c, k].

confusion_matrix: a float tensor of shape (C, C); [i, j] = weight of items of true class i
  predicted as class j.

Tensors are float32 when every value is exactly representable in float32 (unweighted counts below
2^24), float64 otherwise; readers accept both. Counts are never rounded to integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tb_metrics_plugin import metadata


@dataclass(frozen=True)
class ThresholdCurveCounts:
    """Decoded threshold-curve summary of one step.

    Attributes:
      thresholds: float32 (T,), strictly increasing, in [0, 1].
      positive_histograms: float64 (C, T + 1), see the module docstring.
      negative_histograms: float64 (C, T + 1).
      class_names: C names, one per curve.
    """

    thresholds: np.ndarray
    positive_histograms: np.ndarray
    negative_histograms: np.ndarray
    class_names: tuple[str, ...]


@dataclass(frozen=True)
class ConfusionMatrixCounts:
    """Decoded confusion-matrix summary of one step: `matrix` is float64 (C, C)."""

    matrix: np.ndarray
    class_names: tuple[str, ...]
    ignore_class: int | None = None


def compact(values: np.ndarray) -> np.ndarray:
    """`values` as float32 when that is exact, else as float64 (halves the size of typical logs)."""
    values = np.asarray(values, dtype=np.float64)
    # Counts above float32's 3.4e38 become inf there: not exact, kept as float64, no warning needed.
    with np.errstate(over="ignore", invalid="ignore"):
        as_float32 = values.astype(np.float32)
        exact = np.array_equal(as_float32.astype(np.float64), values)
    return as_float32 if exact else values


def encode_threshold_curves(
    thresholds: np.ndarray, positive_histograms: np.ndarray, negative_histograms: np.ndarray
) -> np.ndarray:
    """Stacks edges and histograms into the (1 + 2C, T + 1) tensor described above."""
    edges = np.append(np.asarray(thresholds, dtype=np.float64), np.inf)
    return compact(np.vstack([edges[None, :], positive_histograms, negative_histograms]))


def decode_threshold_curves(tensor: np.ndarray, plugin_data: metadata.PluginData) -> ThresholdCurveCounts:
    """Inverse of `encode_threshold_curves`.

    Raises:
      metadata.UnsupportedFormatError: the tensor's dtype, shape or values do not fit the metadata
        (not numeric, wrong number of rows for the class names, edges not increasing, negative or
        non-finite counts).
    """
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


def encode_confusion_matrix(matrix: np.ndarray) -> np.ndarray:
    return compact(matrix)


def decode_confusion_matrix(tensor: np.ndarray, plugin_data: metadata.PluginData) -> ConfusionMatrixCounts:
    """Inverse of `encode_confusion_matrix`.

    Raises:
      metadata.UnsupportedFormatError: the tensor is not C×C for the metadata's C class names, not
        numeric, or holds negative or non-finite counts.
    """
    tensor = _float_tensor(tensor, metadata.KIND_CONFUSION_MATRIX)
    num_classes = len(plugin_data.class_names)
    if tensor.shape != (num_classes, num_classes):
        raise metadata.UnsupportedFormatError(
            f"confusion_matrix tensor has shape {tensor.shape}, expected ({num_classes}, {num_classes})"
        )
    _check_counts(tensor, metadata.KIND_CONFUSION_MATRIX)
    return ConfusionMatrixCounts(tensor, plugin_data.class_names, plugin_data.ignore_class)


def decode(tensor: np.ndarray, plugin_data: metadata.PluginData):
    """Decodes a tensor of either kind according to its metadata."""
    if plugin_data.kind == metadata.KIND_THRESHOLD_CURVES:
        return decode_threshold_curves(tensor, plugin_data)
    return decode_confusion_matrix(tensor, plugin_data)


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
