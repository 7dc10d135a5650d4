"""A real Keras `fit` writes epochs while TensorBoard and the tab, following the latest epoch, are open.

Extends `test_live.py` (steps written by the test itself) to a training process: the fit runs in a subprocess that waits
for the test's go-ahead before each epoch after the first and notes when each epoch's summaries
are flushed, so the delay until the page shows that epoch is measured from the write, and no
epoch can be skipped over by a fast fit.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time

import pytest

from tb_metrics_plugin import metadata
from tests.browser import expected
from tests.readback import read_run

EPOCHS = 4
RUN = "live/validation"
THRESHOLD = 0.5  # the tab's default threshold
# The longest poll period of the frontend (live.js POLL_MAX_MS, reached while no epoch comes in),
# TensorBoard's --reload_interval (1 s in TensorBoardServer) a few times over, and slack for a busy
# 2-core machine.
POLL_MAX_S = 30.0
MAX_DELAY_S = POLL_MAX_S + 3 * 1.0 + 7.0
READOUT = ("threshold", "precision", "recall", "f1", "accuracy", "tp", "fp", "tn", "fn")

# Trains a sigmoid classifier on scikit-learn's breast-cancer data with the compiled metrics, as the
# README shows; epoch e > 0 starts once the file go-<e> exists, and written-<e> (holding the time) is
# created after MetricsCallback flushed epoch e.
TRAINING_SCRIPT = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import keras
    from sklearn.datasets import load_breast_cancer
    import tb_metrics_plugin as tbm

    log_dir, signal_dir, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    features, labels = load_breast_cancer(return_X_y=True)
    features = ((features - features.mean(0)) / features.std(0)).astype("float32")
    labels = labels.astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((features.shape[1],)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="binary_crossentropy",
                  metrics=[tbm.ThresholdCurves(), tbm.ConfusionMatrix()])

    def wait_for_go(epoch, logs=None):
        deadline = time.monotonic() + 120
        while epoch > 0 and not os.path.exists(os.path.join(signal_dir, f"go-{epoch}")):
            if time.monotonic() > deadline:
                sys.exit(f"no go-ahead for epoch {epoch} within 120 s")
            time.sleep(0.05)

    def note_written(epoch, logs=None):
        with open(os.path.join(signal_dir, f"written-{epoch}"), "w") as file:
            file.write(repr(time.time()))

    model.fit(features[:400], labels[:400], batch_size=64, epochs=epochs, verbose=0,
              validation_data=(features[400:], labels[400:]),
              callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=wait_for_go),
                         keras.callbacks.TensorBoard(os.path.join(log_dir, "live")),
                         tbm.MetricsCallback(os.path.join(log_dir, "live"), class_names=["benign", "malignant"]),
                         keras.callbacks.LambdaCallback(on_epoch_end=note_written)])
""")


def _wait_for_file(path, process, timeout: float) -> float:
    """The time written in `path` once it exists; fails if the training process died first."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if process.poll() is not None:
            raise AssertionError(f"training exited with {process.returncode}: {_output(process)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{os.path.basename(path)} did not appear within {timeout} s")
        time.sleep(0.05)
    time.sleep(0.02)  # the time is written right after the file is created
    return float(open(path).read())


def _shown(plugin_page) -> dict:
    """The epoch, the slider's range, the logged-steps note and the readout values, read at once."""
    return plugin_page.frame.evaluate(
        """() => {
             const slider = document.querySelector('[data-testid=epoch-slider]');
             const epoch = document.querySelector('[data-testid=epoch-value]');
             const metrics = {};
             for (const cell of document.querySelectorAll('[data-testid=readout] [data-metric]')) {
               if (!(cell.dataset.metric in metrics)) metrics[cell.dataset.metric] = Number(cell.dataset.value);
             }
             const loading = [...document.querySelectorAll('[data-testid=loading]')]
               .some((node) => node.offsetWidth || node.offsetHeight);
             return {epoch: epoch.textContent.trim(), max: slider.max, steps: epoch.title, metrics, loading,
                     follow: document.querySelector('[data-testid=follow-latest]').checked};
           }"""
    )


@pytest.fixture
def training(tmp_path):
    """Starts the training subprocess (`start()`), stops it at the end if it is still running."""
    started = []

    def start(logdir, signal_dir):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        # Output goes to a file: a full pipe would stall the training.
        output = open(tmp_path / "training.log", "w+")
        process = subprocess.Popen(
            [sys.executable, "-c", TRAINING_SCRIPT, str(logdir), str(signal_dir), str(EPOCHS)],
            stdout=output, stderr=subprocess.STDOUT, text=True, env=env,
        )
        process.output_path = output.name
        started.append((process, output))
        return process

    yield start
    for process, output in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        output.close()


