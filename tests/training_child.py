"""Run as a script (by tests/test_crash_safety.py and tests/test_live_training.py): a real Keras `fit`
with `MetricsCallback` that reports its progress in a status file, for a parent to kill or watch.

Usage: python -m tests.training_child LOG_DIR STATUS_JSON [--epochs N] [--sleep S] [--hang-in-epoch K]
                                     [--start-file PATH]

The status file (replaced atomically, so a reader never sees half of it) holds
`{"train_size", "validation_size", "written": {epoch: wall time after its counts were flushed},
"hanging_in_epoch": K or null, "ready": bool, "done": bool}`. With `--hang-in-epoch K` the child stops in the middle
of epoch K's training batches (after epochs 0..K-1 are written) and waits to be killed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from tests.datasets import breast_cancer_split

BATCH_SIZE = 50
HANG_SECONDS = 120  # the parent kills the child long before; bounded so an orphan ends by itself
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(log_dir, status_path, *, epochs: int, sleep: float = 0.0, hang_in_epoch: int | None = None,
          start_file=None):
    """Starts the child training in a fresh interpreter; returns its `subprocess.Popen`.

    With `start_file`, the child imports, loads and compiles, reports `"ready": true`, and starts
    `fit` only once that file exists (so that a parent can start other processes meanwhile).
    """
    command = [sys.executable, "-m", "tests.training_child", str(log_dir), str(status_path), "--epochs", str(epochs),
               "--sleep", str(sleep)]
    if hang_in_epoch is not None:
        command += ["--hang-in-epoch", str(hang_in_epoch)]
    if start_file is not None:
        command += ["--start-file", str(start_file)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def read_status(status_path) -> dict | None:
    """The child's last status, or None before it wrote one."""
    try:
        with open(status_path) as file:
            return json.load(file)
    except FileNotFoundError:
        return None


def wait_for(process, status_path, predicate, timeout: float = 240.0) -> dict:
    """Polls the status file every 50 ms until `predicate(status)` holds; returns that status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(status_path)
        if status is not None and predicate(status):
            return status
        if process.poll() is not None:
            raise RuntimeError(f"training child exited {process.returncode}: {process.stderr.read()[-3000:]!r}")
        time.sleep(0.05)
    raise AssertionError(f"training child: timed out after {timeout} s; last status {read_status(status_path)}")


def _progress_callback(status_path: str, status: dict, sleep: float, hang_in_epoch: int | None):
    import keras

    class Progress(keras.callbacks.Callback):
        """Placed after `MetricsCallback`: records each epoch once its counts are flushed."""

        def __init__(self, status_path: str, status: dict, sleep: float, hang_in_epoch: int | None):
            super().__init__()
            self.status_path, self.status, self.sleep, self.hang_in_epoch = status_path, status, sleep, hang_in_epoch
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            if epoch > 0 and self.sleep:
                time.sleep(self.sleep)

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == self.hang_in_epoch and batch == 2:  # mid-epoch: two batches of it are counted
                self.status["hanging_in_epoch"] = self.epoch
                self.save()
                time.sleep(HANG_SECONDS)
                os._exit(3)

        def on_epoch_end(self, epoch, logs=None):
            self.status["written"][str(epoch)] = time.time()
            self.save()

        def save(self):
            temporary = self.status_path + ".tmp"
            with open(temporary, "w") as file:
                json.dump(self.status, file)
            os.replace(temporary, self.status_path)

    return Progress(status_path, status, sleep, hang_in_epoch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("log_dir")
    parser.add_argument("status")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--hang-in-epoch", type=int, default=None)
    parser.add_argument("--start-file", default=None)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    import tb_metrics_plugin as tbm

    (x_train, y_train), (x_val, y_val) = breast_cancer_split()
    status = {"train_size": len(y_train), "validation_size": len(y_val), "written": {},
              "hanging_in_epoch": None, "ready": False, "done": False}
    progress = _progress_callback(args.status, status, args.sleep, args.hang_in_epoch)
    progress.save()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((x_train.shape[1],)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="binary_crossentropy",
                  metrics=[tbm.ThresholdCurves(num_thresholds=200), tbm.ConfusionMatrix()])
    if args.start_file is not None:
        status["ready"] = True
        progress.save()
        deadline = time.monotonic() + HANG_SECONDS
        while not os.path.exists(args.start_file):
            if time.monotonic() > deadline:
                sys.exit(f"{args.start_file} did not appear within {HANG_SECONDS} s")
            time.sleep(0.05)
    model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=args.epochs, verbose=0, validation_data=(x_val, y_val),
              callbacks=[tbm.MetricsCallback(args.log_dir, class_names=["benign", "malignant"]), progress])
    status["done"] = True
    progress.save()


if __name__ == "__main__":
    main()
