"""Bytes per epoch of format version 2 against version 1, and how many classes are stored exactly.

    python benchmarks/bench_format.py [--output benchmarks/results/format.json]

For binary (one sigmoid score) and 10, 100 and 1000 softmax classes at 10^3, 10^4 and 10^5
validation samples, one synthetic epoch is written with the default grid: the `threshold_curves`
summary and the C × C `confusion_matrix`, unweighted (integer counts, the usual case). "v1" is the
size of the dense float32 tensors version 1 stored for the same counts ((1 + 2C) × 961 and C × C
values), "v2" the serialized tensor of version 2. Sizes are those of the tensor protos, which is
what an event file and the data server's replies hold per step. Sizes, not timings: the figures do
not depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
from tensorboard.util import tensor_util

from tb_metrics_plugin import inputs, summary
from tb_metrics_plugin.thresholds import default_thresholds

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "format.json"
CLASS_COUNTS = (1, 10, 100, 1000)
SAMPLE_COUNTS = (1_000, 10_000, 100_000)


def epoch(num_classes: int, num_samples: int, rng: np.random.Generator):
    """Labels and float32 scores of a moderately good model (AUC about 0.8-0.9 per class)."""
    if num_classes == 1:
        labels = rng.integers(0, 2, num_samples)
        scores = 1 / (1 + np.exp(-rng.normal(2.0 * labels - 1.0, 1.5)))
        return labels, scores.astype(np.float32)
    labels = rng.integers(0, num_classes, num_samples)
    scores = np.empty((num_samples, num_classes), dtype=np.float32)
    for start in range(0, num_samples, 10_000):  # bounded float64 temporaries at 1000 classes
        rows = slice(start, start + 10_000)
        logits = rng.normal(size=(len(labels[rows]), num_classes)) * 1.5
        logits[np.arange(len(labels[rows])), labels[rows]] += 3.0
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        scores[rows] = exp / exp.sum(axis=1, keepdims=True)
    return labels, scores


def tensor_bytes(summary_proto) -> int:
    return len(summary_proto.value[0].tensor.SerializeToString())


def version_1_bytes(labels, scores, grid) -> tuple[int, int]:
    """Bytes of the dense float32 tensors version 1 stored for these counts."""
    batch = inputs.prepare(labels, scores)
    positive, negative = batch.threshold_histograms(grid)
    curves = np.vstack([np.append(grid, np.inf)[None, :], positive, negative]).astype(np.float32)
    matrix = np.zeros((batch.num_classes, batch.num_classes), dtype=np.float32)
    return (len(tensor_util.make_tensor_proto(curves).SerializeToString()),
            len(tensor_util.make_tensor_proto(matrix).SerializeToString()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(2026)
    grid = default_thresholds()
    rows = []
    print("| classes | samples | curves v1 | curves v2 | ratio | exact classes | matrix v1 | matrix v2 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for num_classes in CLASS_COUNTS:
        for num_samples in SAMPLE_COUNTS:
            labels, scores = epoch(num_classes, num_samples, rng)
            curves = summary.threshold_curves_pb("threshold_curves", labels, scores)
            matrix = summary.confusion_matrix_pb("confusion_matrix", labels, scores)
            decoded = summary.curve_counts(inputs.prepare(labels, scores), grid, [""] * scores.reshape(
                num_samples, -1).shape[1])
            curves_v1, matrix_v1 = version_1_bytes(labels, scores, grid)
            row = {
                "classes": num_classes, "samples": num_samples,
                "curves_v1_bytes": curves_v1, "curves_v2_bytes": tensor_bytes(curves),
                "exact_classes": int(decoded.exact.sum()), "curve_count": int(decoded.exact.size),
                "matrix_v1_bytes": matrix_v1, "matrix_v2_bytes": tensor_bytes(matrix),
            }
            rows.append(row)
            name = "binary" if num_classes == 1 else num_classes
            print(f"| {name} | {num_samples:,} | {curves_v1:,} | {row['curves_v2_bytes']:,} | "
                  f"{curves_v1 / row['curves_v2_bytes']:.1f}x | {row['exact_classes']} of {row['curve_count']} | "
                  f"{matrix_v1:,} | {row['matrix_v2_bytes']:,} |", flush=True)
            del labels, scores
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "python": sys.version.split()[0], "numpy": np.__version__, "machine": platform.machine(), "rows": rows,
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
