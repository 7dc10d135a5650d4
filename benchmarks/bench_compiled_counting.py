"""How close a compiled, multithreaded counting kernel gets to the 10× target against Keras' AUC.

    pip install numba   # this script only; the package does not use it
    python benchmarks/bench_compiled_counting.py [--repeats 15] [--output benchmarks/results/compiled_counting.json]

`bench_counting.py` finds our numpy counting 3–4× faster than `keras.metrics.AUC(200)` in a
`tf.function` at 10^5 rows × 100 classes, where the target is 10×, and argues that numpy's own
floor (one `np.bincount` of the indices) leaves no room for it. This script asks whether leaving
numpy would: the same exact count (the float32 bit-pattern cell, the grid's table, the same
histograms, checked equal to ours) fused into one loop compiled by numba, run on one thread and on
every core (`prange` over one row range a thread, an int32 histogram each, summed at the end). Both
cases of `bench_counting.py`, all contenders interleaved in this one process
(`bench_counting.round_robin_seconds`); the ratio of each contender's fastest round to Keras' is
what the target is judged on. The first call of the kernel compiles it and is not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported, via Keras

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_counting import (  # noqa: E402
    KERAS_NUM_THRESHOLDS,
    MULTICLASS_CLASSES,
    binary_case,
    machine_info,
    multiclass_case,
    round_robin_seconds,
)

from tb_metrics_plugin import counting, inputs  # noqa: E402
from tb_metrics_plugin.thresholds import default_thresholds  # noqa: E402

try:
    import numba
except ImportError:  # pragma: no cover - the message is the point
    sys.exit("This benchmark needs numba (pip install numba); the package itself does not.")

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "compiled_counting.json"


@numba.njit(inline="always")
def _bin(score, score_bits, table, thresholds_then_inf, corrections):
    """`counting.Bucketizer.bins` of one score: its bit-pattern cell, the table, `corrections`
    comparisons."""
    complement = np.float32(np.float32(1) - score).view(np.int32)
    found = np.int64(table[(score_bits - complement + counting.KEY_BIAS) >> counting.CELL_SHIFT])
    for _ in range(corrections):
        found += score > thresholds_then_inf[found]
    return found


@numba.njit(parallel=True, boundscheck=False)
def _fused_counts(scores, positive_column, table, thresholds_then_inf, corrections, num_bins, threads):
    """(positive, negative) int64 histograms (C, num_bins) of float32 scores (N, C), the score at
    column `positive_column[row]` positive (-1: none). All N·C scores are counted in one pass split
    over `threads` row ranges (an int32 histogram each), then the N positives once more, as
    `counting.threshold_histograms` does for single-label data."""
    rows, columns = scores.shape
    bits = scores.view(np.int32)
    partial = np.zeros((threads, columns * num_bins), np.int32)
    rows_per_thread = (rows + threads - 1) // threads
    for thread in numba.prange(threads):
        counts = partial[thread]
        for row in range(thread * rows_per_thread, min(rows, (thread + 1) * rows_per_thread)):
            for column in range(columns):
                found = _bin(scores[row, column], bits[row, column], table, thresholds_then_inf, corrections)
                counts[column * num_bins + found] += 1
    positive = np.zeros(columns * num_bins, np.int64)
    for row in range(rows):
        column = positive_column[row]
        if column >= 0:
            found = _bin(scores[row, column], bits[row, column], table, thresholds_then_inf, corrections)
            positive[column * num_bins + found] += 1
    negative = partial.astype(np.int64).sum(axis=0) - positive
    return positive.reshape(columns, num_bins), negative.reshape(columns, num_bins)


def fused_counter(prepared: inputs.PreparedBatch, grid: np.ndarray, threads: int):
    """A call of the compiled kernel on `threads` threads (numba's pool) counting `prepared`'s
    single-label items on `grid`."""
    table, corrections, thresholds_then_inf = counting.bucketizer(grid).tables()
    num_bins = len(grid) + 1
    scores = np.ascontiguousarray(prepared.scores)
    # The one column each row is a positive of, or -1 (a binary negative).
    is_positive = prepared.is_positive
    positive_column = np.where(is_positive.any(axis=1), is_positive.argmax(axis=1), -1).astype(np.int32)

    def count():
        numba.set_num_threads(threads)
        return _fused_counts(scores, positive_column, table, thresholds_then_inf, corrections, num_bins, threads)

    return count


def case_contenders(labels: np.ndarray, scores: np.ndarray, keras_labels: np.ndarray, multi_label: bool):
    """Ours (numpy), the compiled kernel on 1 and on every thread (checked equal to ours), and
    Keras' AUC in a warmed-up `tf.function`."""
    grid = default_thresholds()
    prepared = inputs.prepare(labels, scores)
    expected = prepared.threshold_histograms(grid)
    all_threads = numba.config.NUMBA_NUM_THREADS
    contenders = {"ours: threshold_histograms (numpy)": (lambda: prepared.threshold_histograms(grid), None)}
    for threads in sorted({1, all_threads}):
        count = fused_counter(prepared, grid, threads)
        positive, negative = count()  # compiles
        np.testing.assert_array_equal(positive, expected[0])
        np.testing.assert_array_equal(negative, expected[1])
        contenders[f"compiled kernel, {threads} thread{'s' if threads > 1 else ''}"] = (count, None)
    auc = keras.metrics.AUC(num_thresholds=KERAS_NUM_THRESHOLDS, multi_label=multi_label,
                            num_labels=scores.shape[1] if multi_label else None)
    update = tf.function(auc.update_state)
    label_tensor, score_tensor = tf.constant(keras_labels), tf.constant(scores)
    contenders["keras.metrics.AUC (tf.function)"] = (lambda: update(label_tensor, score_tensor), auc.reset_state)
    return contenders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    binary_labels, binary_scores = binary_case(rng)
    class_labels, class_scores = multiclass_case(rng)
    cases = {
        "binary 1e6": case_contenders(binary_labels, binary_scores, binary_labels, multi_label=False),
        f"1e5×{MULTICLASS_CLASSES}": case_contenders(
            class_labels, class_scores, np.eye(MULTICLASS_CLASSES, dtype=np.float32)[class_labels], multi_label=True),
    }
    results = {}
    for case, contenders in cases.items():
        times = round_robin_seconds(contenders, args.repeats)
        keras_fastest = min(times["keras.metrics.AUC (tf.function)"])
        results[case] = {name: {"fastest_ms": min(values) * 1e3, "median_ms": statistics.median(values) * 1e3,
                                "keras_over_this": keras_fastest / min(values), "seconds": values}
                         for name, values in times.items()}
        print(f"\n{case}\n| contender | fastest ms | median ms | Keras' fastest ÷ this |\n|---|---:|---:|---:|")
        for name, figures in results[case].items():
            print(f"| {name} | {figures['fastest_ms']:.1f} | {figures['median_ms']:.1f} | "
                  f"{figures['keras_over_this']:.1f}× |")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "machine": {**machine_info(), "numba": numba.__version__, "numba_threads": numba.config.NUMBA_NUM_THREADS},
        "load_average": os.getloadavg(), "repeats": args.repeats,
        "cases": results,
    }, indent=1))
    print(f"JSON written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
