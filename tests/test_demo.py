"""The demo runs end to end and leaves logs that TensorBoard's event reader finds with our tags."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from tb_metrics_plugin import core, layout, metadata

pytestmark = pytest.mark.slow  # the demo trains five models

EPOCHS = 3
BOTH_TAGS = {"threshold_curves", "confusion_matrix"}
# Runs each task writes our summaries to: compiled metrics give train and validation, the
# validation_data path (multilabel) gives validation only, and multi-label has no confusion matrix.
EXPECTED_TAGS = {
    "binary": {"train": BOTH_TAGS, "validation": BOTH_TAGS},
    "multiclass": {"train": BOTH_TAGS, "validation": BOTH_TAGS},
    "multilabel": {"validation": {"threshold_curves"}},
    "segmentation": {"train": BOTH_TAGS, "validation": BOTH_TAGS},
    "sliced": {"validation": BOTH_TAGS | {f"{tag}/texture={group}" for tag in BOTH_TAGS
                                          for group in ("low", "medium", "high")}},
}


@pytest.fixture(scope="module")
def demo_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("demo")
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run(
        [sys.executable, "-m", "tb_metrics_plugin.demo", "--logdir", str(logdir), "--epochs", str(EPOCHS)],
        capture_output=True, text=True, timeout=180, env=environment,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert f"tensorboard --logdir {logdir}" in completed.stdout
    return logdir


def _accumulator(run_dir) -> EventAccumulator:
    accumulator = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


@pytest.mark.parametrize(
    "task,run", [(task, run) for task, runs in EXPECTED_TAGS.items() for run in runs]
)
def test_each_run_holds_our_tags_for_every_epoch(demo_logdir, task, run):
    accumulator = _accumulator(demo_logdir / task / run)
    tags = set(accumulator.Tags()["tensors"])
    expected = EXPECTED_TAGS[task][run]
    assert expected <= tags, f"{task}/{run} has tensor tags {sorted(tags)}"
    for tag in expected:
        assert [event.step for event in accumulator.Tensors(tag)] == list(range(EPOCHS))
        plugin_data = accumulator.SummaryMetadata(tag).plugin_data
        assert plugin_data.plugin_name == metadata.PLUGIN_NAME


def test_multilabel_task_writes_only_validation(demo_logdir):
    train_tags = set(_accumulator(demo_logdir / "multilabel" / "train").Tags()["tensors"])
    assert not BOTH_TAGS & train_tags


def test_binary_validation_roc_auc_is_high_at_the_last_epoch(demo_logdir):
    accumulator = _accumulator(demo_logdir / "binary" / "validation")
    last_event = accumulator.Tensors("threshold_curves")[-1]
    content = accumulator.SummaryMetadata("threshold_curves").plugin_data.content
    counts = layout.decode(tensor_util.make_ndarray(last_event.tensor_proto), metadata.parse_plugin_metadata(content))
    assert counts.class_names == ("benign",)
    auc = core.roc_auc(counts.positive_histograms[0], counts.negative_histograms[0])
    assert auc > 0.9
    assert np.sum(counts.positive_histograms) + np.sum(counts.negative_histograms) == 170


def test_sliced_task_logs_texture_slices_that_partition_the_validation_set(demo_logdir):
    accumulator = _accumulator(demo_logdir / "sliced" / "validation")
    matrices = {}
    for tag in ("confusion_matrix", *(f"confusion_matrix/texture={group}" for group in ("low", "medium", "high"))):
        plugin_data = metadata.parse_plugin_metadata(accumulator.SummaryMetadata(tag).plugin_data.content)
        last = accumulator.Tensors(tag)[-1]
        matrices[tag] = layout.decode(tensor_util.make_ndarray(last.tensor_proto), plugin_data).matrix
        if tag != "confusion_matrix":
            assert plugin_data.slice == metadata.SliceInfo("confusion_matrix", "texture", tag.rpartition("=")[2])
    overall = matrices.pop("confusion_matrix")
    np.testing.assert_array_equal(sum(matrices.values()), overall)
    assert all(matrix.sum() >= 30 for matrix in matrices.values())  # MIN_SLICE_SAMPLES: no warning needed
