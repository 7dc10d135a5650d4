"""Damaged logs through the real app on both loaders: everything readable is served, every damaged
tag is listed with an error naming the problem, refused with a 4xx JSON error, and logged once; a
tag with damaged steps beside good ones keeps its good steps and names the damaged ones.

The logdir holds one good run beside runs with: the last record of the event file cut short, a
record in the middle whose payload no longer parses, a count whose sign and exponent byte flipped
(a record that still parses: its CRC fails), a summary of a future format version, tensors whose
shape does not fit their metadata, a tensor of strings, and two empty run folders.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import struct
import time

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2
from tensorboard.util import tensor_util

from tb_metrics_plugin import SummaryWriter, layout, metadata, reading, summary
from tests.conftest import InProcessTensorBoard
from tests.readback import assert_served_step, decode_summary

PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"
STEPS = 5
DAMAGED_STEP = 2  # the record damaged in the middle of a file
NUM_THRESHOLDS = 16
CLASS_NAMES = ["negative", "positive"]

# run -> (tag, words the error must contain) for tags whose metadata or tensors do not fit.
UNREADABLE = {
    "future_version": ("threshold_curves", "summary format version 99 is newer than this plugin reads"),
    "wrong_rows": ("threshold_curves", "blob describes 3 classes but the metadata names 4"),
    "non_square": ("confusion_matrix", "tensor has shape (3, 2), expected (3, 3)"),
    "strings": ("threshold_curves", "tensor has dtype object and shape (2,); format version 2 stores one string"),
}
# Damage inside an event file is handled by TensorBoard's loaders before the plugin sees anything.
TRUNCATED, UNPARSABLE, FLIPPED = "truncated_last_record", "unparsable_record", "flipped_count"
EMPTY_RUNS = ("empty_folder", "empty_event_file")


def _step_summaries(step: int) -> dict[str, object]:
    """The good summaries of one step: 60 binary items whose scores sharpen with the step."""
    rng = np.random.default_rng(step)
    labels = rng.integers(0, 2, size=60)
    scores = np.clip(0.5 + (labels - 0.5) * (0.2 + 0.1 * step) + 0.2 * rng.normal(size=60), 0, 1)
    return {
        "threshold_curves": summary.threshold_curves_pb(
            "threshold_curves", labels, scores, num_thresholds=NUM_THRESHOLDS, class_names=CLASS_NAMES),
        "confusion_matrix": summary.confusion_matrix_pb("confusion_matrix", labels, scores, class_names=CLASS_NAMES),
    }


def _write_run(run_dir, tags=("threshold_curves", "confusion_matrix")) -> str:
    with SummaryWriter(run_dir) as writer:
        for step in range(STEPS):
            for tag in tags:
                writer.add_summary(_step_summaries(step)[tag], step)
    (path,) = run_dir.glob("events.out.tfevents.*")
    return str(path)


def _records(data: bytes) -> list[tuple[int, int]]:
    """(offset, payload length) of every TFRecord: u64 length, u32 CRC, payload, u32 CRC."""
    found, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset:offset + 8])
        found.append((offset, length))
        offset += 12 + length + 4
    return found


def _with_metadata(pb, **changes):
    content = json.loads(pb.value[0].metadata.plugin_data.content)
    pb.value[0].metadata.plugin_data.content = json.dumps({**content, **changes}).encode()
    return pb


def _write_one(run_dir, pb) -> None:
    with SummaryWriter(run_dir) as writer:
        writer.add_summary(pb, step=0)


def write_damaged_logdir(logdir) -> None:
    """The logdir described in the module docstring."""
    _write_run(logdir / "good")

    path = _write_run(logdir / TRUNCATED, tags=("threshold_curves",))
    with open(path, "rb") as file:
        data = file.read()
    with open(path, "wb") as file:
        file.write(data[:-30])  # the last step's record loses its end, as when a copy is cut short

    # Record 0 is the file-version event, record 1 + s is step s.
    for run, flip in ((UNPARSABLE, "payload start"), (FLIPPED, "blob byte")):
        path = _write_run(logdir / run, tags=("threshold_curves",))
        with open(path, "rb") as file:
            data = bytearray(file.read())
        offset, length = _records(bytes(data))[1 + DAMAGED_STEP]
        payload = slice(offset + 12, offset + 12 + length)
        if flip == "payload start":
            # The Event's first field tag becomes an invalid wire type: the record no longer parses.
            data[payload.start] ^= 0xFF
        else:
            # A byte in the middle of the step's blob (its compressed counts) flips: the record still
            # parses, only its CRC and the blob's own zlib checksum tell.
            event = event_pb2.Event.FromString(bytes(data[payload]))
            content = event.summary.value[0].tensor.string_val[0]
            at = payload.start + bytes(data[payload]).index(content) + len(content) // 2
            data[at] ^= 0xFF
        with open(path, "wb") as file:
            file.write(bytes(data))

    _write_one(logdir / "future_version", _with_metadata(_step_summaries(0)["threshold_curves"], version=99))
    three_classes = summary.threshold_curves_pb(
        "threshold_curves", [0, 1, 2, 1], np.eye(3)[[0, 1, 2, 2]] * 0.8 + 0.2 / 3, num_thresholds=NUM_THRESHOLDS)
    _write_one(logdir / "wrong_rows", _with_metadata(three_classes, class_names=["a", "b", "c", "d"]))
    matrix = summary.confusion_matrix_pb("confusion_matrix", [0, 1, 2], np.eye(3), class_names=["a", "b", "c"])
    matrix.value[0].tensor.CopyFrom(tensor_util.make_tensor_proto(layout.encode_confusion_matrix(np.ones((3, 2)))))
    _write_one(logdir / "non_square", matrix)
    strings = _step_summaries(0)["threshold_curves"]
    strings.value[0].tensor.CopyFrom(tensor_util.make_tensor_proto(np.array([b"1", b"x"], dtype=object)))
    _write_one(logdir / "strings", strings)

    (logdir / "empty_folder").mkdir()
    (logdir / "empty_event_file").mkdir()
    (logdir / "empty_event_file" / "events.out.tfevents.0.empty").write_bytes(b"")


@pytest.fixture(scope="module")
def damaged_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("damaged") / "logs"
    write_damaged_logdir(logdir)
    return logdir


@pytest.fixture(scope="module", params=[True, False], ids=["rust_loader", "python_loader"])
def board(request, damaged_logdir):
    """The real app on the damaged logdir, once every readable run is loaded."""
    board = InProcessTensorBoard(damaged_logdir, load_fast=request.param)
    board.load_fast = request.param
    expected_runs = {"good", TRUNCATED, UNPARSABLE, FLIPPED, *UNREADABLE}
    deadline = time.monotonic() + 60
    while True:
        listing = board.client.get(f"{PREFIX}/tags").get_json()
        if expected_runs <= set(listing) and all(
            listing[run][tag].get("num_steps") == steps
            for run, tag, steps in (("good", "threshold_curves", STEPS), ("good", "confusion_matrix", STEPS),
                                    (TRUNCATED, "threshold_curves", STEPS - 1),
                                    (UNPARSABLE, "threshold_curves", DAMAGED_STEP))
        ):
            break
        assert time.monotonic() < deadline, f"data not loaded in 60 s: {listing}"
        time.sleep(0.3)
    yield board
    board.close()


def get(board, route, **params):
    """(status, JSON or text) of one request; no answer of the plugin is ever a 5xx."""
    response = board.client.get(f"{PREFIX}/{route}", query_string=params)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.mimetype == "application/json" and route != "export":
        return response.status_code, response.get_json()
    return response.status_code, response.get_data(as_text=True)


def assert_counts_are(answer, position: int, step: int, tag: str) -> None:
    """The answer's `position`-th step holds exactly what was written at `step`."""
    assert answer["steps"][position] == step
    assert_served_step(answer, position, decode_summary(_step_summaries(step)[tag]))


