"""Times our threshold counting against Keras' `AUC` metric and scikit-learn's `roc_auc_score`.

    python benchmarks/bench_counting.py [--repeats 5] [--output benchmarks/results/counting.json]

Two cases, all in this one process, each timing the median of `--repeats` runs after one warm-up:

* binary: 1e6 float32 scores with 0/1 labels;
* multiclass: 1e5 samples × 100 softmax classes, integer labels (one-hot for Keras and sklearn).

Contenders: `counting.threshold_histograms` on prepared inputs (default 960-threshold grid);
`summary.threshold_curves_pb` (validation + counting + proto); our Keras metric
`ThresholdCurves().update_state`; `keras.metrics.AUC(num_thresholds=200).update_state`; and
`sklearn.metrics.roc_auc_score`. Writes JSON with the figures and machine info, and prints a
markdown table. The environment is used as it is (threads, OPENBLAS_CORETYPE, …).
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
TARGET_SPEEDUPS = {"keras.metrics.AUC": 10.0, "sklearn roc_auc_score": 40.0}


# Keras' multi-label AUC retraces a tf.function per call in eager mode; its warning is noise here.
logging.getLogger("tensorflow").setLevel(logging.ERROR)


def median_seconds(run: Callable[[], object], repeats: int, before_each: Callable[[], object] | None = None) -> float:
    """Median wall time of `run()` over `repeats` calls, after one untimed warm-up call.

    `before_each` (e.g. a metric's `reset_state`) runs untimed before every call.
    """
    times = []
    for index in range(repeats + 1):
        if before_each is not None:
            before_each()
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
        if index > 0:
            times.append(elapsed)
    return statistics.median(times)


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


def time_binary(repeats: int, rng: np.random.Generator) -> dict[str, float]:
    """Seconds per contender for the binary case."""
    labels, scores = binary_case(rng)
    grid = default_thresholds()
    prepared = inputs.prepare(labels, scores)
    ours_metric = tbm.ThresholdCurves()
    keras_auc = keras.metrics.AUC(num_thresholds=KERAS_NUM_THRESHOLDS)
    return {
        BASELINE: median_seconds(
            lambda: counting.threshold_histograms(prepared.is_positive, prepared.scores, grid), repeats),
        "ours: threshold_curves_pb": median_seconds(
            lambda: summary.threshold_curves_pb("roc", labels, scores), repeats),
        "ours: ThresholdCurves.update_state": median_seconds(
            lambda: ours_metric.update_state(labels, scores), repeats, ours_metric.reset_state),
        "keras.metrics.AUC": median_seconds(
            lambda: keras_auc.update_state(labels, scores), repeats, keras_auc.reset_state),
        "sklearn roc_auc_score": median_seconds(lambda: roc_auc_score(labels, scores), repeats),
    }


def time_multiclass(repeats: int, rng: np.random.Generator) -> dict[str, float]:
    """Seconds per contender for the multiclass case (one-hot labels for Keras AUC and sklearn)."""
    labels, scores = multiclass_case(rng)
    one_hot = np.eye(MULTICLASS_CLASSES, dtype=np.float32)[labels]
    grid = default_thresholds()
    prepared = inputs.prepare(labels, scores)
    ours_metric = tbm.ThresholdCurves()
    keras_auc = keras.metrics.AUC(
        num_thresholds=KERAS_NUM_THRESHOLDS, multi_label=True, num_labels=MULTICLASS_CLASSES)
    return {
        BASELINE: median_seconds(
            lambda: counting.threshold_histograms(prepared.is_positive, prepared.scores, grid), repeats),
        "ours: threshold_curves_pb": median_seconds(
            lambda: summary.threshold_curves_pb("roc", labels, scores), repeats),
        "ours: ThresholdCurves.update_state": median_seconds(
            lambda: ours_metric.update_state(labels, scores), repeats, ours_metric.reset_state),
        "keras.metrics.AUC": median_seconds(
            lambda: keras_auc.update_state(one_hot, scores), repeats, keras_auc.reset_state),
        "sklearn roc_auc_score": median_seconds(
            lambda: roc_auc_score(one_hot, scores, average="macro"), repeats),
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


def speedups(seconds: dict[str, float]) -> dict[str, float]:
    """How many times slower than our counting each contender is."""
    return {name: value / seconds[BASELINE] for name, value in seconds.items()}


def markdown_table(results: dict[str, dict[str, float]]) -> str:
    """One row per contender, ms and ratio to our counting for each case."""
    cases = list(results)
    header = "| contender | " + " | ".join(f"{case} ms | {case} × ours" for case in cases) + " |"
    rule = "|---|" + "---:|---:|" * len(cases)
    rows = [header, rule]
    for name in results[cases[0]]:
        cells = []
        for case in cases:
            seconds = results[case][name]
            cells.append(f"{seconds * 1e3:,.1f} | {seconds / results[case][BASELINE]:,.1f}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def target_lines(results: dict[str, dict[str, float]]) -> list[str]:
    """One line per (case, target): reached or not."""
    lines = []
    for case, seconds in results.items():
        for name, target in TARGET_SPEEDUPS.items():
            ratio = seconds[name] / seconds[BASELINE]
            verdict = "met" if ratio >= target else "NOT met"
            lines.append(f"- {case}: {ratio:.1f}× faster than {name} (target ≥ {target:g}×): {verdict}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Runs both cases, writes the JSON, prints the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per contender (median is kept)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    results = {
        f"binary {BINARY_SAMPLES:.0e}": time_binary(args.repeats, rng),
        f"{MULTICLASS_SAMPLES:.0e}×{MULTICLASS_CLASSES}": time_multiclass(args.repeats, rng),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": machine_info(),
        "repeats": args.repeats,
        "seconds": results,
        "slowdown_vs_ours": {case: speedups(seconds) for case, seconds in results.items()},
        "targets": TARGET_SPEEDUPS,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(markdown_table(results))
    print()
    print("\n".join(target_lines(results)))
    print(f"\nJSON written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
