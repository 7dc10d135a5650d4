"""Keras metrics that accumulate what our summaries store, written with `keras.ops` so they run on
every Keras backend (TensorFlow, JAX, PyTorch).

Compile them into a model and `MetricsCallback` logs their state every epoch without a second pass
over the validation data. Variables are float32, like Keras' own confusion metrics: counts are exact
up to 2^24 per bin.

Values a graph cannot refuse (NaN scores, labels out of range, negative or non-finite sample weights)
are not counted; they are tallied in `invalid_count`, and `MetricsCallback` raises a `ValueError`
naming them instead of writing.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from tb_metrics_plugin import inputs, summary
from tb_metrics_plugin.thresholds import DEFAULT_NUM_THRESHOLDS


class _CountingMetric(keras.metrics.Metric):
    """Shared plumbing: lazy building from the first batch's shapes, flattening and validity."""

    def __init__(self, *, from_logits, multi_label, num_classes, ignore_class, class_names, name, dtype):
        super().__init__(name=name, dtype=dtype or "float32")
        inputs.check_ignore_class(ignore_class)
        summary.check_class_names_list(class_names)  # the length is checked once the data is seen
        self.from_logits = bool(from_logits)
        self.multi_label = bool(multi_label)
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.class_names = None if class_names is None else tuple(class_names)
        self.plan: inputs.ShapePlan | None = None
        self._built = False

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
        summary.resolve_class_names(self.class_names, plan.num_classes)
        self.plan = plan
        self.invalid_count = self.add_variable(shape=(), initializer="zeros", name="invalid_count")
        self._create_state(plan)
        self._built = True

    def _flat_inputs(self, y_true, y_pred, sample_weight):
        """Returns (labels, scores (M, C), weights (M,), valid (M,)) with invalid items weighted 0."""
        y_pred = _real_tensor(y_pred, "y_pred")
        y_true = _real_tensor(y_true, "y_true")
        plan = inputs.resolve_shapes(tuple(y_true.shape), tuple(y_pred.shape))
        if not self._built:
            self._build(plan)
        columns = plan.num_score_columns
        if plan.num_score_columns != self.plan.num_score_columns or plan.form != self.plan.form:
            raise ValueError(f"{self.name} was built for {self.plan}, got a batch shaped as {plan}.")
        scores = ops.reshape(ops.cast(y_pred, "float32"), (-1, columns))
        if self.from_logits:
            softmax = plan.form != inputs.FORM_BINARY and not self.multi_label
            scores = ops.softmax(scores, axis=-1) if softmax else ops.sigmoid(scores)
        labels = ops.cast(y_true, "float32")
        labels = ops.reshape(labels, (-1, columns) if plan.form == inputs.FORM_INDICATOR else (-1,))
        num_items = ops.shape(scores)[0]
        if sample_weight is None:
            weights = ops.ones((num_items,), dtype="float32")
        else:
            weights = ops.cast(_real_tensor(sample_weight, "sample_weight"), "float32")
            shape = inputs.weight_shape(tuple(weights.shape), plan.item_shape, tuple(y_true.shape))
            while len(weights.shape) > len(shape):
                weights = ops.squeeze(weights, axis=-1)
            item_rank = len(plan.item_shape)
            weights = ops.reshape(weights, tuple(ops.shape(weights)) + (1,) * (item_rank - len(weights.shape)))
            weights = ops.reshape(ops.broadcast_to(weights, ops.shape(y_pred)[:item_rank]), (-1,))

        finite = ops.all(ops.isfinite(scores), axis=-1)
        in_unit = ops.all((scores >= 0) & (scores <= 1), axis=-1)
        whole = labels == ops.round(labels)
        if plan.form == inputs.FORM_SPARSE:
            label_ok = whole & (labels >= 0) & (labels < columns)
        else:
            label_ok = (labels == 0) | (labels == 1)
            if plan.form == inputs.FORM_INDICATOR:
                label_ok = ops.all(label_ok, axis=-1)
                if not self.multi_label:
                    label_ok = label_ok & (ops.sum(labels, axis=-1) == 1)
        counted = ops.ones_like(finite)
        if self.ignore_class is not None and plan.form != inputs.FORM_INDICATOR:
            counted = labels != self.ignore_class
        weight_ok = ops.isfinite(weights) & (weights >= 0)
        valid = finite & in_unit & label_ok & weight_ok & counted
        self.invalid_count.assign_add(ops.sum(ops.cast(counted & ~valid, "float32")))
        weights = ops.where(valid, weights, ops.zeros_like(weights))
        scores = ops.where(ops.expand_dims(valid, -1), scores, ops.zeros_like(scores))
        if plan.form == inputs.FORM_INDICATOR:
            labels = ops.where(ops.expand_dims(valid, -1), labels, ops.zeros_like(labels))
        else:
            labels = ops.where(valid, labels, ops.zeros_like(labels))
        return labels, scores, weights

    def reset_state(self):
        if self._built:
            for variable in self.variables:
                variable.assign(ops.zeros(variable.shape, dtype=variable.dtype))

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            "from_logits": self.from_logits,
            "multi_label": self.multi_label,
            "num_classes": self.num_classes,
            "ignore_class": self.ignore_class,
            "class_names": None if self.class_names is None else list(self.class_names),
        }

    def resolved_class_names(self) -> tuple[str, ...]:
        """The class names of the problem (binary: 2), defaults filled in."""
        return summary.resolve_class_names(self.class_names, self.plan.num_classes)


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


