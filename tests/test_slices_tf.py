"""Slices written through TensorFlow: the summary ops (eager and inside tf.function) and
`MetricsCallback(validation_data, slices=...)` in a real short fit, per slice against scikit-learn
on the slice's subset of the same predictions and against the numpy writer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn import metrics as skm

import tb_metrics_plugin as tbm
from tb_metrics_plugin import callback as callback_module
from tb_metrics_plugin import core, fairness
from tests.conftest import tiny_binary_model
from tests.readback import assert_same_curves, assert_same_matrix, read_run, reference_curves, reference_matrix


def group_of(n: int) -> np.ndarray:
    return np.array(["a", "b", "c"])[np.arange(n) % 3]


def assert_slices_match_scikit_learn(written: dict, labels, scores, group, step: int) -> None:
    for value in np.unique(group):
        subset = group == value
        counts = written[f"threshold_curves/group={value}"][step]
        tolerance = 1e-9 if counts.exact[0] else 2e-3
        assert core.roc_auc(counts.positive_histograms, counts.negative_histograms)[0] == pytest.approx(
            skm.roc_auc_score(labels[subset], scores[subset]), abs=tolerance)
        assert core.average_precision(counts.positive_histograms, counts.negative_histograms)[0] == pytest.approx(
            skm.average_precision_score(labels[subset], scores[subset]), abs=5 * tolerance)
        if counts.exact[0]:
            tp, fp, tn, fn = (float(v[0]) for v in fairness.counts_at_threshold(counts, 0.5))
            (sk_tn, sk_fp), (sk_fn, sk_tp) = skm.confusion_matrix(labels[subset], scores[subset] > np.float32(0.5))
            assert (tp, fp, tn, fn) == (sk_tp, sk_fp, sk_tn, sk_fn)
        matrix = written[f"confusion_matrix/group={value}"][step].matrix
        np.testing.assert_array_equal(matrix, skm.confusion_matrix(
            labels[subset], (scores[subset] > np.float32(0.5)).astype(int), labels=[0, 1]))


@pytest.mark.parametrize("in_function", [False, True], ids=["eager", "tf_function"])
def test_summary_ops_write_each_slice(tmp_path, in_function):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.clip(0.3 + 0.4 * labels + rng.normal(0, 0.25, 300), 0, 1).astype(np.float32)
    group = group_of(300)
    site = np.arange(300) % 4
    writer = tf.summary.create_file_writer(str(tmp_path))

    def write(labels_tensor, scores_tensor):
        tbm.summary.threshold_curves("threshold_curves", labels_tensor, scores_tensor, step=0,
                                     slices={"group": group, "site": site})
        return tbm.summary.confusion_matrix("confusion_matrix", labels_tensor, scores_tensor, step=0,
                                            slices={"group": group})

    with writer.as_default():
        wrote = (tf.function(write) if in_function else write)(tf.constant(labels), tf.constant(scores))
    writer.close()
    assert bool(wrote)
    written = read_run(tmp_path)
    assert set(written) == {"threshold_curves", "confusion_matrix", *(f"threshold_curves/group={g}" for g in "abc"),
                            *(f"threshold_curves/site={s}" for s in range(4)),
                            *(f"confusion_matrix/group={g}" for g in "abc")}
    assert_slices_match_scikit_learn(written, labels, scores, group, step=0)
    for value in range(4):
        subset = site == value
        assert_same_curves(written[f"threshold_curves/site={value}"][0],
                           reference_curves(labels[subset], scores[subset]))


def test_summary_op_refuses_symbolic_slices_and_bad_lengths(tmp_path):
    labels, scores = tf.constant([0, 1, 1]), tf.constant([0.2, 0.7, 0.6])
    writer = tf.summary.create_file_writer(str(tmp_path))

    @tf.function
    def symbolic(group):
        return tbm.summary.threshold_curves("curves", labels, scores, step=0, slices={"g": group})

    with writer.as_default():
        with pytest.raises(ValueError, match=r"slices\['g'\] is a symbolic tensor inside tf.function"):
            symbolic(tf.constant(["a", "b", "a"]))
        with pytest.raises(ValueError, match=r"slices\['g'\] has shape \(2,\) but there are 3 samples"):
            tbm.summary.threshold_curves("curves", labels, scores, step=0, slices={"g": ["a", "b"]})
        # an eager string tensor is read as text
        assert bool(tbm.summary.threshold_curves("curves", labels, scores, step=0,
                                                 slices={"g": tf.constant(["a", "b", "a"])}))
    writer.close()
    assert "curves/g=a" in read_run(tmp_path)


@pytest.mark.slow  # real Keras fits
@pytest.mark.parametrize("block_items", [None, 40], ids=["one_block", "blocks_of_2_batches"])
def test_callback_writes_slices_of_validation_data_in_a_real_fit(tmp_path, monkeypatch, breast_cancer, block_items):
    """One block: each slice is exact, as scikit-learn on its subset. Blocks of 2 batches: each slice
    is counted on the grid, block by block, equal to the numpy writer's grid counts of the subset."""
    if block_items is not None:
        monkeypatch.setattr(callback_module, "_BLOCK_ITEMS", block_items)
    (x_train, y_train), (x_val, y_val) = breast_cancer
    group = group_of(len(y_val))
    model = tiny_binary_model(x_train.shape[1])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="binary_crossentropy")
    model.fit(x_train, y_train, epochs=2, verbose=0,
              callbacks=[tbm.MetricsCallback(tmp_path, validation_data=(x_val, y_val), slices={"group": group})])
    written = read_run(tmp_path / "validation")
    scores = model.predict(x_val, verbose=0)[:, 0]
    assert sorted(written["threshold_curves/group=b"]) == [0, 1]
    for value in "abc":
        subset = group == value
        counts = written[f"threshold_curves/group={value}"][1]
        assert bool(counts.exact[0]) == (block_items is None)
        assert_same_curves(counts, reference_curves(y_val[subset], scores[subset], exact=block_items is None))
        assert_same_matrix(written[f"confusion_matrix/group={value}"][1],
                           reference_matrix(y_val[subset], scores[subset]))
    assert_slices_match_scikit_learn(written, y_val, scores, group, step=1)


