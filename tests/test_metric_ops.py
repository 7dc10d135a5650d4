"""What a compiled metric costs per training step on TensorFlow: the ops its traced `update_state`
and `result()` dispatch (2-5 µs each on a CPU, most of a step's cost at these sizes), against
Keras' own `AUC(num_thresholds=200)`; and the flattening that metrics traced together share."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_metrics_plugin as tbm

BATCH = 64
# Ops that cost no dispatch of their own in a step (graph inputs, constants, the return).
_FREE_OPS = {"Placeholder", "Const", "NoOp", "Identity"}
# Ops that write a batch's counts into a metric variable: a dense add, or a scatter in place.
_STATE_UPDATES = {"AssignAddVariableOp", "ResourceScatterAdd"}


def _state_updates(ops: list[str]) -> int:
    return sum(op in _STATE_UPDATES for op in ops)


def _batch(num_classes: int, rng: np.random.Generator):
    """(labels, scores) as `fit` hands them to compiled metrics: 0/1 labels (N, 1) for one sigmoid
    column, else one-hot labels (N, C) with softmax scores."""
    if num_classes == 1:
        return (rng.random((BATCH, 1)) < 0.5).astype("float32"), rng.random((BATCH, 1)).astype("float32")
    scores = rng.random((BATCH, num_classes)).astype("float32")
    labels = np.eye(num_classes, dtype="float32")[rng.integers(0, num_classes, BATCH)]
    return labels, scores / scores.sum(axis=1, keepdims=True)


def _step_ops(metrics: list, labels: np.ndarray, scores: np.ndarray) -> list[str]:
    """The op types one traced step dispatches: every metric's update_state, then every result()."""
    for metric in metrics:  # built from the first batch, as Keras does
        metric.update_state(labels, scores)
        metric.reset_state()

    def step(y_true, y_pred):
        for metric in metrics:
            metric.update_state(y_true, y_pred)
        return [metric.result() for metric in metrics]

    spec = (tf.TensorSpec(labels.shape, tf.float32), tf.TensorSpec(scores.shape, tf.float32))
    graph = tf.function(step).get_concrete_function(*spec).graph
    return [op.type for op in graph.get_operations() if op.type not in _FREE_OPS]


def _training_curves(**options) -> tbm.ThresholdCurves:
    """ThresholdCurves as MetricsCallback traces it for training steps (no raw-score record)."""
    metric = tbm.ThresholdCurves(**options)
    metric.record_raw_scores(False)
    return metric


def _keras_auc(num_classes: int) -> keras.metrics.AUC:
    """Keras' `AUC(num_thresholds=200)` for `_batch(num_classes)`: multi-label over one-hot columns."""
    if num_classes == 1:
        return keras.metrics.AUC(num_thresholds=200)
    return keras.metrics.AUC(num_thresholds=200, multi_label=True, num_labels=num_classes)


@pytest.mark.parametrize("num_classes", [1, 10, 100])
def test_both_metrics_dispatch_fewer_ops_than_keras_auc(num_classes):
    labels, scores = _batch(num_classes, np.random.default_rng(num_classes))
    ours = _step_ops([_training_curves(), tbm.ConfusionMatrix()], labels, scores)
    theirs = _step_ops([_keras_auc(num_classes)], labels, scores)
    assert len(ours) < len(theirs), (len(ours), len(theirs), ours)


@pytest.mark.parametrize("num_classes", [1, 10])
def test_metrics_traced_together_flatten_the_batch_once(num_classes):
    labels, scores = _batch(num_classes, np.random.default_rng(0))
    curves_alone = _step_ops([_training_curves()], labels, scores)
    matrix_alone = _step_ops([tbm.ConfusionMatrix()], labels, scores)
    together = _step_ops([_training_curves(), tbm.ConfusionMatrix()], labels, scores)
    # The matrix reuses the curves' reshapes and validity checks: 9 ops or more at these shapes.
    assert len(together) <= len(curves_alone) + len(matrix_alone) - 9, (len(together), together)
    # Still one update of each metric's state.
    assert _state_updates(together) == 2


def test_metrics_with_other_settings_in_one_step_keep_their_own_flattening():
    """Metrics traced together share only what they would compute alike: counts equal eager ones."""
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(BATCH, 3)).astype("float32") * 3
    labels = rng.integers(0, 3, BATCH).astype("float32")
    labels[:5] = 0

    def metrics():
        return [tbm.ConfusionMatrix(), tbm.ConfusionMatrix(from_logits=True), tbm.ConfusionMatrix(ignore_class=0),
                tbm.ThresholdCurves(from_logits=True), tbm.ThresholdCurves(from_logits=True, ignore_class=0)]

    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    eager, traced = metrics(), metrics()
    for metric in eager:
        metric.update_state(labels, logits if metric.from_logits else probabilities)

    @tf.function
    def step(y_true, logits, probabilities):
        for metric in traced:
            metric.update_state(y_true, logits if metric.from_logits else probabilities)

    step(tf.constant(labels), tf.constant(logits), tf.constant(probabilities))
    for expected, found in zip(eager, traced, strict=True):
        if isinstance(expected, tbm.ConfusionMatrix):
            np.testing.assert_array_equal(found.matrix_values(), expected.matrix_values())
        else:
            pairs = zip(found.histogram_values(), expected.histogram_values(), strict=True)
            for found_counts, expected_counts in pairs:
                np.testing.assert_array_equal(found_counts, expected_counts)
        assert float(found.invalid_count) == float(expected.invalid_count) == 0
    assert traced[2].matrix_values().sum() == np.sum(labels != 0) < BATCH  # the ignored items stay out


@pytest.mark.parametrize("num_classes", [1, 10, 100])
def test_one_metric_counting_both_dispatches_fewer_ops_than_keras_auc(num_classes):
    """`ThresholdCurves(confusion_matrix=True)`: the curves and the matrix in one update of one
    variable, and one `result()` (Keras charges each compiled metric a fixed cost besides its ops)."""
    labels, scores = _batch(num_classes, np.random.default_rng(num_classes))
    ours = _step_ops([_training_curves(confusion_matrix=True)], labels, scores)
    pair = _step_ops([_training_curves(), tbm.ConfusionMatrix()], labels, scores)
    assert len(ours) < len(_step_ops([_keras_auc(num_classes)], labels, scores)), (len(ours), ours)
    assert len(ours) < len(pair)
    assert _state_updates(ours) == 1
    if num_classes == 1:
        # At the default decision threshold (0.5 ends a counting cell, so the look-up needs no
        # comparison for it) the 2×2 matrix costs the step nothing: it is read from the curves.
        assert ours == _step_ops([_training_curves()], labels, scores)