# The good run is served whole -----------------------------------------------------------------------


def test_the_good_run_is_served_whole_beside_damaged_runs(board):
    _, listing = get(board, "tags")
    for tag in ("threshold_curves", "confusion_matrix"):
        entry = listing["good"][tag]
        assert "error" not in entry and entry["steps"] == list(range(STEPS)) and entry["class_names"]
        status, answer = get(board, "counts", run="good", tag=tag)
        assert status == 200
        for step in range(STEPS):
            assert_counts_are(answer, step, step, tag)
        status, answer = get(board, "summary", run="good", tag=tag)
        assert status == 200 and answer["steps"] == list(range(STEPS))
        status, text = get(board, "export", run="good", tag=tag, format="csv")
        rows = list(csv.DictReader(io.StringIO(text)))
        # threshold curves: one row per class (1) plus micro, macro, weighted; matrices: one row per step
        assert status == 200 and len(rows) == STEPS * (4 if tag == "threshold_curves" else 1)


# Tags whose metadata or tensors do not fit ----------------------------------------------------------


@pytest.mark.parametrize("run", sorted(UNREADABLE))
def test_a_damaged_tag_is_listed_with_an_error_and_refused_in_words(board, run):
    tag, words = UNREADABLE[run]
    _, listing = get(board, "tags")
    assert list(listing[run]) == [tag]
    assert words in listing[run][tag]["error"] and set(listing[run][tag]) == {"error"}
    for route, params in (("counts", {}), ("counts", {"step": "0"}), ("summary", {}),
                          ("export", {"format": "json"}), ("export", {"format": "csv", "content": "counts"})):
        response = board.client.get(f"{PREFIX}/{route}", query_string={"run": run, "tag": tag, **params})
        assert response.status_code == 422 and response.mimetype == "application/json", (route, params)
        assert response.get_json()["error"].startswith(f"run={run!r} tag={tag!r}: ")
        assert words in response.get_json()["error"]


