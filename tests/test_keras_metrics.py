"""`ThresholdCurves` and `ConfusionMatrix` as standalone Keras metrics: same counts as the numpy writer."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import accuracy_score

import tb_metrics_plugin as tbm
from tb_metrics_plugin import core, layout
from tests.readback import (
    assert_same_curves,
    assert_same_matrix,
    decode_summary,
    on_grid,
    read_run,
    reference_curves,
    reference_matrix,
)

RNG_SEED = 1234
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _curves(metric) -> layout.ThresholdCurveCounts:
    positive, negative = metric.histogram_values()
    return layout.ThresholdCurveCounts(metric.thresholds, positive, negative, metric.curve_names())


def _matrix(metric) -> layout.ConfusionMatrixCounts:
    return layout.ConfusionMatrixCounts(metric.matrix_values(), metric.resolved_class_names(), metric.ignore_class)


def _update_in_batches(metric, labels, predictions, sample_weight=None, splits=(7, 30)):
    """Feeds the data in three uneven batches."""
    for rows in np.split(np.arange(len(labels)), list(splits)):
        weights = None if sample_weight is None else sample_weight[rows]
        metric.update_state(labels[rows], predictions[rows], sample_weight=weights)


def _probabilities(rng, shape, grid=None):
    """float32 scores in [0, 1], some of them exactly on thresholds of `grid` (ties with `>`)."""
    scores = rng.random(shape, dtype=np.float32)
    if grid is not None:
        flat = scores.reshape(-1)
        picks = rng.choice(flat.size, size=flat.size // 5, replace=False)
        flat[picks] = rng.choice(grid, size=picks.size)
    return scores


def _softmax_rows(rng, num_rows, num_classes):
    logits = rng.normal(size=(num_rows, num_classes)) * 2
    exp = np.exp(logits - logits.max(1, keepdims=True))
    return (exp / exp.sum(1, keepdims=True)).astype(np.float32)


def _cases():
    """(id, labels, predictions, kwargs for both our metric and the numpy writer)."""
    rng = np.random.default_rng(RNG_SEED)
    grid = tbm.ThresholdCurves().thresholds
    n = 50
    binary_labels = rng.integers(0, 2, n).astype(np.float32)
    binary_scores = _probabilities(rng, (n,), grid)
    sparse4 = rng.integers(0, 4, n)
    softmax4 = _softmax_rows(rng, n, 4)
    multilabel = rng.integers(0, 2, (n, 3)).astype(np.float32)
    segmentation_labels = rng.integers(0, 3, (6, 5, 4))
    segmentation_labels[rng.random(segmentation_labels.shape) < 0.2] = 255
    segmentation_scores = _softmax_rows(rng, 6 * 5 * 4, 3).reshape(6, 5, 4, 3)
    return [
        ("binary_N", binary_labels, binary_scores, {}),
        ("binary_N1_labels_N1", binary_labels[:, None], binary_scores[:, None], {}),
        ("binary_N1_labels_N", binary_labels, binary_scores[:, None], {}),
        ("softmax2_sparse", sparse4 % 2, _softmax_rows(rng, n, 2), {}),
        ("softmax4_sparse", sparse4, softmax4, {}),
        ("softmax4_sparse_N1", sparse4[:, None], softmax4, {}),
        ("softmax4_onehot", np.eye(4, dtype=np.float32)[sparse4], softmax4, {}),
        ("multilabel", multilabel, _probabilities(rng, (n, 3), grid), {"multi_label": True}),
        ("segmentation_ignore_255", segmentation_labels, segmentation_scores, {"ignore_class": 255}),
        ("segmentation_ignore_in_range", np.where(segmentation_labels == 255, 1, segmentation_labels),
         segmentation_scores, {"ignore_class": 0}),
    ]


CASES = _cases()


COUNT_PARAMS = [
    pytest.param(*case[1:], weighting, id=f"{case[0]}-{weighting}")
    for case in CASES
    # Per-item weights differ from per-sample ones only with several items per sample.
    for weighting in ("unweighted", "per_sample") + (("per_item",) if case[2].ndim == 4 else ())
]


@pytest.mark.parametrize("labels, predictions, options, weighting", COUNT_PARAMS)
def test_counts_equal_numpy_writer(labels, predictions, options, weighting):
    rng = np.random.default_rng(7)
    sample_weight = None
    if weighting == "per_sample":
        # Dyadic weights: float32 sums are exact, so equality is exact.
        sample_weight = rng.choice([0.0, 0.5, 1.0, 2.0, 3.25], size=len(labels)).astype(np.float32)
    elif weighting == "per_item":
        sample_weight = rng.choice([0.0, 0.5, 1.0, 2.0], size=predictions.shape[:-1]).astype(np.float32)

    curves = tbm.ThresholdCurves(**options)
    _update_in_batches(curves, labels, predictions, sample_weight)
    expected = reference_curves(labels, predictions, sample_weight=sample_weight, **options)
    assert_same_curves(_curves(curves), expected)
    assert float(curves.invalid_count) == 0
    total = (np.ones(labels.shape[:1]) if sample_weight is None else sample_weight).sum()
    if "ignore_class" not in options:
        per_item = np.prod(predictions.shape[1:-1]) if predictions.ndim > 2 else 1
        if sample_weight is None or sample_weight.ndim == 1:
            # Every class column sees every item once, as a positive or a negative.
            sums = expected.positive_histograms.sum(1) + expected.negative_histograms.sum(1)
            np.testing.assert_allclose(sums, total * per_item)

    if options.get("multi_label"):
        return
    matrix = tbm.ConfusionMatrix(ignore_class=options.get("ignore_class"))
    _update_in_batches(matrix, labels, predictions, sample_weight)
    expected_matrix = reference_matrix(
        labels, predictions, sample_weight=sample_weight, ignore_class=options.get("ignore_class")
    )
    assert_same_matrix(_matrix(matrix), expected_matrix)
    assert float(matrix.invalid_count) == 0

    # One metric counting both, in one variable and one update, counts what the two count. For a
    # single sigmoid output the decision threshold 0.5 joins its grid (the matrix is read there).
    both = tbm.ThresholdCurves(confusion_matrix=True, **options)
    _update_in_batches(both, labels, predictions, sample_weight)
    if len(both.thresholds) != len(curves.thresholds):
        assert predictions.ndim == 1 or predictions.shape[-1] == 1
        assert 0.5 in both.thresholds and 0.5 not in curves.thresholds
        expected = reference_curves(labels, predictions, sample_weight=sample_weight, thresholds=both.thresholds)
    assert_same_curves(_curves(both), expected)
    assert_same_matrix(_matrix(both), expected_matrix)
    assert float(both.invalid_count) == 0


def _logits_away_from_boundaries(rng, shape, grid, softmax):
    """Logits whose probabilities are at least 1e-5 (relative) away from every threshold and 0.5.

    Keras applies sigmoid/softmax in float32, the numpy writer in float64 and rounds: the two can
    differ by a few ULP (~1e-7 relative). Near a threshold such an ULP moves a score to the next bin,
    which is a float32 artefact, not a counting error; keeping scores 1e-5 (≈100 ULP) away from
    every threshold makes equality exact and meaningful.
    """
    logits = (rng.normal(size=shape) * 3).astype(np.float32)
    exp = np.exp(logits.astype(np.float64) - (logits.max(-1, keepdims=True) if softmax else 0))
    probabilities = exp / exp.sum(-1, keepdims=True) if softmax else 1 / (1 + np.exp(-logits.astype(np.float64)))
    edges = np.append(grid.astype(np.float64), 0.5)
    low = np.searchsorted(edges, probabilities * (1 - 1e-5) - 1e-12, side="left")
    high = np.searchsorted(edges, probabilities * (1 + 1e-5) + 1e-12, side="left")
    safe = low == high
    keep = safe.reshape(shape[0], -1).all(axis=1)
    assert keep.sum() >= shape[0] // 2
    return logits[keep]


@pytest.mark.parametrize("kind", ["binary", "softmax", "multilabel"])
def test_from_logits_equals_numpy_writer(kind):
    rng = np.random.default_rng(3)
    grid = tbm.ThresholdCurves().thresholds
    if kind == "binary":
        logits = _logits_away_from_boundaries(rng, (200,), grid, softmax=False)
        labels = rng.integers(0, 2, len(logits)).astype(np.float32)
        options = {}
    elif kind == "softmax":
        logits = _logits_away_from_boundaries(rng, (200, 4), grid, softmax=True)
        labels = rng.integers(0, 4, len(logits))
        options = {}
    else:
        logits = _logits_away_from_boundaries(rng, (200, 3), grid, softmax=False)
        labels = rng.integers(0, 2, logits.shape).astype(np.float32)
        options = {"multi_label": True}
    # Logits outside [0, 1] would be invalid probabilities: from_logits must be what accepts them.
    assert logits.min() < 0 and logits.max() > 1

    curves = tbm.ThresholdCurves(from_logits=True, **options)
    _update_in_batches(curves, labels, logits)
    assert float(curves.invalid_count) == 0
    assert_same_curves(_curves(curves), reference_curves(labels, logits, from_logits=True, **options))
    if kind != "multilabel":
        matrix = tbm.ConfusionMatrix(from_logits=True)
        _update_in_batches(matrix, labels, logits)
        assert_same_matrix(_matrix(matrix), reference_matrix(labels, logits, from_logits=True))

    # Without from_logits, the same logits are not probabilities: nothing counted, all tallied.
    plain = tbm.ThresholdCurves(**options)
    plain.update_state(labels, logits)
    outside = ((logits < 0) | (logits > 1)).reshape(len(logits), -1).any(axis=1).sum()
    assert float(plain.invalid_count) == outside
    assert plain.histogram_values()[0].sum() + plain.histogram_values()[1].sum() < len(logits) * max(
        1, logits.shape[-1] if logits.ndim > 1 else 1
    )


THRESHOLDS = [0.0, 0.1, 0.3, 0.5, 0.7, 0.95, 1.0]


@pytest.mark.parametrize("weighted", [False, True])
def test_explicit_thresholds_equal_keras_confusion_metrics(weighted):
    rng = np.random.default_rng(11)
    n = 300
    labels = rng.integers(0, 4, n)
    scores = _softmax_rows(rng, n, 4)
    # Scores exactly on a threshold are not positive there (`>`), for Keras and for us.
    scores[:20, 0] = np.float32(0.5)
    scores[20:30, 1] = np.float32(0.3)
    scores[30:40, 2] = np.float32(0.0)
    scores[40:50, 3] = np.float32(1.0)
    sample_weight = rng.choice([0.5, 1.0, 2.0], size=n).astype(np.float32) if weighted else None

    curves = tbm.ThresholdCurves(thresholds=THRESHOLDS)
    _update_in_batches(curves, labels, scores, sample_weight, splits=(100, 250))
    tp, fp, tn, fn = core.confusion_at_thresholds(*curves.histogram_values())
    for column in range(4):
        truth = (labels == column).astype(np.float32)
        for name, ours in (("TruePositives", tp), ("FalsePositives", fp),
                           ("TrueNegatives", tn), ("FalseNegatives", fn)):
            keras_metric = getattr(keras.metrics, name)(thresholds=THRESHOLDS)
            keras_metric.update_state(truth, scores[:, column], sample_weight=sample_weight)
            np.testing.assert_array_equal(ours[column], np.asarray(keras_metric.result()), err_msg=f"{name}[{column}]")
    assert tp[0, THRESHOLDS.index(0.5)] < tp[0, THRESHOLDS.index(0.3)]


def test_binary_explicit_thresholds_equal_keras():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 120).astype(np.float32)
    scores = np.round(rng.random(120), 1).astype(np.float32)  # many scores exactly on thresholds
    curves = tbm.ThresholdCurves(thresholds=THRESHOLDS)
    _update_in_batches(curves, labels[:, None], scores[:, None])
    tp, fp, tn, fn = core.confusion_at_thresholds(*curves.histogram_values())
    for name, ours in (("TruePositives", tp), ("FalsePositives", fp), ("TrueNegatives", tn), ("FalseNegatives", fn)):
        keras_metric = getattr(keras.metrics, name)(thresholds=THRESHOLDS)
        keras_metric.update_state(labels, scores)
        np.testing.assert_array_equal(ours[0], np.asarray(keras_metric.result()), err_msg=name)


def test_results_are_auc_and_accuracy():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 400)
    labels[:5] = 2  # every class present
    scores = _softmax_rows(rng, 400, 3)
    scores[np.arange(400), labels] += 0.3  # better than chance
    scores /= scores.sum(1, keepdims=True)
    sample_weight = rng.choice([0.5, 1.0, 2.0], size=400).astype(np.float32)

    curves = tbm.ThresholdCurves()
    _update_in_batches(curves, labels, scores, sample_weight)
    positive, negative = curves.histogram_values()
    expected_auc = np.mean([core.roc_auc(positive[c], negative[c]) for c in range(3)])
    assert 0.6 < expected_auc < 1
    assert float(curves.result()) == pytest.approx(expected_auc, abs=1e-6)

    matrix = tbm.ConfusionMatrix()
    _update_in_batches(matrix, labels, scores, sample_weight)
    expected_accuracy = accuracy_score(labels, scores.argmax(1), sample_weight=sample_weight)
    assert float(matrix.result()) == pytest.approx(expected_accuracy, abs=1e-6)


@pytest.mark.parametrize("num_thresholds", [2, 200, 960, 10_000], ids=lambda n: f"{n}_thresholds")
def test_auc_over_blocks_of_bins_equals_the_core_on_every_grid(num_thresholds):
    """result() at several classes sums below each bin by blocks of 31 bins, the last one padded
    (201 bins: 7 blocks, 16 cells of padding), and the blocks before each one by a product (up to 64
    blocks) or a cumulative sum (10,000 thresholds: 323 blocks); eagerly and traced it is the core's
    trapezoid over the same histograms."""
    rng = np.random.default_rng(num_thresholds)
    labels = rng.integers(0, 4, 600)
    scores = _softmax_rows(rng, 600, 4)
    scores[np.arange(600), labels] += 0.2
    scores /= scores.sum(1, keepdims=True)
    curves = tbm.ThresholdCurves(num_thresholds=num_thresholds)
    _update_in_batches(curves, labels, scores, None)
    positive, negative = curves.histogram_values()
    expected = np.mean([core.roc_auc(positive[c], negative[c]) for c in range(4)])
    assert float(curves.result()) == pytest.approx(expected, abs=1e-6)
    assert float(tf.function(curves.result)()) == pytest.approx(expected, abs=1e-6)


def test_auc_skips_classes_without_positives():
    labels = np.array([0, 0, 1, 1])
    scores = np.array([[0.9, 0.1, 0.0], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.4, 0.5, 0.1]], dtype=np.float32)
    curves = tbm.ThresholdCurves()
    curves.update_state(labels, scores)
    positive, negative = curves.histogram_values()
    assert np.isnan(core.roc_auc(positive[2], negative[2]))
    expected = np.mean([core.roc_auc(positive[c], negative[c]) for c in range(2)])
    assert float(curves.result()) == pytest.approx(expected, abs=1e-6)
    assert float(curves.result()) == pytest.approx(1.0)


def test_reset_state_zeroes_everything():
    curves, matrix = tbm.ThresholdCurves(), tbm.ConfusionMatrix()
    labels = np.array([0, 1, 2, 1])
    scores = _softmax_rows(np.random.default_rng(0), 4, 3)
    scores[0, 0] = np.nan
    for metric in (curves, matrix):
        metric.update_state(labels, scores)
        assert float(metric.invalid_count) == 1
        assert any(np.asarray(v).sum() > 0 for v in metric.variables if v is not metric.invalid_count)
        metric.reset_state()
        assert all(not np.asarray(v).any() for v in metric.variables)
        # The skip level and the counts (ConfusionMatrix's tally of invalid items in a spare cell);
        # ThresholdCurves also its tallies (invalid items, result cache, raw items kept) and raw items.
        assert len(metric.variables) == (4 if metric is curves else 2)
    # Counting again after a reset starts from zero.
    curves.update_state(labels[1:], scores[1:])
    assert_same_curves(_curves(curves), reference_curves(labels[1:], scores[1:]))
    matrix.update_state(labels[1:], scores[1:])
    assert_same_matrix(_matrix(matrix), reference_matrix(labels[1:], scores[1:]))


def test_get_config_round_trips():
    curves = tbm.ThresholdCurves(
        thresholds=[0.2, 0.4, 0.8], from_logits=True, multi_label=True, num_classes=3,
        class_names=["a", "b", "c"], name="curves",
    )
    clone = tbm.ThresholdCurves.from_config(curves.get_config())
    assert clone.get_config() == curves.get_config()
    np.testing.assert_array_equal(clone.thresholds, np.float32([0.2, 0.4, 0.8]))
    assert (clone.name, clone.from_logits, clone.multi_label, clone.num_classes, clone.class_names) == (
        "curves", True, True, 3, ("a", "b", "c"))

    default = tbm.ThresholdCurves(num_thresholds=17, ignore_class=255)
    default_clone = tbm.ThresholdCurves.from_config(default.get_config())
    assert default_clone.get_config() == default.get_config()
    np.testing.assert_array_equal(default_clone.thresholds, default.thresholds)
    assert len(default_clone.thresholds) == 17 and default_clone.ignore_class == 255

    both = tbm.ThresholdCurves(confusion_matrix=True, decision_threshold=0.25)
    both_clone = tbm.ThresholdCurves.from_config(both.get_config())
    assert both_clone.get_config() == both.get_config()
    assert (both_clone.confusion_matrix, both_clone.decision_threshold) == (True, 0.25)

    matrix = tbm.ConfusionMatrix(num_classes=2, threshold=0.3, ignore_class=-1, class_names=["n", "p"], name="cm")
    matrix_clone = tbm.ConfusionMatrix.from_config(matrix.get_config())
    assert matrix_clone.get_config() == matrix.get_config()
    assert matrix_clone.threshold == pytest.approx(0.3)

    # A clone counts the same.
    labels = np.array([0, 1, 1, 0, 1], dtype=np.float32)
    scores = np.array([0.1, 0.35, 0.25, 0.5, 0.9], dtype=np.float32)
    for metric in (matrix, matrix_clone):
        metric.update_state(labels, scores)
    np.testing.assert_array_equal(matrix.matrix_values(), matrix_clone.matrix_values())
    np.testing.assert_array_equal(matrix.matrix_values(), [[1, 1], [1, 2]])  # score > 0.3


def test_invalid_values_are_tallied_not_counted():
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 4, 40)
    scores = _softmax_rows(rng, 40, 4)
    bad_labels, bad_scores = labels.copy(), scores.copy()
    bad_scores[3, 1] = np.nan
    bad_scores[4, 2] = np.inf
    bad_scores[5, 0] = 1.5  # not a probability
    bad_labels[6] = 4  # out of range
    bad_labels[7] = -1
    bad_labels = bad_labels.astype(np.float32)
    bad_labels[8] = 0.5  # not a class index
    valid = np.ones(40, bool)
    valid[3:9] = False

    curves, matrix = tbm.ThresholdCurves(), tbm.ConfusionMatrix()
    for metric in (curves, matrix):
        _update_in_batches(metric, bad_labels, bad_scores, splits=(5, 20))
        assert float(metric.invalid_count) == 6
    assert_same_curves(_curves(curves), reference_curves(labels[valid], scores[valid]))
    assert_same_matrix(_matrix(matrix), reference_matrix(labels[valid], scores[valid]))


def test_bad_sample_weights_are_tallied_not_counted():
    """NaN or negative weights would make NaN or negative counts; they are invalid items instead."""
    labels = np.array([0, 1, 1, 0, 1], dtype=np.float32)
    scores = np.array([0.2, 0.6, 0.9, 0.4, 0.7], dtype=np.float32)
    weights = np.array([1.0, np.nan, -2.0, np.inf, 0.5], dtype=np.float32)
    for metric in (tbm.ThresholdCurves(), tbm.ConfusionMatrix()):
        metric.update_state(labels, scores, sample_weight=weights)
        assert float(metric.invalid_count) == 3
    curves = tbm.ThresholdCurves()
    curves.update_state(labels, scores, sample_weight=weights)
    kept = [0, 4]
    assert_same_curves(_curves(curves), reference_curves(labels[kept], scores[kept], sample_weight=weights[kept]))
    assert np.isfinite(curves.histogram_values()[0]).all() and np.isfinite(curves.histogram_values()[1]).all()
    # The numpy writer refuses them outright.
    with pytest.raises(ValueError, match="negative or non-finite"):
        reference_curves(labels, scores, sample_weight=weights)


def test_invalid_binary_and_multilabel_values():
    labels = np.array([0, 1, 2, 1, 0], dtype=np.float32)  # 2 is no binary label
    scores = np.array([0.2, np.nan, 0.6, 0.8, -0.1], dtype=np.float32)
    curves = tbm.ThresholdCurves()
    curves.update_state(labels, scores)
    assert float(curves.invalid_count) == 3
    assert_same_curves(_curves(curves), reference_curves(labels[[0, 3]], scores[[0, 3]]))

    one_hot = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=np.float32)  # row 1 is not one-hot
    probabilities = np.array([[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.1, 0.8]], dtype=np.float32)
    single = tbm.ThresholdCurves()
    single.update_state(one_hot, probabilities)
    assert float(single.invalid_count) == 1
    multi = tbm.ThresholdCurves(multi_label=True)
    multi.update_state(one_hot, probabilities)
    assert float(multi.invalid_count) == 0


def test_ignored_items_are_not_invalid():
    labels = np.array([[0, 255], [2, 1]])[None]  # (1, 2, 2)
    scores = np.full((1, 2, 2, 3), 1 / 3, dtype=np.float32)
    scores[0, 0, 1] = np.nan  # an ignored pixel may hold anything
    curves = tbm.ThresholdCurves(ignore_class=255)
    curves.update_state(labels, scores)
    assert float(curves.invalid_count) == 0
    positive, negative = curves.histogram_values()
    np.testing.assert_array_equal(positive.sum(1), [1, 1, 1])
    np.testing.assert_array_equal(negative.sum(1), [2, 2, 2])


@pytest.mark.parametrize("metric_class", [tbm.ThresholdCurves, tbm.ConfusionMatrix])
def test_num_classes_disagreeing_with_model_raises(metric_class):
    scores = _softmax_rows(np.random.default_rng(0), 6, 4)
    with pytest.raises(ValueError, match=r"num_classes=3.*4 classes"):
        metric_class(num_classes=3).update_state(np.arange(6) % 4, scores)
    with pytest.raises(ValueError, match=r"num_classes=3.*2 classes"):
        metric_class(num_classes=3).update_state(np.array([0, 1.0]), np.array([0.2, 0.7], np.float32))
    agreeing = metric_class(num_classes=4)
    agreeing.update_state(np.arange(6) % 4, scores)
    binary = metric_class(num_classes=2)
    binary.update_state(np.array([0, 1.0]), np.array([0.2, 0.7], np.float32))
    assert binary.plan.num_classes == 2


def test_class_names_of_wrong_length_raise():
    with pytest.raises(ValueError, match="class_names has 2 names but the data has 4 classes"):
        tbm.ThresholdCurves(class_names=["a", "b"]).update_state(np.arange(4), np.eye(4, dtype=np.float32))


def test_batch_of_a_different_shape_raises():
    curves = tbm.ThresholdCurves()
    curves.update_state(np.array([0, 1]), np.eye(2, dtype=np.float32))
    with pytest.raises(ValueError, match="was built for"):
        curves.update_state(np.array([0, 1]), np.full((2, 3), 1 / 3, dtype=np.float32))


def test_model_with_our_metrics_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy",
                  metrics=[tbm.ThresholdCurves(thresholds=[0.25, 0.5, 0.75], name="tc"), tbm.ConfusionMatrix()])
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    loaded.evaluate(x, y, verbose=0)
    model.evaluate(x, y, verbose=0)
    by_type = {type(m): m for m in loaded._compile_metrics.metrics}
    original = {type(m): m for m in model._compile_metrics.metrics}
    assert set(by_type) == {tbm.ThresholdCurves, tbm.ConfusionMatrix}
    assert by_type[tbm.ThresholdCurves].get_config() == original[tbm.ThresholdCurves].get_config()
    np.testing.assert_array_equal(by_type[tbm.ThresholdCurves].histogram_values()[0],
                                  original[tbm.ThresholdCurves].histogram_values()[0])
    np.testing.assert_array_equal(by_type[tbm.ConfusionMatrix].matrix_values(),
                                  original[tbm.ConfusionMatrix].matrix_values())
    assert by_type[tbm.ConfusionMatrix].matrix_values().sum() == 40


# The summary a metric hands over: raw items while they fit, else the grid ---------------------------


def _counted_items(labels, predictions, options) -> int:
    """Items (rows × pixels) the metric counts: all but those labelled `ignore_class`."""
    items = int(np.prod(predictions.shape[:-1])) if predictions.ndim > 1 else len(predictions)
    if "ignore_class" in options:
        items -= int(np.sum(labels == options["ignore_class"]))
    return items


@pytest.mark.parametrize("labels, predictions, options, weighting", COUNT_PARAMS)
def test_summary_from_raw_items_equals_numpy_writer(labels, predictions, options, weighting):
    """While every item fits, `summary_pb` is the numpy writer's summary of the same predictions (with
    format v2 that is the exact one), not a copy of the grid histograms."""
    rng = np.random.default_rng(8)
    sample_weight = None
    if weighting == "per_sample":
        sample_weight = rng.choice([0.0, 0.5, 1.0, 2.0, 3.25], size=len(labels)).astype(np.float32)
    elif weighting == "per_item":
        sample_weight = rng.choice([0.0, 0.5, 1.0, 2.0], size=predictions.shape[:-1]).astype(np.float32)
    curves = tbm.ThresholdCurves(**options)
    _update_in_batches(curves, labels, predictions, sample_weight)

    raw = curves.raw_items.read()
    assert raw is not None
    assert len(raw[0]) == _counted_items(labels, predictions, options)  # ignored pixels are not kept
    written = decode_summary(curves.summary_pb())
    assert_same_curves(written, reference_curves(labels, predictions, sample_weight=sample_weight, **options))
    assert curves.summary_pb().value[0].tag == "threshold_curves"


def test_raw_items_stop_at_the_first_batch_that_does_not_fit():
    """Capacity 40 items: 30 fit, the next 15 do not, and a later 5 that would fit do not resume the
    record (it would miss the 15). The summary is then the grid's, with the same counts; a reset
    starts a new record."""
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 50).astype(np.float32)
    scores = _probabilities(rng, (50,), tbm.ThresholdCurves().thresholds)
    curves = tbm.ThresholdCurves(max_raw_scores=40)
    _update_in_batches(curves, labels, scores, splits=(30, 45))
    assert curves.raw_items.read() is None
    assert curves.raw_items.kept() == curves.raw_items.overflowed == 41
    assert_same_curves(decode_summary(curves.summary_pb()), reference_curves(labels, scores))
    assert_same_curves(decode_summary(curves.summary_pb()), _curves(curves))

    curves.reset_state()
    curves.update_state(labels[:40], scores[:40])  # exactly the capacity
    kept_scores, kept_labels, kept_weights = curves.raw_items.read()
    np.testing.assert_array_equal(kept_scores[:, 0], scores[:40])
    np.testing.assert_array_equal(kept_labels[:, 0], labels[:40])
    np.testing.assert_array_equal(kept_weights, np.ones(40))


def test_skipped_counting_counts_nothing_until_a_reset():
    import tensorflow as tf

    labels = np.array([0, 1, 2, 1])
    scores = _softmax_rows(np.random.default_rng(3), 4, 3)
    bad_scores = scores.copy()
    bad_scores[0, 0] = np.nan
    for metric in (tbm.ThresholdCurves(), tbm.ConfusionMatrix()):
        metric.update_state(labels, scores)
        metric.reset_state()
        metric.skip_counting_until_reset()
        step = tf.function(lambda y, p, m=metric: m.update_state(y, p))  # traced after the request
        step(labels, bad_scores)
        metric.update_state(labels, scores)
        assert float(metric.invalid_count) == 0 and np.isnan(float(metric.result()))
        counts = metric.histogram_values() if isinstance(metric, tbm.ThresholdCurves) else [metric.matrix_values()]
        assert not any(np.any(c) for c in counts)
        metric.reset_state()
        step(labels, scores)
        assert float(metric.result()) > 0
    curves = tbm.ThresholdCurves()
    curves.skip_counting_until_reset()  # before the state exists: built skipping
    curves.update_state(labels, scores)
    assert not np.any(curves.histogram_values()[0]) and curves.raw_items.read() is None


def test_raw_capacity_is_counted_in_scores():
    """max_raw_scores counts scores: 100 of them hold 25 items of 4 classes, 100 binary items."""
    labels = np.arange(30) % 4
    scores = _softmax_rows(np.random.default_rng(0), 30, 4)
    curves = tbm.ThresholdCurves(max_raw_scores=100)
    curves.update_state(labels[:25], scores[:25])
    assert curves.raw_items.capacity == 25 and curves.raw_items.read() is not None
    curves.update_state(labels[25:], scores[25:])
    assert curves.raw_items.read() is None
    binary = tbm.ThresholdCurves(max_raw_scores=100)
    binary.update_state(labels % 2, scores[:, 0])
    assert binary.raw_items.capacity == 100
    none_kept = tbm.ThresholdCurves(max_raw_scores=0)
    none_kept.update_state(labels, scores)
    assert none_kept.raw_items is None and len(none_kept.variables) == 3  # no rows
    assert_same_curves(decode_summary(none_kept.summary_pb()), reference_curves(labels, scores))


def test_invalid_items_are_not_kept_raw():
    labels = np.array([0, 1, 1, 0, 1], dtype=np.float32)
    scores = np.array([0.2, np.nan, 0.9, 1.5, 0.7], dtype=np.float32)
    curves = tbm.ThresholdCurves()
    curves.update_state(labels, scores)
    kept_scores, kept_labels, _ = curves.raw_items.read()
    np.testing.assert_array_equal(kept_scores[:, 0], scores[[0, 2, 4]])
    np.testing.assert_array_equal(kept_labels[:, 0], [0, 1, 1])


@pytest.mark.parametrize("bad", [-1, 1.5, True, "1000"])
def test_bad_max_raw_scores_raise(bad):
    with pytest.raises(ValueError, match=r"max_raw_scores=.* must be a whole number >= 0"):
        tbm.ThresholdCurves(max_raw_scores=bad)


def test_summary_pb_before_any_update_is_none_and_raises_on_invalid_items():
    for metric in (tbm.ThresholdCurves(), tbm.ConfusionMatrix()):
        assert metric.summary_pb() is None
        metric.update_state(np.array([0, 1.0]), np.array([0.3, np.nan], np.float32))
        with pytest.raises(ValueError, match=rf"metric '{metric.name}' saw 1 items with NaN/inf scores"):
            metric.summary_pb()


@pytest.mark.parametrize("kind", ["binary", "onehot", "sparse_ignore"])
def test_one_metric_counting_both_equals_the_two_in_a_traced_step(kind):
    """`ThresholdCurves(confusion_matrix=True)` traced as Keras traces a step, with invalid items
    (NaN scores, labels out of range) and ignored ones: the same histograms, matrix and tally of
    invalid items as `ThresholdCurves` and `ConfusionMatrix` side by side, and one update op."""
    rng = np.random.default_rng(11)
    ignore_class = None
    if kind == "binary":
        labels = rng.integers(0, 2, 64).astype(np.float32)
        labels[[3, 9]] = [2.0, -1.0]
        scores = _probabilities(rng, (64, 1), tbm.ThresholdCurves().thresholds)
        scores[5] = np.nan
        both = tbm.ThresholdCurves(confusion_matrix=True, decision_threshold=0.3)
        matrix = tbm.ConfusionMatrix(threshold=0.3)
    else:
        sparse = rng.integers(0, 5, 64)
        scores = _softmax_rows(rng, 64, 5)
        scores[7, 2] = np.nan
        if kind == "onehot":
            labels = np.eye(5, dtype=np.float32)[sparse]
            labels[4] = 0.5  # not a one-hot row
        else:
            ignore_class = 255
            labels = sparse.astype(np.float32)
            labels[[1, 2]] = [255, 7]  # ignored, out of range
        both = tbm.ThresholdCurves(confusion_matrix=True, ignore_class=ignore_class)
        matrix = tbm.ConfusionMatrix(ignore_class=ignore_class)
    curves = tbm.ThresholdCurves(ignore_class=ignore_class)
    weights = rng.choice([0.5, 1.0, 2.0], 64).astype(np.float32)

    @tf.function(autograph=False)
    def step(metrics, y_true, y_pred, sample_weight):
        for metric in metrics:
            metric.update_state(y_true, y_pred, sample_weight=sample_weight)

    for metric in (both, curves, matrix):  # built eagerly from the first batch, as Keras does
        metric.update_state(labels, scores)
        metric.reset_state()
    for sample_weight in (None, weights):
        for metrics in ([both], [curves, matrix]):
            step(metrics, tf.constant(labels), tf.constant(scores), sample_weight)
    for both_histograms, curves_histograms in zip(both.histogram_values(), curves.histogram_values(), strict=True):
        if kind == "binary":  # the two bins either side of the decision threshold, which joins the grid
            split = int(np.searchsorted(both.thresholds, np.float32(0.3)))
            assert both.thresholds[split] == np.float32(0.3) and len(both.thresholds) == len(curves.thresholds) + 1
            joined = both_histograms[:, split : split + 2].sum(1, keepdims=True)
            both_histograms = np.concatenate([both_histograms[:, :split], joined, both_histograms[:, split + 2 :]], 1)
        np.testing.assert_array_equal(both_histograms, curves_histograms)
    np.testing.assert_array_equal(both.matrix_values(), matrix.matrix_values())
    assert both.matrix_values().sum() > 0
    invalid_rows = 3 if kind == "binary" else 2  # per pass: out-of-range labels and a NaN score
    assert float(both.invalid_count) == float(curves.invalid_count) == float(matrix.invalid_count) == 2 * invalid_rows
    both.record_raw_scores(False)  # as in training steps: the histograms' and matrix's update alone
    graph = tf.function(lambda y, p: both.update_state(y, p)).get_concrete_function(
        tf.TensorSpec(labels.shape), tf.TensorSpec(scores.shape)).graph
    updates = [op.type for op in graph.get_operations() if op.type in ("AssignAddVariableOp", "ResourceScatterAdd")]
    assert updates == ["ResourceScatterAdd"]  # one scatter in place, for the curves and the matrix
    # (That the binary matrix adds no op to a step at the default threshold: tests/test_metric_ops.py.)


def test_one_metric_counting_both_writes_both_summaries():
    labels, scores = np.array([0, 1.0, 1.0, 0]), np.array([0.3, 0.8, 0.4, 0.7], np.float32)
    both = tbm.ThresholdCurves(confusion_matrix=True, class_names=["n", "p"])
    both.update_state(labels, scores)
    written = both.summary_pb()
    assert [value.tag for value in written.value] == ["threshold_curves", "confusion_matrix"]
    assert_same_curves(decode_summary(written, "threshold_curves"),
                       reference_curves(labels, scores, class_names=["n", "p"]))
    assert_same_matrix(decode_summary(written, "confusion_matrix"),
                       reference_matrix(labels, scores, class_names=["n", "p"]))
    assert [value.tag for value in both.summary_pb("val/curves").value] == ["val/curves", "val/curves_confusion_matrix"]
    named = tbm.ThresholdCurves(confusion_matrix=True, name="head_a")
    named.update_state(labels, scores)
    assert [value.tag for value in named.summary_pb().value] == ["head_a", "head_a_confusion_matrix"]
    assert tbm.metrics.confusion_matrix_tag("head_a") == "head_a_confusion_matrix"
    with pytest.raises(ValueError, match="counts no confusion matrix; pass confusion_matrix=True"):
        tbm.ThresholdCurves().matrix_values()


def test_one_metric_counting_both_refuses_what_has_no_matrix():
    with pytest.raises(ValueError, match="confusion_matrix=True needs single-label data"):
        tbm.ThresholdCurves(confusion_matrix=True, multi_label=True)
    with pytest.raises(ValueError, match=r"threshold=1\.5 must be a number in \[0, 1\]"):
        tbm.ThresholdCurves(confusion_matrix=True, decision_threshold=1.5)
    with pytest.raises(ValueError, match="confusion_matrix='yes' must be True or False"):
        tbm.ThresholdCurves(confusion_matrix="yes")


def test_summary_pb_takes_a_tag_and_class_names():
    curves, matrix = tbm.ThresholdCurves(class_names=["n", "p"]), tbm.ConfusionMatrix()
    for metric in (curves, matrix):
        metric.update_state(np.array([0, 1.0, 1.0]), np.array([0.3, 0.8, 0.4], np.float32))
    assert decode_summary(curves.summary_pb()).class_names == ("p",)
    renamed = curves.summary_pb("val/curves", class_names=["benign", "malignant"])
    assert renamed.value[0].tag == "val/curves"
    assert decode_summary(renamed).class_names == ("malignant",)
    matrix_pb = matrix.summary_pb(class_names=["benign", "malignant"])
    assert matrix_pb.value[0].tag == "confusion_matrix"
    assert_same_matrix(decode_summary(matrix_pb), reference_matrix(
        np.array([0, 1, 1]), np.array([0.3, 0.8, 0.4], np.float32), class_names=["benign", "malignant"]))


# Names: what Keras logs, and the tags written --------------------------------------------------------


def test_logged_names_say_what_result_is_and_tags_stay():
    curves, matrix = tbm.ThresholdCurves(), tbm.ConfusionMatrix()
    assert (curves.name, curves.tag) == ("roc_auc", "threshold_curves")
    assert (matrix.name, matrix.tag) == ("cm_accuracy", "confusion_matrix")
    # A name of one's own is also the tag (two heads get two tags), unless a tag is given.
    assert tbm.ThresholdCurves(name="head_a_auc").tag == "head_a_auc"
    assert tbm.ConfusionMatrix(name="cm_b", tag="matrix_b").tag == "matrix_b"
    with pytest.raises(ValueError, match="tag=''"):
        tbm.ThresholdCurves(tag="")


def test_configs_saved_before_tags_existed_keep_their_names_as_tags():
    """A config from a model saved with the original names has no `tag` or `max_raw_scores`: the
    saved name stays both the logged name and the tag, so resumed runs keep their keys and tags."""
    old_curves = {"name": "threshold_curves", "dtype": "float32", "from_logits": False, "multi_label": False,
                  "num_classes": None, "ignore_class": None, "class_names": None, "num_thresholds": 960,
                  "thresholds": None}
    curves = tbm.ThresholdCurves.from_config(old_curves)
    assert (curves.name, curves.tag, curves.max_raw_scores) == ("threshold_curves", "threshold_curves", 1 << 20)
    old_matrix = {"name": "confusion_matrix", "dtype": "float32", "from_logits": False, "num_classes": None,
                  "ignore_class": None, "class_names": None, "threshold": 0.5}
    matrix = tbm.ConfusionMatrix.from_config(old_matrix)
    assert (matrix.name, matrix.tag) == ("confusion_matrix", "confusion_matrix")
    fresh = tbm.ThresholdCurves(max_raw_scores=64)
    assert tbm.ThresholdCurves.from_config(fresh.get_config()).get_config() == fresh.get_config()


def test_model_saved_with_the_original_names_loads_and_logs_as_before(tmp_path):
    """tests/fixtures/saved_with_original_metric_names.keras was saved by the code before the
    metrics had `tag` (ThresholdCurves and ConfusionMatrix compiled with their defaults)."""
    model = keras.models.load_model(FIXTURES / "saved_with_original_metric_names.keras")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y),
                        callbacks=[tbm.MetricsCallback(tmp_path / "logs")])
    assert set(history.history) == {"loss", "threshold_curves", "confusion_matrix",
                                     "val_loss", "val_threshold_curves", "val_confusion_matrix"}
    written = read_run(tmp_path / "logs" / "validation")
    assert set(written) == {"threshold_curves", "confusion_matrix"}
    predictions = model.predict(x, verbose=0)
    assert_same_curves(written["threshold_curves"][0], reference_curves(y, predictions))


@pytest.mark.parametrize("num_classes", [3, 40])
def test_traced_result_over_a_large_state_refreshes_every_16_calls(num_classes):
    """In Keras' traced steps, result() over at least 2^16 histogram cells (40 classes: 76,880)
    recomputes the ROC-AUC at calls 0, 16, 32, … since the last reset and repeats the last value in
    between; over a smaller state (3 classes) it is exact at every call. Eagerly (Keras' epoch-end
    logs) it is always exact."""
    import tensorflow as tf

    rng = np.random.default_rng(12)
    labels = rng.integers(0, num_classes, (20, 32))
    scores = np.stack([_softmax_rows(rng, 32, num_classes) for _ in range(20)])
    curves = tbm.ThresholdCurves()

    @tf.function
    def step(batch_labels, batch_scores):
        curves.update_state(batch_labels, batch_scores)
        return curves.result()

    def exact_after(batches: int) -> float:
        # result() is the ROC-AUC over the metric's grid: the writer's exact classes re-binned onto it.
        seen = on_grid(reference_curves(labels[:batches].reshape(-1), scores[:batches].reshape(-1, num_classes),
                                        num_classes=num_classes), curves.thresholds)
        aucs = [core.roc_auc(seen.positive_histograms[c], seen.negative_histograms[c]) for c in range(num_classes)]
        return float(np.nanmean(aucs))

    traced = [float(step(labels[i], scores[i])) for i in range(20)]
    if num_classes == 3:
        assert traced == pytest.approx([exact_after(i + 1) for i in range(20)], abs=1e-6)
    else:
        assert traced[:16] == pytest.approx([exact_after(1)] * 16, abs=1e-6)
        assert traced[16:] == pytest.approx([exact_after(17)] * 4, abs=1e-6)
        assert exact_after(17) != pytest.approx(exact_after(20), abs=1e-5)  # the lag is visible
    assert float(curves.result()) == pytest.approx(exact_after(20), abs=1e-6)
    curves.reset_state()  # the count restarts: the first traced call after a reset refreshes
    assert float(step(labels[0], scores[0])) == pytest.approx(exact_after(1), abs=1e-6)


def _update_ops(metric, labels, scores, weights, batch_known: bool) -> set[str]:
    """The op types of `metric.update_state` traced on these tensors' shapes, with the batch size
    known or unknown (as in Keras' train step), after one call of the traced function; "XLA" when
    it calls a function XLA must compile. Ops inside branches (`If`) count too."""
    def spec(array):
        return tf.TensorSpec((array.shape[0] if batch_known else None, *array.shape[1:]), tf.float32)

    update = tf.function(metric.update_state, input_signature=[spec(labels), spec(scores), spec(weights)])
    update(labels, scores, weights)
    return _graph_op_types(update.get_concrete_function().graph)


def _graph_op_types(graph) -> set[str]:
    """The op types of a traced graph and of the functions it calls (branches, compiled functions);
    "XLA" when one of them calls a function XLA must compile."""
    graph_def = graph.as_graph_def()
    nodes = [*graph_def.node, *(node for function in graph_def.library.function for node in function.node_def)]
    compiled = any("_XlaMustCompile" in node.attr for node in nodes)
    return {node.op for node in nodes} | ({"XLA"} if compiled else set())


@pytest.mark.parametrize("kind", ["binary", "softmax", "multilabel", "segmentation_ignore_255"])
def test_large_batches_and_training_steps_add_densely_and_count_what_the_writer_counts(kind):
    """A batch known to hold more than max(1,024, cells / 40) scores is counted with a segment sum
    and one dense add (a scatter costs ~18 ns an item, 20 ms for 10^6 binary scores), and from
    4,096 scores its cells are computed by one function compiled with XLA. A training step's batch
    (`trace_training_steps`) of unknown size and at most 16 score columns is added densely with no
    branch (its bins found as a few scores'); one image's segmentation map already holds more than
    1,024 scores, so a batch of them is added densely, and XLA compiles its cells when the batch,
    known at run time, holds 4,096 scores (one branch). Every way counts what the numpy writer
    counts, weights and ignored pixels included."""
    rng = np.random.default_rng(21)
    grid = tbm.ThresholdCurves().thresholds
    options = {"multi_label": True} if kind == "multilabel" else {}
    if kind == "softmax":  # 4,400 scores
        labels, scores = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 1100)], _softmax_rows(rng, 1100, 4)
    elif kind == "segmentation_ignore_255":  # 4 maps of 24 × 24 pixels × 3 classes: 1,728 scores a map
        labels = rng.integers(0, 3, (4, 24, 24)).astype(np.float32)
        labels[rng.random(labels.shape) < 0.2] = 255
        scores = _softmax_rows(rng, 4 * 24 * 24, 3).reshape(4, 24, 24, 3)
        options = {"ignore_class": 255}
    else:  # 5,000 and 4,200 scores
        rows, columns = (5000, 1) if kind == "binary" else (1400, 3)
        labels = rng.integers(0, 2, (rows, columns)).astype(np.float32)
        scores = _probabilities(rng, (rows, columns), grid)
    weights = rng.choice([0.0, 0.5, 1.0, 2.0], size=len(labels)).astype(np.float32)
    expected = reference_curves(labels, scores, sample_weight=weights, **options)
    for batch_known in (True, False):
        curves = tbm.ThresholdCurves(max_raw_scores=0, **options)
        curves.trace_training_steps(not batch_known)
        op_types = _update_ops(curves, labels, scores, weights, batch_known)
        maps = kind.startswith("segmentation")
        assert "ResourceScatterAdd" not in op_types
        assert "UnsortedSegmentSum" in op_types
        assert ("XLA" in op_types) == (batch_known or maps)
        assert ("If" in op_types) == (maps and not batch_known)
        assert_same_curves(_curves(curves), expected)
        assert float(curves.invalid_count) == 0


def test_a_large_batch_that_does_not_fit_the_record_writes_no_rows():
    """The raw record is written in a branch taken only when the batch fits: a batch of 2,000 rows
    that fits is kept whole, one that does not leaves every row as it was (no ranks, rows
    or writes to the spare row), and the summary falls back to the grid with the same counts."""
    rng = np.random.default_rng(22)
    grid = tbm.ThresholdCurves().thresholds
    labels = rng.integers(0, 2, (2000, 1)).astype(np.float32)
    scores = _probabilities(rng, (2000, 1), grid)
    weights = np.ones(2000, np.float32)

    kept_whole = tbm.ThresholdCurves(max_raw_scores=2000)
    assert "If" in _update_ops(kept_whole, labels, scores, weights, batch_known=True)
    kept_scores, kept_labels, _ = kept_whole.raw_items.read()
    np.testing.assert_array_equal(kept_scores, scores)
    np.testing.assert_array_equal(kept_labels, labels)

    too_small = tbm.ThresholdCurves(max_raw_scores=1999)
    _update_ops(too_small, labels, scores, weights, batch_known=True)
    assert too_small.raw_items.kept() == too_small.raw_items.overflowed
    assert not np.asarray(too_small.raw_items.rows).any()
    assert_same_curves(decode_summary(too_small.summary_pb()), reference_curves(labels, scores))


def test_a_large_confusion_matrix_scatters_a_step_and_adds_a_large_batch_densely():
    """A matrix of at least 2^16 cells (300 classes) takes a training step's batch with a scatter in
    place, and a batch known to hold more than cells / 40 items with one dense add; both count
    what the numpy writer counts."""
    rng = np.random.default_rng(23)
    rows, classes = 3000, 300
    labels = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, rows)]
    scores = _softmax_rows(rng, rows, classes)
    weights = rng.choice([0.0, 0.5, 1.0, 2.0], size=rows).astype(np.float32)
    expected = reference_matrix(labels, scores, sample_weight=weights)
    for batch_known, scattered in ((True, False), (False, True)):
        matrix = tbm.ConfusionMatrix()
        op_types = _update_ops(matrix, labels, scores, weights, batch_known)
        assert ("ResourceScatterAdd" in op_types) == scattered
        assert_same_matrix(_matrix(matrix), expected)


def test_a_segmentation_map_is_recorded_in_a_branch_with_the_batch_size_unknown():
    """Traced with the batch size unknown (as in Keras' steps), a 48 × 48 map of 3 classes (2,304
    items an image) is recorded in the fits-branch: a map that fits is kept whole, and one that does
    not leaves the rows as they were."""
    rng = np.random.default_rng(24)
    labels = rng.integers(0, 3, (2, 48, 48)).astype(np.float32)
    scores = _softmax_rows(rng, 2 * 48 * 48, 3).reshape(2, 48, 48, 3)
    weights = np.ones(2, np.float32)
    for capacity, fits in ((2 * 48 * 48, True), (2 * 48 * 48 - 1, False)):
        curves = tbm.ThresholdCurves(max_raw_scores=3 * capacity)
        assert "If" in _update_ops(curves, labels, scores, weights, batch_known=False)
        if fits:
            np.testing.assert_array_equal(curves.raw_items.read()[0], scores.reshape(-1, 3))
        else:
            assert curves.raw_items.kept() == curves.raw_items.overflowed
            assert not np.asarray(curves.raw_items.rows).any()
        assert_same_curves(decode_summary(curves.summary_pb()), reference_curves(labels, scores))


def test_a_large_batch_counts_both_curves_and_matrix_and_without_xla_takes_the_ops(monkeypatch):
    """With `confusion_matrix=True` the compiled cells of a large batch and the matrix's cells share
    one dense add; where TensorFlow has no XLA (`xla_compiles` False) the same batch is counted by
    the look-up's ops, to the same counts."""
    from tb_metrics_plugin import tensor_bins

    rng = np.random.default_rng(25)
    labels = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 1100)]
    scores = _softmax_rows(rng, 1100, 4)
    weights = np.ones(1100, np.float32)
    expected_curves, expected_matrix = reference_curves(labels, scores), reference_matrix(labels, scores)
    for xla in (True, False):
        monkeypatch.setattr(tensor_bins, "xla_compiles", lambda xla=xla: xla)
        both = tbm.ThresholdCurves(confusion_matrix=True, max_raw_scores=0)
        assert ("XLA" in _update_ops(both, labels, scores, weights, batch_known=True)) == xla
        assert_same_curves(_curves(both), expected_curves)
        assert_same_matrix(_matrix(both), expected_matrix)


