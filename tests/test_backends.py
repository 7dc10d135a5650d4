"""The compiled metrics and `MetricsCallback` on other Keras backends than TensorFlow: the same counts
as the numpy writer on the same predictions, and event files TensorBoard reads.

The backend is fixed when `keras` is imported, and this process runs TensorFlow; so each backend runs
tests/backend_child.py in a fresh interpreter with `KERAS_BACKEND` set, and this test compares what
it wrote.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.compat.proto import summary_pb2

import tb_metrics_plugin as tbm
from tests.datasets import breast_cancer_split
from tests.readback import (
    assert_same_curves,
    assert_same_matrix,
    decode_summary,
    read_run,
    reference_curves,
    reference_matrix,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT_SECONDS = 600  # the JAX child took 160 s on a loaded 2-core machine (eager compiles)
# (backend, module it needs, how to get it). Both are in requirements-dev.txt (PyTorch pinned to a CPU
# build); elsewhere a missing one skips its backend's tests.
BACKENDS = [
    pytest.param(name, marks=pytest.mark.skipif(importlib.util.find_spec(module) is None,
                                                reason=f"{module} is not installed: {how}"))
    for name, module, how in (
        ("jax", "jax", "pip install -r requirements-dev.txt"),
        ("torch", "torch", "install a CPU build of PyTorch (requirements-dev.txt pins one)"),
    )
]

# Child processes that import Keras under another backend and train: minutes, not seconds.
pytestmark = pytest.mark.slow


def _probabilities_on_grid(rng, shape) -> np.ndarray:
    """float32 scores in [0, 1], a fifth of them exactly on thresholds of the default grid (ties with `>`)."""
    grid = tbm.ThresholdCurves().thresholds
    scores = rng.random(shape, dtype=np.float32)
    flat = scores.reshape(-1)
    picks = rng.choice(flat.size, size=flat.size // 5, replace=False)
    flat[picks] = rng.choice(grid, size=picks.size)
    return scores


def _softmax_rows(rng, num_rows: int, num_classes: int) -> np.ndarray:
    logits = rng.normal(size=(num_rows, num_classes)) * 2
    exp = np.exp(logits - logits.max(1, keepdims=True))
    return (exp / exp.sum(1, keepdims=True)).astype(np.float32)


def _cases() -> dict[str, dict]:
    """{case: {labels, predictions, weights (optional), options}} on fixed numpy data; `options` are
    keyword arguments of `ThresholdCurves` and of the numpy writer."""
    rng = np.random.default_rng(1234)
    n = 60
    sparse4 = rng.integers(0, 4, n)
    softmax4 = _softmax_rows(rng, n, 4)
    # Dyadic weights: float32 sums are exact, so equality is exact.
    weights = rng.choice([0.0, 0.5, 1.0, 2.0, 3.25], size=n).astype(np.float32)
    segmentation_labels = rng.integers(0, 3, (n, 2, 2))
    segmentation_labels[rng.random(segmentation_labels.shape) < 0.2] = 255
    return {
        "binary": {"labels": rng.integers(0, 2, n).astype(np.float32),
                   "predictions": _probabilities_on_grid(rng, (n,)), "options": {}},
        "softmax4_sparse": {"labels": sparse4, "predictions": softmax4, "options": {}},
        "softmax4_onehot_weighted": {"labels": np.eye(4, dtype=np.float32)[sparse4], "predictions": softmax4,
                                     "weights": weights, "options": {}},
        # Raw scores overflow in the second batch: the histograms (a grid) are written.
        "softmax4_sparse_weighted_grid": {"labels": sparse4, "predictions": _probabilities_on_grid(rng, (n, 4)),
                                          "weights": weights, "options": {"max_raw_scores": 80}},
        "multilabel": {"labels": rng.integers(0, 2, (n, 3)).astype(np.float32),
                       "predictions": _probabilities_on_grid(rng, (n, 3)), "options": {"multi_label": True}},
        "multilabel_weighted": {"labels": rng.integers(0, 2, (n, 3)).astype(np.float32),
                                "predictions": _probabilities_on_grid(rng, (n, 3)), "weights": weights,
                                "options": {"multi_label": True}},
        "segmentation_ignore_255": {"labels": segmentation_labels,
                                    "predictions": _softmax_rows(rng, n * 4, 3).reshape(n, 2, 2, 3),
                                    "options": {"ignore_class": 255}},
    }


def _run_child(backend: str, tmp_path: Path, cases, fit_data) -> Path:
    inputs = {"cases": np.array(list(cases))}
    for case, arrays in cases.items():
        inputs.update({f"{case}.{key}": value for key, value in arrays.items() if key != "options"})
        inputs[f"{case}.options"] = np.array(json.dumps(arrays["options"]))
    (x_train, y_train), (x_val, y_val) = fit_data
    inputs.update(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)
    np.savez(tmp_path / "inputs.npz", **inputs)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.pop("TF_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "tests.backend_child", str(tmp_path / "inputs.npz"), str(out_dir)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode == 0, f"{backend} child exited {done.returncode}:\n{done.stderr[-4000:]}"
    return out_dir


@pytest.fixture(scope="module", params=BACKENDS)
def backend_run(request, tmp_path_factory):
    cases = _cases()
    (x_train, y_train), (x_val, y_val) = breast_cancer_split()
    fit_data = ((x_train[:128], y_train[:128]), (x_val, y_val))
    out_dir = _run_child(request.param, tmp_path_factory.mktemp(request.param), cases, fit_data)
    return {"backend": request.param, "out": out_dir, "cases": cases, "fit_data": fit_data,
            "predictions": dict(np.load(out_dir / "predictions.npz"))}


def test_child_ran_on_the_requested_backend(backend_run):
    assert (backend_run["out"] / "backend.txt").read_text() == backend_run["backend"]


def test_compiled_metric_counts_equal_numpy_writer(backend_run):
    out = backend_run["out"]
    for case, arrays in backend_run["cases"].items():
        weights, options = arrays.get("weights"), dict(arrays["options"])
        grid = options.pop("max_raw_scores", None) is not None
        curves = decode_summary(summary_pb2.Summary.FromString((out / f"{case}.curves.pb").read_bytes()))
        expected = reference_curves(arrays["labels"], arrays["predictions"], sample_weight=weights, **options)
        assert not curves.exact.any() if grid else curves.exact.all(), case
        assert_same_curves(curves, expected)
        assert expected.positive_histograms.sum() > 0 and expected.negative_histograms.sum() > 0
        if options.get("multi_label"):
            assert not (out / f"{case}.matrix.pb").exists()
            continue
        matrix = decode_summary(summary_pb2.Summary.FromString((out / f"{case}.matrix.pb").read_bytes()))
        expected_matrix = reference_matrix(arrays["labels"], arrays["predictions"], sample_weight=weights,
                                           ignore_class=options.get("ignore_class"))
        assert_same_matrix(matrix, expected_matrix)
        assert expected_matrix.matrix.sum() > 0
        both = summary_pb2.Summary.FromString((out / f"{case}.both.pb").read_bytes())
        assert_same_curves(decode_summary(both, "threshold_curves"), expected)
        assert_same_matrix(decode_summary(both, "confusion_matrix"), expected_matrix)


def test_fit_with_compiled_metrics_writes_both_splits(backend_run):
    (_, y_train), (_, y_val) = backend_run["fit_data"]
    predictions = backend_run["predictions"]
    epochs = list(range(2))
    validation = read_run(backend_run["out"] / "compiled" / "validation")
    train = read_run(backend_run["out"] / "compiled" / "train")
    assert set(validation) == set(train) == {"threshold_curves", "confusion_matrix"}
    for written in (validation, train):
        assert all(sorted(steps) == epochs for steps in written.values())
    # Validation runs after the last step of the epoch: the final model's predictions.
    assert_same_curves(validation["threshold_curves"][1], reference_curves(y_val, predictions["compiled_val"]))
    assert_same_matrix(validation["confusion_matrix"][1], reference_matrix(y_val, predictions["compiled_val"]))
    # One full-batch step per epoch: the training split counts the predictions the epoch starts with.
    for epoch in epochs:
        train_predictions = predictions[f"compiled_train_{epoch}"]
        assert_same_curves(train["threshold_curves"][epoch], reference_curves(y_train, train_predictions))
        assert_same_matrix(train["confusion_matrix"][epoch], reference_matrix(y_train, train_predictions))


def test_fit_with_validation_data_writes_validation_counts(backend_run):
    (_, _), (_, y_val) = backend_run["fit_data"]
    written = read_run(backend_run["out"] / "data" / "validation")
    assert set(written) == {"threshold_curves", "confusion_matrix"}
    assert all(sorted(steps) == [0, 1] for steps in written.values())
    predictions = backend_run["predictions"]["data_val"]
    assert_same_curves(written["threshold_curves"][1], reference_curves(y_val, predictions))
    assert_same_matrix(written["confusion_matrix"][1], reference_matrix(y_val, predictions))
