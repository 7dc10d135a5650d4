"""The plugin's routes through TensorBoard's real WSGI app and data provider, on both loaders, on
logs written by real Keras fits; and the `_impl`s called directly."""

from __future__ import annotations

import csv
import io
import json
import time

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from tensorboard.backend.event_processing import data_provider as multiplexer_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.context import RequestContext
from tensorboard.plugins import base_plugin

from tb_metrics_plugin import core, metadata, plugin, reading, summary, tables, wire
from tb_metrics_plugin.writer import SummaryWriter
from tests.conftest import InProcessTensorBoard
from tests.readback import assert_served_step, decode_summary, read_run

PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"
RUNS = {
    "binary/train": ("threshold_curves", "confusion_matrix"),
    "binary/validation": ("threshold_curves", "confusion_matrix"),
    "digits/validation": ("threshold_curves", "confusion_matrix"),
}


@pytest.fixture(scope="module", params=[False, True], ids=["python_loader", "rust_loader"])
def board(request, fitted_logs):
    """The real app on the fitted logs, once every step of every tag is loaded."""
    board = InProcessTensorBoard(fitted_logs.logdir, load_fast=request.param)
    deadline = time.monotonic() + 60
    while True:
        listing = board.client.get(f"{PREFIX}/tags").get_json()
        loaded = all(
            listing.get(run, {}).get(tag, {}).get("num_steps") == fitted_logs.epochs
            for run, tags in RUNS.items() for tag in tags
        )
        if loaded:
            break
        assert time.monotonic() < deadline, f"data not loaded in 60 s: {listing}"
        time.sleep(0.3)
    yield board
    board.close()


@pytest.fixture(scope="module")
def written(fitted_logs):
    """What the event files hold, read with TensorBoard's EventAccumulator: {run: {tag: {step: counts}}}."""
    return {run: read_run(fitted_logs.logdir / run) for run in RUNS}


def get_json(board, route, expected_status=200, **params):
    response = board.client.get(f"{PREFIX}/{route}", query_string=params)
    assert response.status_code == expected_status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    return response.get_json()


# tags ---------------------------------------------------------------------------------------------


def test_tags_lists_every_run_tag_and_step(board, fitted_logs):
    listing = get_json(board, "tags")
    assert sorted(listing) == sorted(RUNS)
    steps = list(range(fitted_logs.epochs))
    binary = listing["binary/validation"]
    assert binary["threshold_curves"] == {
        "kind": "threshold_curves", "class_names": ["malignant"], "version": metadata.FORMAT_VERSION,
        "num_steps": len(steps), "steps": steps, "max_step": steps[-1], "ignore_class": None,
        "decision": metadata.POSITIVE_RULE,
    }
    assert binary["confusion_matrix"]["class_names"] == ["benign", "malignant"]
    assert binary["confusion_matrix"]["kind"] == "confusion_matrix"
    digits = listing["digits/validation"]["threshold_curves"]
    assert digits["class_names"] == [f"digit {d}" for d in range(10)]
    assert digits["steps"] == steps


def test_frontend_metadata_declares_es_module_and_tab(board):
    listing = board.client.get("/data/plugins_listing").get_json()
    entry = listing[metadata.PLUGIN_NAME]
    assert entry["enabled"] is True
    assert entry["tab_name"] == "Threshold metrics"
    assert entry["loading_mechanism"] == {"type": "IFRAME", "module_path": f"{PREFIX}/index.js"}


# counts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", sorted(RUNS))
def test_counts_of_all_steps_equal_the_event_files(board, written, run):
    for tag in RUNS[run]:
        answer = get_json(board, "counts", run=run, tag=tag)
        stored = written[run][tag]
        assert answer["steps"] == sorted(stored)
        assert len(answer["wall_times"]) == len(stored) and all(t > 1e9 for t in answer["wall_times"])
        assert answer["run"] == run and answer["tag"] == tag and answer["kind"] == tag
        assert answer["version"] == metadata.FORMAT_VERSION
        for position, step in enumerate(answer["steps"]):
            _assert_counts_equal(answer, position, stored[step])