@pytest.mark.parametrize("kind", ["binary", "softmax", "training_20_classes"])
def test_a_step_of_unknown_size_chooses_its_way_at_run_time(kind):
    """A step traced with the batch size unknown (Keras' steps) branches at run time: a few rows are
    searched and scattered, a batch of more than max(1,024, cells / 40) scores is added densely, and
    from 4,096 scores its cells are computed by XLA. An evaluation step does so at any width; a
    training step (`trace_training_steps`) only from 17 score columns (here 20), as 64 rows of
    fewer would still be a few scores. Every batch counts what the numpy writer counts; the record
    of the large batch is kept whole."""
    rng = np.random.default_rng(26)
    columns = {"binary": 1, "softmax": 4, "training_20_classes": 20}[kind]
    # (few, dense, compiled) rows: 40 / 2,000 / 6,000 binary scores, 160 / 2,000 / 8,000 softmax,
    # 800 / 2,000 / 8,000 of 20 classes.
    sizes = {"binary": (40, 2000, 6000), "softmax": (40, 500, 2000), "training_20_classes": (40, 100, 400)}[kind]
    rows = sizes[-1]
    if kind == "binary":
        labels = rng.integers(0, 2, (rows, 1)).astype(np.float32)
        scores = _probabilities(rng, (rows, 1), tbm.ThresholdCurves().thresholds)
    else:
        labels = np.eye(columns, dtype=np.float32)[rng.integers(0, columns, rows)]
        scores = _softmax_rows(rng, rows, columns)
    weights = rng.choice([0.5, 1.0, 2.0], size=rows).astype(np.float32)
    curves = tbm.ThresholdCurves()
    curves.trace_training_steps(kind.startswith("training"))
    signature = [tf.TensorSpec((None, columns), tf.float32)] * 2 + [tf.TensorSpec((None,), tf.float32)]
    update = tf.function(curves.update_state, input_signature=signature)
    for size in sizes:
        curves.reset_state()
        update(labels[:size], scores[:size], weights[:size])
        expected = reference_curves(labels[:size], scores[:size], sample_weight=weights[:size])
        assert_same_curves(_curves(curves), on_grid(expected, curves.thresholds))
    np.testing.assert_array_equal(curves.raw_items.read()[0], scores)
    assert_same_curves(decode_summary(curves.summary_pb()), expected)
    graph = update.get_concrete_function().graph
    # One branch on the batch's size (the step's way or a larger batch's), one on the record's room.
    assert [op.type for op in graph.get_operations()].count("If") == 2
    assert {"ResourceScatterAdd", "UnsortedSegmentSum", "XLA"} <= _graph_op_types(graph)