def _output(process) -> str:
    return open(process.output_path).read()[-3000:]


def test_follow_latest_shows_each_epoch_of_a_running_fit_with_the_cores_numbers(
        start_tensorboard, page_on, training, tmp_path):
    """One fit, watched at once through both loaders (a TensorBoard and a page each)."""
    logdir, signals = tmp_path / "logs", tmp_path / "signals"
    logdir.mkdir()
    signals.mkdir()
    began = time.monotonic()
    process = training(logdir, signals)
    servers = {"rust_loader": start_tensorboard(logdir, True), "python_loader": start_tensorboard(logdir, False)}
    _wait_for_file(signals / "written-0", process, timeout=120)
    first_epoch_s = time.monotonic() - began
    pages = {}
    for loader, server in servers.items():
        server.wait_until(lambda listing: listing.get(RUN, {}).get("threshold_curves", {}).get("num_steps") == 1,
                          f"/data/plugin/{metadata.PLUGIN_NAME}/tags")
        pages[loader] = page = page_on(server).open()
        page.show(RUN, "threshold_curves", "0")
        assert page.testid("follow-latest").is_checked(), "following the latest epoch is the default"
        page.wait_until(lambda page=page: page.epoch() == 0, f"epoch 0 ({loader})")

    pages_open_s = time.monotonic() - began
    history = {loader: [] for loader in pages}  # every distinct state each page showed, in order
    delays = {loader: {} for loader in pages}
    readouts = {loader: {} for loader in pages}
    for epoch in range(1, EPOCHS):
        (signals / f"go-{epoch}").touch()
        written = _wait_for_file(signals / f"written-{epoch}", process, timeout=60)
        waiting = set(pages)
        while waiting:
            for loader in sorted(waiting):
                page = pages[loader]
                state = _shown(page)
                if not history[loader] or state != history[loader][-1]:
                    history[loader].append(state)
                # The readout of the new epoch, once it is drawn (no loading indicator).
                if state["epoch"] == str(epoch) and not state["loading"] and "precision" in state["metrics"]:
                    delays[loader][epoch] = round(time.time() - written, 2)
                    page.wait_idle()
                    readouts[loader][epoch] = _shown(page)
                    waiting.discard(loader)
                assert time.time() < written + MAX_DELAY_S, (
                    f"{loader}: epoch {epoch} not shown {MAX_DELAY_S} s after it was written; the page shows {state}")
            time.sleep(0.1)
    assert process.wait(timeout=60) == 0, _output(process)
    print(f"epoch 0 written after {first_epoch_s:.1f} s, pages open after {pages_open_s:.1f} s, "
          f"fit done after {time.monotonic() - began:.1f} s; epoch shown after its write (s): {delays}")

    written_counts = read_run(logdir / RUN)["threshold_curves"]
    assert sorted(written_counts) == list(range(EPOCHS))
    for loader, server in servers.items():
        # The page only ever moved forward, one epoch at a time, and kept following.
        shown_epochs = [int(state["epoch"]) for state in history[loader]]
        assert shown_epochs == sorted(shown_epochs) and set(shown_epochs) == set(range(EPOCHS)), (loader, shown_epochs)
        assert all(state["follow"] for state in history[loader]), loader
        # The routes hold each epoch once.
        listing = server.get(f"/data/plugin/{metadata.PLUGIN_NAME}/tags")
        for run in ("live/train", RUN):
            for tag in ("threshold_curves", "confusion_matrix"):
                assert listing[run][tag]["steps"] == list(range(EPOCHS)), (loader, run, tag, listing[run][tag])
        # The slider and the logged-steps note of each epoch; the numbers are the core's on its counts.
        for epoch, state in readouts[loader].items():
            assert state["max"] == str(epoch), (loader, state)
            assert state["steps"] == f"Logged steps: 0…{epoch} ({epoch + 1})", (loader, state["steps"])
            curves = written_counts[epoch]
            # Resolved as the tab does (format v2): floor for an exact class, nearest on a grid.
            want = expected.metrics_at_threshold(curves, "0", THRESHOLD)
            shown = state["metrics"]
            wrong = {name: (shown.get(name), want[name]) for name in READOUT
                     if not math.isclose(shown.get(name, math.nan), want[name], rel_tol=1e-9, abs_tol=1e-12)}
            assert not wrong, f"{loader}, epoch {epoch}: readout (shown, core) differs: {wrong}"
            assert sum(shown[name] for name in ("tp", "fp", "tn", "fn")) == 169  # the validation split
