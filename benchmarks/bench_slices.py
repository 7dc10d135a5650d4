"""Slicing cost: one key of S values against the overall count alone, and against one masked pass per slice.

    python benchmarks/bench_slices.py [--repeats 7] [--output benchmarks/results/slices.json]

For a binary model (200,000 and 2,000,000 samples) and a 10-class model (50,000 samples), one
`threshold_curves_pb` + `confusion_matrix_pb` epoch is written without slices, with one key of S =
1, 10 and 100 values (`slices=`: the items are ordered once by slice code and each slice counts its
own contiguous run), and the naive way: for each value a boolean mask over all samples and a
writer call on the subset (S passes over the data). The three are interleaved in each round and
the table gives the fastest of `--repeats` rounds; "extra" is the sliced (or masked) time minus
the overall time, in units of the overall time.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from tb_metrics_plugin import summary

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "slices.json"
# name: (classes, samples, slice counts). The 2,000,000-sample case shows the cost that grows with the
# data: S masks cost S passes, the sort by slice one.
CASES = {
    "binary": (1, 200_000, (1, 10, 100)),
    "10 classes": (10, 50_000, (1, 10, 100)),
    "binary 2M": (1, 2_000_000, (10, 100)),
}


def data(num_classes: int, num_samples: int, rng: np.random.Generator):
    if num_classes == 1:
        return rng.integers(0, 2, num_samples), rng.random(num_samples).astype(np.float32)
    scores = rng.dirichlet(np.ones(num_classes), num_samples).astype(np.float32)
    return rng.integers(0, num_classes, num_samples), scores


def write(labels, scores, slices=None) -> int:
    curves = summary.threshold_curves_pb("threshold_curves", labels, scores, slices=slices)
    matrix = summary.confusion_matrix_pb("confusion_matrix", labels, scores, slices=slices)
    return len(curves.value) + len(matrix.value)


def write_masked(labels, scores, codes, num_values: int) -> int:
    values = write(labels, scores)
    for value in range(num_values):
        mask = codes == value
        values += write(labels[mask], scores[mask])
    return values


def fastest(functions: dict, repeats: int) -> dict[str, float]:
    """The fastest time of each function over `repeats` rounds, the functions interleaved in each
    round so that a load change on a shared machine hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    results = {"machine": {"python": platform.python_version(), "numpy": np.__version__,
                           "platform": platform.platform()}, "repeats": args.repeats, "cases": {}}
    print(f"{'case':<11} {'S':>4} {'overall s':>10} {'sliced s':>9} {'extra':>6} {'masked s':>9} {'extra':>6}")
    for name, (num_classes, num_samples, slice_counts) in CASES.items():
        labels, scores = data(num_classes, num_samples, rng)
        write(labels, scores)  # warm up: the default grid's tables are built once per process
        for num_values in slice_counts:
            codes = rng.integers(0, num_values, num_samples)
            codes[:num_values] = np.arange(num_values)  # every value present
            best = fastest({
                "overall": lambda: write(labels, scores),  # noqa: B023
                "sliced": lambda: write(labels, scores, {"group": codes}),  # noqa: B023
                "masked": lambda: write_masked(labels, scores, codes, num_values),  # noqa: B023
            }, args.repeats)
            overall, sliced, masked = best["overall"], best["sliced"], best["masked"]
            row = {"samples": num_samples, "classes": num_classes, "slices": num_values, "overall_seconds": overall,
                   "sliced_seconds": sliced, "masked_seconds": masked,
                   "sliced_extra_in_overall_passes": (sliced - overall) / overall,
                   "masked_extra_in_overall_passes": (masked - overall) / overall}
            results["cases"][f"{name}, S={num_values}"] = row
            print(f"{name:<11} {num_values:>4} {overall:>10.3f} {sliced:>9.3f} "
                  f"{row['sliced_extra_in_overall_passes']:>6.2f} {masked:>9.3f} "
                  f"{row['masked_extra_in_overall_passes']:>6.2f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
