"""What our metrics and callback add to a Keras `fit` epoch, against no metric and Keras' AUC.

    python benchmarks/bench_fit.py [--rounds 3] [--step-calls 50] [--step-rounds 40]
                                   [--metric-calls 100] [--metric-rounds 100]
                                   [--batch 64] [--classes 1,10,100]
                                   [--output benchmarks/results/fit.json]

A small MLP (32 inputs, 64 ReLU units) on 20,000 synthetic samples, batch 64 (313 steps; `--batch`), with
4,000 validation samples, for 1 (sigmoid), 10 and 100 (softmax) classes. Per case, one epoch of:

- `none`: no metric, no callback;
- `keras AUC(200)`: `keras.metrics.AUC(num_thresholds=200)` compiled (`multi_label=True` with
  one-hot labels for several classes), which, like ours, Keras updates and evaluates at every step;
- `ours compiled`: `ThresholdCurves(confusion_matrix=True)` compiled, plus `MetricsCallback` (it
  reads the state at the epoch end: no extra pass; training and validation curves and confusion
  matrices);
- `ours, two metrics`: the same summaries from `ThresholdCurves()` and `ConfusionMatrix()`
  compiled side by side (Keras charges each compiled metric a fixed cost per step);
- `ours, curves only`: `ThresholdCurves()` alone with `MetricsCallback`, the one-to-one
  counterpart of Keras' AUC (training steps count into the grid; the raw-score record that makes
  small validation sets exact runs on evaluation steps only, `ThresholdCurves.record_raw_scores`);
- `ours, no train curves`: the same as `ours compiled` with `MetricsCallback(training_curves=False)`:
  the metric skips the training steps (validation curves only);
- `ours callback`: no compiled metric; `MetricsCallback(log_dir, validation_data)` predicts the
  validation data once more at the epoch end and counts it.

Models are built and warmed up (one short fit: tracing) first; then the cases' epochs are timed in
`--rounds` interleaved rounds. The table gives the fastest round and its overhead over `none`.

Whole epochs move by up to 2x on a shared machine, so the training step is also timed alone: after
the epochs, each compiled case's own `model.train_function` (what `fit` calls once per step) is
called `--step-calls` times per round, in `--step-rounds` interleaved rounds, on a repeated
`tf.data` pipeline of the training data, after `WARM_UP_ROUNDS` untimed rounds, the cases' order
rotated by one each round (`rotated`); the per-step table
gives the fastest and the median round, minus `none`'s, and the median of each round's difference
from `none`'s round of the same pass with a 90 % bootstrap interval (`paired_overhead`, the figure
to compare cases by), in wall time and in this process's CPU time (which leaves out other processes' turns
on the core). `--rounds 0` skips the epochs and times the steps only.

A training step's rounds still spread by ±10 µs, more than a few ops cost. So last, each compiled
case's metrics alone are timed (`metric_microseconds`): their `update_state` and `result()` in a
`tf.function` on one fixed batch of `--batch` rows, as Keras' step traces them, against a function of
the same inputs with no metric, `--metric-calls` calls per round in `--metric-rounds` interleaved
rounds, paired as above. That leaves out the model, the optimizer and what Keras charges every
compiled metric, which is the same for one metric of ours and Keras' AUC.

Pin it to one core (`taskset -c 1 python benchmarks/bench_fit.py`) and note the machine's load
(`uptime`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

import tb_metrics_plugin as tbm

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "fit.json"
SAMPLES, VALIDATION, FEATURES, BATCH = 20_000, 4_000, 32, 64  # BATCH: --batch's default
CLASS_COUNTS = (1, 10, 100)
WARM_UP_ROUNDS = 5


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
        "ours compiled": (model(num_classes, [tbm.ThresholdCurves(confusion_matrix=True)]),
                          [tbm.MetricsCallback(log_dir / "compiled")]),
        "ours, two metrics": (model(num_classes, [tbm.ThresholdCurves(), tbm.ConfusionMatrix()]),
                              [tbm.MetricsCallback(log_dir / "two_metrics")]),
        "ours, curves only": (model(num_classes, [tbm.ThresholdCurves()]),
                              [tbm.MetricsCallback(log_dir / "curves_only")]),
        "ours, no train curves": (model(num_classes, [tbm.ThresholdCurves(confusion_matrix=True)]),
                                  [tbm.MetricsCallback(log_dir / "validation_only", training_curves=False)]),
        "ours callback": (model(num_classes, []), [tbm.MetricsCallback(log_dir / "callback", (x_val, y_val))]),
    }


def timed_cases(built: dict[str, tuple[keras.Model, list]]) -> dict[str, keras.Model]:
    """The cases whose training steps are timed: every case that compiles metrics, and `none`."""
    return {name: fitted for name, (fitted, _) in built.items() if name != "ours callback"}


def as_in_training_steps(name: str, metrics: list) -> None:
    """Sets on a case's compiled metrics what MetricsCallback sets before Keras traces a training
    step: a training step (`trace_training_steps`), no raw-score record (fit's end turned both
    back, and the steps timed here are traced anew); for `ours, no train curves`
    (`training_curves=False`), no counting until the next reset."""
    for metric in metrics:
        if isinstance(metric, tbm.ThresholdCurves):
            metric.trace_training_steps(True)
            metric.record_raw_scores(False)
        if name == "ours, no train curves":
            metric.skip_counting_until_reset()


def interleaved_rounds(runs: dict[str, Callable[[], object]], calls: int, rounds: int):
    """(wall, cpu): name -> µs per call of `runs[name]` in each of `rounds` rounds, each round calling
    every case `calls` times, in an order rotated by one each round (`rotated`), after
    `WARM_UP_ROUNDS` untimed rounds. `cpu` is this process's CPU time (`time.process_time`, all its
    threads): on a machine that other processes load, it leaves out the time the core spent on them."""
    micros: dict[str, list[float]] = {name: [] for name in runs}
    cpu_micros: dict[str, list[float]] = {name: [] for name in runs}
    for round_number in range(-WARM_UP_ROUNDS, rounds):  # the first rounds warm caches up, untimed
        for name in rotated(list(runs), round_number):
            run = runs[name]
            start, cpu_start = time.perf_counter(), time.process_time()
            for _ in range(calls):
                run()
            if round_number >= 0:
                cpu_micros[name].append((time.process_time() - cpu_start) / calls * 1e6)
                micros[name].append((time.perf_counter() - start) / calls * 1e6)
    return micros, cpu_micros


def step_microseconds(built: dict[str, tuple[keras.Model, list]], x_train, y_train, calls: int, rounds: int,
                      batch: int = BATCH):
    """(wall, cpu): name -> per-step times (µs) of each round (`interleaved_rounds`) of each timed
    case's own `model.train_function`, on a repeated `tf.data` pipeline of the training data."""
    import tensorflow as tf

    runs = {}
    for name, fitted in timed_cases(built).items():
        as_in_training_steps(name, fitted._compile_metrics.metrics)
        iterator = iter(tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(batch).repeat())
        runs[name] = lambda fitted=fitted, iterator=iterator: fitted.train_function(iterator)
    return interleaved_rounds(runs, calls, rounds)