@pytest.mark.parametrize(("classes", "batch_size"), [(20, 40), (20, 160), (20, 1000), (10, 512), (1, 1000)])
def test_keras_fit_counts_each_batch_size_what_the_writer_counts(tmp_path, classes, batch_size):
    """A real `fit` with `MetricsCallback` (training steps marked). At 20 classes, batches of 40,
    160 and 1,000 rows (800, 3,200 and 20,000 scores) take the scatter, the dense add and the XLA
    way at run time; 512 rows of 10 classes and 1,000 binary rows are added densely with no branch.
    The last batch of each epoch is a smaller one. With the weights frozen (learning rate 0) the
    epoch's training counts equal the numpy writer's counts of `model.predict`."""
    rng = np.random.default_rng(28)
    x = rng.normal(size=(2100, 6)).astype(np.float32)
    if classes == 1:
        y, activation, loss = (rng.random(2100) < 0.4).astype(np.float32), "sigmoid", "binary_crossentropy"
    else:
        y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, 2100)]
        activation, loss = "softmax", "categorical_crossentropy"
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(classes, activation=activation)])
    curves = tbm.ThresholdCurves()
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss, metrics=[curves])
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[tbm.MetricsCallback(tmp_path)])
    predictions = model.predict(x, batch_size=batch_size, verbose=0)
    expected = reference_curves(y, predictions[:, 0] if classes == 1 else predictions)
    assert_same_curves(_curves(curves), on_grid(expected, curves.thresholds))


def test_keras_evaluate_with_a_large_batch_counts_what_the_writer_counts():
    """`model.evaluate(batch_size=5000)`: Keras traces its step with the batch size unknown, and the
    step's batches of 5,000 and 1,000 rows take the large batch's and the step's way at run time;
    the histograms equal the numpy writer's counts of `model.predict`, re-binned on the grid, and
    the raw record (every row fits) gives the exact summary."""
    from tests.conftest import tiny_binary_model

    rng = np.random.default_rng(27)
    x = rng.normal(size=(6000, 4)).astype(np.float32)
    y = (x[:, 0] + rng.normal(size=6000) > 0).astype(np.float32)
    model = tiny_binary_model(4)
    curves = tbm.ThresholdCurves()
    model.compile(loss="binary_crossentropy", metrics=[curves])
    model.evaluate(x, y, batch_size=5000, verbose=0)
    predictions = model.predict(x, batch_size=5000, verbose=0)
    expected = reference_curves(y, predictions[:, 0])
    assert_same_curves(_curves(curves), on_grid(expected, curves.thresholds))
    assert_same_curves(decode_summary(curves.summary_pb()), expected)