@pytest.mark.slow  # real Keras fits
def test_callback_slices_with_compiled_metrics_count_validation_from_validation_data(tmp_path, breast_cancer):
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model = tiny_binary_model(x_train.shape[1])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="binary_crossentropy",
                  metrics=[tbm.ThresholdCurves(), tbm.ConfusionMatrix()])
    group = group_of(len(y_val))
    model.fit(x_train, y_train, epochs=1, verbose=0, validation_data=(x_val, y_val),
              callbacks=[tbm.MetricsCallback(tmp_path, validation_data=(x_val, y_val), slices={"group": group})])
    assert "threshold_curves/group=a" in read_run(tmp_path / "validation")
    assert set(read_run(tmp_path / "train")) == {"threshold_curves", "confusion_matrix"}


def test_callback_refuses_slices_without_validation_data(tmp_path):
    with pytest.raises(ValueError, match=r"slices=.*needs validation_data"):
        tbm.MetricsCallback(tmp_path, slices={"group": ["a", "b"]})
    with pytest.raises(ValueError, match="one value per validation sample"):
        tbm.MetricsCallback(tmp_path, validation_data=([[0.0]], [0]), slices={"g": ["a", "b"], "h": ["a"]})
    with pytest.raises(ValueError, match="holds floats"):
        tbm.MetricsCallback(tmp_path, validation_data=([[0.0]], [0]), slices={"g": np.array([0.5])})


@pytest.mark.slow  # a real Keras fit
def test_callback_refuses_slices_of_the_wrong_length_at_epoch_end(tmp_path, breast_cancer):
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model = tiny_binary_model(x_train.shape[1])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    callback = tbm.MetricsCallback(tmp_path, validation_data=(x_val, y_val), slices={"g": group_of(len(y_val) - 1)})
    with pytest.raises(ValueError, match=r"slices\['g'\] has 168 values but validation_data yielded at least 169"):
        model.fit(x_train[:64], y_train[:64], epochs=1, verbose=0, callbacks=[callback])
    assert not read_run(tmp_path / "validation")
