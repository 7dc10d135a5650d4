"""Shared fixtures: real Keras training runs and real TensorBoard servers on both loaders."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TensorBoardServer:
    """A `tensorboard` process on loopback; `get(path)` fetches JSON from it."""

    def __init__(self, logdir, load_fast: bool, extra_args=()):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
            "--port", str(self.port), f"--load_fast={'true' if load_fast else 'false'}",
            "--reload_interval", "1", *extra_args,
        ]
        self.log_path = os.path.join(str(logdir), f"..tensorboard-{self.port}.log")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)

    def get(self, path: str, timeout: float = 30.0):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            body = response.read()
            if response.headers.get_content_type() == "application/json":
                return json.loads(body)
            return body

    def wait_until(self, predicate, path: str, timeout: float = 60.0):
        """Polls `path` until `predicate(json)` holds; returns that JSON."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tensorboard exited: {open(self.log_path, 'rb').read()[-3000:]!r}")
            try:
                last = self.get(path)
                if predicate(last):
                    return last
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting on {path}; last answer: {str(last)[:2000]}")

    def log_text(self) -> str:
        self._log.flush()
        return open(self.log_path, "rb").read().decode("utf-8", "replace")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


@pytest.fixture(params=[True, False], ids=["rust_loader", "python_loader"])
def load_fast(request) -> bool:
    return request.param


@pytest.fixture
def start_tensorboard():
    servers = []

    def start(logdir, load_fast: bool, extra_args=()):
        server = TensorBoardServer(logdir, load_fast, extra_args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def breast_cancer():
    """Standardised breast-cancer data (shipped with scikit-learn), split 400 / 169."""
    from sklearn.datasets import load_breast_cancer

    features, labels = load_breast_cancer(return_X_y=True)
    features = ((features - features.mean(0)) / features.std(0)).astype("float32")
    order = np.random.default_rng(0).permutation(len(labels))
    features, labels = features[order], labels[order].astype("float32")
    return (features[:400], labels[:400]), (features[400:], labels[400:])


def tiny_binary_model(num_features: int):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((num_features,)), keras.layers.Dense(1, activation="sigmoid")])
    return model
