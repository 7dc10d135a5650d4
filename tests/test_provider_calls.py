"""The data-provider calls on the tab's first path, on both loaders: a cold `tags` listing reads
every run/tag together, and the counts of the listed latest step take one call.

Each call to the Rust data server costs a round trip (about 40 ms when calls follow each other,
docs/benchmarks.md), so the number of calls, not the bytes, decided how long a 10-run logdir took
to list: two per run/tag before. The calls are counted on the real provider of a real app.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from tensorboard.context import RequestContext
from tensorboard.plugins import base_plugin

from tb_metrics_plugin import SummaryWriter, metadata, plugin, summary, wire
from tests.conftest import InProcessTensorBoard

RUNS = [f"run{index}/validation" for index in range(4)]
TAGS = ("threshold_curves", "confusion_matrix")
STEPS = 3


def _write(logdir) -> None:
    rng = np.random.default_rng(0)
    for run in RUNS:
        with SummaryWriter(logdir / run) as writer:
            for step in range(STEPS):
                labels = rng.integers(0, 3, size=200)
                scores = rng.dirichlet(np.ones(3), size=200)
                writer.add_summary(summary.threshold_curves_pb("threshold_curves", labels, scores), step=step)
                writer.add_summary(summary.confusion_matrix_pb("confusion_matrix", labels, scores), step=step)


@pytest.fixture(scope="module", params=[True, False], ids=["rust_loader", "python_loader"])
def board(request, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("calls")
    _write(logdir)
    board = InProcessTensorBoard(logdir, load_fast=request.param)
    board.load_fast = request.param
    deadline = time.monotonic() + 60
    # The app's own plugin instance waits for the data; the tests build fresh (cold) ones.
    while not all(board.client.get(f"/data/plugin/{metadata.PLUGIN_NAME}/tags").get_json()
                  .get(run, {}).get(tag, {}).get("num_steps") == STEPS for run in RUNS for tag in TAGS):
        assert time.monotonic() < deadline, "data not loaded in 60 s"
        time.sleep(0.2)
    yield board
    board.close()


@pytest.fixture
def calls(board, monkeypatch):
    """{method: number of calls} of the board's data provider from now on."""
    counted = {"list_tensors": 0, "read_tensors": 0}
    for name in counted:
        method = getattr(board.data_provider, name)

        def counting(*args, _method=method, _name=name, **kwargs):
            counted[_name] += 1
            return _method(*args, **kwargs)

        monkeypatch.setattr(board.data_provider, name, counting)
    return counted


def test_a_cold_tags_listing_reads_every_run_tag_together(board, calls):
    direct = plugin.MetricsPlugin(base_plugin.TBContext(data_provider=board.data_provider))
    listing = direct.tags_impl(RequestContext(), "")
    assert {run: sorted(tags) for run, tags in listing.items()} == {run: sorted(TAGS) for run in RUNS}
    assert all(entry["steps"] == list(range(STEPS)) for tags in listing.values() for entry in tags.values())
    # Through the data server: the last step of all, then every step of all; the Python loader: one read.
    assert calls == {"list_tensors": 1, "read_tensors": 2 if board.load_fast else 1}
    direct.tags_impl(RequestContext(), "")
    assert calls == {"list_tensors": 2, "read_tensors": 2 if board.load_fast else 1}  # the step cache


def test_the_listed_latest_step_is_read_in_one_call_and_equals_the_whole_runs_last(board, calls):
    direct = plugin.MetricsPlugin(base_plugin.TBContext(data_provider=board.data_provider))
    direct.tags_impl(RequestContext(), "")
    before = dict(calls)
    for tag in TAGS:
        latest = direct.counts_impl(RequestContext(), "", RUNS[1], tag, step=STEPS - 1)
        assert latest["steps"] == [STEPS - 1]
        whole = direct.counts_impl(RequestContext(), "", RUNS[1], tag)
        field = "positive" if tag == "threshold_curves" else "matrix"
        assert wire.decode_array(latest[field])[0].tolist() == wire.decode_array(whole[field])[-1].tolist()
    after_latest_reads = {name: calls[name] - before[name] for name in calls}
    # Per tag: the latest step (one read, no listing), then the whole run (one listing, its reads).
    whole_reads = 2 if board.load_fast else 1
    assert after_latest_reads == {"list_tensors": len(TAGS), "read_tensors": len(TAGS) * (1 + whole_reads)}