def metric_microseconds(built: dict[str, tuple[keras.Model, list]], x_train, y_train, calls: int, rounds: int,
                        batch: int = BATCH):
    """name -> per-call times (µs) of each round (`interleaved_rounds`) of
    `tf.function(update_state, then result())` of each timed case's metrics (fresh copies, from their
    configs, set as in training steps) on one batch of `batch` rows of the model's predictions;
    `none` is the same call with no metric. Traced with the batch size unknown, as Keras traces its
    step."""
    import tensorflow as tf

    cases = timed_cases(built)
    labels = tf.constant(y_train[:batch].reshape(batch, -1))
    scores = tf.constant(cases["none"].predict(x_train[:batch], verbose=0))
    signature = [tf.TensorSpec((None, labels.shape[1]), tf.float32)] * 2
    runs = {}
    for name, fitted in cases.items():
        metrics = [type(metric).from_config(metric.get_config()) for metric in fitted._compile_metrics.metrics]
        as_in_training_steps(name, metrics)

        def call(y_true, y_pred, metrics=metrics):
            for metric in metrics:
                metric.update_state(y_true, y_pred)
            return [metric.result() for metric in metrics] or [tf.reduce_sum(y_pred)]

        function = tf.function(call, input_signature=signature)
        runs[name] = lambda function=function: function(labels, scores)
    micros, _ = interleaved_rounds(runs, calls, rounds)
    return micros


def rotated(names: list[str], round_number: int) -> list[str]:
    """The order of the cases in a round, rotated by one each round, so that every case runs at every
    position of a pass equally often: where a case runs in the pass moved its time by 5-10 µs (at
    1 class, the last case of a fixed order came out that much cheaper)."""
    shift = round_number % len(names)
    return names[shift:] + names[:shift]