def test_each_problem_is_logged_once_however_often_it_is_requested(board, caplog, monkeypatch):
    monkeypatch.setattr(reading, "_warned", set())  # forget warnings given while the board loaded
    with caplog.at_level(logging.WARNING, logger=reading.logger.name):
        for _ in range(3):
            get(board, "tags")
            for run, (tag, _words) in UNREADABLE.items():
                get(board, "counts", run=run, tag=tag)
                get(board, "summary", run=run, tag=tag)
            if board.load_fast:
                get(board, "counts", run=FLIPPED, tag="threshold_curves")
    warned = [record.getMessage() for record in caplog.records if record.name == reading.logger.name]
    damaged = {*UNREADABLE, *([FLIPPED] if board.load_fast else [])}
    assert len(warned) == len(damaged), warned
    for run in damaged:
        assert sum(f"run {run!r}" in message for message in warned) == 1, warned


# Damage inside event files ---------------------------------------------------------------------------


def test_a_truncated_last_record_leaves_every_complete_step(board):
    _, listing = get(board, "tags")
    assert listing[TRUNCATED]["threshold_curves"]["steps"] == list(range(STEPS - 1))
    _, answer = get(board, "counts", run=TRUNCATED, tag="threshold_curves")
    for step in range(STEPS - 1):
        assert_counts_are(answer, step, step, "threshold_curves")


def test_an_unparsable_record_stops_the_file_and_the_steps_before_it_are_intact(board):
    """Both loaders stop reading an event file at a record that fails its checksum: the steps
    before it are served intact, the damaged one and those after it are not served at all."""
    _, listing = get(board, "tags")
    expected = list(range(DAMAGED_STEP))
    assert listing[UNPARSABLE]["threshold_curves"]["steps"] == expected
    _, answer = get(board, "counts", run=UNPARSABLE, tag="threshold_curves")
    for position, step in enumerate(expected):
        assert_counts_are(answer, position, step, "threshold_curves")
    status, answer = get(board, "counts", run=UNPARSABLE, tag="threshold_curves", step=str(DAMAGED_STEP))
    assert status == 404 and f"step={DAMAGED_STEP} is not a stored step" in answer["error"]


def test_a_flipped_count_is_never_served_as_data(board):
    """The Python loader checks every record's CRC and stops at the bad one. The Rust data server
    skips the CRC of records that parse and passes the damaged tensor on: the plugin refuses that
    step (its blob does not decode), lists it in `damaged_steps` with a warning naming it, and serves every
    good step, alone and in whole-run answers."""
    _, listing = get(board, "tags")
    entry = listing[FLIPPED]["threshold_curves"]
    good_steps = list(range(DAMAGED_STEP)) if not board.load_fast else [s for s in range(STEPS) if s != DAMAGED_STEP]
    assert entry["steps"] == good_steps and entry["num_steps"] == len(good_steps)
    if board.load_fast:
        assert entry["damaged_steps"] == [DAMAGED_STEP]
        assert entry["warning"].startswith(
            f"1 of {STEPS} steps cannot be decoded and are left out: step={DAMAGED_STEP}: threshold_curves blob "
            "cannot be decoded")
        status, answer = get(board, "counts", run=FLIPPED, tag="threshold_curves", step=str(DAMAGED_STEP))
        assert status == 422 and "cannot be decoded" in answer["error"] and f"step={DAMAGED_STEP}" in answer["error"]
    else:
        assert "damaged_steps" not in entry and "warning" not in entry
    for route in ("counts", "summary"):
        status, answer = get(board, route, run=FLIPPED, tag="threshold_curves")
        assert status == 200 and answer["steps"] == good_steps
        assert answer["damaged_steps"] == ([DAMAGED_STEP] if board.load_fast else [])
    _, answer = get(board, "counts", run=FLIPPED, tag="threshold_curves")
    for position, step in enumerate(good_steps):
        assert_counts_are(answer, position, step, "threshold_curves")
    status, text = get(board, "export", run=FLIPPED, tag="threshold_curves", format="csv")
    assert status == 200 and {int(row["step"]) for row in csv.DictReader(io.StringIO(text))} == set(good_steps)
    for step in good_steps:
        status, answer = get(board, "counts", run=FLIPPED, tag="threshold_curves", step=str(step))
        assert status == 200
        assert_counts_are(answer, 0, step, "threshold_curves")
        status, text = get(board, "export", run=FLIPPED, tag="threshold_curves", format="csv", step=str(step))
        assert status == 200 and {row["step"] for row in csv.DictReader(io.StringIO(text))} == {str(step)}


