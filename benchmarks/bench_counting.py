"""Times our threshold counting against Keras' `AUC` metric and scikit-learn's `roc_auc_score`.

    python benchmarks/bench_counting.py [--repeats 9] [--output benchmarks/results/counting.json]

Two cases, all in this one process. After one untimed warm-up call each, the contenders of a case
are timed in `--repeats` interleaved rounds. Reported per contender: the fastest and the median
round, the ratio of its fastest round to ours (the least disturbed figures on a shared machine;
targets are judged on it), and the median and range of the per-round ratios:

* binary: 1e6 float32 scores with 0/1 labels;
* multiclass: 1e5 samples × 100 softmax classes, integer labels (one-hot for Keras and sklearn).

Contenders: `counting.threshold_histograms` on prepared inputs (default 960-threshold grid);
`summary.threshold_curves_pb` (validation + counting + proto); our Keras metric
`ThresholdCurves().update_state`; `keras.metrics.AUC(num_thresholds=200).update_state`; and
`sklearn.metrics.roc_auc_score`. The Keras metrics are timed three ways on the same data: eagerly
on the numpy arrays (a user calling `update_state` by hand); inside a warmed-up `tf.function` on
tensors made once (what `fit` runs on a CPU-only machine, where Keras resolves
`jit_compile="auto"` to False); and, for Keras' AUC, XLA-compiled (`jit_compile=True`, what `fit`
runs by default with a GPU). The speed targets are judged against the `tf.function` figure.
Writes JSON with the figures and machine info, and prints a markdown table. The environment is
used as it is (threads, OPENBLAS_CORETYPE, …).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported, via Keras

import keras  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import tb_metrics_plugin as tbm  # noqa: E402
from tb_metrics_plugin import counting, inputs, summary  # noqa: E402
from tb_metrics_plugin.thresholds import default_thresholds  # noqa: E402

BINARY_SAMPLES = 1_000_000
MULTICLASS_SAMPLES = 100_000
MULTICLASS_CLASSES = 100
KERAS_NUM_THRESHOLDS = 200
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "counting.json"
# The contender every other time is divided by, and the speed-up each comparison should reach.
BASELINE = "ours: threshold_histograms"
KERAS_GRAPH = "keras.metrics.AUC (tf.function)"
TARGET_SPEEDUPS = {KERAS_GRAPH: 10.0, "sklearn roc_auc_score": 40.0}


# Keras' multi-label AUC retraces a tf.function per call in eager mode; its warning is noise here.
logging.getLogger("tensorflow").setLevel(logging.ERROR)


# A contender: the call to time, and an untimed call before each timed one (e.g. `reset_state`).
Contender = tuple[Callable[[], object], Callable[[], object] | None]


def round_robin_seconds(contenders: dict[str, Contender], repeats: int) -> dict[str, list[float]]:
    """Wall times of every contender over `repeats` rounds, each round timing each contender once.

    One untimed warm-up call per contender first (it traces `tf.function`s and fills caches).
    Interleaving the contenders spreads the load of a shared machine over all of them alike, so
    their ratios stay meaningful when absolute times drift.
    """
    for run, before_each in contenders.values():
        if before_each is not None:
            before_each()
        run()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, (run, before_each) in contenders.items():
            if before_each is not None:
                before_each()
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return times


def metric_contenders(
    name: str, make_metric: Callable[[], keras.metrics.Metric], labels: np.ndarray, scores: np.ndarray,
    xla: bool = False,
) -> dict[str, Contender]:
    """`update_state` eagerly on numpy arrays, in a `tf.function` and (if `xla`) XLA-compiled.

    Each way gets its own metric, reset before every call; the compiled ways get tensors made
    once, and are traced during the warm-up call as `fit` traces its step once.
    """
    eager = make_metric()
    contenders: dict[str, Contender] = {
        f"{name} (eager)": (lambda: eager.update_state(labels, scores), eager.reset_state)}
    label_tensor, score_tensor = tf.constant(labels), tf.constant(scores)
    for way, jit_compile in (("tf.function", False), ("XLA", True))[: 2 if xla else 1]:
        metric = make_metric()
        update = tf.function(metric.update_state, jit_compile=jit_compile)
        contenders[f"{name} ({way})"] = (
            lambda update=update: update(label_tensor, score_tensor), metric.reset_state)
    return contenders


def floor_contenders(prepared: inputs.PreparedBatch, grid: np.ndarray) -> dict[str, Contender]:
    """What no numpy counting of these N·C scores can go below: one `np.bincount` of the N·C
    flat bin indices (computed beforehand) into the C·(T+1) histogram, and one elementwise pass
    over the float32 scores (`1 − s` into a reused buffer). Our counting needs one of the first and
    about seven of the second (bit-pattern cell, table gather, class offset, positives)."""
    num_classes = prepared.scores.shape[1]
    bins = counting.bucketizer(grid).bins(prepared.scores)
    flat_index = (bins + np.arange(num_classes, dtype=np.intp) * (len(grid) + 1)).reshape(-1)
    histogram_size = num_classes * (len(grid) + 1)
    complement = np.empty_like(prepared.scores)
    return {
        "floor: one np.bincount of N·C indices": (
            lambda: np.bincount(flat_index, minlength=histogram_size), None),
        "floor: one float32 pass over N·C scores": (
            lambda: np.subtract(np.float32(1), prepared.scores, out=complement), None),
    }


def binary_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(labels float32 (N,), scores float32 (N,)): a model with ROC-AUC about 0.9."""
    labels = (rng.random(BINARY_SAMPLES) < 0.3).astype(np.float32)
    logits = rng.normal(0.0, 1.5, BINARY_SAMPLES) + 2.5 * (labels - 0.5)
    return labels, (1 / (1 + np.exp(-logits))).astype(np.float32)


