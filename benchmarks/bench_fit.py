"""What our metrics and callback add to a Keras `fit` epoch, against no metric and Keras' AUC.

    python benchmarks/bench_fit.py [--rounds 3] [--output benchmarks/results/fit.json]

A small MLP (32 inputs, 64 ReLU units) on 20,000 synthetic samples, batch 64 (313 steps), with
4,000 validation samples, for 1 (sigmoid), 10 and 100 (softmax) classes. Per case, one epoch of:

- `none`: no metric, no callback;
- `keras AUC(200)`: `keras.metrics.AUC(num_thresholds=200)` compiled (`multi_label=True` with
  one-hot labels for several classes), which, like ours, Keras updates and evaluates at every step;
- `ours compiled`: `ThresholdCurves()` and `ConfusionMatrix()` compiled, plus `MetricsCallback`
  (it reads their state at the epoch end: no extra pass; training and validation curves);
- `ours compiled, no training curves`: the same with `MetricsCallback(training_curves=False)`: the
  metrics skip the training steps (validation curves only);
- `ours callback`: no compiled metric; `MetricsCallback(log_dir, validation_data)` predicts the
  validation data once more at the epoch end and counts it.

Models are built and warmed up (one short fit: tracing) first; then the cases' epochs are timed in
`--rounds` interleaved rounds. The table gives the fastest round and its overhead over `none`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import tb_metrics_plugin as tbm

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "fit.json"
SAMPLES, VALIDATION, FEATURES, BATCH = 20_000, 4_000, 32, 64
CLASS_COUNTS = (1, 10, 100)


def data(num_classes: int, rng: np.random.Generator):
    """(x, y) with y 0/1 for one class, else one-hot (Keras' multi-label AUC needs one-hot)."""
    x = rng.normal(size=(SAMPLES + VALIDATION, FEATURES)).astype("float32")
    if num_classes == 1:
        return x, (rng.random(len(x)) < 0.5).astype("float32")
    return x, np.eye(num_classes, dtype="float32")[rng.integers(0, num_classes, len(x))]


def model(num_classes: int, metrics: list) -> keras.Model:
    binary = num_classes == 1
    built = keras.Sequential([
        keras.Input((FEATURES,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(num_classes, activation="sigmoid" if binary else "softmax"),
    ])
    built.compile(optimizer="adam", loss="binary_crossentropy" if binary else "categorical_crossentropy",
                  metrics=metrics)
    return built


def cases(num_classes: int, x_val, y_val, log_dir: Path) -> dict[str, tuple[keras.Model, list]]:
    """name -> (compiled model, callbacks)."""
    keras_auc = (keras.metrics.AUC(num_thresholds=200) if num_classes == 1 else
                 keras.metrics.AUC(num_thresholds=200, multi_label=True, num_labels=num_classes))
    return {
        "none": (model(num_classes, []), []),
        "keras AUC(200)": (model(num_classes, [keras_auc]), []),
        "ours compiled": (model(num_classes, [tbm.ThresholdCurves(), tbm.ConfusionMatrix()]),
                          [tbm.MetricsCallback(log_dir / "compiled")]),
        "ours, no train curves": (model(num_classes, [tbm.ThresholdCurves(), tbm.ConfusionMatrix()]),
                                  [tbm.MetricsCallback(log_dir / "validation_only", training_curves=False)]),
        "ours callback": (model(num_classes, []), [tbm.MetricsCallback(log_dir / "callback", (x_val, y_val))]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for num_classes in CLASS_COUNTS:
            x, y = data(num_classes, rng)
            x_train, y_train, x_val, y_val = x[:SAMPLES], y[:SAMPLES], x[SAMPLES:], y[SAMPLES:]
            built = cases(num_classes, x_val, y_val, Path(scratch) / str(num_classes))
            for fitted, callbacks in built.values():  # trace every function once
                fitted.fit(x_train[:256], y_train[:256], batch_size=BATCH, epochs=1, verbose=0,
                           validation_data=(x_val[:256], y_val[:256]), callbacks=callbacks)
            seconds: dict[str, list[float]] = {name: [] for name in built}
            for _ in range(args.rounds):
                for name, (fitted, callbacks) in built.items():
                    start = time.perf_counter()
                    fitted.fit(x_train, y_train, batch_size=BATCH, epochs=1, verbose=0,
                               validation_data=(x_val, y_val), callbacks=callbacks)
                    seconds[name].append(time.perf_counter() - start)
            fastest = {name: min(values) for name, values in seconds.items()}
            results[str(num_classes)] = {"fastest_seconds": fastest, "seconds": seconds}
            for name, value in fastest.items():
                overhead = value / fastest["none"] - 1
                print(f"{num_classes:>4} classes  {name:<22} {value:6.2f} s/epoch  {overhead:+6.0%}", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "keras": keras.__version__,
                    "backend": keras.backend.backend(), "platform": platform.platform(),
                    "load_average": os.getloadavg()},
        "rounds": args.rounds, "steps_per_epoch": -(-SAMPLES // BATCH), "classes": results,
    }, indent=1))
    print(f"JSON written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
