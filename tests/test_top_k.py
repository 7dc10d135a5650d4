"""Top-k accuracy and top-k precision / recall (issue 13, item 4) from the rank counts a confusion
matrix's log holds, checked against scikit-learn's `top_k_accuracy_score`, `precision_score` /
`recall_score` and Keras' `TopKCategoricalAccuracy` / `SparseTopKCategoricalAccuracy`, through the
numpy writer, the TensorFlow op, the callback and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from tb_metrics_plugin import counting, layout, metadata, summary, top_k
from tests.test_cli import run_cli

FLOAT32_TOLERANCE = 1e-6


def weighted_scores(num_items: int, num_classes: int, seed: int, decimals: int | None = None):
    """(labels, softmax-like scores, weights); `decimals` rounds the scores so that classes tie."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, num_items)
    logits = rng.normal(size=(num_items, num_classes)) + 1.5 * np.eye(num_classes)[labels]
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if decimals is not None:
        scores = np.round(scores, decimals)
    weights = rng.choice([0.5, 1.0, 2.5], size=num_items)
    return labels, scores.astype(np.float32), weights


def decoded(pb) -> layout.ConfusionMatrixCounts:
    """The confusion-matrix counts a reader gets from a `Summary` proto."""
    from tensorboard.util import tensor_util

    value = pb.value[0]
    plugin_data = metadata.parse_plugin_metadata(value.metadata.plugin_data.content)
    return layout.decode(tensor_util.make_ndarray(value.tensor), plugin_data)


@pytest.mark.parametrize("num_classes", [3, 7, 10, 15])
def test_top_k_accuracy_is_sklearns_with_sample_weight(num_classes):
    labels, scores, weights = weighted_scores(500, num_classes, seed=num_classes)
    assert all(len(np.unique(row)) == num_classes for row in scores)  # no ties: both conventions agree
    counts = decoded(summary.confusion_matrix_pb("cm", labels, scores, sample_weight=weights))
    assert counts.true_ranks.shape == (num_classes, min(num_classes, 10) + 1)
    depth = counting.top_k_depth(num_classes)
    for k in range(1, min(depth, num_classes - 1) + 1):  # k = C is 1: scikit-learn warns it is meaningless
        expected = skm.top_k_accuracy_score(labels, scores, k=k, sample_weight=weights, labels=range(num_classes))
        assert top_k.top_k_accuracy(counts.true_ranks, k) == pytest.approx(expected, abs=1e-12), k
    if depth == num_classes:
        assert top_k.top_k_accuracy(counts.true_ranks, depth) == 1.0
    assert counts.true_ranks.sum() == pytest.approx(weights.sum())


@pytest.mark.parametrize("sparse", [True, False])
def test_top_k_accuracy_is_keras_on_tied_scores(sparse):
    """Scores rounded to one decimal tie often; in_top_k counts a tie across the k-th place as a hit,
    as the logged ranks do."""
    import keras

    labels, scores, weights = weighted_scores(400, 6, seed=3, decimals=1)
    assert any(len(np.unique(row)) < 6 for row in scores)
    counts = decoded(summary.confusion_matrix_pb("cm", labels, scores, sample_weight=weights))
    for k in range(1, 7):
        metric_class = keras.metrics.SparseTopKCategoricalAccuracy if sparse else keras.metrics.TopKCategoricalAccuracy
        metric = metric_class(k=k)
        truth = labels if sparse else np.eye(6, dtype=np.float32)[labels]
        metric.update_state(truth, scores, sample_weight=weights)
        expected = float(metric.result())
        assert top_k.top_k_accuracy(counts.true_ranks, k) == pytest.approx(expected, abs=FLOAT32_TOLERANCE)