def multiclass_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(labels int32 (N,), softmax scores float32 (N, C)) with the true class favoured."""
    labels = rng.integers(0, MULTICLASS_CLASSES, MULTICLASS_SAMPLES).astype(np.int32)
    logits = rng.normal(0.0, 1.0, (MULTICLASS_SAMPLES, MULTICLASS_CLASSES))
    logits[np.arange(MULTICLASS_SAMPLES), labels] += 2.0
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return labels, (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def binary_contenders(rng: np.random.Generator) -> dict[str, Contender]:
    """The contenders of the binary case."""
    labels, scores = binary_case(rng)
    grid = default_thresholds()
    prepared = inputs.prepare(labels, scores)
    return {
        BASELINE: (lambda: prepared.threshold_histograms(grid), None),
        "ours: threshold_curves_pb": (lambda: summary.threshold_curves_pb("roc", labels, scores), None),
        **metric_contenders("ours: ThresholdCurves", tbm.ThresholdCurves, labels, scores),
        **metric_contenders("keras.metrics.AUC", lambda: keras.metrics.AUC(num_thresholds=KERAS_NUM_THRESHOLDS),
                            labels, scores, xla=True),
        "sklearn roc_auc_score": (lambda: roc_auc_score(labels, scores), None),
        **floor_contenders(prepared, grid),
    }


def multiclass_contenders(rng: np.random.Generator) -> dict[str, Contender]:
    """The contenders of the multiclass case (one-hot labels for Keras AUC and sklearn)."""
    labels, scores = multiclass_case(rng)
    one_hot = np.eye(MULTICLASS_CLASSES, dtype=np.float32)[labels]
    grid = default_thresholds()
    prepared = inputs.prepare(labels, scores)

    def keras_auc() -> keras.metrics.AUC:
        return keras.metrics.AUC(
            num_thresholds=KERAS_NUM_THRESHOLDS, multi_label=True, num_labels=MULTICLASS_CLASSES)

    return {
        BASELINE: (lambda: prepared.threshold_histograms(grid), None),
        "ours: threshold_curves_pb": (lambda: summary.threshold_curves_pb("roc", labels, scores), None),
        **metric_contenders("ours: ThresholdCurves", tbm.ThresholdCurves, labels, scores),
        **metric_contenders("keras.metrics.AUC", keras_auc, one_hot, scores, xla=True),
        "sklearn roc_auc_score": (lambda: roc_auc_score(one_hot, scores, average="macro"), None),
        **floor_contenders(prepared, grid),
    }


def machine_info() -> dict[str, object]:
    """What the figures depend on: cores, CPU, library versions, BLAS core type."""
    cpu_model = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu_model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "usable_cores": usable,
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "scikit-learn": sklearn.__version__,
        "tb_metrics_plugin": tbm.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }


def round_ratios(times: dict[str, list[float]]) -> dict[str, list[float]]:
    """Per round, how many times slower than our counting each contender was."""
    return {name: [value / base for value, base in zip(values, times[BASELINE], strict=True)]
            for name, values in times.items()}


def best_ratios(times: dict[str, list[float]]) -> dict[str, float]:
    """Each contender's fastest round over our counting's fastest round.

    On a shared machine the fastest of several runs is the least disturbed one (the statistic
    `timeit` recommends), so this ratio is the steadiest; the per-round ratios show the spread.
    """
    return {name: min(values) / min(times[BASELINE]) for name, values in times.items()}


def markdown_table(case_times: dict[str, list[float]]) -> str:
    """One row per contender: fastest and median ms, ratio of the fastest rounds to ours, and the
    median (min–max) of the per-round ratios."""
    rows = ["| contender | fastest ms | median ms | × ours (fastest) | × ours per round: median (range) |",
            "|---|---:|---:|---:|---:|"]
    best, per_round = best_ratios(case_times), round_ratios(case_times)
    for name, values in case_times.items():
        ratios = per_round[name]
        rows.append(f"| {name} | {min(values) * 1e3:,.1f} | {statistics.median(values) * 1e3:,.1f} | "
                    f"{best[name]:,.2f} | {statistics.median(ratios):,.1f} ({min(ratios):,.1f}–{max(ratios):,.1f}) |")
    return "\n".join(rows)


def target_lines(times: dict[str, dict[str, list[float]]]) -> list[str]:
    """One line per (case, target): reached by the ratio of the fastest rounds or not."""
    lines = []
    for case, case_times in times.items():
        best = best_ratios(case_times)
        for name, target in TARGET_SPEEDUPS.items():
            verdict = "met" if best[name] >= target else "NOT met"
            lines.append(f"- {case}: {best[name]:.1f}× faster than {name} (target ≥ {target:g}×): {verdict}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Runs both cases, writes the JSON, prints the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds (medians are kept)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    times = {
        f"binary {BINARY_SAMPLES:.0e}": round_robin_seconds(binary_contenders(rng), args.repeats),
        f"{MULTICLASS_SAMPLES:.0e}×{MULTICLASS_CLASSES}": round_robin_seconds(multiclass_contenders(rng), args.repeats),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": machine_info(),
        "load_average": os.getloadavg(),
        "repeats": args.repeats,
        "fastest_seconds": {case: {name: min(values) for name, values in case_times.items()}
                            for case, case_times in times.items()},
        "median_seconds": {case: {name: statistics.median(values) for name, values in case_times.items()}
                           for case, case_times in times.items()},
        "slowdown_vs_ours_fastest": {case: best_ratios(case_times) for case, case_times in times.items()},
        "slowdown_vs_ours_median_round": {
            case: {name: statistics.median(ratios) for name, ratios in round_ratios(case_times).items()}
            for case, case_times in times.items()},
        "seconds_per_round": times,
        "targets": TARGET_SPEEDUPS,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for case, case_times in times.items():
        print(f"### {case}\n\n{markdown_table(case_times)}\n")
    print("\n".join(target_lines(times)))
    print(f"\nJSON written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
