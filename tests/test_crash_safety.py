"""Killing the training process (SIGKILL) leaves a log that TensorBoard's real app and our routes
read on both loaders, with every completed epoch intact and nothing half-written served.

The child (`tests/training_child.py`) is a real Keras `fit` with `MetricsCallback` and compiled
metrics on the breast-cancer data (400 training, 169 validation samples); it records in a status
file each epoch whose counts were flushed. Each served step must be whole: every class's positive
plus negative histogram, and every confusion matrix, sums to the split's size.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from tb_metrics_plugin import metadata, wire
from tests import training_child
from tests.conftest import InProcessTensorBoard
from tests.readback import assert_served_step, read_run

pytestmark = pytest.mark.slow  # training processes killed mid-fit, then both loaders

PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"
TAGS = ("threshold_curves", "confusion_matrix")
RUNS = ("train", "validation")


def kill(process) -> None:
    process.kill()  # SIGKILL: no Python cleanup, no close() of the writers
    process.wait(timeout=30)


def split_size(status: dict, run: str) -> int:
    return status["train_size"] if run == "train" else status["validation_size"]


def served_steps(listing) -> dict[tuple[str, str], list[int]]:
    """{(run, tag): steps} of a `tags` answer, [] for a run/tag not listed yet."""
    return {(run, tag): listing.get(run, {}).get(tag, {}).get("steps", []) for run in RUNS for tag in TAGS}


def assert_steps_are_whole(server, run: str, tag: str, size: int, expected_steps: list[int]) -> dict:
    """Counts of every step of run/tag through the routes: whole steps only; returns the answer."""
    answer = server.get(f"{PREFIX}/counts?run={run}&tag={tag}")
    assert answer["steps"] == expected_steps, (run, tag)
    if tag == "threshold_curves":
        totals = wire.decode_array(answer["positive"]).sum(axis=2) + wire.decode_array(answer["negative"]).sum(axis=2)
    else:
        totals = wire.decode_array(answer["matrix"]).sum(axis=(1, 2))
    np.testing.assert_array_equal(totals, size, err_msg=f"{run}/{tag}: a step is not whole")
    summary = server.get(f"{PREFIX}/summary?run={run}&tag={tag}")
    assert summary["steps"] == expected_steps
    exported = server.get(f"{PREFIX}/export?run={run}&tag={tag}&format=csv").decode()
    assert exported.count("\n") == 1 + len(expected_steps) * (4 if tag == "threshold_curves" else 1)
    return answer


class LoadedApp:
    """TensorBoard's real WSGI app and data provider on one loader (`InProcessTensorBoard`), read once."""

    def __init__(self, logdir, load_fast: bool):
        self.load_fast = load_fast
        self.board = InProcessTensorBoard(logdir, load_fast)

    def get(self, path: str):
        response = self.board.client.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return response.get_json() if response.mimetype == "application/json" else response.get_data()

    def wait_until(self, predicate, path: str, timeout: float = 90.0):
        """Polls `path` until `predicate(json)` holds (the Rust data server loads in the background)."""
        deadline = time.monotonic() + timeout
        while not predicate(answer := self.get(path)):
            assert time.monotonic() < deadline, f"timed out waiting on {path}; last answer: {str(answer)[:2000]}"
            time.sleep(0.2)
        return answer


@pytest.fixture
def read_on_both_loaders():
    """`read_on_both_loaders(logdir)`: {load_fast: LoadedApp} for the Rust and the Python loader."""
    apps = []

    def read(logdir):
        apps.extend(LoadedApp(logdir, load_fast) for load_fast in (True, False))
        return {app.load_fast: app for app in apps[-2:]}

    yield read
    for app in apps:
        app.board.close()


def test_a_kill_mid_epoch_keeps_every_completed_epoch(tmp_path, read_on_both_loaders):
    """The child hangs after two batches of epoch 3 (epochs 0-2 written) and is SIGKILLed there."""
    logdir, status_path = tmp_path / "logs", tmp_path / "status.json"
    process = training_child.start(logdir, status_path, epochs=6, hang_in_epoch=3)
    try:
        status = training_child.wait_for(process, status_path, lambda s: s["hanging_in_epoch"] == 3)
    finally:
        kill(process)
    assert sorted(map(int, status["written"])) == [0, 1, 2]
    completed = [0, 1, 2]

    servers = read_on_both_loaders(logdir)
    for server in servers.values():
        server.wait_until(lambda listing: all(steps == completed for steps in served_steps(listing).values()),
                          f"{PREFIX}/tags")
    on_disk = {run: read_run(logdir / run) for run in RUNS}  # TensorBoard's EventAccumulator, a third reader
    for run in RUNS:
        for tag in TAGS:
            answers = [assert_steps_are_whole(server, run, tag, split_size(status, run), completed)
                       for server in servers.values()]
            assert sorted(on_disk[run][tag]) == completed
            for answer in answers:
                for position, step in enumerate(completed):
                    assert_served_step(answer, position, on_disk[run][tag][step])


@pytest.mark.parametrize("seed", [0])
def test_a_kill_at_a_random_moment_serves_whole_epochs_only(tmp_path, read_on_both_loaders, seed):
    """SIGKILL at a random moment of a fast `fit` (about 0.1-0.3 s an epoch): what is served is
    every epoch the child reported written, at most one more (killed after its flush, before its
    report), and every step of it whole."""
    rng = np.random.default_rng(seed)
    logdir, status_path = tmp_path / "logs", tmp_path / "status.json"
    process = training_child.start(logdir, status_path, epochs=200)
    try:
        training_child.wait_for(process, status_path, lambda s: len(s["written"]) >= 2)
        time.sleep(rng.uniform(0.0, 1.5))
    finally:
        kill(process)
    status = training_child.read_status(status_path)
    reported = sorted(map(int, status["written"]))
    assert reported == list(range(len(reported))) and not status["done"]

    servers = read_on_both_loaders(logdir)
    for load_fast, server in servers.items():
        listing = server.wait_until(
            lambda answer: all(len(steps) >= len(reported) for steps in served_steps(answer).values()),
            f"{PREFIX}/tags")
        for (run, tag), steps in served_steps(listing).items():
            assert steps[: len(reported)] == reported and len(steps) <= len(reported) + 1, (run, tag, steps)
            assert_steps_are_whole(server, run, tag, split_size(status, run), steps)
        print({"loader": "rust" if load_fast else "python", "epochs reported": len(reported),
               "steps served": {f"{run}/{tag}": len(steps) for (run, tag), steps in served_steps(listing).items()}})