def test_ties_follow_in_top_k_not_sklearns_index_order():
    """Class 0 and 2 tie on top: both are in the top 1 (in_top_k); scikit-learn ranks class 2 first."""
    scores = np.array([[0.4, 0.2, 0.4], [0.1, 0.6, 0.3]], np.float32)
    labels = np.array([0, 1])
    counts = decoded(summary.confusion_matrix_pb("cm", labels, scores))
    assert top_k.top_k_accuracy(counts.true_ranks, 1) == 1.0
    assert skm.top_k_accuracy_score(labels, scores, k=1, labels=range(3)) == 0.5
    assert counts.class_ranks[:, 0].tolist() == [1.0, 1.0, 1.0]  # the tied classes both rank 0


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_top_k_precision_recall_are_sklearns_on_in_top_k_predictions(average):
    labels, scores, weights = weighted_scores(600, 12, seed=7, decimals=2)
    counts = decoded(summary.confusion_matrix_pb("cm", labels, scores, sample_weight=weights))
    truth = np.eye(12, dtype=int)[labels]
    for k in (1, 3, 5, 10):
        # "class c is in the item's top k": fewer than k classes score strictly higher (in_top_k)
        in_top_k = ((scores[:, None, :] > scores[:, :, None]).sum(axis=2) < k).astype(int)
        numbers = top_k.top_k_precision_recall(counts.true_ranks, counts.class_ranks, k)
        for name, reference in (("top_k_precision", skm.precision_score), ("top_k_recall", skm.recall_score)):
            per_class = reference(truth, in_top_k, average=None, sample_weight=weights, zero_division=0)
            np.testing.assert_allclose(numbers[name]["per_class"], per_class, atol=1e-12)
            expected = reference(truth, in_top_k, average=average, sample_weight=weights, zero_division=0)
            assert numbers[name][average] == pytest.approx(expected, abs=1e-12), (name, k)
        assert numbers["top_k_recall"]["micro"] == pytest.approx(top_k.top_k_accuracy(counts.true_ranks, k))


def test_the_tensorflow_op_and_the_numpy_writer_log_the_same_ranks(tmp_path):
    import tensorflow as tf

    from tests.readback import read_run

    labels, scores, weights = weighted_scores(300, 11, seed=11, decimals=2)
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        summary.confusion_matrix("cm", labels, scores, step=0, sample_weight=weights)
        tf.function(lambda: summary.confusion_matrix("cm", labels, scores, step=1, sample_weight=weights))()
    writer.close()
    expected = decoded(summary.confusion_matrix_pb("cm", labels, scores, sample_weight=weights))
    stored = read_run(tmp_path)["cm"]
    for step in (0, 1):
        np.testing.assert_array_equal(stored[step].true_ranks, expected.true_ranks)
        np.testing.assert_array_equal(stored[step].class_ranks, expected.class_ranks)
    assert expected.class_ranks.shape == (11, 10)  # K = min(C, 10)


def test_blobs_without_ranks_still_read_and_single_sigmoid_outputs_log_none():
    plugin_data = metadata.PluginData(metadata.KIND_CONFUSION_MATRIX, ("a", "b", "c"))
    matrix = np.array([[3.0, 1, 0], [0, 2, 1], [1, 0, 4]])
    old = layout.decode_confusion_matrix(layout.encode_confusion_matrix(matrix), plugin_data)
    assert old.true_ranks is None and old.class_ranks is None
    np.testing.assert_array_equal(old.matrix, matrix)
    v1 = layout.decode_confusion_matrix(matrix, metadata.PluginData(metadata.KIND_CONFUSION_MATRIX, ("a", "b", "c"),
                                                                    version=1))
    assert v1.true_ranks is None
    assert top_k.top_k_summary(old.true_ranks, old.class_ranks) is None
    binary = decoded(summary.confusion_matrix_pb("cm", [0, 1, 1], [0.2, 0.9, 0.4]))
    assert binary.true_ranks is None


def test_damaged_rank_counts_are_refused_and_k_is_checked():
    plugin_data = metadata.PluginData(metadata.KIND_CONFUSION_MATRIX, ("a", "b", "c"))
    matrix = np.eye(3)
    with pytest.raises(ValueError, match=r"do not fit a 3-class matrix"):
        layout.encode_confusion_matrix(matrix, np.zeros((3, 3)), np.zeros((3, 3)))
    good = layout._unpack(layout.encode_confusion_matrix(matrix, np.zeros((3, 4)), np.zeros((3, 3))),
                          "confusion_matrix", layout.MATRIX_ARRAYS, layout.RANK_ARRAYS)
    for true_ranks, class_ranks, message in (
            (np.zeros(10, np.uint8), good["class_ranks"], "rank counts of 10 and 9 values do not fit 3 classes"),
            (good["true_ranks"], np.full(9, -1.0), "negative or non-finite counts")):
        blob = layout._pack({**{name: good[name] for name in layout.MATRIX_ARRAYS},
                             "true_ranks": true_ranks, "class_ranks": class_ranks})
        with pytest.raises(metadata.UnsupportedFormatError, match=message):
            layout.decode_confusion_matrix(blob, plugin_data)
    with pytest.raises(ValueError, match=r"k=4 must be an integer from 1 to 3"):
        top_k.top_k_accuracy(np.ones((3, 4)), 4)