def paired_overhead(rounds: list[float], none_rounds: list[float], resamples: int = 2000) -> tuple[float, float, float]:
    """(low, median, high): the median over rounds of (this case's round − `none`'s round of the same
    pass), with a 90 % bootstrap interval. Each pass times every case once, back to back, so the
    difference cancels what the machine did over minutes (load, clock), which moves a case's own
    rounds by more than the differences between cases."""
    differences = np.asarray(rounds) - np.asarray(none_rounds)
    draws = np.random.default_rng(0).choice(differences, size=(resamples, len(differences)))
    low, high = np.percentile(np.median(draws, axis=1), [5, 95])
    return float(low), float(np.median(differences)), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--step-calls", type=int, default=50)
    parser.add_argument("--step-rounds", type=int, default=40)
    parser.add_argument("--metric-calls", type=int, default=100)
    parser.add_argument("--metric-rounds", type=int, default=100)
    parser.add_argument("--batch", type=int, default=BATCH, help="rows a training step")
    parser.add_argument("--classes", default=",".join(map(str, CLASS_COUNTS)), help="comma-separated class counts")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    load_at_start = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for num_classes in (int(count) for count in args.classes.split(",")):
            x, y = data(num_classes, rng)
            x_train, y_train, x_val, y_val = x[:SAMPLES], y[:SAMPLES], x[SAMPLES:], y[SAMPLES:]
            built = cases(num_classes, x_val, y_val, Path(scratch) / str(num_classes))
            for fitted, callbacks in built.values():  # trace every function once
                fitted.fit(x_train[:256], y_train[:256], batch_size=args.batch, epochs=1, verbose=0,
                           validation_data=(x_val[:256], y_val[:256]), callbacks=callbacks)
            seconds: dict[str, list[float]] = {name: [] for name in built}
            for _ in range(args.rounds):  # --rounds 0: the per-step timing only
                for name, (fitted, callbacks) in built.items():
                    start = time.perf_counter()
                    fitted.fit(x_train, y_train, batch_size=args.batch, epochs=1, verbose=0,
                               validation_data=(x_val, y_val), callbacks=callbacks)
                    seconds[name].append(time.perf_counter() - start)
            fastest = {name: min(values) for name, values in seconds.items() if values}
            for name, value in fastest.items():
                overhead = value / fastest["none"] - 1
                print(f"{num_classes:>4} classes  {name:<22} {value:6.2f} s/epoch  {overhead:+6.0%}", flush=True)
            micros, cpu_micros = step_microseconds(
                built, x_train, y_train, args.step_calls, args.step_rounds, args.batch)
            step_fastest = {name: min(values) for name, values in micros.items()}
            step_median = {name: float(np.median(values)) for name, values in micros.items()}
            cpu_fastest = {name: min(values) for name, values in cpu_micros.items()}
            cpu_median = {name: float(np.median(values)) for name, values in cpu_micros.items()}
            paired = {name: paired_overhead(micros[name], micros["none"]) for name in micros}
            for name in micros:
                low, median, high = paired[name]
                print(f"{num_classes:>4} classes  {name:<22} step {step_fastest[name]:6.0f} µs "
                      f"({step_fastest[name] - step_fastest['none']:+5.0f}), median {step_median[name]:6.0f} µs "
                      f"({step_median[name] - step_median['none']:+5.0f}); CPU "
                      f"{cpu_fastest[name] - cpu_fastest['none']:+5.0f} / "
                      f"{cpu_median[name] - cpu_median['none']:+5.0f}; paired {median:+5.0f} [{low:+.0f}, {high:+.0f}]",
                      flush=True)
            metric_micros = metric_microseconds(
                built, x_train, y_train, args.metric_calls, args.metric_rounds, args.batch)
            metric_paired = {
                name: paired_overhead(times, metric_micros["none"]) for name, times in metric_micros.items()}
            for name, (low, median, high) in metric_paired.items():
                print(f"{num_classes:>4} classes  {name:<22} metric alone: paired {median:+5.1f} µs "
                      f"[{low:+.1f}, {high:+.1f}]", flush=True)
            results[str(num_classes)] = {
                "metric_paired_overhead_microseconds": metric_paired, "metric_microseconds": metric_micros,
                "fastest_seconds": fastest, "seconds": seconds,
                "step_fastest_microseconds": step_fastest, "step_median_microseconds": step_median,
                "step_paired_overhead_microseconds": paired,
                "step_microseconds": micros,
                "step_cpu_fastest_microseconds": cpu_fastest, "step_cpu_median_microseconds": cpu_median,
                "step_cpu_microseconds": cpu_micros,
            }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "keras": keras.__version__,
                    "backend": keras.backend.backend(), "platform": platform.platform(),
                    "load_average_at_start": load_at_start, "load_average": os.getloadavg()},
        "rounds": args.rounds, "batch": args.batch, "steps_per_epoch": -(-SAMPLES // args.batch),
        "step_calls": args.step_calls,
        "step_rounds": args.step_rounds, "metric_calls": args.metric_calls, "metric_rounds": args.metric_rounds,
        "classes": results,
    }, indent=1))
    print(f"JSON written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
