"""Shared fixtures: real Keras training runs and real TensorBoard servers on both loaders."""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Tests compare what a compiled metric counted in Keras' evaluation step with a reference built from
# `model.predict` on the same inputs: two different graphs. With TensorFlow's oneDNN rewrites on, an
# AVX-512 CPU (AMD EPYC, seen here) gave scores that differ in the last float32 bit between them (a
# sigmoid output: 0.2478339821 against 0.2478340417), so exact comparisons failed; with the rewrites
# off the two agree bit for bit. Read when TensorFlow is imported, so set here, before any test module
# imports it (child processes inherit it).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


# Ports for the servers tests start (TensorBoard, object-store emulators, multi-worker clusters).
# Each pytest-xdist worker (or, without xdist, each process) takes ports from its own block below
# Linux's ephemeral range (32768 and up): asking the kernel for a free ephemeral port (bind to 0,
# then close) can hand two workers the same port before either server has bound it, and it can
# collide with the ephemeral ports of outgoing connections and of the Rust data server.
_PORT_BLOCK_START, _PORT_BLOCK_SIZE, _PORT_BLOCKS = 20000, 1000, 12


def _port_block() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under pytest-xdist
    if worker.startswith("gw") and worker[2:].isdigit():
        return int(worker[2:]) % (_PORT_BLOCKS // 2)
    return _PORT_BLOCKS // 2 + os.getpid() % (_PORT_BLOCKS // 2)  # pytest alone, or beside another run


_port_offsets = itertools.count()


def _free_port() -> int:
    """A port of this worker's block that nothing is bound to now (each call moves on to the next)."""
    start = _PORT_BLOCK_START + _port_block() * _PORT_BLOCK_SIZE
    for _ in range(_PORT_BLOCK_SIZE):
        port = start + next(_port_offsets) % _PORT_BLOCK_SIZE
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {start}–{start + _PORT_BLOCK_SIZE - 1}; stop the servers left running")


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
    from tests.datasets import breast_cancer_split

    return breast_cancer_split()


def tiny_binary_model(num_features: int):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((num_features,)), keras.layers.Dense(1, activation="sigmoid")])
    return model


class FittedLogs:
    """A logdir written by real Keras fits with `MetricsCallback`, and what the models predict.

    Runs: `binary/{train,validation}` (breast cancer, sigmoid, compiled metrics) and
    `digits/validation` (10-class softmax, the callback's own `validation_data` pass).
    `predictions[run]` are the final model's scores on that run's validation labels `labels[run]`,
    i.e. what the last step's counts were made from.
    """

    def __init__(self, logdir, labels, predictions, epochs):
        self.logdir = logdir
        self.labels = labels
        self.predictions = predictions
        self.epochs = epochs


@pytest.fixture(scope="session")
def fitted_logs(tmp_path_factory, breast_cancer) -> FittedLogs:
    import keras
    from sklearn.datasets import load_digits

    import tb_metrics_plugin as tbm

    epochs = 3
    logdir = tmp_path_factory.mktemp("fitted") / "logs"
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model = tiny_binary_model(x_train.shape[1])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="binary_crossentropy",
                  metrics=[tbm.ThresholdCurves(), tbm.ConfusionMatrix()])
    model.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=0, validation_data=(x_val, y_val),
              callbacks=[keras.callbacks.TensorBoard(str(logdir / "binary")),
                         tbm.MetricsCallback(str(logdir / "binary"), class_names=["benign", "malignant"])])
    labels = {"binary/validation": y_val}
    predictions = {"binary/validation": model.predict(x_val, verbose=0)[:, 0]}

    features, digits = load_digits(return_X_y=True)
    features = (features / 16).astype("float32")
    x_train, y_train, x_val, y_val = features[:300], digits[:300], features[300:500], digits[300:500]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.03), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=epochs, verbose=0,
              callbacks=[tbm.MetricsCallback(str(logdir / "digits"), validation_data=(x_val, y_val),
                                             class_names=[f"digit {d}" for d in range(10)])])
    labels["digits/validation"] = y_val
    predictions["digits/validation"] = model.predict(x_val, verbose=0)
    return FittedLogs(logdir, labels, predictions, epochs)


class InProcessTensorBoard:
    """TensorBoard's real WSGI app with its real data provider, built as `tensorboard.program` does.

    `load_fast=False`: the Python loader, loaded once before returning. `load_fast=True`: a Rust
    data server subprocess that loads the logdir once, in the background (poll until the data is
    there).
    `client` is a werkzeug test client on the app.
    """

    def __init__(self, logdir, load_fast: bool):
        from tensorboard import program
        from tensorboard.backend import application
        from tensorboard.backend.event_processing import data_ingester
        from tensorboard.data import server_ingester
        from tensorboard.plugins.core import core_plugin
        from werkzeug.test import Client

        from tb_metrics_plugin.plugin import MetricsLoader

        board = program.TensorBoard(plugins=[core_plugin.CorePluginLoader, MetricsLoader])
        board.configure(logdir=str(logdir), load_fast="true" if load_fast else "false", reload_interval=0,
                        reload_task="blocking")
        flags = board.flags
        if load_fast:
            self.ingester = server_ingester.SubprocessServerDataIngester(
                server_binary=server_ingester.get_server_binary(), logdir=flags.logdir, reload_interval=0,
                channel_creds_type=flags.grpc_creds_type, samples_per_plugin=flags.samples_per_plugin,
            )
        else:
            self.ingester = data_ingester.LocalDataIngester(flags)
        self.ingester.start()
        multiplexer = None if load_fast else self.ingester.deprecated_multiplexer
        self.app = application.TensorBoardWSGIApp(
            flags, board.plugin_loaders, self.ingester.data_provider, board.assets_zip_provider, multiplexer
        )
        self.client = Client(self.app)
        self.data_provider = self.ingester.data_provider

    def close(self):
        stdin = getattr(self.ingester, "_stdin_handle", None)  # the data server exits when stdin closes
        if stdin is not None:
            stdin.close()
