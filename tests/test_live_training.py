"""TensorBoard processes on both loaders (`--reload_interval 1`) watching a Keras `fit` as it writes.

The child (`tests/training_child.py`) trains 8 epochs with `MetricsCallback`, pausing 1 s between
epochs, and records when each epoch's counts were flushed. While it trains, each TensorBoard's
`tags` and `counts` routes are polled every 0.2 s: the steps seen only grow, every answer holds
whole steps only (each class's histograms, and each confusion matrix, sum to the split's size), and
every epoch shows up within a few reload intervals of being written, none lost or duplicated.
"""

from __future__ import annotations

import time
import urllib.error

import numpy as np
import pytest

from tb_metrics_plugin import metadata, wire
from tests import training_child

pytestmark = pytest.mark.slow  # a training process watched by tensorboard processes

PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"
EPOCHS = 8
SECONDS_BETWEEN_EPOCHS = 1.0
RELOAD_INTERVAL = 1  # the `TensorBoardServer` fixture's --reload_interval
# An epoch must be listed this soon after its counts were flushed: a reload interval, plus a reload
# pass and the poll period, with room for a machine busy training (2 cores).
MAX_LATENCY_SECONDS = 6.0
RUNS_AND_TAGS = [(run, tag) for run in ("train", "validation") for tag in ("threshold_curves", "confusion_matrix")]


def whole_step_totals(answer) -> np.ndarray:
    """Per step, the distinct totals of its counts: one value per step when the step is whole."""
    if answer["kind"] == "threshold_curves":
        totals = wire.decode_array(answer["positive"]).sum(axis=2) + wire.decode_array(answer["negative"]).sum(axis=2)
        return totals
    return wire.decode_array(answer["matrix"]).sum(axis=(1, 2))[:, None]


class Watcher:
    """Polls one TensorBoard and checks every answer; `first_seen[(run, tag)][step]` is a wall time."""

    def __init__(self, server, sizes: dict[str, int]):
        self.server, self.sizes = server, sizes
        self.first_seen: dict[tuple[str, str], dict[int, float]] = {key: {} for key in RUNS_AND_TAGS}
        self.polls = self.counts_checked = 0

    def poll(self) -> None:
        try:
            listing = self.server.get(f"{PREFIX}/tags")
        except (urllib.error.URLError, ConnectionError):
            return  # still starting
        self.polls += 1
        now = time.time()
        for run, tag in RUNS_AND_TAGS:
            entry = listing.get(run, {}).get(tag)
            if entry is None:
                assert not self.first_seen[run, tag], f"{run}/{tag} disappeared"
                continue
            assert "error" not in entry, entry
            steps = entry["steps"]
            seen = self.first_seen[run, tag]
            # Only ever grows, in order, no gaps, no duplicates.
            assert steps == list(range(len(steps))) and len(steps) >= len(seen), (run, tag, steps, sorted(seen))
            for step in steps:
                seen.setdefault(step, now)
            self.check_counts(run, tag, steps)

    def check_counts(self, run: str, tag: str, listed: list[int]) -> None:
        answer = self.server.get(f"{PREFIX}/counts?run={run}&tag={tag}")
        steps = answer["steps"]
        # Read after `tags`: the same steps or more, never a step missing or twice.
        assert steps == list(range(len(steps))) and len(steps) >= len(listed), (run, tag, steps, listed)
        np.testing.assert_array_equal(whole_step_totals(answer), self.sizes[run], err_msg=f"{run}/{tag}: half a step")
        self.counts_checked += len(steps)


def test_each_epoch_appears_whole_and_soon_while_fit_writes(tmp_path, start_tensorboard):
    logdir, status_path = tmp_path / "logs", tmp_path / "status.json"
    logdir.mkdir()
    start_file = tmp_path / "start"
    # TensorFlow and TensorBoard start meanwhile; `fit` begins once both servers answer.
    process = training_child.start(logdir, status_path, epochs=EPOCHS, sleep=SECONDS_BETWEEN_EPOCHS,
                                   start_file=start_file)
    try:
        servers = {load_fast: start_tensorboard(logdir, load_fast) for load_fast in (True, False)}
        for server in servers.values():
            server.wait_until(lambda listing: listing == {}, f"{PREFIX}/tags", timeout=90)
        status = training_child.wait_for(process, status_path, lambda s: s["ready"])
        start_file.touch()
        sizes = {"train": status["train_size"], "validation": status["validation_size"]}
        watchers = {load_fast: Watcher(server, sizes) for load_fast, server in servers.items()}
        deadline = time.monotonic() + 240
        while True:
            for watcher in watchers.values():
                watcher.poll()
            status = training_child.read_status(status_path)
            everything_seen = all(
                len(seen) == EPOCHS for watcher in watchers.values() for seen in watcher.first_seen.values()
            )
            if status["done"] and everything_seen:
                break
            assert process.poll() in (None, 0), process.stderr.read()[-3000:]
            assert time.monotonic() < deadline, {k: w.first_seen for k, w in watchers.items()}
            time.sleep(0.2)
    finally:
        process.kill()
        process.wait(timeout=30)

    written = {int(epoch): when for epoch, when in status["written"].items()}
    assert sorted(written) == list(range(EPOCHS))
    report = {}
    for load_fast, watcher in watchers.items():
        latencies = [watcher.first_seen[key][epoch] - written[epoch] for key in RUNS_AND_TAGS for epoch in written]
        # `train` is flushed just before `validation`, and both before the child records the epoch.
        assert min(latencies) > -1.0, latencies
        assert max(latencies) < MAX_LATENCY_SECONDS, latencies
        report["rust_loader" if load_fast else "python_loader"] = (
            f"{watcher.polls} polls, {watcher.counts_checked} steps checked whole, latency write->listed "
            f"median {np.median(latencies):.2f} s, max {max(latencies):.2f} s"
        )
    print(report)
