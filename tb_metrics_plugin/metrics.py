"""Keras metrics that accumulate what our summaries store, written with `keras.ops` so they run on
every Keras backend (TensorFlow, JAX, PyTorch).

Compile them into a model and `MetricsCallback` logs their state every epoch without a second pass
over the validation data: each metric hands over its state as a summary (`summary_pb`). Variables
are float32, like Keras' own confusion metrics: counts are exact up to 2^24 per bin.

Keras updates a compiled metric and evaluates its `result()` at every training step, so both are
built to cost little: updates scatter a step's batch into the state in place and add a batch known
to be large densely (`metric_updates`), and `ThresholdCurves.result()` sums below each bin of
several classes with small matrix products, not a cumulative sum over the state (`mean_roc_auc`).

Values a graph cannot refuse (NaN scores, labels out of range, negative or non-finite sample weights)
are not counted; they are tallied in `invalid_count`, and `summary_pb` raises a `ValueError` naming
them instead of writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import keras
import numpy as np
from keras import ops
from tensorboard.compat.proto import summary_pb2

from tb_metrics_plugin import inputs, options, summary
from tb_metrics_plugin.metric_updates import (
    add,
    add_at,
    can_branch_with_updates,
    in_traced_function,
    scatter_costs_less,
    shared_within_trace,
    smallest_dense_batch,
    static_size_at_least,
    under_distribution_strategy,
)
from tb_metrics_plugin.raw_items import MAX_CAPACITY as MAX_RAW_ITEMS
from tb_metrics_plugin.raw_items import RawItems
from tb_metrics_plugin.tensor_bins import (
    ASSUMED_BATCH_ROWS,
    COMPILED_MIN_SCORES,
    TensorBucketizer,
    argmax_last,
    compiling_pays,
)
from tb_metrics_plugin.thresholds import DEFAULT_NUM_THRESHOLDS

# Tags the summaries are written under, whatever the metrics are called in Keras' logs.
THRESHOLD_CURVES_TAG = "threshold_curves"
CONFUSION_MATRIX_TAG = "confusion_matrix"
# Cells per block of a class's histogram bins in `ThresholdCurves`: the default grid's 961 bins are
# 31 blocks of 31, so the layout pads nothing there.
_BLOCK = 31
# Up to this many blocks a class (the default grid: 31), `result()` sums the blocks before each one
# with a product by a triangular matrix of that size; above (grids of over ~2,000 thresholds), with
# a cumulative sum, which costs more per cell but needs no blocks × blocks constant.
_MAX_BLOCKS_FOR_PRODUCT = 64
# A state of at least this many cells is "large": in a traced step ThresholdCurves.result()
# recomputes the ROC-AUC only at every RESULT_REFRESH_CALLS-th call (see there), and
# ConfusionMatrix scatters into it in place. Below, a pass over the cells costs less than the branch
# (tf.cond) that would skip it, and for the matrix a dense add costs less than a scatter followed
# by its whole reads (TensorFlow then copies the variable at each read). Both metrics add a larger
# batch densely (`metric_updates.scatter_costs_less`), ThresholdCurves choosing at run time when the
# batch size is unknown, or adding a training step of few score columns densely at any size
# (`ThresholdCurves.trace_training_steps`).
LARGE_STATE_CELLS = 1 << 16
RESULT_REFRESH_CALLS = 16
# Raw scores (items × score columns) `ThresholdCurves` keeps by default: 4 MiB of float32 scores.
DEFAULT_MAX_RAW_SCORES = 1 << 20
# ThresholdCurves' scalar tallies, in the order of its `tallies` variable (the invalid items are
# tallied in the last histogram cell, by the same update as the histograms).
_TALLIES = ("result_calls", "last_result", "raw_kept")


class _FlatBatch(NamedTuple):
    """A batch as the metrics count it.

    Attributes:
      labels: float32, (M,) for binary and integer labels, (M, C) for one-hot / multi-label
        labels; invalid items' labels as they came.
      scores: float32, (M,) for a single sigmoid output, else (M, C); activated when from_logits.
      valid: bool (M,): items that are counted.
      weights: float32 (M,): the weight of each valid item, 0 for the others; None when every
        valid item weighs 1 and every other item is invalid (no sample weights, nothing ignored).
      invalid: bool (M,): items tallied as invalid; None when `weights` is None (then it is
        `~valid`). Ignored items (`ignore_class`) are neither valid nor invalid.
    """

    labels: Any
    scores: Any
    valid: Any
    weights: Any
    invalid: Any


class _CountingMetric(keras.metrics.Metric):
    """Shared plumbing: lazy building from the first batch's shapes, flattening, validity, and the
    hand-over of the state as a summary."""

    def __init__(self, *, from_logits, multi_label, num_classes, ignore_class, class_names, name, tag, dtype):
        super().__init__(name=name, dtype=dtype or "float32")
        inputs.check_ignore_class(ignore_class)
        options.check_class_names_list(class_names)  # the length is checked once the data is seen
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"tag={tag!r} must be a non-empty string (the tag shown in TensorBoard).")
        self.tag = tag
        self.from_logits = bool(from_logits)
        self.multi_label = bool(multi_label)
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.class_names = None if class_names is None else tuple(class_names)
        self.plan: inputs.ShapePlan | None = None
        self._built = False
        # Whether a state built later starts skipping, and whether steps traced from now on branch
        # on `skipping` (none do until a skip is asked for: a branch costs ~20 µs a step).
        self._skip_when_built = False
        self._branch_on_skipping = False

    def _build(self, plan: inputs.ShapePlan) -> None:
        if self.num_classes is not None and self.num_classes != plan.num_classes:
            raise ValueError(
                f"{type(self).__name__}(num_classes={self.num_classes}) disagrees with the model: "
                f"predictions of shape (..., {plan.num_score_columns}) hold {plan.num_classes} classes."
            )
        if plan.num_score_columns is None:
            raise ValueError("predictions need a static class axis (last dimension) to be counted.")
        # The same refusals as the numpy writer (`inputs.prepare`), decided from shapes alone.
        if self.multi_label and plan.form == inputs.FORM_SPARSE:
            raise ValueError(
                f"{type(self).__name__}(multi_label=True) needs labels shaped like the predictions "
                f"(..., {plan.num_score_columns}), got integer labels; pass 0/1 labels per class."
            )
        if self.ignore_class is not None and plan.form == inputs.FORM_INDICATOR:
            raise ValueError(
                f"{type(self).__name__}(ignore_class={self.ignore_class}) needs integer class labels, got "
                "labels shaped like the predictions; pass sparse labels (argmax of one-hot)."
            )
        options.resolve_class_names(self.class_names, plan.num_classes)
        self.plan = plan
        # 1 while counting is skipped; one value for every replica (a summed sync-on-read variable
        # would split an assignment between them).
        self.skipping = self.add_variable(
            shape=(), initializer="ones" if self._skip_when_built else "zeros", dtype="int32",
            aggregation="only_first_replica", name="skipping",
        )
        self._create_state(plan)
        self._built = True

    @property
    def invalid_count(self):
        """Items left out as invalid since the last reset (a float32 tensor)."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Counts a batch (see the class docstring), unless counting is skipped until the next reset
        (`skip_counting_until_reset`)."""
        y_pred = _real_tensor(y_pred, "y_pred")
        y_true = _real_tensor(y_true, "y_true")
        plan = inputs.resolve_shapes(tuple(y_true.shape), tuple(y_pred.shape))
        if not self._built:
            self._build(plan)
        if plan.num_score_columns != self.plan.num_score_columns or plan.form != self.plan.form:
            raise ValueError(f"{self.name} was built for {self.plan}, got a batch shaped as {plan}.")
        if not (self._branch_on_skipping and can_branch_with_updates()):
            self._count(y_true, y_pred, sample_weight)
            return

        def count():
            self._count(y_true, y_pred, sample_weight)
            return 0

        ops.cond(self.skipping == 0, count, lambda: 0)

    def skip_counting_until_reset(self) -> None:
        """Counts nothing until the next `reset_state`; `result()` is NaN meanwhile.

        `MetricsCallback(training_curves=False)` calls it when an epoch starts (after Keras' reset),
        so that training steps cost one branch; Keras resets the metrics again before validation,
        which is counted. On TensorFlow only: on other backends a step cannot branch around
        variable updates, and the metric goes on counting (nothing is written of it).
        """
        self._branch_on_skipping = True
        if self._built:
            self.skipping.assign(1)
        else:  # Keras builds compiled metrics at the first step: start skipping then
            self._skip_when_built = True

    def _flat_inputs(self, y_true, y_pred, sample_weight) -> _FlatBatch:
        """The batch in flat form (see `_FlatBatch`), computed once per traced step for all the
        metrics that read the same tensors with the same settings (`shared_within_trace`)."""
        if sample_weight is not None:
            sample_weight = _real_tensor(sample_weight, "sample_weight")
        return shared_within_trace(
            (y_true, y_pred, sample_weight), (self.from_logits, self.multi_label, self.ignore_class),
            lambda: self._flatten(y_true, y_pred, sample_weight),
        )

    def _flatten(self, y_true, y_pred, sample_weight) -> _FlatBatch:
        plan = inputs.resolve_shapes(tuple(y_true.shape), tuple(y_pred.shape))  # this batch's item shape
        columns = plan.num_score_columns
        binary = plan.form == inputs.FORM_BINARY
        scores = ops.reshape(ops.cast(y_pred, "float32"), (-1,) if binary else (-1, columns))
        if self.from_logits:
            softmax = not binary and not self.multi_label
            scores = ops.softmax(scores, axis=-1) if softmax else ops.sigmoid(scores)
        labels = ops.cast(y_true, "float32")
        labels = ops.reshape(labels, (-1, columns) if plan.form == inputs.FORM_INDICATOR else (-1,))

        # s·(1 − s) ≥ 0 ⟺ 0 ≤ s ≤ 1, False for NaN and ±inf; with several score columns one op fewer
        # than two comparisons and an `and`, as the bin look-up computes 1 − s too (TensorFlow's
        # graph optimizer merges them).
        in_unit = scores * (1 - scores) >= 0
        if plan.form == inputs.FORM_SPARSE:
            label_ok = (labels == ops.round(labels)) & (labels >= 0) & (labels < columns)
            valid = ops.all(in_unit, axis=-1) & label_ok
        elif plan.form == inputs.FORM_INDICATOR:
            valid = ops.all(in_unit & ((labels == 0) | (labels == 1)), axis=-1)
            if not self.multi_label:
                valid = valid & (ops.sum(labels, axis=-1) == 1)
        else:
            valid = in_unit & ((labels == 0) | (labels == 1))
        weights = invalid = None
        if sample_weight is not None:
            weights = ops.cast(sample_weight, "float32")
            shape = inputs.weight_shape(tuple(weights.shape), plan.item_shape, tuple(y_true.shape))
            while len(weights.shape) > len(shape):
                weights = ops.squeeze(weights, axis=-1)
            item_rank = len(plan.item_shape)
            weights = ops.reshape(weights, tuple(ops.shape(weights)) + (1,) * (item_rank - len(weights.shape)))
            weights = ops.reshape(ops.broadcast_to(weights, ops.shape(y_pred)[:item_rank]), (-1,))
            valid = valid & ops.isfinite(weights) & (weights >= 0)
        if self.ignore_class is not None and plan.form != inputs.FORM_INDICATOR:
            counted = labels != self.ignore_class
            invalid = counted & ~valid
            valid = valid & counted
        elif weights is not None:
            invalid = ~valid
        if weights is not None:
            weights = ops.where(valid, weights, ops.zeros_like(weights))
        elif invalid is not None:
            weights = ops.cast(valid, "float32")
        return _FlatBatch(labels, scores, valid, weights, invalid)

    def _tally_values(self, batch: _FlatBatch):
        """What each item adds to the cell `_cells` sends it to: its weight when valid, 1 at the
        invalid tally when invalid, 0 when ignored; None when that is 1 for every item."""
        if batch.weights is None:
            return None
        return batch.weights + ops.cast(batch.invalid, "float32")

    def reset_state(self):
        if self._built:
            for variable in self.variables:
                variable.assign(ops.zeros(variable.shape, dtype=variable.dtype))

    def get_config(self):
        return {
            "name": self.name,
            "tag": self.tag,
            "dtype": self.dtype,
            "from_logits": self.from_logits,
            "multi_label": self.multi_label,
            "num_classes": self.num_classes,
            "ignore_class": self.ignore_class,
            "class_names": None if self.class_names is None else list(self.class_names),
        }

    def written_tags(self) -> tuple[str, ...]:
        """The tags `summary_pb` writes under by default."""
        return (self.tag,)

    def resolved_class_names(self) -> tuple[str, ...]:
        """The class names of the problem (binary: 2), defaults filled in."""
        return options.resolve_class_names(self.class_names, self.plan.num_classes)

    def summary_pb(self, name: str | None = None, class_names: Sequence[str] | None = None):
        """The state as a `Summary` proto for `tb_metrics_plugin.SummaryWriter` (what
        `MetricsCallback` writes at each epoch end), or None before the first `update_state`.

        Every worker of a multi-worker strategy must call it together: reading the state is then a
        collective.

        Args:
          name: the tag; default `self.tag`.
          class_names: override the metric's class names (binary: 2 names).

        Raises:
          ValueError: items were left out as invalid since the last reset (the message says which
            kinds); nothing should be written for that state.
        """
        if not self._built:
            return None
        invalid = float(ops.convert_to_numpy(self.invalid_count))
        if invalid:
            raise ValueError(
                f"metric {self.name!r} saw {invalid:g} items with NaN/inf scores, probabilities "
                "outside [0, 1] (pass from_logits=True for logits), labels that are not valid "
                "class indices / 0-1 values, or negative / non-finite sample weights; nothing was "
                "written for this epoch."
            )
        names = options.resolve_class_names(class_names or self.class_names, self.plan.num_classes)
        return self._summary(name or self.tag, names)


def _real_tensor(value, argument: str):
    """`value` as a tensor of real numbers or bools, else a ValueError naming `argument`: casting
    strings fails deep inside the backend, and complex numbers would lose their imaginary part."""
    try:
        tensor = ops.convert_to_tensor(value)
    except (ValueError, TypeError) as error:  # ragged or mixed-type lists, None
        raise ValueError(f"{argument} cannot be read as a tensor of numbers ({error}); pass an array.") from None
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    if dtype != "bool" and not dtype.startswith(("float", "int", "uint", "bfloat")):
        raise ValueError(f"{argument} must be real numbers or bools, got dtype {dtype}; convert it to numbers.")
    return tensor


def _check_max_raw_scores(max_raw_scores) -> None:
    if isinstance(max_raw_scores, bool) or not isinstance(max_raw_scores, (int, np.integer)) or max_raw_scores < 0:
        raise ValueError(
            f"max_raw_scores={max_raw_scores!r} must be a whole number >= 0 (raw scores kept, items × "
            "score columns); 0 keeps none and always writes the grid histograms."
        )


def confusion_matrix_tag(curves_tag: str) -> str:
    """The tag `ThresholdCurves(confusion_matrix=True)` writes its matrix under, beside its curves."""
    return CONFUSION_MATRIX_TAG if curves_tag == THRESHOLD_CURVES_TAG else f"{curves_tag}_confusion_matrix"


def _flat_matrix(variable, start: int, num_classes: int) -> np.ndarray:
    """The K×K matrix stored flat (true · K + predicted) from `variable[start]`, as float64."""
    values = np.asarray(ops.convert_to_numpy(variable), dtype=np.float64)
    return values[start : start + num_classes**2].reshape(num_classes, num_classes)


def _or_past_the_end(cells, valid, past_the_end: int):
    """`cells` where `valid`, else `past_the_end`, for cells known to lie below it: one maximum,
    where `where` with a scalar is a broadcasting select that costs a few µs a step."""
    return ops.maximum(cells, ops.cast(ops.logical_not(valid), "int32") * past_the_end)


def matrix_cells(batch: _FlatBatch, plan: inputs.ShapePlan, threshold: float, start: int = 0):
    """Each item's cell in a variable that holds the flat confusion matrix from `start` on:
    start + true · K + predicted, or start + K² for an item that is not valid (int32, (M,)). The
    prediction is the argmax of the scores, or `score > threshold` for a single sigmoid output
    (then K = 2)."""
    num_classes = plan.num_classes
    if plan.form == inputs.FORM_BINARY:
        # 2 · label + predicted; a label other than 0 or 1 makes the item invalid.
        cell = ops.cast(batch.labels == 1, "int32") * 2 + ops.cast(batch.scores > threshold, "int32")
    else:
        if plan.form == inputs.FORM_INDICATOR:
            true = argmax_last(batch.labels)
        else:  # an invalid label can be any number: clipped, so that the cell stays below K²
            true = ops.clip(ops.cast(batch.labels, "int32"), 0, num_classes - 1)
        cell = true * num_classes + argmax_last(batch.scores)
    if start:
        cell = cell + start
    return _or_past_the_end(cell, batch.valid, start + num_classes * num_classes)


@keras.saving.register_keras_serializable(package="tb_metrics_plugin")
class ThresholdCurves(_CountingMetric):
    """Accumulates per-class score histograms of positives and negatives over a threshold grid, and
    keeps the raw scores while they fit.

    From the histograms, TP/FP/TN/FN of `score > t` at every threshold t follow by cumulative sums,
    as `keras.metrics.TruePositives(thresholds=...)` would count them. Up to `max_raw_scores` scores
    (items × score columns) are also kept raw: while every counted item of the split fits,
    `summary_pb` hands them to `summary.threshold_curves_pb`, as if the numpy writer were given the
    predictions; past that, it writes the histograms. Under a tf.distribute strategy nothing is kept
    raw (replicas' copies are summed, not concatenated) and the histograms are written.

    `result()`, logged by Keras as `roc_auc`, is the ROC-AUC over the grid (trapezoid; the mean over
    classes that have positives and negatives); the full curves are what `MetricsCallback` writes.

    With `confusion_matrix=True` it also counts what `ConfusionMatrix` counts, in the same variable
    and the same update, and `summary_pb` holds both summaries. That is the cheaper way to log
    both: Keras charges each compiled metric a fixed cost per training step (its `result()` is one
    more output of the step), about what the matrix's own ops cost (docs/benchmarks.md).

    Args:
      num_thresholds: size of the default grid (see `thresholds.default_thresholds`).
      thresholds: explicit thresholds in [0, 1], strictly increasing; overrides `num_thresholds`.
      from_logits: apply sigmoid (binary, multi-label) or softmax (single-label) first.
      multi_label: labels shaped like predictions are multi-label rather than one-hot.
      num_classes: classes of the problem (binary: 2); checked against the model when given.
      ignore_class: label value whose items are not counted (segmentation "void").
      class_names: names of the classes (binary: 2 names).
      max_raw_scores: raw scores kept (4 bytes each, plus a label and a weight per item); 0: none.
      confusion_matrix: also count the K×K confusion matrix of argmax predictions, as
        `ConfusionMatrix` does (single-label data only), written under `confusion_matrix_tag(tag)`:
        "confusion_matrix" beside the default "threshold_curves", else tag + "_confusion_matrix".
      decision_threshold: with `confusion_matrix`, the matrix's prediction for a single sigmoid
        output is `score > decision_threshold`.
      name: the name Keras logs `result()` under.
      tag: the tag `summary_pb` writes; default "threshold_curves", or `name` when a name is given.

    Example:
      >>> model.compile(loss="binary_crossentropy", metrics=[ThresholdCurves()])  # doctest: +SKIP
      >>> model.compile(loss="categorical_crossentropy",
      ...               metrics=[ThresholdCurves(confusion_matrix=True)])  # doctest: +SKIP
    """

    def __init__(
        self,
        num_thresholds: int = DEFAULT_NUM_THRESHOLDS,
        thresholds: Sequence[float] | None = None,
        from_logits: bool = False,
        multi_label: bool = False,
        num_classes: int | None = None,
        ignore_class: int | None = None,
        class_names: Sequence[str] | None = None,
        max_raw_scores: int = DEFAULT_MAX_RAW_SCORES,
        confusion_matrix: bool = False,
        decision_threshold: float = 0.5,
        name: str | None = None,
        tag: str | None = None,
        dtype=None,
    ):
        _check_max_raw_scores(max_raw_scores)
        if not isinstance(confusion_matrix, (bool, np.bool_)):
            raise ValueError(f"confusion_matrix={confusion_matrix!r} must be True or False.")
        if confusion_matrix and multi_label:
            raise ValueError(
                "confusion_matrix=True needs single-label data (one true class per item), got "
                "multi_label=True; multi-label data has no argmax confusion matrix."
            )
        options.check_decision_threshold(decision_threshold)
        super().__init__(
            from_logits=from_logits, multi_label=multi_label, num_classes=num_classes,
            ignore_class=ignore_class, class_names=class_names, name=name or "roc_auc",
            tag=tag if tag is not None else name or THRESHOLD_CURVES_TAG, dtype=dtype,
        )
        self.num_thresholds = num_thresholds
        self._explicit_thresholds = thresholds is not None
        self.max_raw_scores = int(max_raw_scores)
        self.confusion_matrix = bool(confusion_matrix)
        self.decision_threshold = float(decision_threshold)
        self._count_grid(options.resolve_thresholds(num_thresholds, thresholds))
        self.raw_items: RawItems | None = None
        self._record_raw_scores = True
        self._training_steps = False

    def record_raw_scores(self, enabled: bool) -> None:
        """Whether steps traced from now on keep raw scores (default True).

        Keras traces its training step and its evaluation step once each, at their first call, so
        what is set before that call holds for every later step of that kind. `MetricsCallback`
        turns the record off for the training step unless `exact_training_curves=True`: a training
        split is usually too large to be exact anyway, and the record is most of what a counting
        step costs beyond Keras' own AUC (`benchmarks/bench_fit.py`). A step traced without it
        leaves the record empty, and its summary is written from the histograms.
        """
        self._record_raw_scores = bool(enabled)

    def trace_training_steps(self, training: bool) -> None:
        """Whether steps traced from now on are Keras' training steps (default False).

        A step traced with the batch size unknown chooses its way at run time (`_count_by_size`:
        a branch of about 10 µs a step at each size where the way changes): a few scores are
        searched and scattered in place, a larger batch is added densely, and from 4,096 scores XLA
        computes its cells. An evaluation batch can hold 10^5 rows, and a training batch of 64 rows
        of 100 classes already holds 6,400 scores. A training step whose batch, taken to hold
        `ASSUMED_BATCH_ROWS` (64) rows, would still be a few scores (up to 16 score columns on the
        default grid) skips the branch, which would cost a batch of 64 rows more than it saves: its
        scores are searched as a few scores and added densely. The dense add costs the same as a
        scatter at 64 rows and far less at hundreds (metric alone at 512 rows of 10 classes: 199
        against 465 µs, Keras' AUC 208–327). `MetricsCallback` sets this before Keras traces each
        kind of step, as it sets `record_raw_scores`.
        """
        self._training_steps = bool(training)

    def _count_grid(self, thresholds: np.ndarray) -> None:
        """Counts on `thresholds` (float32, increasing) from now on."""
        self.thresholds = thresholds
        # Each class's bins are laid out as blocks of _BLOCK cells (the last one padded), so that
        # result() sums below each bin with small matrix products (see `mean_roc_auc`).
        self._block = min(_BLOCK, len(thresholds) + 1)
        self._cells_per_class = -(-(len(thresholds) + 1) // self._block) * self._block
        self._bucketizer = TensorBucketizer(thresholds)
        self._compiled_cells = None  # `_cells` compiled by XLA, made for the first large batch

    @property
    def _matrix_from_curves(self) -> bool:
        """A single sigmoid output's 2×2 matrix is the curves' counts at the decision threshold,
        which joins the grid: it costs a step nothing (see `matrix_values`)."""
        return self.confusion_matrix and self.plan.form == inputs.FORM_BINARY

    @property
    def _matrix_in_state(self) -> bool:
        """Whether the K×K matrix is counted into the state beside the histograms (several score
        columns)."""
        return self.confusion_matrix and not self._matrix_from_curves

    def _create_state(self, plan: inputs.ShapePlan) -> None:
        if self._matrix_from_curves and np.float32(self.decision_threshold) not in self.thresholds:
            self._count_grid(np.union1d(self.thresholds, np.float32([self.decision_threshold])))
        columns, cells = plan.num_score_columns, self._cells_per_class
        # histograms[sign, column, bin] sits at (sign · C + column) · cells + bin, sign 1 for
        # positives; one more cell tallies C per invalid item (each of its C scores lands there).
        # With `confusion_matrix` and several score columns, the K×K matrix follows (true · K +
        # predicted), then a cell that tallies its invalid items.
        self._invalid_cell = 2 * columns * cells
        self._matrix_start = self._invalid_cell + 1
        matrix_cells_count = plan.num_classes**2 + 1 if self._matrix_in_state else 0
        self.histograms = self.add_variable(
            shape=(self._matrix_start + matrix_cells_count,), initializer="zeros", name="histograms"
        )
        self._negative_starts = np.arange(columns, dtype=np.int32) * cells
        self._positive_offset = columns * cells
        # Scalars in one variable (each variable is an input of every step function call):
        # result() calls in traced steps, the last result, raw items kept.
        self.tallies = self.add_variable(shape=(len(_TALLIES),), initializer="zeros", name="tallies")
        capacity = min(self.max_raw_scores // columns, MAX_RAW_ITEMS)
        if capacity and not under_distribution_strategy():
            label_columns = columns if self.multi_label else 1
            self.raw_items = RawItems(self, capacity, columns, label_columns, self.tallies, _TALLIES.index("raw_kept"))

    @property
    def invalid_count(self):
        return self.histograms[self._invalid_cell] / self.plan.num_score_columns

    def _count(self, y_true, y_pred, sample_weight):
        batch = self._flat_inputs(y_true, y_pred, sample_weight)
        # Scores a batch holds at least: from the predictions' shape, where a segmentation map's
        # pixels are still known (the flat batch has only its class axis).
        scores_at_least = static_size_at_least(y_pred)
        ways_change_at = self._ways_change_at(scores_at_least)
        size_unknown = None in y_pred.shape
        # A training step whose assumed batch would still be a few scores skips the branch, and is
        # added densely (the same cost as the scatter at 64 rows, far less at hundreds).
        few_in_training = (size_unknown and self._training_steps
                           and scores_at_least * ASSUMED_BATCH_ROWS < min(ways_change_at, default=0))
        if size_unknown and not few_in_training and can_branch_with_updates():
            self._count_by_size(batch, ops.size(y_pred), scores_at_least, ways_change_at)
        else:
            self._count_histograms(batch, scores_at_least, add_densely=few_in_training)
        if self.raw_items is None or not self._record_raw_scores:
            return
        scores, weights = batch.scores, batch.weights
        if self.plan.form == inputs.FORM_BINARY:
            scores, label_rows = ops.expand_dims(scores, -1), ops.expand_dims(batch.labels, -1)
        elif self.multi_label:
            label_rows = batch.labels
        elif self.plan.form == inputs.FORM_INDICATOR:
            label_rows = ops.expand_dims(ops.cast(argmax_last(batch.labels), "float32"), -1)
        else:
            label_rows = ops.expand_dims(batch.labels, -1)
        if weights is None:
            weights = ops.cast(batch.valid, "float32")
        kept = self.tallies[_TALLIES.index("raw_kept")]
        now_kept = self.raw_items.append(scores, label_rows, weights, batch.valid, kept)
        add(self.tallies, ops.stack([0.0, 0.0, now_kept - kept]))

    def _ways_change_at(self, scores_at_least: int) -> list[int]:
        """The batch sizes above `scores_at_least` at which the cheapest way to count changes: a dense
        add from `smallest_dense_batch` scores, XLA from `COMPILED_MIN_SCORES` (where it compiles)."""
        sizes = {smallest_dense_batch(self.histograms.shape[0])}
        if compiling_pays(COMPILED_MIN_SCORES):
            sizes.add(COMPILED_MIN_SCORES)
        return sorted(size for size in sizes if size > scores_at_least)

    def _count_by_size(self, batch: _FlatBatch, size, scores_at_least: int, ways_change_at: list[int]) -> None:
        """Counts a batch whose size (`size`, at least `scores_at_least` scores) is known only at run
        time: one branch (`ops.cond`, about 10 µs) at each size of `ways_change_at`, the batches below
        it counted as `_count_histograms` counts `scores_at_least` scores."""
        if not ways_change_at:
            self._count_histograms(batch, scores_at_least)
            return
        larger_from, later_changes = ways_change_at[0], ways_change_at[1:]

        def count_larger():
            self._count_by_size(batch, size, larger_from, later_changes)
            return 0

        def count_smaller():
            self._count_histograms(batch, scores_at_least)
            return 0

        ops.cond(size >= larger_from, count_larger, count_smaller)

    def _count_histograms(self, batch: _FlatBatch, scores_at_least: int, add_densely: bool = False) -> None:
        """Adds the batch to `histograms` the cheapest way for a batch of at least `scores_at_least`
        scores: from `COMPILED_MIN_SCORES`, its cells in one function compiled by XLA
        (`compiling_pays`), and above max(1,024, cells / 40), or with `add_densely`, one dense add,
        not a scatter in place (`scatter_costs_less`)."""
        if compiling_pays(scores_at_least):
            if self._compiled_cells is None:
                import tensorflow as tf

                self._compiled_cells = tf.function(
                    self._cells, jit_compile=True, reduce_retracing=True, autograph=False
                )
            cell = self._compiled_cells(batch.scores, batch.labels, batch.valid)
        else:
            cell = self._cells(batch.scores, batch.labels, batch.valid, scores_at_least)
        values = self._tally_values(batch)
        if values is not None and self.plan.form != inputs.FORM_BINARY:
            values = ops.broadcast_to(ops.expand_dims(values, -1), ops.shape(cell))
        in_place = scatter_costs_less(scores_at_least, self.histograms.shape[0]) and not add_densely
        if self._matrix_in_state:  # the same variable and update
            matrix = matrix_cells(batch, self.plan, self.decision_threshold, start=self._matrix_start)
            cell = ops.concatenate([ops.reshape(cell, (-1,)), matrix], axis=0)
            if values is not None:
                values = ops.concatenate([ops.reshape(values, (-1,)), self._tally_values(batch)], axis=0)
        add_at(self.histograms, cell, values, in_place=in_place)

    def _cells(self, scores, labels, valid, scores_at_least: int | None = None):
        """Each score's cell in `histograms` (int32, shaped as `scores`): (sign · C + column) · cells
        + bin, sign 1 for a positive; `_invalid_cell` for an item that is not valid. One score
        column of a step's few scores is searched (`search_bins`, told `scores_at_least`); without
        it (compiled by XLA for a large batch), the look-up."""
        if self.plan.form == inputs.FORM_SPARSE:
            is_positive = ops.expand_dims(labels, -1) == np.arange(self.plan.num_score_columns, dtype=np.float32)
        else:
            is_positive = labels == 1
        # Arithmetic rather than `where` between per-class starts: TensorFlow's broadcasting select
        # costs a few µs at a batch of 64, enough to be dispatched to another thread at each step.
        if self.plan.form != inputs.FORM_BINARY:
            cell = self._bucketizer.bins(scores) + self._negative_starts
            valid = ops.expand_dims(valid, -1)
        elif scores_at_least is None:
            cell = self._bucketizer.bins(scores)
        else:
            cell = self._bucketizer.search_bins(scores, scores_at_least)
        cell = cell + ops.cast(is_positive, "int32") * self._positive_offset
        return _or_past_the_end(cell, valid, self._invalid_cell)

    def result(self):
        """The mean ROC-AUC over the classes with positives and negatives (`mean_roc_auc`).

        Keras evaluates every compiled metric's result at each step, inside the traced step
        function, for the progress bar and batch-level logs, and once more eagerly at the end of
        each epoch and evaluation for the epoch's logs (History, TensorBoard's epoch scalars). Eagerly
        this is always computed from the whole state. In a traced function over a large state (at
        least `LARGE_STATE_CELLS` histogram cells: about 34 classes on the default grid) it is
        recomputed at every `RESULT_REFRESH_CALLS`-th call since the last reset and the last value
        is returned in between: per-step values lag by at most 15 steps, epoch values are exact,
        and a step does not pay for a pass over all C·(T+1) cells."""
        if not self._built:
            return ops.convert_to_tensor(float("nan"))
        if not in_traced_function() or self.histograms.shape[0] < LARGE_STATE_CELLS:
            return self.mean_roc_auc()
        tallies = ops.copy(self.tallies)
        last, calls = _TALLIES.index("last_result"), _TALLIES.index("result_calls")
        # Branches without variable updates: cheaper, and allowed in Keras' stateless scopes.
        value = ops.cond(tallies[calls] % RESULT_REFRESH_CALLS == 0, self.mean_roc_auc, lambda: tallies[last])
        one_hot = np.eye(len(_TALLIES), dtype=np.float32)
        self.tallies.assign(ops.where(one_hot[last] == 1, value, tallies) + one_hot[calls])
        return value

    def mean_roc_auc(self):
        """Mean ROC-AUC over the classes with positives and negatives, from the histograms; NaN
        when no class has both. Per class, the trapezoid over the stored thresholds is the
        Mann–Whitney statistic with ties (one bin) counted half:

            AUC = Σ_k pos[k]·(Σ_{j<k} neg[j] + neg[k]/2) / (P·N) = Σ_k pos[k]·(cumneg[k] − neg[k]/2) / (P·N)

        Keras evaluates this at every training step. One class takes the cumulative sum as written,
        in the fewest ops (at that size each op's dispatch costs more than its arithmetic; the
        products below measured 10 µs a step dearer there). Several lay each class's bins out in G
        blocks of B cells (k = B·g + i), and split the inner sum into the negatives of the blocks
        before g and those below i within block g:

            concordant = Σ_g pos_total[g]·(neg_total @ U)[g] + Σ_{g,i} pos[g, i]·(neg[g, :] @ L)[i]

        with U the strict upper triangle of ones (G×G) and L = U + I/2 (B×B, B = 31): two small
        products instead of a cumulative sum over all C·(T+1) cells, which TensorFlow computes 2–3×
        slower on a CPU (at 10 classes the products save about 40 µs a step). Above
        `_MAX_BLOCKS_FOR_PRODUCT` blocks (large custom grids) the first sum is a cumulative sum over
        the C·G block totals instead.
        """
        if not self._built:
            return ops.convert_to_tensor(float("nan"))
        block, columns, cells = self._block, self.plan.num_score_columns, self._cells_per_class
        state = ops.copy(self.histograms)  # one read of the variable
        if columns == 1:  # two slices, and sums over one axis
            negative, positive = state[:cells], state[cells : 2 * cells]
            negatives_below = ops.cumsum(negative, axis=0) - 0.5 * negative
            pairs = ops.sum(positive) * ops.sum(negative)
            return ops.sum(positive * negatives_below) / pairs  # NaN without pairs
        blocks = cells // block
        histograms = ops.reshape(state[: self._invalid_cell], (2, columns, blocks, block))
        negative, positive = histograms[0], histograms[1]  # slices of the leading axis: no copies
        negative_per_block, positive_per_block = ops.sum(negative, axis=-1), ops.sum(positive, axis=-1)
        if blocks <= _MAX_BLOCKS_FOR_PRODUCT:
            earlier_blocks = np.triu(np.ones((blocks, blocks), np.float32), 1)
            negatives_in_earlier_blocks = ops.matmul(negative_per_block, earlier_blocks)
        else:
            negatives_in_earlier_blocks = ops.cumsum(negative_per_block, axis=-1) - negative_per_block
        below_or_half = np.triu(np.ones((block, block), np.float32), 1) + 0.5 * np.eye(block, dtype=np.float32)
        within_blocks = ops.reshape(ops.matmul(ops.reshape(negative, (-1, block)), below_or_half), ops.shape(negative))
        concordant = ops.sum(positive * within_blocks, axis=(-2, -1)) + ops.sum(
            positive_per_block * negatives_in_earlier_blocks, axis=-1
        )
        pairs = ops.sum(positive_per_block, axis=-1) * ops.sum(negative_per_block, axis=-1)
        areas = ops.divide_no_nan(concordant, pairs)  # 0 for a class without pairs
        # NaN when no class has pairs (nothing counted, or skipped): a mean over no class.
        return ops.sum(areas) / ops.sum(ops.cast(pairs > 0, "float32"))

    def histogram_values(self) -> tuple[np.ndarray, np.ndarray]:
        """(positive_histograms, negative_histograms) as float64 numpy arrays of shape (C, T + 1)."""
        values = np.asarray(ops.convert_to_numpy(self.histograms), dtype=np.float64)[: self._invalid_cell]
        values = values.reshape(2, self.plan.num_score_columns, -1)[:, :, : len(self.thresholds) + 1]
        return values[1], values[0]

    def written_tags(self) -> tuple[str, ...]:
        """The curves' tag, and with `confusion_matrix=True` the matrix's (`confusion_matrix_tag`)."""
        return (self.tag, confusion_matrix_tag(self.tag)) if self.confusion_matrix else (self.tag,)

    def curve_names(self) -> tuple[str, ...]:
        return options.curve_class_names(self.resolved_class_names(), self.plan.num_score_columns)

    def matrix_values(self) -> np.ndarray:
        """With `confusion_matrix=True`, the accumulated K×K matrix as a float64 numpy array.

        For a single sigmoid output it is read from the histograms, whose grid holds t =
        `decision_threshold` (t_i = t): bin(s) = #{j : t_j < s}, so s > t ⟺ bin(s) > i, and

            [[TN, FP], [FN, TP]] = [[Σ_{k≤i} neg[k], Σ_{k>i} neg[k]], [Σ_{k≤i} pos[k], Σ_{k>i} pos[k]]]
        """
        if not self.confusion_matrix:
            raise ValueError(f"metric {self.name!r} counts no confusion matrix; pass confusion_matrix=True.")
        if self._matrix_in_state:
            return _flat_matrix(self.histograms, self._matrix_start, self.plan.num_classes)
        (positive,), (negative,) = self.histogram_values()
        above = int(np.searchsorted(self.thresholds, np.float32(self.decision_threshold))) + 1
        return np.array([[negative[:above].sum(), negative[above:].sum()],
                         [positive[:above].sum(), positive[above:].sum()]])

    def _summary(self, tag: str, names: tuple[str, ...]) -> summary_pb2.Summary:
        curves = self._curves_summary(tag, names)
        if not self.confusion_matrix:
            return curves
        matrix = summary.confusion_matrix_pb_from_counts(
            confusion_matrix_tag(tag), self.matrix_values(), names, ignore_class=self.ignore_class,
            decision=options.decision_rule(self.plan.num_score_columns, self.decision_threshold),
        )
        return summary_pb2.Summary(value=[*curves.value, *matrix.value])

    def _curves_summary(self, tag: str, names: tuple[str, ...]) -> summary_pb2.Summary:
        raw = None if self.raw_items is None else self.raw_items.read()
        if raw is None:
            positive, negative = self.histogram_values()
            return summary.threshold_curves_pb_from_counts(
                tag, self.thresholds, positive, negative, options.curve_class_names(names, self.plan.num_score_columns)
            )
        scores, labels, weights = raw
        if self.plan.form == inputs.FORM_BINARY:
            scores, labels = scores[:, 0], labels[:, 0]
        elif not self.multi_label:
            labels = labels[:, 0].astype(np.int64)
        return summary.threshold_curves_pb(
            tag, labels, scores, sample_weight=None if np.all(weights == 1) else weights,
            num_thresholds=self.num_thresholds,
            thresholds=self.thresholds if self._explicit_thresholds or self._matrix_from_curves else None,
            class_names=names, multi_label=self.multi_label,
        )

    def get_config(self):
        config = super().get_config()
        config["num_thresholds"] = self.num_thresholds
        config["thresholds"] = [float(t) for t in self.thresholds] if self._explicit_thresholds else None
        config["max_raw_scores"] = self.max_raw_scores
        config["confusion_matrix"] = self.confusion_matrix
        config["decision_threshold"] = self.decision_threshold
        return config


@keras.saving.register_keras_serializable(package="tb_metrics_plugin")
class ConfusionMatrix(_CountingMetric):
    """Accumulates the C×C confusion matrix of argmax predictions (rows: true class).

    For a single sigmoid output the prediction is `score > threshold` and the matrix is 2×2.
    `result()`, logged by Keras as `cm_accuracy` (not `accuracy`, which Keras' own metric of that
    name logs), is the accuracy: trace / total. Works for segmentation outputs (..., C) with
    integer labels (...) and `ignore_class`.

    Args:
      num_classes: classes of the problem (binary: 2); checked against the model when given.
      threshold: decision threshold for a single sigmoid output.
      from_logits: accepted for symmetry; argmax and `logit > logit(threshold)` need no activation,
        but the activation is applied so that `threshold` is a probability.
      ignore_class: label value whose items are not counted.
      class_names: names of the classes.
      name: the name Keras logs `result()` under.
      tag: the tag `summary_pb` writes; default "confusion_matrix", or `name` when a name is given.
    """

    def __init__(
        self,
        num_classes: int | None = None,
        threshold: float = 0.5,
        from_logits: bool = False,
        ignore_class: int | None = None,
        class_names: Sequence[str] | None = None,
        name: str | None = None,
        tag: str | None = None,
        dtype=None,
    ):
        super().__init__(
            from_logits=from_logits, multi_label=False, num_classes=num_classes,
            ignore_class=ignore_class, class_names=class_names, name=name or "cm_accuracy",
            tag=tag if tag is not None else name or CONFUSION_MATRIX_TAG, dtype=dtype,
        )
        options.check_decision_threshold(threshold)
        self.threshold = float(threshold)

    def _create_state(self, plan: inputs.ShapePlan) -> None:
        # Flat, so that an update is one scatter of (true · C + predicted) cells; one more cell
        # tallies the invalid items in the same scatter.
        self.matrix = self.add_variable(shape=(plan.num_classes**2 + 1,), initializer="zeros", name="matrix")

    @property
    def invalid_count(self):
        return self.matrix[self.plan.num_classes**2]

    def _count(self, y_true, y_pred, sample_weight):
        batch = self._flat_inputs(y_true, y_pred, sample_weight)
        # Valid items add their weight to their cell; invalid ones 1 to the tally cell; ignored
        # ones (weight 0) nothing there.
        cell = matrix_cells(batch, self.plan, self.threshold)
        cells = self.matrix.shape[0]
        items_at_least = static_size_at_least(y_pred) // self.plan.num_score_columns
        in_place = cells >= LARGE_STATE_CELLS and scatter_costs_less(items_at_least, cells)
        add_at(self.matrix, cell, self._tally_values(batch), in_place=in_place)

    def result(self):
        if not self._built:
            return ops.convert_to_tensor(float("nan"))
        # The diagonal of the flat C×C matrix is every (C + 1)-th cell (ops.trace is a dozen ops).
        cells = self.plan.num_classes**2
        matrix = ops.copy(self.matrix)[:cells]  # one read of the variable for both sums
        return ops.sum(matrix[:: self.plan.num_classes + 1]) / ops.sum(matrix)  # NaN when nothing was counted

    def matrix_values(self) -> np.ndarray:
        """The accumulated matrix as a float64 numpy array (C, C)."""
        return _flat_matrix(self.matrix, 0, self.plan.num_classes)

    def decision(self) -> str:
        return options.decision_rule(self.plan.num_score_columns, self.threshold)

    def _summary(self, tag: str, names: tuple[str, ...]) -> summary_pb2.Summary:
        return summary.confusion_matrix_pb_from_counts(
            tag, self.matrix_values(), names, ignore_class=self.ignore_class, decision=self.decision()
        )

    def get_config(self):
        config = super().get_config()
        del config["multi_label"]
        config["threshold"] = self.threshold
        return config
