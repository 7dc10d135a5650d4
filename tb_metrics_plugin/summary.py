"""Writers of threshold-curve and confusion-matrix summaries.

Two families, same format:

* `threshold_curves_pb` / `confusion_matrix_pb`: numpy in, `Summary` proto out; no TensorFlow
  needed. Write them with `tb_metrics_plugin.writer.SummaryWriter`.
* `threshold_curves` / `confusion_matrix`: TensorFlow summary ops writing to the default
  `tf.summary` writer, eagerly or inside `tf.function` (custom training loops).

Counting is O(N) time and O(C·T) memory (see `counting`). With `slices`, each writer also returns
(or writes) one summary per slice value, tag ``f"{name}/{key}={value}"`` (see `slices`); each key
costs one more pass over the items, whatever its number of values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util

from tb_metrics_plugin import counting, inputs, layout, metadata
from tb_metrics_plugin import slices as slicing
from tb_metrics_plugin.options import (  # re-exported: writers' callers use them as summary.*
    check_decision_threshold,
    curve_class_names,
    decision_rule,
    resolve_class_names,
    resolve_thresholds,
)
from tb_metrics_plugin.thresholds import (
    DEFAULT_NUM_THRESHOLDS,
    EXACT_SCORES_PER_THRESHOLD,
    EXACT_STEP_BUDGET_PER_THRESHOLD,
)

__all__ = [
    "add_slice_curves",
    "add_slice_matrix",
    "confusion_matrix",
    "confusion_matrix_pb",
    "confusion_matrix_pb_from_counts",
    "threshold_curves",
    "threshold_curves_pb",
    "threshold_curves_pb_from_counts",
    "curve_counts",
    "resolve_thresholds",
    "resolve_class_names",
]










def threshold_curves_pb_from_counts(
    name: str,
    thresholds: np.ndarray,
    positive_histograms: np.ndarray,
    negative_histograms: np.ndarray,
    curve_names: Sequence[str],
    *,
    display_name: str | None = None,
    description: str | None = None,
) -> summary_pb2.Summary:
    """A threshold-curve `Summary` from grid histograms already counted (see `layout`)."""
    check_counts(positive_histograms, negative_histograms)
    counts = layout.ThresholdCurveCounts(
        np.asarray(thresholds, dtype=np.float32),
        np.asarray(positive_histograms, dtype=np.float64),
        np.asarray(negative_histograms, dtype=np.float64),
        tuple(curve_names),
    )
    return threshold_curves_pb_from_curve_counts(name, counts, display_name=display_name, description=description)


def threshold_curves_pb_from_curve_counts(
    name: str, counts: layout.ThresholdCurveCounts, *, display_name: str | None = None, description: str | None = None
) -> summary_pb2.Summary:
    """A threshold-curve `Summary` of counts from `curve_counts` (exact or grid, class by class)."""
    plugin_data = metadata.PluginData(metadata.KIND_THRESHOLD_CURVES, tuple(counts.class_names))
    check_counts(counts.positive_histograms, counts.negative_histograms)
    return _summary(name, layout.encode_threshold_curves(counts), plugin_data, display_name, description)


def slice_curve_counts(
    batch: inputs.PreparedBatch, grid: np.ndarray, curve_names: Sequence[str], exact: bool = True
) -> layout.ThresholdCurveCounts:
    """`curve_counts` of one slice's items; a slice that counts nothing (no items, or every weight
    0) gets all-zero counts on `grid`, so that it is still written and read as empty."""
    if batch.scores.shape[0] == 0 or (batch.weights is not None and not batch.weights.any()):
        zeros = np.zeros((batch.scores.shape[1], len(grid) + 1))
        return layout.ThresholdCurveCounts(grid, zeros, zeros.copy(), tuple(curve_names))
    return curve_counts(batch, grid, curve_names, exact=exact)


def _slice_parts(name: str, slices, batch: inputs.PreparedBatch, labels, predictions, ignore_class):
    """(SliceInfo, the slice's items) for every value of every key of `slices` ({} when None)."""
    if slices is None:
        return []
    keys = slicing.prepare_slices(slices, np.shape(predictions)[0])
    parts = []
    for key in keys:
        codes = slicing.item_codes(key.codes, labels, predictions, ignore_class)
        for value, part in zip(key.values, slicing.partition(batch, codes, len(key.values)), strict=True):
            parts.append((metadata.SliceInfo(name, key.key, value), part))
    return parts


def add_slice_curves(
    summary: summary_pb2.Summary, info: metadata.SliceInfo, counts: layout.ThresholdCurveCounts,
    description: str | None = None,
) -> None:
    """Appends to `summary` the threshold-curve value of slice `info`, tag ``parent/key=value``."""
    check_counts(counts.positive_histograms, counts.negative_histograms)
    plugin_data = metadata.PluginData(metadata.KIND_THRESHOLD_CURVES, tuple(counts.class_names), slice=info)
    _add_value(summary, slicing.slice_tag(info.parent, info.key, info.value),
               layout.encode_threshold_curves(counts), plugin_data, description)


def add_slice_matrix(
    summary: summary_pb2.Summary, info: metadata.SliceInfo, matrix: np.ndarray, class_names: Sequence[str], *,
    ignore_class: int | None = None, decision: str = "argmax", description: str | None = None,
    ranks: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> None:
    """Appends to `summary` the confusion-matrix value of slice `info`, tag ``parent/key=value``;
    `ranks` are its (true_ranks, class_ranks) as `batch_rank_counts` gives them, or (None, None)."""
    check_counts(np.reshape(matrix, -1))
    plugin_data = metadata.PluginData(
        metadata.KIND_CONFUSION_MATRIX, tuple(class_names), ignore_class=ignore_class, decision=decision, slice=info
    )
    _add_value(summary, slicing.slice_tag(info.parent, info.key, info.value),
               layout.encode_confusion_matrix(matrix, *ranks), plugin_data, description)


def _add_value(summary: summary_pb2.Summary, tag: str, tensor, plugin_data, description) -> None:
    summary.value.add(
        tag=tag,
        metadata=metadata.create_summary_metadata(plugin_data, description=description),
        tensor=tensor_util.make_tensor_proto(tensor),
    )


def curve_counts(
    batch: inputs.PreparedBatch, grid: np.ndarray, curve_names: Sequence[str], exact: bool = True
) -> layout.ThresholdCurveCounts:
    """Threshold-curve counts of prepared items, each class exact or on `grid`.

    A class is exact — its thresholds are its distinct float32 scores, with the weight of its
    positives and negatives at each — when it has at most `EXACT_SCORES_PER_THRESHOLD`·T distinct
    scores (T = len(grid)) and the step's exact classes stay within
    `EXACT_STEP_BUDGET_PER_THRESHOLD`·T distinct scores in all (classes with fewer scores first);
    the other classes get their histograms over `grid`. Exact classes' curves, areas and optima equal
    scikit-learn's on the same scores; grid classes are exact at the grid's thresholds. With
    `exact=False` every class is on the grid.
    """
    scores, is_positive = batch.scores, batch.is_positive
    num_classes, num_thresholds = scores.shape[1], len(grid)
    limit = EXACT_SCORES_PER_THRESHOLD * num_thresholds if exact else 0
    distinct = [counting.num_distinct_at_most(scores[:, c], limit) if limit else None for c in range(num_classes)]
    exact = np.zeros(num_classes, dtype=bool)
    budget = EXACT_STEP_BUDGET_PER_THRESHOLD * num_thresholds
    for count, c in sorted((count, c) for c, count in enumerate(distinct) if count is not None):
        if count > budget:
            break
        exact[c], budget = True, budget - count
    cells = {c: counting.distinct_score_counts(scores[:, c], is_positive[:, c], batch.weights)
             for c in np.flatnonzero(exact)}
    width = max([0 if exact.all() else num_thresholds] + [len(values) for values, _, _ in cells.values()])
    if exact.all():
        positive, negative = np.zeros((num_classes, width + 1)), np.zeros((num_classes, width + 1))
    else:
        positive, negative = batch.threshold_histograms(grid)
        positive, negative = _widen(positive, width + 1), _widen(negative, width + 1)
    if not exact.any():
        return layout.ThresholdCurveCounts(grid, positive, negative, tuple(curve_names), exact)
    thresholds = np.full((num_classes, width), np.inf, dtype=np.float32)
    if not exact.all():
        thresholds[:, :num_thresholds] = grid
    for c, (values, positive_weights, negative_weights) in cells.items():
        thresholds[c] = np.inf
        thresholds[c, : len(values)] = values
        positive[c], negative[c] = 0.0, 0.0
        positive[c, : len(values)], negative[c, : len(values)] = positive_weights, negative_weights
    return layout.ThresholdCurveCounts(thresholds, positive, negative, tuple(curve_names), exact)


def _widen(histograms: np.ndarray, width: int) -> np.ndarray:
    """Histograms padded with empty bins at the end to `width` bins (no copy when already that wide)."""
    if histograms.shape[1] == width:
        return histograms
    return np.pad(histograms, ((0, 0), (0, width - histograms.shape[1])))


def confusion_matrix_pb_from_counts(
    name: str,
    matrix: np.ndarray,
    class_names: Sequence[str],
    *,
    ignore_class: int | None = None,
    decision: str = "argmax",
    true_ranks: np.ndarray | None = None,
    class_ranks: np.ndarray | None = None,
    display_name: str | None = None,
    description: str | None = None,
) -> summary_pb2.Summary:
    """A confusion-matrix `Summary` from a C×C matrix already counted (rows: true class), with the
    rank counts of top-k metrics when given (`counting.rank_counts`, both or neither)."""
    inputs.check_ignore_class(ignore_class)
    plugin_data = metadata.PluginData(
        metadata.KIND_CONFUSION_MATRIX, tuple(class_names), ignore_class=ignore_class, decision=decision
    )
    check_counts(np.reshape(matrix, -1))  # the grand total: accuracy's denominator
    tensor = layout.encode_confusion_matrix(matrix, true_ranks, class_ranks)
    return _summary(name, tensor, plugin_data, display_name, description)


def batch_rank_counts(batch: inputs.PreparedBatch) -> tuple[np.ndarray | None, np.ndarray | None]:
    """`counting.rank_counts` of a batch's scores, (None, None) for a single sigmoid output (its
    top-1 accuracy is the matrix's accuracy and top-2 is 1: nothing to log)."""
    if batch.scores.shape[1] < 2:
        return None, None
    return counting.rank_counts(batch.scores, batch.true_classes, batch.weights)


def check_counts(*counts) -> None:
    """Refuses counts a reader would take for damage or turn into NaN metrics: finite non-negative
    weights can still sum past the largest float (1e308 in float64, 3.4e38 in a Keras metric's
    float32 state), in a cell or in a class's total (what TP/FP at the lowest threshold add up).

    Args:
      counts: arrays of the same shape whose last axis is summed into one total per row (a class).

    Raises:
      ValueError: some count or total is infinite or NaN, or a count is negative.
    """
    arrays = [np.asarray(array, dtype=np.float64) for array in counts]
    if not arrays or arrays[0].size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        totals = sum(array.sum(axis=-1) for array in arrays)
        finite = bool(np.isfinite(totals).all()) and min(array.min() for array in arrays) >= 0
    if not finite:
        raise ValueError(
            "the weighted counts overflow to infinity: sample_weight values sum to more than the counts' "
            "float type holds; scale sample_weight down (only ratios of weights matter). Nothing was written."
        )


def _check_name(name) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"name={name!r} must be a non-empty string (the tag shown in TensorBoard).")


def _check_text(value, argument: str) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{argument}={value!r} must be a string or None.")


def _summary(name, tensor, plugin_data, display_name, description) -> summary_pb2.Summary:
    _check_name(name)
    _check_text(display_name, "display_name")
    _check_text(description, "description")
    summary_metadata = metadata.create_summary_metadata(plugin_data, display_name, description)
    summary = summary_pb2.Summary()
    summary.value.add(tag=name, metadata=summary_metadata, tensor=tensor_util.make_tensor_proto(tensor))
    return summary


def threshold_curves_pb(
    name: str,
    labels,
    predictions,
    *,
    num_thresholds: int = DEFAULT_NUM_THRESHOLDS,
    thresholds: Sequence[float] | None = None,
    class_names: Sequence[str] | None = None,
    sample_weight=None,
    from_logits: bool = False,
    multi_label: bool = False,
    ignore_class: int | None = None,
    num_classes: int | None = None,
    exact: bool = True,
    display_name: str | None = None,
    description: str | None = None,
    slices=None,
) -> summary_pb2.Summary:
    """Counts each class's scores and returns the counts as a `Summary`.

    For each class c (one-vs-rest; one curve for a binary output) it stores what gives TP, FP, TN
    and FN of the rule `score > t` exactly: at every threshold t for a class with few distinct
    scores (exact mode, see `curve_counts`), else at each threshold t_j of the grid (see `layout`).
    Inputs are described in `inputs`; `thresholds` overrides the default grid of `num_thresholds`
    values; `exact=False` counts every class on the grid (counts identical to Keras'
    `TruePositives(thresholds=...)` etc., but not exact between grid thresholds).

    `slices` ({key: one string or integer per sample}, see `slices.prepare_slices`) adds, after the
    overall value, one value per slice tagged ``f"{name}/{key}={value}"``: the counts of that slice's
    samples, each class exact or on the grid by the same rule applied to the slice's own scores; a
    slice with nothing counted is written with zero counts.

    Example:
      >>> summary = threshold_curves_pb("val/curves", [0, 1, 1], [0.2, 0.9, 0.4])
      >>> summary.value[0].tag
      'val/curves'

    Raises:
      ValueError: bad input (see `inputs.prepare`), empty input, bad thresholds or class names, bad
        slices (see `slices.prepare_slices`).
    """
    grid = resolve_thresholds(num_thresholds, thresholds)
    batch = inputs.prepare(
        labels, predictions, sample_weight=sample_weight, from_logits=from_logits,
        multi_label=multi_label, ignore_class=ignore_class, num_classes=num_classes,
    )
    names = resolve_class_names(class_names, batch.num_classes)
    _require_items(batch)
    parts = _slice_parts(name, slices, batch, labels, predictions, ignore_class)
    curve_names = curve_class_names(names, batch.scores.shape[1])
    counts = curve_counts(batch, grid, curve_names, exact=exact)
    summary = threshold_curves_pb_from_curve_counts(name, counts, display_name=display_name, description=description)
    for info, part in parts:
        add_slice_curves(summary, info, slice_curve_counts(part, grid, curve_names, exact=exact), description)
    return summary


def confusion_matrix_pb(
    name: str,
    labels,
    predictions,
    *,
    class_names: Sequence[str] | None = None,
    sample_weight=None,
    from_logits: bool = False,
    ignore_class: int | None = None,
    num_classes: int | None = None,
    threshold: float = 0.5,
    display_name: str | None = None,
    description: str | None = None,
    slices=None,
) -> summary_pb2.Summary:
    """Counts the C×C confusion matrix of argmax predictions (or `score > threshold` for a single
    sigmoid output) and returns it as a `Summary`. Rows are true classes, columns predictions.
    With two or more score columns it also logs where each class ranks among the scores
    (`counting.rank_counts`), from which `core.top_k_accuracy` and its kin are derived.

    `slices` adds one matrix per slice value, tagged ``f"{name}/{key}={value}"``, as in
    `threshold_curves_pb` (a slice with nothing counted has an all-zero matrix).

    Example:
      >>> summary = confusion_matrix_pb("val/cm", [0, 2, 1], [[.8, .1, .1], [.2, .2, .6], [.5, .3, .2]])
      >>> summary.value[0].metadata.plugin_data.plugin_name
      'tb_metrics'

    Raises:
      ValueError: bad input (see `inputs.prepare`), multi-label data, empty input, bad class names,
        a `threshold` outside [0, 1], bad slices (see `slices.prepare_slices`).
    """
    check_decision_threshold(threshold)
    batch = inputs.prepare(
        labels, predictions, sample_weight=sample_weight, from_logits=from_logits,
        ignore_class=ignore_class, num_classes=num_classes,
    )
    names = resolve_class_names(class_names, batch.num_classes)
    _require_items(batch)
    parts = _slice_parts(name, slices, batch, labels, predictions, ignore_class)
    decision = decision_rule(batch.scores.shape[1], threshold)
    matrix = counting.confusion_counts(
        batch.true_classes, batch.predicted_classes(threshold), batch.num_classes, batch.weights
    )
    true_ranks, class_ranks = batch_rank_counts(batch)
    summary = confusion_matrix_pb_from_counts(
        name, matrix, names, ignore_class=ignore_class, decision=decision, true_ranks=true_ranks,
        class_ranks=class_ranks, display_name=display_name, description=description,
    )
    for info, part in parts:
        part_matrix = counting.confusion_counts(
            part.true_classes, part.predicted_classes(threshold), part.num_classes, part.weights
        )
        add_slice_matrix(summary, info, part_matrix, names, ignore_class=ignore_class, decision=decision,
                         description=description, ranks=batch_rank_counts(part))
    return summary






def _require_items(batch: inputs.PreparedBatch) -> None:
    if batch.scores.shape[0] == 0:
        raise ValueError(
            "labels and predictions hold no items (empty, or every item has ignore_class); "
            "there is nothing to count — pass at least one sample."
        )


# TensorFlow summary ops ---------------------------------------------------------------------------


def threshold_curves(
    name: str,
    labels,
    predictions,
    step=None,
    *,
    num_thresholds: int = DEFAULT_NUM_THRESHOLDS,
    thresholds: Sequence[float] | None = None,
    class_names: Sequence[str] | None = None,
    sample_weight=None,
    from_logits: bool = False,
    multi_label: bool = False,
    ignore_class: int | None = None,
    num_classes: int | None = None,
    exact: bool = True,
    description: str | None = None,
    slices=None,
):
    """TensorFlow op: writes `threshold_curves_pb(...)` to the default `tf.summary` writer.

    Works eagerly and inside `tf.function`. `step` defaults to `tf.summary.experimental.get_step()`.
    Returns a boolean tensor, True if a default writer was set and the summary was written.

    Checks that need only shapes and arguments raise `ValueError` at call (or trace) time. Checks on
    values (NaN, label range, …) raise `ValueError` eagerly; inside `tf.function` TensorFlow reports
    them as `tf.errors.InvalidArgumentError` carrying the same message. Either way nothing is written.

    `slices` ({key: one value per sample}) also writes one summary per slice value, tag
    ``f"{name}/{key}={value}"``, as `threshold_curves_pb` does. Their values name the tags, so they
    must be known when the op is built: numpy arrays or lists (constants inside `tf.function`), or
    eager tensors.
    """
    grid = resolve_thresholds(num_thresholds, thresholds)
    inputs.check_ignore_class(ignore_class)

    def count(labels_value, predictions_value, weights_value, keys):
        batch = inputs.prepare(
            labels_value, predictions_value, sample_weight=weights_value, from_logits=from_logits,
            multi_label=multi_label, ignore_class=ignore_class, num_classes=num_classes,
        )
        _require_items(batch)
        names = [""] * batch.scores.shape[1]
        blobs = []
        parts = _key_parts(keys, batch, labels_value, predictions_value, ignore_class)
        for part in [batch, *parts]:
            counts = curve_counts(part, grid, names, exact=exact) if part is batch else slice_curve_counts(
                part, grid, names, exact=exact)
            check_counts(counts.positive_histograms, counts.negative_histograms)
            blobs.append(layout.encode_threshold_curves(counts))
        return blobs

    def plugin_data(plan: inputs.ShapePlan) -> metadata.PluginData:
        names = resolve_class_names(class_names, plan.num_classes)
        return metadata.PluginData(metadata.KIND_THRESHOLD_CURVES, curve_class_names(names, plan.num_score_columns))

    return _write_tf(name, labels, predictions, sample_weight, step, description, count, plugin_data, slices)


def confusion_matrix(
    name: str,
    labels,
    predictions,
    step=None,
    *,
    class_names: Sequence[str] | None = None,
    sample_weight=None,
    from_logits: bool = False,
    ignore_class: int | None = None,
    num_classes: int | None = None,
    threshold: float = 0.5,
    description: str | None = None,
    slices=None,
):
    """TensorFlow op: writes `confusion_matrix_pb(...)` to the default `tf.summary` writer.

    Same calling conventions, error behaviour and `slices` as `threshold_curves`.
    """
    check_decision_threshold(threshold)
    inputs.check_ignore_class(ignore_class)

    def count(labels_value, predictions_value, weights_value, keys):
        batch = inputs.prepare(
            labels_value, predictions_value, sample_weight=weights_value, from_logits=from_logits,
            ignore_class=ignore_class, num_classes=num_classes,
        )
        _require_items(batch)
        blobs = []
        for part in [batch, *_key_parts(keys, batch, labels_value, predictions_value, ignore_class)]:
            matrix = counting.confusion_counts(
                part.true_classes, part.predicted_classes(threshold), part.num_classes, part.weights
            )
            check_counts(np.reshape(matrix, -1))  # the grand total: accuracy's denominator
            blobs.append(layout.encode_confusion_matrix(matrix, *batch_rank_counts(part)))
        return blobs

    def plugin_data(plan: inputs.ShapePlan) -> metadata.PluginData:
        return metadata.PluginData(
            metadata.KIND_CONFUSION_MATRIX,
            resolve_class_names(class_names, plan.num_classes),
            ignore_class=ignore_class,
            decision=decision_rule(plan.num_score_columns, threshold),
        )

    return _write_tf(name, labels, predictions, sample_weight, step, description, count, plugin_data, slices)


def _key_parts(keys, batch, labels, predictions, ignore_class) -> list[inputs.PreparedBatch]:
    """The items of each value of each key (`slices.SliceKey`), in the order of their tags."""
    parts = []
    for key in keys:
        if len(key.codes) != np.shape(predictions)[0]:
            raise ValueError(
                f"slices[{key.key!r}] has {len(key.codes)} values but predictions hold {np.shape(predictions)[0]} "
                "samples; pass one value per sample."
            )
        codes = slicing.item_codes(key.codes, labels, predictions, ignore_class)
        parts.extend(slicing.partition(batch, codes, len(key.values)))
    return parts


def _concrete_slices(slices, num_samples: int | None, tf) -> list[slicing.SliceKey]:
    """`slices` checked, with values known now: numpy or lists, or eager tensors (string tensors
    are decoded as UTF-8). A symbolic tensor is refused: its values would name tags at run time."""
    if slices is None:
        return []
    if not isinstance(slices, dict):
        return slicing.prepare_slices(slices, 0)  # raises, naming what slices must be
    concrete = {}
    for key, values in slices.items():
        if isinstance(values, (tf.Tensor, tf.Variable)):
            if not tf.executing_eagerly():
                raise ValueError(
                    f"slices[{key!r}] is a symbolic tensor inside tf.function; slice values name the tags, so "
                    "they must be known when the op is built: pass a numpy array or list, or call the op eagerly."
                )
            values = values.numpy()
            if values.dtype.kind in "OS":
                values = np.array([value.decode("utf-8") for value in values.reshape(-1)]).reshape(values.shape)
        concrete[key] = values
    if num_samples is None:  # batch size unknown until run time: checked then, in `_key_parts`
        num_samples = next((len(np.asarray(v, dtype=object)) for v in concrete.values() if np.ndim(v) == 1), 0)
    return slicing.prepare_slices(concrete, num_samples)


def _write_tf(name, labels, predictions, sample_weight, step, description, count, plugin_data_for, slices=None):
    import tensorflow as tf  # only these two ops need TensorFlow

    _check_name(name)
    _check_text(description, "description")
    _check_step(step, tf)
    labels = _to_tensor(labels, "labels", tf)
    predictions = _to_tensor(predictions, "predictions", tf)
    if predictions.shape.rank is None or labels.shape.rank is None:
        raise ValueError("labels and predictions need a known rank to decide the input kind.")
    plan = inputs.resolve_shapes(tuple(labels.shape), tuple(predictions.shape))
    if plan.num_score_columns is None:
        raise ValueError(
            f"predictions of shape {predictions.shape} have an unknown class axis; give the model "
            "output a static last dimension."
        )
    keys = _concrete_slices(slices, predictions.shape[0], tf)
    overall = plugin_data_for(plan)
    tags = [name] + [slicing.slice_tag(name, key.key, value) for key in keys for value in key.values]
    plugin_datas = [overall] + [
        dataclasses.replace(overall, slice=metadata.SliceInfo(name, key.key, value))
        for key in keys for value in key.values
    ]
    weights = tf.constant(np.nan) if sample_weight is None else _to_tensor(sample_weight, "sample_weight", tf)

    def count_or_raise(labels_value, predictions_value, weights_value):
        weights_value = None if sample_weight is None else weights_value
        return [blob.item() for blob in count(labels_value, predictions_value, weights_value, keys)]  # bytes

    if tf.executing_eagerly():
        tensors = [tf.constant(blob) for blob in count_or_raise(labels.numpy(), predictions.numpy(), weights.numpy())]
    else:
        tensors = tf.numpy_function(
            count_or_raise, [labels, predictions, weights], [tf.string] * len(tags), stateful=False)
        for tensor in tensors:
            tensor.set_shape(())
    written = [
        tf.summary.write(tag=tag, tensor=tensor, step=step,
                         metadata=metadata.create_summary_metadata(plugin_data, description=description))
        for tag, tensor, plugin_data in zip(tags, tensors, plugin_datas, strict=True)
    ]
    return written[0] if len(written) == 1 else tf.reduce_all(tf.stack(written))


def _to_tensor(value, argument: str, tf):
    try:
        return tf.convert_to_tensor(value)
    except (ValueError, TypeError) as error:  # ragged or mixed-type lists, None, objects
        raise ValueError(f"{argument} cannot be read as a tensor of numbers ({error}); pass an array.") from None


def _check_step(step, tf) -> None:
    """Python and numpy steps are checked here; tensors and variables (optimizer.iterations) by TF."""
    if step is None or isinstance(step, (tf.Tensor, tf.Variable)):
        return
    if isinstance(step, np.ndarray) and step.ndim == 0:
        step = step.item()
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step={step!r} must be a non-negative integer (the epoch or batch number).")