def test_counts_of_one_step_have_a_leading_dimension_of_one(board, written):
    for tag in RUNS["digits/validation"]:
        answer = get_json(board, "counts", run="digits/validation", tag=tag, step="1")
        assert answer["steps"] == [1] and len(answer["wall_times"]) == 1
        arrays = ("thresholds", "positive", "negative") if tag == "threshold_curves" else ("matrix",)
        for name in arrays:
            assert answer[name]["shape"][0] == 1
        _assert_counts_equal(answer, 0, written["digits/validation"][tag][1])


def _assert_counts_equal(answer, position, expected):
    assert_served_step(answer, position, expected)
    if answer["kind"] == "threshold_curves":
        assert answer["thresholds"]["dtype"] == "float32"
        assert answer["class_names"] == list(expected.class_names)
    else:
        assert answer["ignore_class"] == expected.ignore_class
        assert answer["decision"] in ("argmax", "score > 0.5")


def test_counts_use_float32_on_the_wire_when_exact(board):
    answer = get_json(board, "counts", run="binary/validation", tag="threshold_curves")
    assert answer["positive"]["dtype"] == "float32"  # unweighted counts are exact float32
    num_steps, num_classes, num_bins = answer["positive"]["shape"]
    assert (num_steps, num_classes, num_bins) == (3, 1, answer["thresholds"]["shape"][-1] + 1)
    assert answer["exact"]["dtype"] == "uint8" and answer["exact"]["shape"] == [3, 1]


# summary ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["binary/validation", "digits/validation"])
def test_summary_equals_the_core_on_the_stored_counts(board, written, run):
    answer = get_json(board, "summary", run=run, tag="threshold_curves")
    stored = written[run]["threshold_curves"]
    assert answer["steps"] == sorted(stored)
    for position, step in enumerate(answer["steps"]):
        counts = stored[step]
        expected = core.json_safe(core.threshold_curves_summary(
            counts.positive_histograms, counts.negative_histograms, counts.thresholds, counts.exact))
        for metric in tables.THRESHOLD_CURVE_METRICS:
            assert answer["series"][metric]["per_class"][position] == expected[metric]["per_class"]
            for average in tables.AVERAGES:
                assert answer["series"][metric][average][position] == expected[metric][average]


def tie_bound(positive_histogram, negative_histogram) -> float:
    """How far a ROC-AUC from binned counts can be from the exact one: Σ_k pos_k·neg_k / (2·P·N).

    A positive and a negative in the same bin count as a tie (½) where the exact AUC counts 0 or 1.
    """
    positives, negatives = positive_histogram.sum(), negative_histogram.sum()
    return float(np.dot(positive_histogram, negative_histogram) / (2 * positives * negatives))


def test_summary_roc_auc_is_scikit_learn_up_to_ties_within_a_bin(board, fitted_logs, written):
    """The last step's counts come from the final model: its ROC-AUC is scikit-learn's, up to pairs
    of a positive and a negative sharing a bin of the grid (each moves it by 1 / (2·P·N))."""
    last = fitted_logs.epochs - 1
    answer = get_json(board, "summary", run="binary/validation", tag="threshold_curves")
    counts = written["binary/validation"]["threshold_curves"][last]
    exact = roc_auc_score(fitted_logs.labels["binary/validation"], fitted_logs.predictions["binary/validation"])
    bound = tie_bound(counts.positive_histograms[0], counts.negative_histograms[0])
    assert abs(answer["series"]["roc_auc"]["per_class"][last][0] - exact) <= bound + 1e-12
    assert bound < 5e-4  # a tied pair or two on this grid, out of 169 samples

    answer = get_json(board, "summary", run="digits/validation", tag="threshold_curves")
    counts = written["digits/validation"]["threshold_curves"][last]
    labels, scores = fitted_logs.labels["digits/validation"], fitted_logs.predictions["digits/validation"]
    bounds = [tie_bound(counts.positive_histograms[d], counts.negative_histograms[d]) for d in range(10)]
    for digit in range(10):
        exact = roc_auc_score(labels == digit, scores[:, digit])
        assert abs(answer["series"]["roc_auc"]["per_class"][last][digit] - exact) <= bounds[digit] + 1e-12
    macro = roc_auc_score(labels, scores, multi_class="ovr", average="macro")
    assert abs(answer["series"]["roc_auc"]["macro"][last] - macro) <= np.mean(bounds) + 1e-12