def test_empty_run_folders_are_not_listed_and_not_found(board):
    _, listing = get(board, "tags")
    for run in EMPTY_RUNS:
        assert run not in listing
        status, answer = get(board, "counts", run=run, tag="threshold_curves")
        assert status == 404 and f"run={run!r} has no tb_metrics data" in answer["error"]


def test_a_damaged_step_written_after_good_ones_is_caught_despite_the_step_cache(tmp_path):
    """The listing keeps the steps it already checked (a new epoch is decoded alone); a damaged
    step that arrives later is still found and named, good steps after it are listed, and the
    good steps stay readable. A tag whose every step is damaged is listed with only an error."""
    from tensorboard.backend.event_processing import data_provider as multiplexer_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer
    from tensorboard.context import RequestContext
    from tensorboard.plugins import base_plugin

    from tb_metrics_plugin import plugin

    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={metadata.PLUGIN_NAME: 0})
    direct = plugin.MetricsPlugin(base_plugin.TBContext(
        data_provider=multiplexer_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))))
    problem = ("step=2: confusion_matrix tensor holds 1 negative or non-finite counts (first -1.0 at [0, 1]); "
               "counts are finite and non-negative, so this step of the log is damaged")
    # A negative count, as damage that still decodes would leave (weighted, so stored as floats).
    negative_count = tensor_util.make_tensor_proto(layout.encode_confusion_matrix(np.array([[3, -1], [0, 2.5]])))
    with SummaryWriter(tmp_path / "run", flush_secs=0.01) as writer, \
            SummaryWriter(tmp_path / "all_damaged", flush_secs=0.01) as all_damaged:
        for step in range(4):
            pb = _step_summaries(step)["confusion_matrix"]
            if step == 2:  # a negative count, as a flipped sign bit would leave
                pb.value[0].tensor.CopyFrom(negative_count)
            writer.add_summary(pb, step=step)
            writer.flush()
            multiplexer.AddRunsFromDirectory(str(tmp_path))
            multiplexer.Reload()
            listing = direct.tags_impl(RequestContext(), "")["run"]["confusion_matrix"]
            assert listing["steps"] == [s for s in range(step + 1) if s != 2]
            assert listing.get("damaged_steps", []) == ([2] if step >= 2 else [])
        pb.value[0].tensor.CopyFrom(negative_count)
        all_damaged.add_summary(pb, step=2)
    assert listing["warning"] == (
        f"1 of 4 steps cannot be decoded and are left out: {problem}; the log is damaged there.")
    answer = direct.counts_impl(RequestContext(), "", "run", "confusion_matrix")
    assert answer["steps"] == [0, 1, 3] and answer["damaged_steps"] == [2]
    assert direct.counts_impl(RequestContext(), "", "run", "confusion_matrix", step=1)["steps"] == [1]
    with pytest.raises(reading.UnreadableError, match="step=2"):
        direct.counts_impl(RequestContext(), "", "run", "confusion_matrix", step=2)
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    assert direct.tags_impl(RequestContext(), "")["all_damaged"] == {"confusion_matrix": {"error": problem}}
    with pytest.raises(reading.UnreadableError, match="step=2"):
        direct.counts_impl(RequestContext(), "", "all_damaged", "confusion_matrix")