@keras.saving.register_keras_serializable(package="tb_metrics_plugin")
class ThresholdCurves(_CountingMetric):
    """Accumulates per-class score histograms of positives and negatives over a threshold grid.

    From its state, TP/FP/TN/FN of `score > t` at every threshold t follow by cumulative sums, as
    `keras.metrics.TruePositives(thresholds=...)` would count them. `result()` is the ROC-AUC
    (trapezoid; the mean over classes that have positives and negatives) so training logs show a
    number; the full curves are what `MetricsCallback` writes.

    Args:
      num_thresholds: size of the default grid (see `thresholds.default_thresholds`).
      thresholds: explicit thresholds in [0, 1], strictly increasing; overrides `num_thresholds`.
      from_logits: apply sigmoid (binary, multi-label) or softmax (single-label) first.
      multi_label: labels shaped like predictions are multi-label rather than one-hot.
      num_classes: classes of the problem (binary: 2); checked against the model when given.
      ignore_class: label value whose items are not counted (segmentation "void").
      class_names: names of the classes (binary: 2 names).

    Example:
      >>> model.compile(loss="binary_crossentropy", metrics=[ThresholdCurves()])  # doctest: +SKIP
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
        name: str = "threshold_curves",
        dtype=None,
    ):
        super().__init__(
            from_logits=from_logits, multi_label=multi_label, num_classes=num_classes,
            ignore_class=ignore_class, class_names=class_names, name=name, dtype=dtype,
        )
        self.num_thresholds = num_thresholds
        self.thresholds = summary.resolve_thresholds(num_thresholds, thresholds)
        self._explicit_thresholds = thresholds is not None

    def _create_state(self, plan: inputs.ShapePlan) -> None:
        shape = (2, plan.num_score_columns, len(self.thresholds) + 1)
        self.histograms = self.add_variable(shape=shape, initializer="zeros", name="histograms")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels, scores, weights = self._flat_inputs(y_true, y_pred, sample_weight)
        columns = self.plan.num_score_columns
        num_bins = len(self.thresholds) + 1
        if self.plan.form == inputs.FORM_SPARSE:
            is_positive = ops.one_hot(ops.cast(labels, "int32"), columns, dtype="float32")
        else:
            is_positive = ops.reshape(labels, (-1, columns))
        bins = ops.searchsorted(ops.convert_to_tensor(self.thresholds), ops.reshape(scores, (-1,)), side="left")
        bins = ops.reshape(ops.cast(bins, "int32"), (-1, columns))
        class_offsets = ops.arange(columns, dtype="int32") * num_bins
        negative = ops.cast(1 - is_positive, "int32")
        flat_index = bins + class_offsets + negative * (columns * num_bins)
        item_weights = ops.broadcast_to(ops.expand_dims(weights, -1), ops.shape(flat_index))
        counts = ops.segment_sum(
            ops.reshape(item_weights, (-1,)), ops.reshape(flat_index, (-1,)), num_segments=2 * columns * num_bins
        )
        self.histograms.assign_add(ops.reshape(counts, self.histograms.shape))

    def result(self):
        """Mean ROC-AUC over the classes with positives and negatives. Per class, the trapezoid over
        the stored thresholds is the Mann–Whitney statistic with ties (one bin) counted half:
        AUC = Σ_k pos[k]·(Σ_{j<k} neg[j] + neg[k]/2) / (P·N). Keras evaluates this at every
        training step for the logs, so it takes one cumulative sum and no reversed copies."""
        if not self._built:
            return ops.convert_to_tensor(float("nan"))
        positive, negative = self.histograms[0], self.histograms[1]
        negatives_below = ops.cumsum(negative, axis=-1) - 0.5 * negative
        positives, negatives = ops.sum(positive, axis=-1), ops.sum(negative, axis=-1)
        areas = ops.divide_no_nan(ops.sum(positive * negatives_below, axis=-1), positives * negatives)
        defined = ops.cast((positives > 0) & (negatives > 0), "float32")
        return ops.divide_no_nan(ops.sum(areas * defined), ops.sum(defined))

    def histogram_values(self) -> tuple[np.ndarray, np.ndarray]:
        """(positive_histograms, negative_histograms) as float64 numpy arrays of shape (C, T + 1)."""
        values = np.asarray(ops.convert_to_numpy(self.histograms), dtype=np.float64)
        return values[0], values[1]

    def curve_names(self) -> tuple[str, ...]:
        return summary.curve_class_names(self.resolved_class_names(), self.plan.num_score_columns)

    def get_config(self):
        config = super().get_config()
        config["num_thresholds"] = self.num_thresholds
        config["thresholds"] = [float(t) for t in self.thresholds] if self._explicit_thresholds else None
        return config


@keras.saving.register_keras_serializable(package="tb_metrics_plugin")
class ConfusionMatrix(_CountingMetric):
    """Accumulates the C×C confusion matrix of argmax predictions (rows: true class).

    For a single sigmoid output the prediction is `score > threshold` and the matrix is 2×2.
    `result()` is the accuracy (trace / total). Works for segmentation outputs (..., C) with integer
    labels (...) and `ignore_class`.

    Args:
      num_classes: classes of the problem (binary: 2); checked against the model when given.
      threshold: decision threshold for a single sigmoid output.
      from_logits: accepted for symmetry; argmax and `logit > logit(threshold)` need no activation,
        but the activation is applied so that `threshold` is a probability.
      ignore_class: label value whose items are not counted.
      class_names: names of the classes.
    """

    def __init__(
        self,
        num_classes: int | None = None,
        threshold: float = 0.5,
        from_logits: bool = False,
        ignore_class: int | None = None,
        class_names: Sequence[str] | None = None,
        name: str = "confusion_matrix",
        dtype=None,
    ):
        super().__init__(
            from_logits=from_logits, multi_label=False, num_classes=num_classes,
            ignore_class=ignore_class, class_names=class_names, name=name, dtype=dtype,
        )
        summary.check_decision_threshold(threshold)
        self.threshold = float(threshold)

    def _create_state(self, plan: inputs.ShapePlan) -> None:
        shape = (plan.num_classes, plan.num_classes)
        self.matrix = self.add_variable(shape=shape, initializer="zeros", name="matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels, scores, weights = self._flat_inputs(y_true, y_pred, sample_weight)
        num_classes = self.plan.num_classes
        if self.plan.form == inputs.FORM_BINARY:
            predicted = ops.cast(scores[:, 0] > self.threshold, "int32")
            true = ops.cast(labels, "int32")
        else:
            predicted = ops.cast(ops.argmax(scores, axis=-1), "int32")
            true = ops.cast(ops.argmax(labels, axis=-1) if self.plan.form == inputs.FORM_INDICATOR else labels, "int32")
        counts = ops.segment_sum(weights, true * num_classes + predicted, num_segments=num_classes * num_classes)
        self.matrix.assign_add(ops.reshape(counts, (num_classes, num_classes)))

    def result(self):
        if not self._built:
            return ops.convert_to_tensor(float("nan"))
        return ops.divide_no_nan(ops.trace(self.matrix), ops.sum(self.matrix))

    def matrix_values(self) -> np.ndarray:
        """The accumulated matrix as a float64 numpy array."""
        return np.asarray(ops.convert_to_numpy(self.matrix), dtype=np.float64)

    def decision(self) -> str:
        return summary.decision_rule(self.plan.num_score_columns, self.threshold)

    def get_config(self):
        config = super().get_config()
        del config["multi_label"]
        config["threshold"] = self.threshold
        return config
