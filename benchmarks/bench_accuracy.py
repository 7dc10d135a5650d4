"""Accuracy per regime: metrics from the stored counts against scikit-learn on the same scores.

    python benchmarks/bench_accuracy.py [--seeds 3] [--output benchmarks/results/accuracy.json]

For binary models (calibrated: p uniform, y ~ Bernoulli(p); confident: logits N(±4, 4)) and 10-class
softmax models, at 10^3 to 10^5 validation samples (10^6 binary), one summary is written with the
default settings and decoded; ROC-AUC, average precision (per class and micro) and the best F1 are
derived from the counts (`core.threshold_curves_summary`) and compared with scikit-learn's
`roc_auc_score`, `average_precision_score` and the maximum F1 of `precision_recall_curve` on the same
float32 scores. The table gives the largest absolute difference over classes and seeds, and whether
the classes were stored exactly or on the grid. Differences, not timings: machine-independent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn import metrics as skm
from tensorboard.util import tensor_util

from tb_metrics_plugin import core, layout, metadata, summary

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "accuracy.json"


def binary(rng, n, kind):
    if kind == "calibrated":
        p = rng.random(n)
        return (rng.random(n) < p).astype(int), p.astype(np.float32)
    labels = rng.integers(0, 2, n)
    logits = rng.normal(8.0 * labels - 4.0, 4.0)
    return labels, (1 / (1 + np.exp(-logits))).astype(np.float32)


def multiclass(rng, n, num_classes=10):
    labels = rng.integers(0, num_classes, n)
    logits = rng.normal(size=(n, num_classes)) * 1.5
    logits[np.arange(n), labels] += 2.0
    scores = np.exp(logits - logits.max(1, keepdims=True))
    return labels, (scores / scores.sum(1, keepdims=True)).astype(np.float32)


def best_f1(truth, scores):
    precision, recall, _ = skm.precision_recall_curve(truth, scores)
    denominator = np.maximum(precision + recall, 1e-300)
    return float(np.max(np.where(precision + recall > 0, 2 * precision * recall / denominator, 0)))


def errors(labels, scores) -> dict:
    proto = summary.threshold_curves_pb("curves", labels, scores)
    value = proto.value[0]
    counts = layout.decode(tensor_util.make_ndarray(value.tensor),
                           metadata.parse_plugin_metadata(value.metadata.plugin_data.content))
    numbers = core.threshold_curves_summary(
        counts.positive_histograms, counts.negative_histograms, counts.thresholds, counts.exact)
    truth = (np.eye(scores.shape[1])[labels] if scores.ndim == 2 else labels[:, None]).astype(int)
    columns = scores if scores.ndim == 2 else scores[:, None]
    found = {"roc_auc": 0.0, "average_precision": 0.0, "best_f1": 0.0}
    for c in range(columns.shape[1]):
        found["roc_auc"] = max(found["roc_auc"], abs(numbers["roc_auc"]["per_class"][c]
                                                     - skm.roc_auc_score(truth[:, c], columns[:, c])))
        found["average_precision"] = max(found["average_precision"], abs(
            numbers["average_precision"]["per_class"][c] - skm.average_precision_score(truth[:, c], columns[:, c])))
        found["best_f1"] = max(found["best_f1"], abs(numbers["best_f1"]["per_class"][c]
                                                     - best_f1(truth[:, c], columns[:, c])))
    if columns.shape[1] > 1:
        found["micro_average_precision"] = abs(numbers["average_precision"]["micro"]
                                               - skm.average_precision_score(truth, columns, average="micro"))
    found["exact_classes"] = f"{int(counts.exact.sum())} of {counts.exact.size}"
    return found


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    cases = [(f"binary {kind}", n, kind) for kind in ("calibrated", "confident")
             for n in (1_000, 3_000, 10_000, 100_000, 1_000_000)]
    cases += [("10 classes", n, None) for n in (540, 1_000, 10_000, 100_000)]
    rows = []
    print("| model | samples | stored | ROC-AUC | AP | best F1 | micro AP |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for name, n, kind in cases:
        worst: dict = {}
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            labels, scores = binary(rng, n, kind) if kind else multiclass(rng, n)
            found = errors(labels, scores)
            for key, value in found.items():
                worst[key] = value if isinstance(value, str) else max(worst.get(key, 0.0), value)
        rows.append({"model": name, "samples": n, **worst})
        micro = f"{worst['micro_average_precision']:.1e}" if "micro_average_precision" in worst else "–"
        exact, total = worst["exact_classes"].split()[0], worst["exact_classes"].split()[-1]
        stored = "exact" if exact == total else ("grid" if exact == "0" else "mixed")
        print(f"| {name} | {n:,} | {stored} ({worst['exact_classes']}) | {worst['roc_auc']:.1e} | "
              f"{worst['average_precision']:.1e} | "
              f"{worst['best_f1']:.1e} | {micro} |", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"python": sys.version.split()[0], "seeds": args.seeds, "rows": rows},
                                      indent=1) + "\n")


if __name__ == "__main__":
    main()
