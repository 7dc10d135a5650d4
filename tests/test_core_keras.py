"""The numeric core against Keras' metrics, fed the same data, on the thresholds Keras uses.

Keras accumulates and computes in float32, so agreement is to float32 precision (relative ~1e-7 on
these sizes): tolerances below are 2e-6 absolute for that reason alone. F1Score adds
`backend.epsilon()` = 1e-7 to its denominators, a bias of the same order.
"""

from __future__ import annotations

import numpy as np
import pytest

from tb_metrics_plugin import core

keras = pytest.importorskip("keras")

FLOAT32_TOLERANCE = 2e-6


def histograms(is_positive, scores, thresholds):
    """(C, T + 1) histograms of float32 `scores` over float32 `thresholds` (score > t is positive)."""
    thresholds = np.asarray(thresholds, dtype=np.float32)
    bins = np.searchsorted(thresholds, scores, side="left")
    num_bins = len(thresholds) + 1
    positive = np.stack([np.bincount(bins[is_positive[:, c], c], minlength=num_bins) for c in range(scores.shape[1])])
    negative = np.stack([np.bincount(bins[~is_positive[:, c], c], minlength=num_bins) for c in range(scores.shape[1])])
    return positive.astype(np.float64), negative.astype(np.float64)


def keras_interior_thresholds(num_thresholds: int) -> np.ndarray:
    """Keras' evenly spaced thresholds without its two end points."""
    return np.array([(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)], dtype=np.float32)


def keras_at_metric_thresholds(num_thresholds: int) -> np.ndarray:
    """`SensitivitySpecificityBase.thresholds`: [0] + interior + [1]."""
    return np.concatenate([[0.0], keras_interior_thresholds(num_thresholds), [1.0]]).astype(np.float32)


def keras_result(metric, y_true, y_pred):
    metric.update_state(y_true, y_pred)
    return float(metric.result())


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(21)
    labels = rng.integers(0, 2, 500)
    scores = np.clip(rng.normal(0.4 + 0.25 * labels, 0.2), 0, 1).astype(np.float32)
    scores[:20] = 0.5  # a run of exact ties, on a Keras threshold
    return labels.astype(np.float32), scores


@pytest.fixture(scope="module")
def multilabel():
    rng = np.random.default_rng(22)
    labels = rng.integers(0, 3, 600)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    logits = rng.normal(size=(600, 3)) + 1.5 * one_hot
    scores = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    return labels, one_hot, scores


@pytest.mark.parametrize("num_thresholds", [3, 50, 200])
def test_auc_roc_and_pr_on_keras_even_thresholds(binary, num_thresholds):
    labels, scores = binary
    positive, negative = histograms(labels[:, None] == 1, scores[:, None], keras_interior_thresholds(num_thresholds))
    roc = keras_result(keras.metrics.AUC(num_thresholds=num_thresholds), labels, scores)
    pr = keras_result(keras.metrics.AUC(num_thresholds=num_thresholds, curve="PR"), labels, scores)
    assert core.roc_auc(positive[0], negative[0]) == pytest.approx(roc, abs=FLOAT32_TOLERANCE)
    assert core.pr_auc(positive[0], negative[0]) == pytest.approx(pr, abs=FLOAT32_TOLERANCE)


