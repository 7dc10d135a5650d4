"""Format version 2 against scikit-learn, and version-1 logs read with unchanged values.

Exact mode: a class with few distinct scores is stored as those scores, so every number derived from
the counts equals scikit-learn's on the same float32 scores (to 1e-9, ties included). Version-1 event
files written by the previous release (tests/fixtures/v1_logs) read to the numbers that release
printed, through the CLI and through TensorBoard's real app on both loaders.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import pathlib
import time

import numpy as np
import pytest
from sklearn import metrics as skm
from tensorboard.util import tensor_util

from tb_metrics_plugin import cli, core, inputs, layout, metadata, summary
from tb_metrics_plugin.thresholds import DEFAULT_NUM_THRESHOLDS
from tests.conftest import InProcessTensorBoard

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
V1_LOGS = FIXTURES / "v1_logs"


def decoded(summary_proto):
    value = summary_proto.value[0]
    plugin_data = metadata.parse_plugin_metadata(value.metadata.plugin_data.content)
    return layout.decode(tensor_util.make_ndarray(value.tensor), plugin_data), plugin_data


def softmax_data(rng, num_samples, num_classes, separation=1.5, decimals=None):
    labels = rng.integers(0, num_classes, num_samples)
    logits = rng.normal(size=(num_samples, num_classes)) + separation * np.eye(num_classes)[labels]
    scores = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    if decimals is not None:  # ties: many items share a score
        scores = np.round(scores, decimals).astype(np.float32)
    return labels, scores


def sklearn_best_f1(labels, scores):
    precision, recall, _ = skm.precision_recall_curve(labels, scores)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0)
    return float(f1.max())


@pytest.mark.parametrize("decimals", [None, 2], ids=["distinct", "ties"])
def test_small_multiclass_counts_are_exact_and_equal_scikit_learn(decimals):
    # The digits case: 10 classes, 540 validation samples.
    rng = np.random.default_rng(3)
    labels, scores = softmax_data(rng, 540, 10, decimals=decimals)
    weights = rng.random(540)
    one_hot = np.eye(10)[labels]
    for sample_weight in (None, weights):
        proto = summary.threshold_curves_pb("curves", labels, scores, sample_weight=sample_weight)
        counts, plugin_data = decoded(proto)
        assert plugin_data.version == metadata.FORMAT_VERSION == 3
        assert counts.exact.all() and counts.thresholds.shape[0] == 10
        numbers = core.threshold_curves_summary(
            counts.positive_histograms, counts.negative_histograms, counts.thresholds, counts.exact)
        for c in range(10):
            truth, score = one_hot[:, c], scores[:, c]
            assert numbers["roc_auc"]["per_class"][c] == pytest.approx(
                skm.roc_auc_score(truth, score, sample_weight=sample_weight), abs=1e-9)
            assert numbers["average_precision"]["per_class"][c] == pytest.approx(
                skm.average_precision_score(truth, score, sample_weight=sample_weight), abs=1e-9)
            if sample_weight is None:
                assert numbers["best_f1"]["per_class"][c] == pytest.approx(sklearn_best_f1(truth, score), abs=1e-9)
        for average in ("micro", "macro", "weighted"):
            assert numbers["roc_auc"][average] == pytest.approx(
                skm.roc_auc_score(one_hot, scores, average=average, sample_weight=sample_weight), abs=1e-9)
            assert numbers["average_precision"][average] == pytest.approx(
                skm.average_precision_score(one_hot, scores, average=average, sample_weight=sample_weight), abs=1e-9)


def test_exact_curves_and_operating_points_equal_scikit_learn():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 300)
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1).astype(np.float32)
    scores[:100] = np.round(scores[:100], 1)  # ties
    counts, _ = decoded(summary.threshold_curves_pb("curves", labels, scores))
    positive, negative = counts.positive_histograms[0], counts.negative_histograms[0]
    row, exact = counts.per_class_thresholds[0], bool(counts.exact[0])
    assert exact
    # Every ROC and PR point of scikit-learn's (which thresholds at the distinct scores with >=) is ours.
    ours = core.roc_curve(positive, negative, row)
    fpr, tpr, _ = skm.roc_curve(labels, scores, drop_intermediate=False)
    our_points = {(round(f, 12), round(t, 12)) for f, t in zip(ours["fpr"], ours["tpr"], strict=True)}
    assert {(round(f, 12), round(t, 12)) for f, t in zip(fpr, tpr, strict=True)} == our_points
    precision, recall, _ = skm.precision_recall_curve(labels, scores, drop_intermediate=False)
    ours = core.pr_curve(positive, negative, row)
    our_points = {(round(p, 12), round(r, 12)) for p, r in zip(ours["precision"], ours["recall"], strict=True)}
    assert {(round(p, 12), round(r, 12)) for p, r in zip(precision, recall, strict=True)} <= our_points
    # Any threshold, not only stored ones: the counts at x are those of score > x.
    for x in (0.0, 0.123, 0.3, 0.5, 0.51234, 0.999, float(scores.min()) - 1e-3, float(np.median(scores))):
        index = core.threshold_index(row, x, exact=True)
        tp, fp, tn, fn = core.counts_at_index(positive, negative, index)
        predicted = scores > np.float32(x)
        assert (tp, fp, tn, fn) == (
            float(np.sum(predicted & (labels == 1))), float(np.sum(predicted & (labels == 0))),
            float(np.sum(~predicted & (labels == 0))), float(np.sum(~predicted & (labels == 1))))
    # Youden's J maximum and the constrained optima are scikit-learn's.
    j = core.best_youden_threshold(positive, negative, row)
    assert j["value"] == pytest.approx(np.max(tpr - fpr), abs=1e-12)
    at = core.recall_at_precision(positive, negative, row, 0.8)
    feasible = precision >= 0.8
    assert at["value"] == pytest.approx(recall[feasible].max(), abs=1e-12)


def test_exact_and_grid_classes_mix_in_one_step():
    # Class 0 has few distinct scores (exact), class 1 many (grid): micro and macro align them.
    rng = np.random.default_rng(9)
    n = 20_000
    labels = rng.integers(0, 2, n)
    coarse = np.round(rng.random(n), 2).astype(np.float32)  # <= 101 distinct scores
    fine = rng.random(n).astype(np.float32)
    scores = np.stack([coarse, fine], axis=1)
    multi = np.stack([labels, 1 - labels], axis=1)
    counts, _ = decoded(summary.threshold_curves_pb("curves", multi, scores, multi_label=True))
    assert counts.exact.tolist() == [True, False]
    assert counts.thresholds.shape == (2, DEFAULT_NUM_THRESHOLDS)
    numbers = core.threshold_curves_summary(
        counts.positive_histograms, counts.negative_histograms, counts.thresholds, counts.exact)
    assert numbers["roc_auc"]["per_class"][0] == pytest.approx(skm.roc_auc_score(labels, coarse), abs=1e-9)
    assert numbers["roc_auc"]["per_class"][1] == pytest.approx(skm.roc_auc_score(1 - labels, fine), abs=1e-4)
    axis, positive, negative = core.align_classes(
        counts.thresholds, counts.positive_histograms, counts.negative_histograms, counts.exact)
    assert np.all(np.diff(axis) > 0) and positive.shape == (2, axis.size + 1)
    np.testing.assert_allclose(positive.sum(1), counts.positive_histograms.sum(1))
    np.testing.assert_allclose(negative.sum(1), counts.negative_histograms.sum(1))
    assert (positive >= 0).all() and (negative >= 0).all()
    # The exact class keeps its own area on the common axis.
    assert core.roc_auc(positive[0], negative[0]) == pytest.approx(numbers["roc_auc"]["per_class"][0], abs=1e-12)


def test_large_classes_use_the_compact_grid():
    rng = np.random.default_rng(11)
    labels, scores = softmax_data(rng, 10_000, 100, separation=3.0)
    proto = summary.threshold_curves_pb("curves", labels, scores)
    counts, _ = decoded(proto)
    assert not counts.exact.any() and counts.thresholds.shape == (DEFAULT_NUM_THRESHOLDS,)
    size = len(proto.value[0].tensor.SerializeToString())
    assert size * 4 <= (1 + 2 * 100) * (DEFAULT_NUM_THRESHOLDS + 1) * 4  # at least 4x below version 1
    # Lossless: the same histograms as counting on the grid directly.
    positive, negative = inputs.prepare(labels, scores).threshold_histograms(counts.thresholds)
    np.testing.assert_array_equal(counts.positive_histograms, positive)
    np.testing.assert_array_equal(counts.negative_histograms, negative)


def test_weighted_counts_are_never_rounded():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 50)
    scores = rng.random(50).astype(np.float32)
    weights = rng.random(50) * 1e-3 + 1 / 3
    counts, _ = decoded(summary.threshold_curves_pb("curves", labels, scores, sample_weight=weights))
    order = np.argsort(scores)
    np.testing.assert_array_equal(counts.positive_histograms[0][:50], np.where(labels == 1, weights, 0)[order])


def test_confusion_matrix_of_many_classes_stores_only_its_cells():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 1000, 10_000)
    predictions = np.where(rng.random(10_000) < 0.8, labels, rng.integers(0, 1000, 10_000))
    scores = np.full((10_000, 1000), 1e-4, dtype=np.float32)
    scores[np.arange(10_000), predictions] = 0.9
    proto = summary.confusion_matrix_pb("cm", labels, scores)
    matrix, _ = decoded(proto)
    np.testing.assert_array_equal(matrix.matrix, skm.confusion_matrix(labels, predictions, labels=np.arange(1000)))
    assert len(proto.value[0].tensor.SerializeToString()) < 40_000  # version 1: 4,000,000 bytes


def test_version_2_steps_read_as_they_were_written():
    """A version-2 step (written before ranks and slices: a matrix blob without rank arrays, metadata
    without `slice`) reads with its numbers and no ranks; version 3 only adds to it."""
    labels, scores = softmax_data(np.random.default_rng(5), 200, 4)
    version_3 = summary.confusion_matrix_pb("cm", labels, scores)
    matrix = decoded(version_3)[0].matrix
    version_2 = metadata.PluginData(metadata.KIND_CONFUSION_MATRIX, ("a", "b", "c", "d"), version=2, decision="argmax")
    counts = layout.decode(layout.encode_confusion_matrix(matrix), version_2)
    np.testing.assert_array_equal(counts.matrix, matrix)
    assert counts.true_ranks is None and counts.class_ranks is None
    assert decoded(version_3)[0].true_ranks is not None
    reparsed = metadata.parse_plugin_metadata(metadata.create_summary_metadata(version_2).plugin_data.content)
    assert reparsed.version == 2 and reparsed.slice is None


def test_damaged_blobs_are_refused_with_a_reason():
    counts, plugin_data = decoded(summary.threshold_curves_pb("curves", [0, 1, 1], [0.2, 0.9, 0.4]))
    blob = layout.encode_threshold_curves(counts).item()
    for damaged in (b"", b"\x07" + blob[1:], blob[:-5], blob[:1] + bytes(len(blob) - 1)):
        with pytest.raises(metadata.UnsupportedFormatError, match="blob"):
            layout.decode(np.array(damaged, dtype=object), plugin_data)
    with pytest.raises(metadata.UnsupportedFormatError, match="string"):
        layout.decode(np.zeros((3, 4), np.float32), plugin_data)



def test_check_refuses_what_decode_refuses_in_the_same_words_without_building_the_counts():
    """`layout.check` (what the tags listing runs on every step) refuses every structural damage and
    damaged count with `decode`'s message; only what needs the counts built (the order of the
    thresholds) is left to `decode`, which runs when the step is read."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=5000)
    scores = rng.dirichlet(np.ones(3), size=5000)
    scores[:, 0] = np.round(scores[:, 0], 2)  # few distinct scores: class 0 exact, the others on the grid
    counts, plugin_data = decoded(summary.threshold_curves_pb("curves", labels, scores))
    assert counts.exact.any() and not counts.exact.all()
    blob = layout.encode_threshold_curves(counts)
    layout.check(blob, plugin_data)

    def repacked(**changes):
        arrays = layout._unpack(blob, "threshold_curves", layout.CURVE_ARRAYS)
        return layout._pack({**arrays, **changes})

    raw = blob.item()
    refused = [np.array(damaged, dtype=object) for damaged in (b"", b"\x07" + raw[1:], raw[:-5], raw[:9] + bytes(20))]
    weights = layout._unpack(blob, "threshold_curves", layout.CURVE_ARRAYS)["positive"].astype(np.float64)
    refused += [
        repacked(positive=np.where(np.arange(weights.size) == 7, -1.0, weights)),  # a flipped sign bit
        repacked(negative=np.full(weights.size, np.nan)),
        repacked(cells=np.array([1, 2], dtype=np.uint8), exact=np.array([1, 0], dtype=np.uint8)),
        np.zeros((3, 4), np.float32),
    ]
    for tensor in refused:
        with pytest.raises(metadata.UnsupportedFormatError) as by_decode:
            layout.decode(tensor, plugin_data)
        with pytest.raises(metadata.UnsupportedFormatError) as by_check:
            layout.check(tensor, plugin_data)
        assert str(by_check.value) == str(by_decode.value)
    grid = layout._unpack(blob, "threshold_curves", layout.CURVE_ARRAYS)["grid"]
    unordered = repacked(grid=grid[::-1].copy())
    layout.check(unordered, plugin_data)
    with pytest.raises(metadata.UnsupportedFormatError, match="grid thresholds are not increasing"):
        layout.decode(unordered, plugin_data)


