"""Turns (labels, predictions, sample_weight) of every supported kind into one flat form.

Supported kinds (the class axis is always the last axis of `predictions`):

| predictions      | labels            | kind                                         |
|------------------|-------------------|----------------------------------------------|
| (N,) or (N, 1)   | same shape or (N,)| binary, one sigmoid score per sample         |
| (..., C), C ≥ 2  | (...) or (..., 1) | single-label (softmax), integer labels       |
| (..., C), C ≥ 2  | (..., C) 0/1      | one-hot (default) or multi-label             |

Leading axes (batch, height, width) are flattened into items, so segmentation maps of shape
(N, H, W, C) with labels (N, H, W) are the sparse case. The shape rules live in
`resolve_shapes` and are shared with the Keras metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tb_metrics_plugin import counting

FORM_BINARY = "binary"
FORM_SPARSE = "sparse"
FORM_INDICATOR = "indicator"


@dataclass(frozen=True)
class ShapePlan:
    """How to read a (labels, predictions) pair, decided from shapes alone.

    Attributes:
      form: FORM_BINARY, FORM_SPARSE or FORM_INDICATOR (one-hot or multi-label labels).
      num_score_columns: C, the number of scores per item (1 for binary).
      item_shape: shape of the leading (non-class) axes of predictions.
    """

    form: str
    num_score_columns: int
    item_shape: tuple[int | None, ...]

    @property
    def num_classes(self) -> int:
        """Classes of the problem; a binary problem has 2 (negative, positive), as in Keras' IoU."""
        return 2 if self.form == FORM_BINARY else self.num_score_columns


def resolve_shapes(
    labels_shape: tuple[int | None, ...], predictions_shape: tuple[int | None, ...]
) -> ShapePlan:
    """Decides the input kind from the two shapes (see the module docstring).

    Raises:
      ValueError: the shapes fit none of the supported kinds.
    """
    labels_shape, predictions_shape = tuple(labels_shape), tuple(predictions_shape)
    if len(predictions_shape) == 0:
        raise ValueError("predictions is a scalar; pass one score (or one row of scores) per sample.")
    if len(predictions_shape) == 1:
        if labels_shape in (predictions_shape, predictions_shape + (1,)):
            return ShapePlan(FORM_BINARY, 1, predictions_shape)
    else:
        item_shape, num_columns = predictions_shape[:-1], predictions_shape[-1]
        if num_columns == 0:
            raise ValueError(
                f"predictions of shape {predictions_shape} have no score columns (last axis is 0); "
                "pass one score per class (or one sigmoid score for binary)."
            )
        if num_columns == 1 and labels_shape in (predictions_shape, item_shape):
            return ShapePlan(FORM_BINARY, 1, item_shape)
        if labels_shape in (item_shape, item_shape + (1,)):
            return ShapePlan(FORM_SPARSE, num_columns, item_shape)
        if labels_shape == predictions_shape:
            return ShapePlan(FORM_INDICATOR, num_columns, item_shape)
    raise ValueError(
        f"labels of shape {labels_shape} do not fit predictions of shape {predictions_shape}. "
        "Expected: predictions (N,) or (N, 1) with labels of the same shape or (N,) for binary; "
        "predictions (..., C) with integer labels (...) or one-hot / multi-label labels (..., C)."
    )