def test_summary_of_a_confusion_matrix(board, written):
    answer = get_json(board, "summary", run="digits/validation", tag="confusion_matrix")
    stored = written["digits/validation"]["confusion_matrix"]
    for position, step in enumerate(answer["steps"]):
        matrix = stored[step].matrix
        accuracy = np.trace(matrix) / matrix.sum()
        assert answer["series"]["accuracy"]["value"][position] == pytest.approx(accuracy, abs=1e-12)
        expected = core.json_safe(core.confusion_matrix_summary(matrix))
        for metric in ("mean_iou", "kappa"):
            assert answer["series"][metric]["value"][position] == expected[metric]["value"]
        assert answer["series"]["iou"]["per_class"][position] == expected["iou"]["per_class"]


# export -------------------------------------------------------------------------------------------


def test_export_json_is_an_attachment_with_the_records(board, written):
    response = board.client.get(f"{PREFIX}/export", query_string={
        "run": "digits/validation", "tag": "threshold_curves", "format": "json", "step": "2"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="tb_metrics_digits_validation_threshold_curves_step2.json"'
    )
    rows = json.loads(response.get_data(as_text=True))
    names = [f"digit {d}" for d in range(10)] + list(tables.AVERAGES)
    assert [row["class"] for row in rows] == names
    assert {row["step"] for row in rows} == {2}
    counts = written["digits/validation"]["threshold_curves"][2]
    expected = core.json_safe(core.threshold_curves_summary(
        counts.positive_histograms, counts.negative_histograms, counts.thresholds, counts.exact))
    for digit in range(10):
        assert rows[digit]["roc_auc"] == expected["roc_auc"]["per_class"][digit]
        assert rows[digit]["best_f1_threshold"] == expected["best_f1_threshold"]["per_class"][digit]
    assert rows[-3]["average_precision"] == expected["average_precision"]["micro"]


def test_export_csv_at_a_threshold(board, written, fitted_logs):
    response = board.client.get(f"{PREFIX}/export", query_string={
        "run": "binary/validation", "tag": "threshold_curves", "format": "csv", "threshold": "0.5"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="tb_metrics_binary_validation_threshold_curves.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == fitted_logs.epochs * 4  # one class + micro, macro, weighted per step
    last = [row for row in rows if row["step"] == str(fitted_logs.epochs - 1) and row["class"] == "malignant"][0]
    labels = fitted_logs.labels["binary/validation"].astype(bool)
    scores = fitted_logs.predictions["binary/validation"]
    used = float(last["threshold"])
    assert abs(used - 0.5) < 1e-2
    predicted = scores > np.float32(used)
    assert int(float(last["tp"])) == np.sum(predicted & labels)
    assert int(float(last["fp"])) == np.sum(predicted & ~labels)
    assert int(float(last["tn"])) == np.sum(~predicted & ~labels)
    assert int(float(last["fn"])) == np.sum(~predicted & labels)
    assert float(last["precision"]) == pytest.approx(np.sum(predicted & labels) / np.sum(predicted), abs=1e-12)


def test_export_of_a_confusion_matrix_as_csv(board, written):
    response = board.client.get(f"{PREFIX}/export", query_string={
        "run": "binary/validation", "tag": "confusion_matrix", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["step"] for row in rows] == ["0", "1", "2"]
    assert {"accuracy", "mean_iou", "kappa", "per_class_iou.benign", "per_class_iou.malignant"} <= set(rows[0])
    matrix = written["binary/validation"]["confusion_matrix"][2].matrix
    assert float(rows[2]["accuracy"]) == pytest.approx(np.trace(matrix) / matrix.sum(), abs=1e-12)
    iou_benign = matrix[0, 0] / (matrix[0].sum() + matrix[:, 0].sum() - matrix[0, 0])
    assert float(rows[2]["per_class_iou.benign"]) == pytest.approx(iou_benign, abs=1e-12)


def test_export_of_the_raw_counts(board, written):
    response = board.client.get(f"{PREFIX}/export", query_string={
        "run": "digits/validation", "tag": "threshold_curves", "format": "csv", "step": "1", "content": "counts"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="tb_metrics_digits_validation_threshold_curves_step1_counts.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    counts = written["digits/validation"]["threshold_curves"][1]
    # One record per class and stored threshold: an exact class's are its distinct scores.
    thresholds = counts.per_class_thresholds
    sizes = [int(np.isfinite(row).sum()) for row in thresholds]
    starts = np.cumsum([0] + sizes[:-1])
    assert len(rows) == sum(sizes)
    tp, fp, tn, fn = core.confusion_at_thresholds(counts.positive_histograms, counts.negative_histograms)
    for digit, j in [(0, 0), (3, sizes[3] // 2), (9, sizes[9] - 1)]:
        row = rows[starts[digit] + j]
        assert row["class"] == f"digit {digit}" and float(row["threshold"]) == float(thresholds[digit][j])
        expected = [tp[digit, j], fp[digit, j], tn[digit, j], fn[digit, j]]
        assert [float(row[k]) for k in ("tp", "fp", "tn", "fn")] == expected
    response = board.client.get(f"{PREFIX}/export", query_string={
        "run": "binary/validation", "tag": "confusion_matrix", "format": "json", "step": "2", "content": "counts"})
    cells = json.loads(response.get_data(as_text=True))
    matrix = written["binary/validation"]["confusion_matrix"][2].matrix
    assert [(c["true_class"], c["predicted_class"], c["count"]) for c in cells] == [
        ("benign", "benign", matrix[0, 0]), ("benign", "malignant", matrix[0, 1]),
        ("malignant", "benign", matrix[1, 0]), ("malignant", "malignant", matrix[1, 1])]


# bad requests -------------------------------------------------------------------------------------

BAD_REQUESTS = [
    # (route, parameters, status, words the error must contain)
    ("counts", {"tag": "threshold_curves"}, 400, ["'run'", "missing"]),
    ("counts", {"run": "binary/validation"}, 400, ["'tag'", "missing"]),
    ("counts", {"run": "nope", "tag": "threshold_curves"}, 404, ["run='nope'", "binary/validation"]),
    ("counts", {"run": "binary/validation", "tag": "nope"}, 404, ["tag='nope'", "threshold_curves"]),
    ("counts", {"run": "binary/validation", "tag": "threshold_curves", "step": "7"}, 404, ["step=7", "last 2"]),
    ("counts", {"run": "binary/validation", "tag": "threshold_curves", "step": "one"}, 400, ["step='one'"]),
    ("counts", {"run": "binary/validation", "tag": "threshold_curves", "step": "-1"}, 400, ["step='-1'"]),
    ("counts", {"run": "binary/validation", "tag": "threshold_curves", "step": "1.5"}, 400, ["step='1.5'"]),
    ("counts", {"run": ["binary/validation", "binary/train"], "tag": "threshold_curves"}, 400,
     ["'run'", "2 times"]),
    ("counts", {"run": "binary/validation", "tag": "threshold_curves", "stpe": "1"}, 400, ["'stpe'"]),
    ("summary", {"run": "binary/validation"}, 400, ["'tag'"]),
    ("summary", {"run": "binary/validation", "tag": "threshold_curves", "step": "1"}, 400, ["'step'"]),
    ("summary", {"run": "nope", "tag": "confusion_matrix"}, 404, ["run='nope'"]),
    ("export", {"run": "binary/validation", "tag": "threshold_curves"}, 400, ["'format'", "missing"]),
    ("export", {"run": "binary/validation", "tag": "threshold_curves", "format": "xml"}, 400, ["format='xml'"]),
    ("export", {"run": "binary/validation", "tag": "threshold_curves", "format": "csv", "threshold": "1.5"}, 400,
     ["threshold='1.5'", "[0, 1]"]),
    ("export", {"run": "binary/validation", "tag": "threshold_curves", "format": "csv", "threshold": "-0.1"}, 400,
     ["threshold='-0.1'"]),
    ("export", {"run": "binary/validation", "tag": "threshold_curves", "format": "csv", "threshold": "half"}, 400,
     ["threshold='half'", "not a number"]),
    ("export", {"run": "binary/validation", "tag": "threshold_curves", "format": "csv", "threshold": "nan"}, 400,
     ["threshold='nan'"]),
    ("export", {"run": "binary/validation", "tag": "threshold_curves", "format": "csv", "step": "99"}, 404,
     ["step=99"]),
    ("tags", {"run": "binary/validation"}, 400, ["'run'", "no parameters"]),
    ("export", {"run": "binary/validation", "tag": "threshold_curves", "format": "csv", "content": "pixels"}, 400,
     ["content='pixels'"]),
    ("export", {"run": "binary/validation", "tag": "threshold_curves", "format": "csv", "content": "counts",
                "threshold": "0.5"}, 400, ["threshold", "content=counts"]),
    ("export", {"run": "binary/validation", "tag": "confusion_matrix", "format": "csv", "threshold": "0.5"}, 400,
     ["threshold=0.5", "confusion_matrix"]),
]


@pytest.mark.parametrize("route, params, status, words", BAD_REQUESTS, ids=lambda value: str(value)[:40])
def test_bad_requests_get_a_json_error(board, route, params, status, words):
    answer = get_json(board, route, expected_status=status, **params)
    assert set(answer) == {"error"}
    for word in words:
        assert word in answer["error"]
    assert "Traceback" not in answer["error"]


# the frontend bundle ------------------------------------------------------------------------------


def test_index_js_is_served_as_javascript(board):
    response = board.client.get(f"{PREFIX}/index.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    with open(plugin.INDEX_JS, "rb") as file:
        assert response.get_data() == file.read()
    assert b"render" in response.get_data()


def test_index_js_is_the_only_file_served(board):
    """Any other path under the plugin is TensorBoard's own 404: no route of ours serves files by name."""
    for path in ("static/index.js", "index.js/x", "index.js/../plugin.py", "plugin.py", "static/../plugin.py"):
        response = board.client.get(f"{PREFIX}/{path}")
        assert (response.status_code, response.get_data()) == (404, b"Not found"), path


# the _impls, called directly ----------------------------------------------------------------------


def python_provider(logdir):
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={metadata.PLUGIN_NAME: 0})
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    return multiplexer_provider.MultiplexerDataProvider(multiplexer, str(logdir))


@pytest.fixture(scope="module")
def direct(fitted_logs):
    return plugin.MetricsPlugin(base_plugin.TBContext(data_provider=python_provider(fitted_logs.logdir)))


def test_impls_return_plain_data(direct, written):
    ctx = RequestContext()
    listing = direct.tags_impl(ctx, "")
    assert listing["binary/train"]["threshold_curves"]["steps"] == [0, 1, 2]
    counts = direct.counts_impl(ctx, "", "binary/train", "confusion_matrix", step=0)
    expected = written["binary/train"]["confusion_matrix"][0].matrix
    np.testing.assert_array_equal(wire.decode_array(counts["matrix"])[0], expected)
    summary_answer = direct.summary_impl(ctx, "", "binary/train", "confusion_matrix")
    assert summary_answer["steps"] == [0, 1, 2]
    json.dumps(summary_answer, allow_nan=False)  # NaN already turned into null
    body, filename = direct.export_impl(ctx, "", "binary/train", "threshold_curves", None, 0.25, "json")
    assert filename == "tb_metrics_binary_train_threshold_curves.json"
    rows = json.loads(body)
    assert len(rows) == 3 * 4 and all(row["threshold"] == pytest.approx(0.25, abs=1e-2) for row in rows)


def test_impls_raise_read_errors_with_statuses(direct):
    ctx = RequestContext()
    with pytest.raises(reading.NotFoundError, match="run='nope'"):
        direct.counts_impl(ctx, "", "nope", "threshold_curves")
    with pytest.raises(reading.NotFoundError, match="tag='nope'"):
        direct.summary_impl(ctx, "", "binary/train", "nope")
    with pytest.raises(reading.NotFoundError, match="step=5"):
        direct.counts_impl(ctx, "", "binary/train", "threshold_curves", step=5)


def test_unreadable_metadata_is_listed_with_an_error_and_refused_by_counts(tmp_path):
    """A tag written by a newer format version is listed with `error`; its counts are a 422."""
    good = summary.threshold_curves_pb("threshold_curves", np.array([0, 1, 1]), np.array([0.2, 0.7, 0.9]))
    newer = summary.threshold_curves_pb("from_the_future", np.array([0, 1]), np.array([0.2, 0.7]))
    content = json.loads(newer.value[0].metadata.plugin_data.content)
    newer.value[0].metadata.plugin_data.content = json.dumps({**content, "version": 99}).encode()
    with SummaryWriter(tmp_path / "run") as writer:
        writer.add_summary(good, step=0)
        writer.add_summary(newer, step=0)
    direct = plugin.MetricsPlugin(base_plugin.TBContext(data_provider=python_provider(tmp_path)))
    listing = direct.tags_impl(RequestContext(), "")
    assert listing["run"]["threshold_curves"]["num_steps"] == 1
    assert "version 99 is newer" in listing["run"]["from_the_future"]["error"]
    with pytest.raises(reading.UnreadableError, match="version 99"):
        direct.counts_impl(RequestContext(), "", "run", "from_the_future")


def test_a_bug_in_an_impl_is_a_json_error_without_traceback(fitted_logs, monkeypatch):
    """Anything unexpected is logged server-side; the browser gets JSON, never a traceback."""
    from werkzeug.test import Client

    direct = plugin.MetricsPlugin(base_plugin.TBContext(data_provider=python_provider(fitted_logs.logdir)))

    def broken(*args, **kwargs):
        raise ZeroDivisionError("secret detail")

    monkeypatch.setattr(direct, "summary_impl", broken)
    response = Client(direct.summary_route).get("/?run=binary/train&tag=threshold_curves")
    assert response.status_code == 500
    assert "secret detail" not in response.get_data(as_text=True)
    assert "internal error" in response.get_json()["error"]


# the wire format ----------------------------------------------------------------------------------


def test_typed_arrays_round_trip_exactly_and_pick_the_narrowest_exact_dtype():
    counts = np.array([[0.0, 3.0, 16777216.0]])  # 2^24 is still exact in float32
    encoded = wire.encode_array(counts)
    assert encoded["dtype"] == "float32" and encoded["shape"] == [1, 3]
    np.testing.assert_array_equal(wire.decode_array(encoded), counts)
    weighted = np.array([0.1, 16777217.0])  # neither is a float32
    assert wire.encode_array(weighted)["dtype"] == "float64"
    np.testing.assert_array_equal(wire.decode_array(wire.encode_array(weighted)), weighted)
    # Little-endian bytes, as the browser's typed arrays read them.
    assert wire.encode_array(np.array([1.0], dtype=np.float32))["data"] == "AACAPw=="
    with pytest.raises(ValueError, match="do not hold"):
        wire.decode_array({"dtype": "float32", "shape": [2], "data": "AACAPw=="})


def test_dumps_is_compact_json():
    answer = {"run": "é\"", "steps": [0, 1], "none": None, "nested": [{"a": [1.5]}],
              "array": wire.encode_array(np.arange(4, dtype=np.float32))}
    assert json.loads(wire.dumps(answer)) == answer
    assert wire.dumps(answer) == json.dumps(answer, separators=(",", ":")).encode()
    with pytest.raises(ValueError):
        wire.dumps({"x": float("nan")})


def test_tags_sees_new_and_rewritten_steps_despite_its_step_cache(tmp_path):
    """Steps are cached per run/tag until its max_step or max_wall_time moves."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={metadata.PLUGIN_NAME: 0})
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    provider = multiplexer_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    direct = plugin.MetricsPlugin(base_plugin.TBContext(data_provider=provider))
    labels, scores = np.array([0, 1, 1]), np.array([0.2, 0.7, 0.9])
    with SummaryWriter(tmp_path / "run", flush_secs=0.01) as writer:
        for step in (0, 1):
            writer.add_summary(summary.threshold_curves_pb("curves", labels, scores), step=step, wall_time=100.0 + step)
            writer.flush()
            multiplexer.AddRunsFromDirectory(str(tmp_path))
            multiplexer.Reload()
            listing = direct.tags_impl(RequestContext(), "")
            assert listing["run"]["curves"]["steps"] == list(range(step + 1))
            assert direct.tags_impl(RequestContext(), "") == listing  # answered from the cache


def test_summary_and_export_reuse_step_summaries_only_for_unchanged_steps(fitted_logs, written):
    """A second summary is answered from the per-step cache and equals the first; the cache is
    keyed by step and wall time, so a rewritten step is recomputed."""
    provider = python_provider(fitted_logs.logdir)
    direct = plugin.MetricsPlugin(base_plugin.TBContext(data_provider=provider))
    ctx = RequestContext()
    first = direct.summary_impl(ctx, "", "digits/validation", "threshold_curves")
    cache = direct._caches.summaries("")
    assert len(cache) == fitted_logs.epochs
    assert direct.summary_impl(ctx, "", "digits/validation", "threshold_curves") == first
    assert len(cache) == fitted_logs.epochs
    body, _ = direct.export_impl(ctx, "", "digits/validation", "threshold_curves", 1, None, "json")
    assert len(cache) == fitted_logs.epochs  # export used the same step summaries
    assert json.loads(body)[0]["roc_auc"] == first["series"]["roc_auc"]["per_class"][1][0]
    series = reading.read_series(provider, ctx, "", "digits/validation", "threshold_curves")
    moved = reading.TagSeries(**{**series.__dict__, "wall_times": series.wall_times + 1.0})
    tables.summary_series(moved, cache)
    assert len(cache) == 2 * fitted_logs.epochs


# the Rust data server's 256 MiB reply cap ---------------------------------------------------------


@pytest.fixture(scope="module")
def oversized_board(tmp_path_factory):
    """The Rust loader over two runs too large for one data-server reply (written with TensorFlow's
    own summary writer, which is fast at this size): `many` has 6 steps of 50 MB (300 MB in all),
    `huge` one step of 277 MB."""
    import tensorflow as tf

    from tb_metrics_plugin.thresholds import default_thresholds

    logdir = tmp_path_factory.mktemp("oversized")
    thresholds = default_thresholds()
    for run, num_classes, num_steps in (("many", 6500, 6), ("huge", 36000, 1)):
        names = [str(c) for c in range(num_classes)]
        # Format version 1 (dense float tensors): version 2 would store these counts in a few kB.
        content = metadata.create_summary_metadata(
            metadata.PluginData(metadata.KIND_THRESHOLD_CURVES, tuple(names), version=1))
        histograms = np.zeros((num_classes, len(thresholds) + 1), dtype=np.float32)
        histograms[:, -1] = 1.0
        edges = np.append(thresholds, np.inf).astype(np.float32)[None, :]
        with tf.summary.create_file_writer(str(logdir / run)).as_default():
            for step in range(num_steps):
                tensor = np.vstack([edges, histograms * (step + 1), histograms])
                tf.summary.write("threshold_curves", tensor, step=step, metadata=content.SerializeToString())
        del histograms
    board = InProcessTensorBoard(logdir, load_fast=True)
    deadline = time.monotonic() + 120
    while True:
        from tensorboard.context import RequestContext as Context

        listing = reading.list_series(board.data_provider, Context(), "")
        if {"many", "huge"} <= set(listing) and listing["many"]["threshold_curves"].max_step == 5:
            break
        assert time.monotonic() < deadline, "oversized logs not loaded in 120 s"
        time.sleep(0.5)
    yield board
    board.close()


@pytest.mark.slow  # `oversized_board` writes and loads 577 MB of logs
def test_a_run_over_the_reply_cap_is_served_from_the_largest_sample_that_fits(oversized_board):
    listing = get_json(oversized_board, "tags")
    many = listing["many"]["threshold_curves"]
    assert many["sampled"] is True and "--load_fast=false" in many["warning"]
    assert 1 <= many["num_steps"] < 6 and many["steps"][-1] == 5 and many["max_step"] == 5
    for step in many["steps"]:  # every step the listing offers can be read
        answer = get_json(oversized_board, "counts", run="many", tag="threshold_curves", step=str(step))
        assert answer["steps"] == [step]
        assert wire.decode_array(answer["positive"])[0, 0, -1] == step + 1
    missing = sorted(set(range(6)) - set(many["steps"]))
    answer = get_json(oversized_board, "counts", 413, run="many", tag="threshold_curves", step=str(missing[0]))
    assert f"step={missing[0]}" in answer["error"] and "--load_fast=false" in answer["error"]
    for route in ("counts", "summary"):
        answer = get_json(oversized_board, route, 413, run="many", tag="threshold_curves")
        assert "256 MiB" in answer["error"] and "step=S" in answer["error"]


@pytest.mark.slow  # `oversized_board`
def test_a_single_step_over_the_reply_cap_is_listed_with_an_error(oversized_board):
    listing = get_json(oversized_board, "tags")
    assert set(listing["huge"]["threshold_curves"]) == {"error"}
    assert "one step" in listing["huge"]["threshold_curves"]["error"]
    answer = get_json(oversized_board, "counts", 413, run="huge", tag="threshold_curves", step="0")
    assert "one step of run='huge'" in answer["error"]


def test_one_step_reads_the_last_datum_alone_and_the_rest_when_a_restart_rewrote_a_step(tmp_path):
    """`counts?step=S` of the latest step reads only the provider's last datum (the tab's first
    request; after a tags listing, with the listed metadata, in one provider call); when a restarted
    run rewrote an earlier step after it, that datum is not the max step, and the whole run/tag is
    read so each step is the one written last."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        tensor_size_guidance={metadata.PLUGIN_NAME: 0}, purge_orphaned_data=False)
    provider = multiplexer_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    direct = plugin.MetricsPlugin(base_plugin.TBContext(data_provider=provider))
    scores = {0: [0.2, 0.7, 0.9], 1: [0.3, 0.6, 0.8], 2: [0.1, 0.5, 0.95], "rewritten 1": [0.4, 0.45, 0.99]}
    labels = np.array([0, 1, 1])
    with SummaryWriter(tmp_path / "run", flush_secs=0.01) as writer:
        for step, key in ((0, 0), (1, 1), (2, 2)):
            writer.add_summary(summary.threshold_curves_pb("curves", labels, np.array(scores[key])), step=step)
        writer.flush()
        multiplexer.AddRunsFromDirectory(str(tmp_path))
        multiplexer.Reload()
        whole = direct.counts_impl(RequestContext(), "", "run", "curves")
        latest = direct.counts_impl(RequestContext(), "", "run", "curves", step=2)
        assert latest["steps"] == [2] and latest["wall_times"] == whole["wall_times"][2:]
        for field in ("thresholds", "positive", "negative"):
            assert wire.decode_array(latest[field]).tolist() == wire.decode_array(whole[field])[2:].tolist()
        direct.tags_impl(RequestContext(), "")  # the listing's metadata and max step: one provider call
        assert direct.counts_impl(RequestContext(), "", "run", "curves", step=2) == latest
        writer.add_summary(summary.threshold_curves_pb("curves", labels, np.array(scores["rewritten 1"])), step=1)
        writer.flush()
    multiplexer.Reload()
    assert direct.tags_impl(RequestContext(), "")["run"]["curves"]["max_step"] == 2
    again = direct.counts_impl(RequestContext(), "", "run", "curves", step=2)
    assert again["wall_times"] == latest["wall_times"]
    assert wire.decode_array(again["positive"]).tolist() == wire.decode_array(latest["positive"]).tolist()
    rewritten = direct.counts_impl(RequestContext(), "", "run", "curves", step=1)
    expected = summary.threshold_curves_pb("curves", labels, np.array(scores["rewritten 1"]))
    assert_served_step(rewritten, 0, decode_summary(expected))
