"""Distributed training: MirroredStrategy counts equal single-device counts; under a real two-process
MultiWorkerMirroredStrategy the workers' counts add up and only the chief writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import tb_metrics_plugin as tbm
from tests.conftest import _free_port, tiny_binary_model
from tests.readback import read_run

pytestmark = pytest.mark.slow  # two-process MultiWorkerMirroredStrategy clusters

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
    # One ThresholdCurves(confusion_matrix=True) under the strategy: the same sums, in one variable.
    np.testing.assert_array_equal(np.array(mirrored["one_metric_state"][key]), mirrored_state)


def test_raw_items_are_not_kept_under_a_strategy(mirrored):
    """Replicas would append into the same rows of their copies, and a read sums the copies: under
    a strategy `ThresholdCurves` keeps no raw items and writes its (summed) grid histograms, which
    the test above finds equal to one device's. Without a strategy the same data is kept raw."""
    assert mirrored["raw_items_kept"] == {"mirrored": False, "single": True}


def test_mirrored_fit_without_training_curves(mirrored):
    """training_curves=False under a strategy: every replica skips counting on training steps (the
    skip level is one value for all replicas), validation is counted and written as usual."""
    assert mirrored["no_training_curves"] == {
        "train_written": False, "validation_steps": [0, 1], "validation_equals_numpy_writer": True,
        "training_roc_auc_is_nan": True,
    }


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
    original = tbm.ThresholdCurves.summary_pb
    monkeypatch.setattr(tbm.ThresholdCurves, "summary_pb",
                        lambda metric, *args, **kwargs: reads.append(metric.tag) or original(metric, *args, **kwargs))
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model = tiny_binary_model(x_train.shape[1])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[tbm.ThresholdCurves()])
    model.fit(x_train[:32], y_train[:32], epochs=2, verbose=0, validation_data=(x_val[:40], y_val[:40]),
              callbacks=[tbm.MetricsCallback(tmp_path / "logs")])
    assert reads == ["threshold_curves"] * 4  # per epoch: the training snapshot, then validation
    assert not (tmp_path / "logs").exists()


def _run_two_workers(log_dir, *options: str) -> list[dict]:
    """Runs tests/multiworker_child.py as workers 0 and 1 of one cluster; their last output lines."""
    ports = [str(_free_port()), str(_free_port())]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    workers = [
        subprocess.Popen([sys.executable, "-m", "tests.multiworker_child", str(index), *ports, str(log_dir), *options],
                         cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for index in range(2)
    ]
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=180))
    finally:
        for worker in workers:
            worker.kill()
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr[-4000:]
    return [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]


def test_two_real_workers_add_up_their_counts_and_only_the_chief_writes(tmp_path):
    """Two processes form a MultiWorkerMirroredStrategy cluster on loopback (tests/multiworker_child.py:
    Keras cannot `fit` under it, so each worker runs fit's parts by hand). Each counts its shard of
    the 400 training samples with our compiled metrics; worker 0 (the chief) writes counts equal to a
    single-process count of all 400, worker 1 writes nothing. Worker 1 still reads the metric state:
    with a chief-only read the chief's read is an all-reduce that worker 1 never joins, and the
    cluster fails ("Shape mismatch in the collective instance", seen before the callback's fix)."""
    from tests.multiworker_child import EPOCHS
    from tests.readback import decode_summary

    log_dir = tmp_path / "logs"
    # Neither worker kept raw items (a strategy's variables are summed, not concatenated).
    assert _run_two_workers(log_dir) == [{"worker": 0, "replicas": 2, "raw_items_kept": False},
                                         {"worker": 1, "replicas": 2, "raw_items_kept": False}]

    assert sorted(path.name for path in log_dir.iterdir()) == ["reference.npz", "train"]
    assert len(list((log_dir / "train").iterdir())) == 1  # one event file: the chief's
    written = read_run(log_dir / "train")
    reference = np.load(log_dir / "reference.npz")
    # Under a multi-worker strategy the chief writes grid counts (raw scores are not kept there).
    expected_curves = decode_summary(tbm.summary.threshold_curves_pb(
        "threshold_curves", reference["labels"], reference["scores"], exact=False))
    expected_matrix = decode_summary(tbm.summary.confusion_matrix_pb(
        "confusion_matrix", reference["labels"], reference["scores"]))
    for epoch in range(EPOCHS):
        curves, matrix = written["threshold_curves"][epoch], written["confusion_matrix"][epoch]
        assert np.array_equal(curves.positive_histograms, expected_curves.positive_histograms)
        assert np.array_equal(curves.negative_histograms, expected_curves.negative_histograms)
        assert np.array_equal(matrix.matrix, expected_matrix.matrix)
        assert matrix.matrix.sum() == 400


def test_two_real_workers_refuse_validation_data_with_the_fix(tmp_path):
    """Predicting `validation_data` on the chief alone is a collective the other workers never join
    (it fails with a collective type mismatch), so every worker refuses it at on_train_begin and
    names compiled metrics as the fix; nothing is written."""
    answers = _run_two_workers(tmp_path / "logs", "--validation-data")
    assert [answer["worker"] for answer in answers] == [0, 1]
    for answer in answers:
        assert answer["refused"].startswith("MetricsCallback(validation_data=...) cannot predict under a multi-worker")
        assert "metrics=[tb_metrics_plugin.ThresholdCurves(confusion_matrix=True)]" in answer["refused"]
    assert not (tmp_path / "logs").exists()