# Version 1 -----------------------------------------------------------------------------------------


def _close(actual, expected):
    if isinstance(expected, dict):
        return set(actual) == set(expected) and all(_close(actual[k], v) for k, v in expected.items())
    if isinstance(expected, float) and isinstance(actual, float):
        return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-12)
    return actual == expected


def _with_slice_field(records: list) -> list:
    """The release's records as read today: each also says it is no slice (`slice` came later)."""
    return [{**record, "slice": None} for record in records]


# Record fields added after the release that wrote the v1 fixture (issue 13: the peers' metrics). They
# must be in every record of their kind; the fixture pins the fields that release had.
ADDED_FIELDS = {
    "threshold_curves": {"pr_auc_majoring", "pr_auc_minoring"},
    "confusion_matrix": {"kappa_linear", "kappa_quadratic", "top_k", "top_k_accuracy", "top_k_precision_macro",
                         "top_k_recall_macro", "per_class_top_k_precision", "per_class_top_k_recall",
                         "per_class_recall", "per_class_precision"},  # issue 12: slices of confusion matrices
}


def _as_released(record: dict) -> dict:
    """`record` without the fields added since the fixture's release, after checking it has them."""
    kind = "confusion_matrix" if "per_class_iou" in record else "threshold_curves"
    added = ADDED_FIELDS[kind]
    assert added <= set(record), (added, record)
    if kind == "confusion_matrix":  # version 1 logged no ranks: the top-k fields are empty
        assert all(record[field] is None for field in added if "top_k" in field), record
    return {key: value for key, value in record.items() if key not in added}


