"""End to end: Keras `fit` with the callback writes event files that a real TensorBoard serves."""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np
import pytest

import tb_metrics_plugin as tbm
from tb_metrics_plugin import metadata
from tests.conftest import tiny_binary_model

pytestmark = pytest.mark.slow  # a 150-epoch fit and tensorboard processes

EPOCHS = 150


@pytest.fixture(scope="module")
def long_run_logdir(tmp_path_factory, breast_cancer):
    """A 150-epoch fit with compiled metrics, Keras' TensorBoard callback and ours."""
    (x_train, y_train), (x_val, y_val) = breast_cancer
    logdir = tmp_path_factory.mktemp("long") / "logs"
    run = logdir / "run1"
    model = tiny_binary_model(x_train.shape[1])
    model.compile(
        optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy",
        metrics=[tbm.ThresholdCurves(), tbm.ConfusionMatrix()],
    )
    model.fit(
        x_train[:64], y_train[:64], batch_size=64, epochs=EPOCHS, verbose=0,
        validation_data=(x_val[:64], y_val[:64]),
        callbacks=[
            keras.callbacks.TensorBoard(str(run)),
            tbm.MetricsCallback(str(run), class_names=["benign", "malignant"]),
        ],
    )
    return logdir


def test_every_epoch_is_listed_by_both_loaders(long_run_logdir, start_tensorboard, load_fast):
    server = start_tensorboard(long_run_logdir, load_fast)
    path = f"/data/plugin/{metadata.PLUGIN_NAME}/tags"

    def complete(listing):
        return all(
            listing.get(f"run1/{split}", {}).get(tag, {}).get("num_steps") == EPOCHS
            for split in ("train", "validation") for tag in ("threshold_curves", "confusion_matrix")
        )

    listing = server.wait_until(complete, path, timeout=90)
    validation = listing["run1/validation"]
    assert validation["threshold_curves"]["steps"] == list(range(EPOCHS))
    assert validation["threshold_curves"]["kind"] == metadata.KIND_THRESHOLD_CURVES
    assert validation["threshold_curves"]["class_names"] == ["malignant"]
    assert validation["confusion_matrix"]["class_names"] == ["benign", "malignant"]
    assert validation["confusion_matrix"]["kind"] == metadata.KIND_CONFUSION_MATRIX
    # The plugin is registered as a tab.
    plugins = server.get("/data/plugins_listing")
    assert plugins[metadata.PLUGIN_NAME]["enabled"] is True
    assert plugins[metadata.PLUGIN_NAME]["tab_name"] == "Threshold metrics"


def test_explicit_samples_per_plugin_wins(long_run_logdir, start_tensorboard, load_fast):
    """The loader only sets a default: a user's `--samples_per_plugin tb_metrics=N` is kept."""
    server = start_tensorboard(
        long_run_logdir, load_fast, extra_args=["--samples_per_plugin", f"{metadata.PLUGIN_NAME}=5"]
    )
    path = f"/data/plugin/{metadata.PLUGIN_NAME}/tags"
    listing = server.wait_until(
        lambda answer: answer.get("run1/validation", {}).get("threshold_curves", {}).get("max_step") == EPOCHS - 1,
        path,
    )
    steps = listing["run1/validation"]["threshold_curves"]["steps"]
    assert len(steps) == 5
    assert steps[-1] == EPOCHS - 1  # reservoir sampling always keeps the latest step


def test_loader_fix_flags_defaults_to_keep_all():
    from tensorboard.plugins.core import core_plugin

    from tb_metrics_plugin.plugin import MetricsLoader

    parser = argparse.ArgumentParser()
    core_plugin.CorePluginLoader().define_flags(parser)
    flags = parser.parse_args(["--logdir", "x"])
    MetricsLoader().fix_flags(flags)
    assert flags.samples_per_plugin == {metadata.PLUGIN_NAME: 0}
    flags = parser.parse_args(["--logdir", "x", "--samples_per_plugin", f"{metadata.PLUGIN_NAME}=7,scalars=3"])
    MetricsLoader().fix_flags(flags)
    assert flags.samples_per_plugin == {metadata.PLUGIN_NAME: 7, "scalars": 3}


def test_loader_turns_on_multifile_reloading_unless_the_user_set_it():
    from tensorboard.plugins.core import core_plugin

    from tb_metrics_plugin.plugin import MetricsLoader

    parser = argparse.ArgumentParser()
    core_plugin.CorePluginLoader().define_flags(parser)
    flags = parser.parse_args(["--logdir", "x"])
    MetricsLoader().fix_flags(flags)
    assert flags.reload_multifile is True
    for given in ("false", "true"):
        flags = parser.parse_args(["--logdir", "x", "--reload_multifile", given])
        MetricsLoader().fix_flags(flags)
        assert flags.reload_multifile is (given == "true")


def test_new_epochs_of_our_file_appear_when_keras_file_sorts_after_it(tmp_path, start_tensorboard, load_fast):
    """Our writer and Keras' TensorBoard callback append to two event files of one run folder. The
    Python loader by default follows only the file whose name sorts last, here Keras'; the plugin's
    loader turns on --reload_multifile so that our later epochs still appear."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    from tb_metrics_plugin import SummaryWriter, summary

    run_dir = tmp_path / "logs" / "run" / "validation"
    labels, scores = np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.6, 0.4])
    ours = SummaryWriter(run_dir)
    ours.add_summary(summary.threshold_curves_pb("threshold_curves", labels, scores), step=0)
    ours.flush()
    (our_file,) = run_dir.iterdir()
    # A scalar file named to sort after ours, as Keras' `.v2` file does when both start in one second.
    scratch = tmp_path / "scratch"
    keras_like = EventFileWriter(str(scratch))
    scalar = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="epoch_loss", simple_value=0.5)])
    keras_like.add_event(event_pb2.Event(wall_time=time.time(), step=0, summary=scalar))
    keras_like.close()
    (scratch_file,) = scratch.iterdir()
    scratch_file.rename(run_dir / (our_file.name + ".keras.v2"))
    assert sorted(path.name for path in run_dir.iterdir())[-1].endswith(".keras.v2")

    server = start_tensorboard(tmp_path / "logs", load_fast)
    server.wait_until(lambda listing: "epoch_loss" in listing.get("run/validation", {}), "/data/plugin/scalars/tags")
    server.wait_until(lambda listing: listing.get("run/validation", {}).get("threshold_curves", {}).get("steps") == [0],
                      f"/data/plugin/{metadata.PLUGIN_NAME}/tags")
    ours.add_summary(summary.threshold_curves_pb("threshold_curves", labels, scores * 0.9), step=1)
    ours.flush()
    listing = server.wait_until(
        lambda listing: listing["run/validation"]["threshold_curves"].get("steps") == [0, 1],
        f"/data/plugin/{metadata.PLUGIN_NAME}/tags", timeout=20,
    )
    assert listing["run/validation"]["threshold_curves"]["num_steps"] == 2
    ours.close()