def test_auc_on_explicit_thresholds(binary):
    labels, scores = binary
    thresholds = np.sort(np.random.default_rng(3).random(40)).astype(np.float32)
    positive, negative = histograms(labels[:, None] == 1, scores[:, None], thresholds)
    # Keras adds −ε and 1 + ε around the given thresholds: our ±inf ends for scores in [0, 1].
    roc = keras_result(keras.metrics.AUC(thresholds=thresholds.tolist()), labels, scores)
    pr = keras_result(keras.metrics.AUC(thresholds=thresholds.tolist(), curve="PR"), labels, scores)
    assert core.roc_auc(positive[0], negative[0]) == pytest.approx(roc, abs=FLOAT32_TOLERANCE)
    assert core.pr_auc(positive[0], negative[0]) == pytest.approx(pr, abs=FLOAT32_TOLERANCE)
    # Average precision is not Keras' interpolated PR-AUC: the two differ here by far more than float32.
    assert abs(core.average_precision(positive[0], negative[0]) - pr) > 1e-4


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_multilabel_auc_is_macro_and_flattened_auc_is_micro(multilabel, curve):
    _, one_hot, scores = multilabel
    positive, negative = histograms(one_hot == 1, scores, keras_interior_thresholds(200))
    area = core.roc_auc if curve == "ROC" else core.pr_auc
    macro = keras_result(keras.metrics.AUC(curve=curve, multi_label=True, num_labels=3), one_hot, scores)
    micro = keras_result(keras.metrics.AUC(curve=curve, multi_label=False), one_hot, scores)
    assert area(positive, negative, average="macro") == pytest.approx(macro, abs=FLOAT32_TOLERANCE)
    assert area(positive, negative, average="micro") == pytest.approx(micro, abs=FLOAT32_TOLERANCE)
    weights = [1.0, 2.0, 5.0]
    weighted = keras_result(
        keras.metrics.AUC(curve=curve, multi_label=True, num_labels=3, label_weights=weights), one_hot, scores
    )
    assert np.dot(weights, area(positive, negative)) / sum(weights) == pytest.approx(weighted, abs=FLOAT32_TOLERANCE)


@pytest.mark.parametrize(
    "keras_metric,core_function,bound",
    [
        ("PrecisionAtRecall", core.precision_at_recall, 0.7),
        ("PrecisionAtRecall", core.precision_at_recall, 0.99),
        ("RecallAtPrecision", core.recall_at_precision, 0.8),
        ("RecallAtPrecision", core.recall_at_precision, 1.0),  # no threshold qualifies: 0
        ("SensitivityAtSpecificity", core.sensitivity_at_specificity, 0.9),
        ("SpecificityAtSensitivity", core.specificity_at_sensitivity, 0.9),
    ],
)
@pytest.mark.parametrize("num_thresholds", [20, 200])
def test_at_metrics_are_keras(binary, keras_metric, core_function, bound, num_thresholds):
    labels, scores = binary
    thresholds = keras_at_metric_thresholds(num_thresholds)
    positive, negative = histograms(labels[:, None] == 1, scores[:, None], thresholds)
    expected = keras_result(getattr(keras.metrics, keras_metric)(bound, num_thresholds=num_thresholds), labels, scores)
    point = core_function(positive[0], negative[0], thresholds, bound)
    assert point["value"] == pytest.approx(expected, abs=FLOAT32_TOLERANCE)
    if expected == 0:
        assert point["index"] == -1
    else:
        assert thresholds[point["index"]] == np.float32(point["threshold"])


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_f1_score_averages_are_keras(multilabel, average):
    _, one_hot, scores = multilabel
    thresholds = np.array([0.25, 0.5, 0.75], dtype=np.float32)
    counts = core.confusion_at_thresholds(*histograms(one_hot == 1, scores, thresholds))
    metric = keras.metrics.F1Score(average=average, threshold=0.5)
    metric.update_state(one_hot, scores)
    expected = np.asarray(metric.result())
    if average is None:
        ours = core.threshold_metrics(*counts)["f1"][:, 1]
    else:
        ours = core.average_threshold_metrics(*counts, average=average)["f1"][1]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=FLOAT32_TOLERANCE)


def test_mean_iou_and_iou_are_keras():
    rng = np.random.default_rng(23)
    # Class 3 never occurs nor is predicted: Keras leaves it out of the mean, as we do.
    true = rng.choice([0, 1, 2, 4], size=300, p=[0.4, 0.3, 0.2, 0.1])
    predicted = np.where(rng.random(300) < 0.6, true, rng.choice([0, 1, 2, 4], size=300))
    matrix = np.zeros((5, 5))
    np.add.at(matrix, (true, predicted), 1.0)
    metrics = core.matrix_metrics(matrix)
    assert metrics["mean_iou"] == pytest.approx(
        keras_result(keras.metrics.MeanIoU(num_classes=5), true, predicted), abs=FLOAT32_TOLERANCE
    )
    for target_class_ids in ([0, 2], [1], [3, 4]):
        expected = keras_result(keras.metrics.IoU(num_classes=5, target_class_ids=target_class_ids), true, predicted)
        defined = [c for c in target_class_ids if matrix[c].sum() + matrix[:, c].sum() > 0]
        assert np.mean(metrics["iou"][defined]) == pytest.approx(expected, abs=FLOAT32_TOLERANCE)
