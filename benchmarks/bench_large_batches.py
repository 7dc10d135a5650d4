"""Times the compiled metric's `update_state` on large batches: evaluation batches and segmentation maps.

    python benchmarks/bench_large_batches.py [--repeats 9] [--output benchmarks/results/large_batches.json]

A training step holds a few scores; `ThresholdCurves` scatters them into its state in place. An
evaluation batch of 10^5 rows or a batch of segmentation maps holds 10^5–10^7 scores, where a
scatter (about 18 ns a score on a CPU) costs far more than a segment sum and one dense add. This
script times `update_state` in a warmed-up `tf.function`, as `fit` and `evaluate` run it on a CPU,
against `keras.metrics.AUC(num_thresholds=200)`, all contenders interleaved in this one process
(`bench_counting.round_robin_seconds`):

* binary 1e6: one sigmoid column of 10^6 scores, static shapes;
* 1e5×100: 10^5 softmax rows of 100 classes, one-hot labels (Keras: `multi_label=True`, one
  curve per class as ours), static shapes;
* segmentation: 16 maps of 64 × 64 pixels × 3 classes, sparse labels for ours (one-hot for
  Keras, whose multi-label AUC takes only (rows, classes): its one pooled curve), traced with the
  batch size unknown, as Keras traces its steps.

Ours is timed twice: with the raw-score record as in `evaluate` (it fills at the first call, then
each call finds the batch too large for what is left) and with `max_raw_scores=0`. Nothing is
reset between calls. To compare two versions of the package, run this script on each tree in
turn, alternating (`PYTHONPATH=<tree>`), pinned to one core (`taskset -c 1`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported, via Keras

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_counting import machine_info, round_robin_seconds  # noqa: E402

import tb_metrics_plugin as tbm  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "large_batches.json"
KERAS_NUM_THRESHOLDS = 200


def softmax(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    logits = rng.normal(size=shape)
    exp = np.exp(logits - logits.max(-1, keepdims=True))
    return (exp / exp.sum(-1, keepdims=True)).astype(np.float32)


def traced_update(metric: keras.metrics.Metric, labels: np.ndarray, scores: np.ndarray,
                  batch_known: bool) -> Callable[[], object]:
    """`metric.update_state` in a `tf.function` on tensors made once; with `batch_known=False`
    traced for any batch size (the first dimension None)."""
    label_tensor, score_tensor = tf.constant(labels), tf.constant(scores)
    signature = None
    if not batch_known:
        signature = [tf.TensorSpec((None, *labels.shape[1:]), tf.float32),
                     tf.TensorSpec((None, *scores.shape[1:]), tf.float32)]
    update = tf.function(metric.update_state, input_signature=signature)
    return lambda: update(label_tensor, score_tensor)


def cases(rng: np.random.Generator) -> dict[str, dict[str, Callable[[], object]]]:
    """Each case's contenders: name → call."""
    binary_scores = rng.random((1_000_000, 1), dtype=np.float32)
    binary_labels = (rng.random((1_000_000, 1)) < 0.3).astype(np.float32)
    rows_scores = softmax(rng, (100_000, 100))
    rows_labels = np.eye(100, dtype=np.float32)[rng.integers(0, 100, 100_000)]
    map_scores = softmax(rng, (16, 64, 64, 3))
    map_labels = rng.integers(0, 3, (16, 64, 64)).astype(np.float32)
    map_one_hot = np.eye(3, dtype=np.float32)[map_labels.astype(int)]
    inputs = {
        "binary 1e6": (binary_labels, binary_labels, binary_scores, True, False),
        "1e5×100": (rows_labels, rows_labels, rows_scores, True, True),
        "segmentation 16×64×64×3, batch size unknown": (map_labels, map_one_hot, map_scores, False, False),
    }
    return {
        case: {
            "ours: ThresholdCurves": traced_update(tbm.ThresholdCurves(), ours_labels, scores, batch_known),
            "ours: ThresholdCurves(max_raw_scores=0)": traced_update(
                tbm.ThresholdCurves(max_raw_scores=0), ours_labels, scores, batch_known),
            "keras.metrics.AUC": traced_update(
                keras.metrics.AUC(num_thresholds=KERAS_NUM_THRESHOLDS, multi_label=multi_label),
                keras_labels, scores, batch_known),
        }
        for case, (ours_labels, keras_labels, scores, batch_known, multi_label) in inputs.items()
    }


def main(argv: list[str] | None = None) -> int:
    """Times every case, writes the JSON, prints a markdown table of the fastest and median rounds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    times = {case: round_robin_seconds({name: (call, None) for name, call in contenders.items()}, args.repeats)
             for case, contenders in cases(np.random.default_rng(0)).items()}
    fastest = {case: {name: min(values) for name, values in case_times.items()} for case, case_times in times.items()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "machine": machine_info(), "load_average": os.getloadavg(), "repeats": args.repeats,
        "fastest_seconds": fastest, "seconds_per_round": times,
    }, indent=2) + "\n", encoding="utf-8")
    print("| case | contender | fastest ms | median ms |\n|---|---|---:|---:|")
    for case, case_times in times.items():
        for name, values in case_times.items():
            print(f"| {case} | {name} | {min(values) * 1e3:.1f} | {statistics.median(values) * 1e3:.1f} |")
    print(f"\nJSON written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
