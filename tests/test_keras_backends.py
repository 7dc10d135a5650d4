"""Our Keras metrics on the JAX and PyTorch backends (their variables take dense updates, and their
steps no branches): the same counts as the numpy writer, standalone and in a real `fit`."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_metrics_count_like_the_numpy_writer_on_another_backend(tmp_path, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run(
        [sys.executable, "-m", "tests.other_backend_child", str(tmp_path / "logs")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    assert answer == {
        "backend": backend,
        "raw_summary_equals_numpy_writer": True,
        "raw_items_kept": 50,
        "histograms_equal_numpy_writer": True,
        "matrix_equals_numpy_writer": True,
        "history_keys": ["cm_accuracy", "loss", "roc_auc", "val_cm_accuracy", "val_loss", "val_roc_auc"],
        "fit_validation_equals_numpy_writer": True,
        "fit_validation_kept_raw": True,
        "train_steps": [0, 1],
    }