@pytest.mark.parametrize("num_classes", [2, 5, 12, 30])
@pytest.mark.parametrize("decimals", [None, 1])
def test_rank_counts_are_the_in_top_k_ranks_counted_one_by_one(num_classes, decimals):
    """Against rank = #classes scoring strictly higher, counted item by item; one decimal makes
    many classes tie at the K-th place, where classes beyond the K listed also rank < K."""
    labels, scores, weights = weighted_scores(200, num_classes, seed=num_classes, decimals=decimals)
    depth = counting.top_k_depth(num_classes)
    true_ranks, class_ranks = np.zeros((num_classes, depth + 1)), np.zeros((num_classes, depth))
    for item_scores, label, weight in zip(scores, labels, weights, strict=True):
        ranks = (item_scores[None, :] > item_scores[:, None]).sum(axis=1)
        true_ranks[label, min(ranks[label], depth)] += weight
        for c in np.flatnonzero(ranks < depth):
            class_ranks[c, ranks[c]] += weight
    got_true, got_class = counting.rank_counts(scores, labels, weights)
    np.testing.assert_allclose(got_true, true_ranks, atol=1e-9)
    np.testing.assert_allclose(got_class, class_ranks, atol=1e-9)


def test_rank_counts_in_blocks_add_up_to_those_of_all_items():
    """The callback sums blocks' rank counts: counting is additive over items."""
    labels, scores, weights = weighted_scores(300, 5, seed=2, decimals=1)
    whole = counting.rank_counts(scores, labels, weights)
    parts = [counting.rank_counts(scores[s], labels[s], weights[s]) for s in (slice(0, 120), slice(120, None))]
    for index in (0, 1):
        np.testing.assert_allclose(parts[0][index] + parts[1][index], whole[index])


# Real fits: the callback's validation_data path, `tb-metrics export` and `check` -----------------


@pytest.mark.slow
def test_export_of_a_fitted_confusion_matrix_has_sklearns_top_k(fitted_logs):
    labels, scores = fitted_logs.labels["digits/validation"], fitted_logs.predictions["digits/validation"]
    for k in (None, 3):
        status, out, err = run_cli("export", "--logdir", fitted_logs.logdir, "--run", "digits/validation",
                                   "--tag", "confusion_matrix", "--format", "json",
                                   *(("--k", k) if k else ()))
        assert status == 0, err
        (record,) = json.loads(out)
        k = k or 5
        assert record["top_k"] == k
        expected = skm.top_k_accuracy_score(labels, scores, k=k, labels=range(10))
        assert record["top_k_accuracy"] == pytest.approx(expected, abs=1e-12)
        in_top_k = ((scores[:, None, :] > scores[:, :, None]).sum(axis=2) < k).astype(int)
        truth = np.eye(10, dtype=int)[labels]
        recall = skm.recall_score(truth, in_top_k, average=None, zero_division=0)
        assert list(record["per_class_top_k_recall"].values()) == pytest.approx(recall, abs=1e-12)
        precision = skm.precision_score(truth, in_top_k, average="macro", zero_division=0)
        assert record["top_k_precision_macro"] == pytest.approx(precision, abs=1e-12)


@pytest.mark.slow
def test_check_gates_on_top_k_accuracy_and_refuses_a_k_the_log_lacks(fitted_logs):
    labels, scores = fitted_logs.labels["digits/validation"], fitted_logs.predictions["digits/validation"]
    value = skm.top_k_accuracy_score(labels, scores, k=5, labels=range(10))
    common = ("check", "--logdir", fitted_logs.logdir, "--run", "digits/validation", "--metric", "top_k_accuracy")
    status, out, _ = run_cli(*common, "--k", 5, "--min", value - 0.01)
    assert status == 0 and "1 of 1 top_k_accuracy values" in out
    status, out, _ = run_cli(*common, "--k", 5, "--min", value + 0.01)
    assert status == 1 and "FAIL" in out and "top_k_accuracy=" in out
    status, _, err = run_cli(*common, "--k", 11, "--min", 0.5)
    assert status == 2 and "k=11 must be an integer from 1 to 10" in err