def _export(*args) -> list:
    out = io.StringIO()
    assert cli.main(["export", "--logdir", str(V1_LOGS), "--all-steps", "--format", "json", *args], stdout=out) == 0
    return json.loads(out.getvalue())


def test_version_1_logs_give_the_numbers_of_the_release_that_wrote_them():
    expected = _with_slice_field(json.loads((FIXTURES / "v1_logs_expected_metrics.json").read_text()))
    actual = _export("--threshold", "0.5")
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert _close(_as_released(got), want), (got, want)
    expected_counts = json.loads(gzip.decompress((FIXTURES / "v1_logs_expected_counts.json.gz").read_bytes()))
    assert _export("--content", "counts") == _with_slice_field(expected_counts)


@pytest.fixture(params=[True, False], ids=["rust_loader", "python_loader"])
def v1_board(request):
    board = InProcessTensorBoard(V1_LOGS, load_fast=request.param)
    yield board
    board.close()


def test_version_1_logs_are_served_on_both_loaders(v1_board):
    def tags():
        response = v1_board.client.get("/data/plugin/tb_metrics/tags")
        return json.loads(response.get_data())

    listing = tags()
    for _ in range(100):  # the data server loads in the background
        if len(listing.get("multiclass/validation", {})) == 3 and len(listing.get("binary/validation", {})) == 2:
            break
        time.sleep(0.2)
        listing = tags()
    assert listing["multiclass/validation"]["threshold_curves"]["version"] == 1
    assert listing["multiclass/validation"]["threshold_curves"]["steps"] == [0, 1]
    response = v1_board.client.get(
        "/data/plugin/tb_metrics/export?run=multiclass/validation&tag=threshold_curves&format=json&threshold=0.5")
    served = json.loads(response.get_data())
    expected = [r for r in _with_slice_field(json.loads((FIXTURES / "v1_logs_expected_metrics.json").read_text()))
                if r["run"] == "multiclass/validation" and r["tag"] == "threshold_curves"]
    assert len(served) == len(expected)
    for got, want in zip(served, expected, strict=True):
        assert _close(_as_released(got), want), (got, want)
    counts = json.loads(v1_board.client.get(
        "/data/plugin/tb_metrics/counts?run=multiclass/validation&tag=threshold_curves&step=1").get_data())
    assert counts["thresholds"]["shape"] == [1, DEFAULT_NUM_THRESHOLDS]
    assert counts["exact"]["shape"] == [1, 3] and set(counts["exact"]["data"]) <= set("AQ=")
