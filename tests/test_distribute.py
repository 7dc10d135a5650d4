"""Distributed training: MirroredStrategy counts equal single-device counts; only the chief writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import tb_metrics_plugin as tbm
from tests.conftest import tiny_binary_model
from tests.readback import read_run

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    """Runs tests/distribute_scenario.py in a fresh interpreter (logical devices need a new TF)."""
    log_dir = tmp_path_factory.mktemp("mirrored") / "logs"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    completed = subprocess.run(
        [sys.executable, "-m", "tests.distribute_scenario", str(log_dir)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_scenario_really_ran_on_two_replicas(mirrored):
    assert mirrored["replicas"] == 2
    assert mirrored["devices"] == ["/device:CPU:0", "/device:CPU:1"]
    assert mirrored["validation_steps"] == mirrored["train_steps"] == [0, 1]


@pytest.mark.parametrize("key", ["positive", "negative", "matrix"])
def test_mirrored_counts_equal_single_device_counts(mirrored, key):
    mirrored_state = np.array(mirrored["mirrored_state"][key])
    # Replicas' partial counts are summed: nothing is lost or counted twice.
    np.testing.assert_array_equal(mirrored_state, np.array(mirrored["single_state"][key]))
    np.testing.assert_array_equal(mirrored_state, np.array(mirrored["numpy_writer"][key]))
    # What the callback wrote is that aggregated state.
    np.testing.assert_array_equal(np.array(mirrored["written"][key]), mirrored_state)


def test_mirrored_totals(mirrored):
    num_validation = mirrored["num_validation"]
    positive = np.array(mirrored["written"]["positive"])
    negative = np.array(mirrored["written"]["negative"])
    assert positive.shape[0] == 3
    assert positive.sum() == num_validation  # one positive class per sample
    assert negative.sum() == 2 * num_validation
    assert np.array(mirrored["written"]["matrix"]).sum() == num_validation
    assert mirrored["train_matrix_total"] == mirrored["num_train"]


CLUSTER_WITH_CHIEF = {"chief": ["host0:2222"], "worker": ["host1:2222", "host2:2222"], "evaluator": ["host3:2222"]}
CLUSTER_OF_WORKERS = {"worker": ["host0:2222", "host1:2222"]}

CHIEF_CASES = [
    pytest.param(None, True, id="no_TF_CONFIG"),
    pytest.param({"cluster": CLUSTER_WITH_CHIEF, "task": {"type": "chief", "index": 0}}, True, id="chief"),
    pytest.param({"cluster": CLUSTER_OF_WORKERS, "task": {"type": "worker", "index": 0}}, True, id="worker0_no_chief"),
    pytest.param({"cluster": CLUSTER_OF_WORKERS, "task": {"type": "worker", "index": 1}}, False, id="worker1"),
    pytest.param({"cluster": CLUSTER_WITH_CHIEF, "task": {"type": "worker", "index": 0}}, False,
                 id="worker0_with_chief"),
    pytest.param({"cluster": CLUSTER_WITH_CHIEF, "task": {"type": "evaluator", "index": 0}}, False, id="evaluator"),
]


@pytest.mark.parametrize("tf_config, writes", CHIEF_CASES)
@pytest.mark.parametrize("path", ["compiled", "validation_data"])
def test_only_the_chief_writes(tmp_path, monkeypatch, breast_cancer, tf_config, writes, path):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model = tiny_binary_model(x_train.shape[1])
    compiled = path == "compiled"
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=[tbm.ThresholdCurves(), tbm.ConfusionMatrix()] if compiled else [])
    log_dir = tmp_path / "logs"
    callback = tbm.MetricsCallback(log_dir, None if compiled else (x_val[:40], y_val[:40]))
    model.fit(x_train[:32], y_train[:32], epochs=2, verbose=0, callbacks=[callback],
              validation_data=(x_val[:40], y_val[:40]) if compiled else None)
    if writes:
        written = read_run(log_dir / "validation")
        assert sorted(written["threshold_curves"]) == sorted(written["confusion_matrix"]) == [0, 1]
        assert written["confusion_matrix"][1].matrix.sum() == 40
    else:
        assert not log_dir.exists() or list(log_dir.rglob("*")) == []


def test_chief_rule_is_read_at_every_epoch(tmp_path, monkeypatch, breast_cancer):
    """A worker that becomes non-chief mid-run (TF_CONFIG changed) stops writing: the check is live."""
    (x_train, y_train), (x_val, y_val) = breast_cancer
    monkeypatch.delenv("TF_CONFIG", raising=False)
    model = tiny_binary_model(x_train.shape[1])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[tbm.ThresholdCurves()])
    demote = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": CLUSTER_OF_WORKERS, "task": {"type": "worker", "index": 1}})))
    model.fit(x_train[:32], y_train[:32], epochs=3, verbose=0, validation_data=(x_val[:40], y_val[:40]),
              callbacks=[tbm.MetricsCallback(tmp_path), demote])
    assert sorted(read_run(tmp_path / "validation")["threshold_curves"]) == [0]


def test_every_worker_reads_the_metric_state_and_only_the_chief_writes(tmp_path, monkeypatch, breast_cancer):
    """Under a multi-worker strategy reading sync-on-read metric variables can be a collective that
    needs every worker, so a non-chief worker reads the state at each epoch end exactly as the chief
    does (training part and validation part) and then writes nothing."""
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER_OF_WORKERS, "task": {"type": "worker", "index": 1}}))
    reads = []
    original = tbm.ThresholdCurves.histogram_values
    monkeypatch.setattr(tbm.ThresholdCurves, "histogram_values",
                        lambda metric: reads.append(metric.name) or original(metric))
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model = tiny_binary_model(x_train.shape[1])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[tbm.ThresholdCurves()])
    model.fit(x_train[:32], y_train[:32], epochs=2, verbose=0, validation_data=(x_val[:40], y_val[:40]),
              callbacks=[tbm.MetricsCallback(tmp_path / "logs")])
    assert reads == ["threshold_curves"] * 4  # per epoch: the training snapshot, then validation
    assert not (tmp_path / "logs").exists()