@pytest.mark.slow
def test_the_compiled_metric_logs_no_ranks_and_check_says_so(fitted_logs):
    """The binary run's matrix comes from the compiled `ConfusionMatrix` metric: no ranks."""
    status, out, _ = run_cli("check", "--logdir", fitted_logs.logdir, "--run", "binary/validation",
                             "--metric", "top_k_accuracy", "--min", 0.5)
    assert status == 1 and "is not logged" in out


@pytest.mark.slow
@pytest.mark.parametrize("load_fast", [False, True], ids=["python_loader", "rust_loader"])
def test_counts_and_export_routes_carry_the_ranks_and_take_k(fitted_logs, load_fast):
    import time

    from tb_metrics_plugin import wire
    from tests.conftest import InProcessTensorBoard
    from tests.readback import read_run

    prefix = f"/data/plugin/{metadata.PLUGIN_NAME}"
    last = fitted_logs.epochs - 1
    stored = read_run(fitted_logs.logdir / "digits/validation")["confusion_matrix"][last]
    board = InProcessTensorBoard(fitted_logs.logdir, load_fast=load_fast)
    try:
        query = {"run": "digits/validation", "tag": "confusion_matrix", "step": str(last)}
        deadline = time.monotonic() + 60
        # The Rust loader loads in the background: poll until the step is there.
        while (response := board.client.get(f"{prefix}/counts", query_string=query)).status_code != 200:
            assert time.monotonic() < deadline, response.get_data(as_text=True)
            time.sleep(0.5)
        answer = response.get_json()
        assert wire.decode_array(answer["ranked"]).tolist() == [1]
        np.testing.assert_array_equal(wire.decode_array(answer["true_ranks"])[0], stored.true_ranks)
        np.testing.assert_array_equal(wire.decode_array(answer["class_ranks"])[0], stored.class_ranks)
        binary = board.client.get(f"{prefix}/counts", query_string={**query, "run": "binary/validation"}).get_json()
        assert "true_ranks" not in binary  # the compiled metric's matrix: no ranks

        response = board.client.get(f"{prefix}/export", query_string={**query, "format": "json", "k": "2"})
        assert response.status_code == 200, response.get_data(as_text=True)
        (record,) = response.get_json()
        labels, scores = fitted_logs.labels["digits/validation"], fitted_logs.predictions["digits/validation"]
        assert record["top_k"] == 2
        assert record["top_k_accuracy"] == pytest.approx(skm.top_k_accuracy_score(labels, scores, k=2), abs=1e-12)
        response = board.client.get(f"{prefix}/export", query_string={**query, "format": "json", "k": "12"})
        assert response.status_code == 400 and "k=12 must be an integer from 1 to 10" in response.get_data(as_text=True)
        response = board.client.get(f"{prefix}/export", query_string={**query, "tag": "threshold_curves",
                                                                      "format": "json", "k": "2"})
        assert response.status_code == 400 and "applies to confusion_matrix tags" in response.get_data(as_text=True)
    finally:
        board.close()


@pytest.mark.slow
@pytest.mark.parametrize("block_items", [None, 400], ids=["one_block", "blocks_of_a_few_batches"])
def test_the_callback_logs_the_ranks_of_its_weighted_predictions_block_by_block(tmp_path, monkeypatch, block_items):
    """The callback's validation_data path sums each block's rank counts: the same as counting
    every prediction at once with `confusion_matrix_pb`, with sample weights."""
    import keras

    import tb_metrics_plugin as tbm
    from tb_metrics_plugin import callback as callback_module
    from tests.readback import read_run

    if block_items is not None:  # a block closes at 400 score cells: 4 batches of 16 items × 8 classes
        monkeypatch.setattr(callback_module, "_BLOCK_ITEMS", block_items)
    rng = np.random.default_rng(4)
    features = rng.normal(size=(150, 6)).astype("float32")
    labels = rng.integers(0, 8, 150)
    weights = rng.choice([0.5, 1.0, 2.0], size=150).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(features, labels, epochs=1, verbose=0, callbacks=[
        tbm.MetricsCallback(tmp_path, validation_data=(features, labels, weights), batch_size=16)])
    written = read_run(tmp_path / "validation")["confusion_matrix"][0]
    expected = decoded(summary.confusion_matrix_pb("cm", labels, model.predict(features, verbose=0),
                                                   sample_weight=weights))
    np.testing.assert_allclose(written.true_ranks, expected.true_ranks, atol=1e-6)
    np.testing.assert_allclose(written.class_ranks, expected.class_ranks, atol=1e-6)
    assert written.true_ranks.shape == (8, 9)