@dataclass(frozen=True)
class PreparedBatch:
    """Validated items in flat form.

    Attributes:
      scores: float32 (M, C) probabilities in [0, 1].
      is_positive: bool (M, C); item m is a positive of score column c.
      weights: float64 (M,) or None (all 1).
      true_classes: intp (M,) for single-label problems (binary: 0/1), None for multi-label.
      num_classes: classes of the problem (binary: 2).
    """

    scores: np.ndarray
    is_positive: np.ndarray
    weights: np.ndarray | None
    true_classes: np.ndarray | None
    num_classes: int

    @staticmethod
    def concatenate(batches: list[PreparedBatch]) -> PreparedBatch:
        """One batch of the items of `batches` (prepared from the same data: same columns and kind).
        Items of unweighted batches weigh 1 when other batches carry weights."""
        first = batches[0]
        if len(batches) == 1:
            return first
        weights = None
        if any(batch.weights is not None for batch in batches):
            weights = np.concatenate([
                np.ones(len(batch.scores)) if batch.weights is None else batch.weights for batch in batches
            ])
        return PreparedBatch(
            np.concatenate([batch.scores for batch in batches]),
            np.concatenate([batch.is_positive for batch in batches]),
            weights,
            None if first.true_classes is None else np.concatenate([batch.true_classes for batch in batches]),
            first.num_classes,
        )

    def threshold_histograms(self, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`counting.threshold_histograms` of these items: (positive, negative) float64 (C, T + 1)."""
        # A single score column's true_classes are 0/1 labels, not the column of the positive.
        positive_columns = self.true_classes if self.scores.shape[1] > 1 else None
        return counting.threshold_histograms(
            self.is_positive, self.scores, thresholds, self.weights, true_classes=positive_columns
        )

    def predicted_classes(self, threshold: float = 0.5) -> np.ndarray:
        """argmax of the scores, or `score > threshold` for a single sigmoid column."""
        if self.scores.shape[1] == 1:
            return (self.scores[:, 0] > np.float32(threshold)).astype(np.intp)
        return np.argmax(self.scores, axis=1)


def prepare(
    labels,
    predictions,
    *,
    sample_weight=None,
    from_logits: bool = False,
    multi_label: bool = False,
    ignore_class: int | None = None,
    num_classes: int | None = None,
) -> PreparedBatch:
    """Validates one batch and returns it in flat form.

    `from_logits` applies the sigmoid to binary and multi-label outputs and the softmax over the
    class axis to single-label outputs. Items whose label equals `ignore_class` are dropped.

    Raises:
      ValueError: naming the argument, the bad value and the fix, for shapes that do not fit, NaN or
        infinite scores, probabilities outside [0, 1], labels that are not class indices or 0/1,
        one-hot rows that do not sum to 1, negative or non-finite weights, and a `num_classes` that
        disagrees with the data.
    """
    check_ignore_class(ignore_class)
    predictions = _as_numeric_array(predictions, "predictions")
    labels = _as_numeric_array(labels, "labels")
    plan = resolve_shapes(labels.shape, predictions.shape)
    if num_classes is not None and num_classes != plan.num_classes:
        raise ValueError(
            f"num_classes={num_classes} disagrees with the data: predictions of shape "
            f"{predictions.shape} hold {plan.num_classes} classes"
            + (" (a single sigmoid score is binary: 2 classes)" if plan.form == FORM_BINARY else "")
            + ". Fix num_classes or the model's output."
        )
    if multi_label and plan.form == FORM_SPARSE:
        raise ValueError(
            f"multi_label=True needs labels shaped like predictions {predictions.shape}, "
            f"got integer labels of shape {labels.shape}; pass 0/1 labels per class."
        )
    num_columns = plan.num_score_columns
    scores = predictions.reshape(-1, num_columns)
    flat_labels = labels.reshape(-1) if plan.form != FORM_INDICATOR else labels.reshape(-1, num_columns)
    weights = _flat_weights(sample_weight, plan.item_shape, labels.shape)

    _check_finite(scores, "predictions", "a model that outputs NaN or inf has diverged")
    if not np.issubdtype(flat_labels.dtype, np.integer):
        _check_finite(flat_labels, "labels", "labels must be class indices or 0/1")
        _check_integral(flat_labels)
    if ignore_class is not None:
        if plan.form == FORM_INDICATOR:
            raise ValueError(
                f"ignore_class={ignore_class} needs integer class labels, got labels of shape "
                f"{labels.shape} shaped like predictions; pass sparse labels (argmax of one-hot)."
            )
        keep = flat_labels != ignore_class
        scores, flat_labels = scores[keep], flat_labels[keep]
        weights = None if weights is None else weights[keep]

    if from_logits:
        scores = _activate(scores.astype(np.float64), softmax=plan.form != FORM_BINARY and not multi_label)
    else:
        _check_probabilities(scores)
    # Scores are compared with thresholds in float32, as Keras does.
    scores = scores.astype(np.float32, copy=False)

    if plan.form == FORM_SPARSE:
        _check_range(flat_labels, num_columns, ignore_class)
        true_classes = flat_labels.astype(np.intp)
        is_positive = true_classes[:, None] == np.arange(num_columns)
    else:
        _check_zero_one(flat_labels)
        is_positive = (flat_labels == 1).reshape(-1, num_columns)
        true_classes = None
        if plan.form == FORM_BINARY:
            true_classes = is_positive[:, 0].astype(np.intp)
        elif not multi_label:
            _check_one_hot(is_positive)
            true_classes = np.argmax(is_positive, axis=1)
    return PreparedBatch(scores, is_positive, weights, true_classes, plan.num_classes)


def check_ignore_class(ignore_class) -> None:
    """Refuses an `ignore_class` that is not an integer: a string or 1.5 would silently match no label.

    Raises:
      ValueError: naming the value.
    """
    if ignore_class is None:
        return
    if isinstance(ignore_class, (bool, np.bool_)) or not isinstance(ignore_class, (int, np.integer)):
        raise ValueError(
            f"ignore_class={ignore_class!r} must be None or an integer label value (e.g. 255 or -1)."
        )


def _as_numeric_array(values, name: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as error:  # ragged nested lists, objects numpy cannot read
        raise ValueError(f"{name} is not a rectangular array of numbers ({error}); pass one.") from None
    if array.dtype == bool:
        return array.astype(np.int8)
    # Complex values would silently lose their imaginary part; strings, objects and dates are no counts.
    if array.dtype.kind not in "biuf":  # bool, signed, unsigned, float
        raise ValueError(f"{name} must be real numbers, got dtype {array.dtype}; convert it to numbers.")
    return array


def _flat_weights(sample_weight, item_shape, labels_shape) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weights = _as_numeric_array(sample_weight, "sample_weight").astype(np.float64)
    shape = weight_shape(weights.shape, item_shape, labels_shape)
    weights = weights.reshape(shape + (1,) * (len(item_shape) - len(shape)))
    weights = np.broadcast_to(weights, item_shape).reshape(-1)
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        raise ValueError(
            f"sample_weight has {int(bad.sum())} negative or non-finite values "
            f"(e.g. {weights[bad][0].item()!r}); weights must be finite and >= 0."
        )
    return weights


def weight_shape(sample_weight_shape, item_shape, labels_shape) -> tuple[int | None, ...]:
    """The shape `sample_weight` is read as: a leading prefix of the item shape ((N,) for (N, H, W)
    pixels), broadcast over the rest, after squeezing trailing size-1 axes that do not fit it
    (Keras' (N, 1) per-sample weights, for (N,) items as for (N, H, W) pixels). Unknown (None)
    dimensions fit anything. Shared with the Keras metrics.

    Raises:
      ValueError: the weights fit neither one weight per sample nor one per item.
    """

    def fits(shape) -> bool:
        prefix = item_shape[: len(shape)]
        return len(shape) <= len(item_shape) and all(
            given is None or wanted is None or given == wanted for given, wanted in zip(shape, prefix, strict=True)
        )

    shape = tuple(sample_weight_shape)
    while shape and shape[-1] == 1 and not fits(shape):
        shape = shape[:-1]
    if not fits(shape):
        raise ValueError(
            f"sample_weight of shape {tuple(sample_weight_shape)} does not fit labels of shape "
            f"{tuple(labels_shape)}; pass one weight per sample {tuple(item_shape[:1])} or per item "
            f"{tuple(item_shape)}."
        )
    return shape


def _check_finite(values: np.ndarray, name: str, why: str) -> None:
    # min and max carry NaN and inf: two fast passes decide whether the slow search is needed.
    if values.size == 0 or np.isfinite(values.min()) and np.isfinite(values.max()):
        return
    bad = ~np.isfinite(values)
    if bad.any():
        index = np.unravel_index(int(np.argmax(bad)), values.shape)
        raise ValueError(
            f"{name} has {int(bad.sum())} NaN or infinite values (first {values[index].item()!r} at flat "
            f"index {tuple(int(i) for i in index)}); {why}. Nothing was counted."
        )


def _check_integral(labels: np.ndarray) -> None:
    fractional = labels != np.round(labels)
    if fractional.any():
        raise ValueError(
            f"labels must be whole numbers (class indices or 0/1), got {labels[fractional][0].item()!r}; "
            "soft or smoothed labels cannot be counted — pass the hard labels."
        )


def _check_probabilities(scores: np.ndarray) -> None:
    if scores.size and (scores.min() < 0 or scores.max() > 1):
        raise ValueError(
            f"predictions must be probabilities in [0, 1], got values from {scores.min().item()!r} to "
            f"{scores.max().item()!r}; if the model outputs logits, pass from_logits=True."
        )


def _check_range(labels: np.ndarray, num_classes: int, ignore_class: int | None) -> None:
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        hint = "" if ignore_class is not None else f"; set ignore_class={int(labels[bad][0])} to leave such items out"
        raise ValueError(
            f"labels has {int(bad.sum())} values outside [0, {num_classes}) (e.g. "
            f"{int(labels[bad][0])}): labels must be class indices for the {num_classes} score "
            f"columns of predictions{hint}."
        )


def _check_zero_one(labels: np.ndarray) -> None:
    bad = (labels != 0) & (labels != 1)
    if bad.any():
        raise ValueError(
            f"labels must be 0 or 1 for binary, one-hot or multi-label outputs, got "
            f"{labels[bad][0].item()!r}; for class indices, give predictions one column per class."
        )


def _check_one_hot(is_positive: np.ndarray) -> None:
    row_sums = is_positive.sum(axis=1)
    if (row_sums != 1).any():
        row = int(np.argmax(row_sums != 1))
        raise ValueError(
            f"one-hot labels must have exactly one 1 per row; row {row} has {int(row_sums[row])}. "
            "For multi-label data pass multi_label=True."
        )


def _activate(logits: np.ndarray, softmax: bool) -> np.ndarray:
    if softmax:
        # Logits ±1e308 apart overflow the shift to -inf, whose exp is the right 0: no warning.
        with np.errstate(over="ignore"):
            shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)
    # exp(-|x|) never overflows; both branches give 1 / (1 + exp(-x)).
    exp_neg_abs = np.exp(-np.abs(logits))
    return np.where(logits >= 0, 1 / (1 + exp_neg_abs), exp_neg_abs / (1 + exp_neg_abs))
