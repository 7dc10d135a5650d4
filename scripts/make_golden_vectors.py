"""Writes tests/golden/core_vectors.json: inputs and outputs of the Python numeric core.

The JavaScript core (frontend/src/core.js) is tested against this file by
frontend/test/core.test.mjs, and tests/test_core_golden.py checks that the committed file is what
this script produces now. Regenerate after changing tb_metrics_plugin/core.py or top_k.py (the
rank-count metrics, whose JS twin is frontend/src/top_k.js):

    python scripts/make_golden_vectors.py

Format: {"version": 1, "tolerance": 1e-9, "cases": [{"name", "function", "args", "expected"}]}.
`function` is the Python name (the JS name is its camelCase); `args` lists the arguments by
Python name in positional order, so JS can pass `Object.values(args)`; in args, null inside a list
is NaN and a null argument is None. Non-finite numbers in
`expected` are null (NaN), "Infinity" and "-Infinity". The (tp, fp, tn, fn) tuple becomes an object,
other tuples lists.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
from typing import Any

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tb_metrics_plugin import core, top_k  # noqa: E402

OUTPUT = ROOT / "tests" / "golden" / "core_vectors.json"
VERSION = 1
TOLERANCE = 1e-9
TUPLE_FIELDS = {"confusion_at_thresholds": ("tp", "fp", "tn", "fn")}


def encode(value: Any) -> Any:
    """JSON-ready: arrays as lists, NaN as None, ±inf as the strings "Infinity" / "-Infinity"."""
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return encode(value.tolist())
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    return value


def histograms(rng: np.random.Generator, num_classes: int, num_bins: int, weighted: bool, separation: float):
    """Small random histograms where positives lean towards the high bins."""
    ramp = np.linspace(-1, 1, num_bins)
    positive = rng.poisson(3 * np.exp(separation * ramp), size=(num_classes, num_bins)).astype(float)
    negative = rng.poisson(3 * np.exp(-separation * ramp), size=(num_classes, num_bins)).astype(float)
    if weighted:  # quarter weights: exact in binary, so inputs round-trip through JSON unchanged
        positive *= rng.integers(1, 8, size=positive.shape) / 4
        negative *= rng.integers(1, 8, size=negative.shape) / 4
    return positive, negative


def grid(num_thresholds: int) -> np.ndarray:
    """Increasing thresholds in [0, 1], uneven like the default grid, with 0 and 1 at the ends."""
    uniform = np.linspace(0, 1, num_thresholds)
    return np.round(uniform * uniform * (3 - 2 * uniform), 6)


def build_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(20261124)
    cases: list[dict[str, Any]] = []

    def add(name: str, function: str, **args):
        result = getattr(top_k if function in top_k.__all__ else core, function)(**args)
        if function in TUPLE_FIELDS:
            result = dict(zip(TUPLE_FIELDS[function], result, strict=True))
        cases.append({"name": name, "function": function, "args": encode(args), "expected": encode(result)})

    # ---- binary: integer counts, weighted counts, edge cases
    thresholds = grid(12)
    integer_pos, integer_neg = (h[0] for h in histograms(rng, 1, 13, weighted=False, separation=1.2))
    weighted_pos, weighted_neg = (h[0] for h in histograms(rng, 1, 13, weighted=True, separation=0.8))
    binary_sets = {
        "integer": (integer_pos, integer_neg),
        "weighted": (weighted_pos, weighted_neg),
        "no positives": (np.zeros(13), integer_neg),
        "no negatives": (integer_pos, np.zeros(13)),
        "all zeros": (np.zeros(13), np.zeros(13)),
        "perfect separation": (np.r_[np.zeros(7), np.ones(6)], np.r_[np.ones(7), np.zeros(6)]),
    }
    for label, (pos, neg) in binary_sets.items():
        hist = {"positive_histograms": pos, "negative_histograms": neg}
        with_thresholds = {**hist, "thresholds": thresholds}
        add(f"counts, {label}", "confusion_at_thresholds", **hist)
        tp, fp, tn, fn = core.confusion_at_thresholds(pos, neg)
        add(f"metrics, {label}", "threshold_metrics", tp=tp, fp=fp, tn=tn, fn=fn, beta=1.0)
        for function in ("roc_curve", "pr_curve", "det_curve"):
            add(f"{function}, {label}", function, **with_thresholds)
        for function in ("roc_auc", "average_precision", "pr_auc"):
            add(f"{function}, {label}", function, **hist)
        for max_fpr in (0.05, 0.3, 1.0):
            add(f"partial ROC-AUC to {max_fpr}, {label}", "partial_roc_auc", **hist, max_fpr=max_fpr)
        for method in ("majoring", "minoring"):
            add(f"PR-AUC {method}, {label}", "pr_auc_bound", **hist, summation_method=method)
        add(f"best F1, {label}", "best_fbeta_threshold", **with_thresholds)
        add(f"best Youden, {label}", "best_youden_threshold", **with_thresholds)
        add(f"min cost, {label}", "min_cost_threshold", **with_thresholds, cost_ratio=1.0)
        add(f"recall at precision 0.6, {label}", "recall_at_precision", **with_thresholds, min_precision=0.6)
        add(f"precision at recall 0.8, {label}", "precision_at_recall", **with_thresholds, min_recall=0.8)
        add(f"distribution, {label}", "score_distribution", **with_thresholds)
        add(f"reliability, {label}", "reliability_diagram", **with_thresholds, num_bins=5)
        add(f"ECE, {label}", "expected_calibration_error", **with_thresholds, num_bins=5)

    weighted = {"positive_histograms": weighted_pos, "negative_histograms": weighted_neg, "thresholds": thresholds}
    tp, fp, tn, fn = core.confusion_at_thresholds(weighted_pos, weighted_neg)
    add("metrics, beta 2", "threshold_metrics", tp=tp, fp=fp, tn=tn, fn=fn, beta=2.0)
    add("metrics, scalars", "threshold_metrics", tp=8.0, fp=2.0, tn=85.0, fn=5.0, beta=0.5)
    for beta in (0.5, 2.0):
        add(f"best F{beta}", "best_fbeta_threshold", **weighted, beta=beta)
    for cost_ratio, prevalence in ((5.0, None), (0.2, 0.1), (0.0, 0.5)):
        add(f"min cost {cost_ratio} at {prevalence}", "min_cost_threshold", **weighted,
            cost_ratio=cost_ratio, prevalence=prevalence)
    for bound in (0.0, 0.5, 0.95, 1.0):
        add(f"recall at precision {bound}", "recall_at_precision", **weighted, min_precision=bound)
        add(f"precision at recall {bound}", "precision_at_recall", **weighted, min_recall=bound)
        add(f"sensitivity at specificity {bound}", "sensitivity_at_specificity", **weighted, min_specificity=bound)
        add(f"specificity at sensitivity {bound}", "specificity_at_sensitivity", **weighted, min_sensitivity=bound)
    add("reliability, 1 bin", "reliability_diagram", **weighted, num_bins=1)
    add("reliability, more bins than thresholds", "reliability_diagram", **weighted, num_bins=20)

    single = {"positive_histograms": np.array([1.0, 3.0]), "negative_histograms": np.array([2.0, 1.0])}
    single_t = {**single, "thresholds": np.array([0.5])}
    for function in ("roc_auc", "average_precision", "pr_auc"):
        add(f"{function}, single threshold", function, **single)
    add("partial ROC-AUC, single threshold", "partial_roc_auc", **single, max_fpr=0.4)
    add("PR-AUC minoring, single threshold", "pr_auc_bound", **single, summation_method="minoring")
    for function in ("roc_curve", "pr_curve", "det_curve", "best_fbeta_threshold", "best_youden_threshold",
                     "reliability_diagram"):
        add(f"{function}, single threshold", function, **single_t)

    # ---- multiclass one-vs-rest: 4 classes, the last without positives
    thresholds = grid(16)
    positive, negative = histograms(rng, 4, 17, weighted=True, separation=1.0)
    positive[3] = 0.0
    multi = {"positive_histograms": positive, "negative_histograms": negative}
    multi_t = {**multi, "thresholds": thresholds}
    for average in (None, "micro", "macro", "weighted"):
        for function in ("roc_auc", "average_precision", "pr_auc"):
            add(f"{function}, 4 classes, {average}", function, **multi, average=average)
        add(f"partial ROC-AUC, 4 classes, {average}", "partial_roc_auc", **multi, max_fpr=0.25, average=average)
        for method in ("majoring", "minoring"):
            add(f"PR-AUC {method}, 4 classes, {average}", "pr_auc_bound", **multi, summation_method=method,
                average=average)
        add(f"best F1, 4 classes, {average}", "best_fbeta_threshold", **multi_t, beta=1.0, average=average)
        add(f"best Youden, 4 classes, {average}", "best_youden_threshold", **multi_t, average=average)
        add(f"min cost, 4 classes, {average}", "min_cost_threshold", **multi_t,
            cost_ratio=2.0, prevalence=None, average=average)
        add(f"recall at precision, 4 classes, {average}", "recall_at_precision", **multi_t,
            min_precision=0.6, average=average)
        for function in ("roc_curve", "pr_curve", "det_curve"):
            add(f"{function}, 4 classes, {average}", function, **multi_t, average=average)
        if average is not None:
            tp, fp, tn, fn = core.confusion_at_thresholds(positive, negative)
            add(f"averaged metrics, 4 classes, {average}", "average_threshold_metrics",
                tp=tp, fp=fp, tn=tn, fn=fn, average=average, beta=1.0)
    add("counts, 4 classes", "confusion_at_thresholds", **multi)
    tp, fp, tn, fn = core.confusion_at_thresholds(positive, negative)
    add("metrics, 4 classes", "threshold_metrics", tp=tp, fp=fp, tn=tn, fn=fn, beta=1.0)
    add("distribution, 4 classes", "score_distribution", **multi_t)
    add("summary, 4 classes", "threshold_curves_summary", **multi_t)
    add("summary, one class", "threshold_curves_summary", positive_histograms=integer_pos,
        negative_histograms=integer_neg, thresholds=grid(12))
    add("average over classes, macro", "average_over_classes",
        per_class_values=np.array([0.5, math.nan, 1.0]),
        support=np.array([1.0, 5.0, 3.0]), average="macro")
    add("average over classes, weighted", "average_over_classes",
        per_class_values=np.array([0.5, 0.25, 1.0]), support=np.array([1.0, 5.0, 0.0]), average="weighted")

    # ---- confusion matrices
    matrices = {
        "3 classes": np.array([[50, 3, 2], [4, 30, 6], [1, 8, 20]], dtype=float),
        "weighted, empty class": np.array(
            [[5.5, 1, 0, 0, 0.25], [2, 7.75, 0, 0, 1], [0, 0.5, 3, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
        ),
        "predicted never true": np.array([[4.0, 2.0], [0.0, 0.0]]),
        "one class": np.array([[7.0]]),
        "all zeros": np.zeros((3, 3)),
    }
    for label, matrix in matrices.items():
        add(f"matrix metrics, {label}", "matrix_metrics", matrix=matrix)
        add(f"matrix summary, {label}", "confusion_matrix_summary", matrix=matrix)
        for normalize in ("true", "pred", "all", "none"):
            add(f"normalize {normalize}, {label}", "normalize_matrix", matrix=matrix, normalize=normalize)
        add(f"top confusions, {label}", "top_confusions", matrix=matrix, k=4)
        for weights in ("linear", "quadratic"):
            add(f"{weights} kappa, {label}", "weighted_kappa", matrix=matrix, weights=weights)
    add("top confusions, k = 0", "top_confusions", matrix=matrices["3 classes"], k=0)
    tied = np.array([[1, 2, 2], [2, 1, 0], [2, 0, 1]], dtype=float)
    add("top confusions, ties", "top_confusions", matrix=tied, k=10)

    # ---- top-k from rank counts (tb_metrics_plugin/top_k.py): weighted, a class never seen, ties
    # (two classes listed at rank 0 on one item), K = C (top-K accuracy 1), nothing counted
    true_ranks = np.array([[4.5, 2.0, 1.0, 0.5], [1.0, 3.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0], [2.0, 0.5, 0.5, 1.0]])
    class_ranks = np.array([[5.0, 3.0, 2.5], [3.5, 4.0, 1.0], [0.0, 2.0, 3.0], [3.0, 1.5, 4.0]])
    full_true = np.array([[3.0, 1.0, 0.0, 0.0], [0.5, 2.0, 1.0, 0.0], [1.0, 0.0, 2.0, 0.0]])
    full_class = np.array([[4.0, 1.5, 2.0], [1.5, 3.0, 3.0], [1.0, 3.0, 3.0]])
    for label, (ranks, listed) in {"4 classes, K = 3": (true_ranks, class_ranks), "K = C": (full_true, full_class),
                                   "nothing counted": (np.zeros((3, 4)), np.zeros((3, 3)))}.items():
        for k in range(1, ranks.shape[1]):
            add(f"top-{k} accuracy, {label}", "top_k_accuracy", true_ranks=ranks, k=k)
            add(f"top-{k} precision and recall, {label}", "top_k_precision_recall", true_ranks=ranks,
                class_ranks=listed, k=k)
        add(f"top-k summary, default k, {label}", "top_k_summary", true_ranks=ranks, class_ranks=listed, k=None)
        add(f"logged depth, {label}", "logged_depth", true_ranks=ranks)
        add(f"default k, {label}", "default_k", true_ranks=ranks)
        add(f"check k, {label}", "check_k", k=2, true_ranks=ranks)

    # ---- the stored threshold a slider value stands for
    for value in (0.0, 0.3, 0.5, 0.52, 1.0, -2.0, 7.0, math.nan):
        add(f"threshold index of {value}", "threshold_index", thresholds=np.array([0.0, 0.25, 0.5, 0.54, 1.0]),
            threshold=value)
    add("threshold index, no thresholds", "threshold_index", thresholds=np.zeros(0), threshold=0.5)

    # ---- format version 2: exact classes (thresholds = distinct scores, padded with +inf) and mixed
    # steps (an exact class beside grid classes): per-class rows, exact resolution, alignment.
    exact_rows = np.array([
        [0.1, 0.25, 0.3, 0.6, 0.9, np.inf, np.inf],  # exact: 5 distinct scores
        [0.05, 0.3, 0.45, 0.5, 0.7, 0.8, 0.95],  # exact: 7 distinct scores
        [0.2, 0.4, 0.6, 0.8, np.inf, np.inf, np.inf],  # exact: 4
    ])
    exact_pos = np.array([[0, 1, 0, 2, 3, 0, 0, 0], [0, 0, 1, 0, 2, 1, 1, 0], [1, 0, 1, 1, 0, 0, 0, 0]], float)
    exact_neg = np.array([[2, 1, 3, 1, 0, 0, 0, 0], [1, 2, 1, 1, 0, 1, 0, 0], [0, 2, 1, 0, 0, 0, 0, 0]], float)
    all_exact = np.ones(3, dtype=bool)
    mixed_rows = np.vstack([grid(7), exact_rows[0], grid(7)])
    mixed_pos = np.vstack([positive[0, :8], exact_pos[0], positive[1, :8]])
    mixed_neg = np.vstack([negative[0, :8], exact_neg[0], negative[1, :8]])
    mixed_exact = np.array([False, True, False])
    for label, (rows, pos, neg, flags) in {
        "exact": (exact_rows, exact_pos, exact_neg, all_exact),
        "mixed": (mixed_rows, mixed_pos, mixed_neg, mixed_exact),
    }.items():
        add(f"align classes, {label}", "align_classes", thresholds=rows, positive_histograms=pos,
            negative_histograms=neg, exact=flags)
        add(f"summary, {label}", "threshold_curves_summary", positive_histograms=pos, negative_histograms=neg,
            thresholds=rows, exact=flags)
        per_class = {"positive_histograms": pos, "negative_histograms": neg, "thresholds": rows}
        for function in ("roc_curve", "pr_curve", "best_fbeta_threshold", "best_youden_threshold",
                         "score_distribution"):
            add(f"{function}, per-class thresholds, {label}", function, **per_class)
        add(f"partial ROC-AUC, per-class thresholds, {label}", "partial_roc_auc", positive_histograms=pos,
            negative_histograms=neg, max_fpr=0.2)
        add(f"min cost, per-class thresholds, {label}", "min_cost_threshold", **per_class, cost_ratio=2.0)
        add(f"recall at precision, per-class thresholds, {label}", "recall_at_precision", **per_class,
            min_precision=0.6)
        axis, aligned_pos, aligned_neg = core.align_classes(rows, pos, neg, flags)
        aligned = {"positive_histograms": aligned_pos, "negative_histograms": aligned_neg, "thresholds": axis}
        for average in ("micro", "macro"):
            add(f"best F1 aligned, {label}, {average}", "best_fbeta_threshold", **aligned, beta=1.0, average=average)
            add(f"roc curve aligned, {label}, {average}", "roc_curve", **aligned, average=average)
    add("align classes, shared grid unchanged", "align_classes", thresholds=thresholds, positive_histograms=positive,
        negative_histograms=negative, exact=np.zeros(4, dtype=bool))
    add("reliability, exact class", "reliability_diagram", positive_histograms=exact_pos[0],
        negative_histograms=exact_neg[0], thresholds=exact_rows[0], num_bins=4)
    for value in (0.0, 0.1, 0.3, 0.2999999, 0.35, 0.9, 1.0, -1.0, math.nan):
        add(f"threshold index of {value}, exact", "threshold_index", thresholds=exact_rows[0], threshold=value,
            exact=True)
    for index in (-1, 0, 2, 4, 6):
        add(f"counts at index {index}", "counts_at_index", positive_histograms=exact_pos[0],
            negative_histograms=exact_neg[0], index=index)

    # ---- uncertainty
    add("Wilson, scalars", "wilson_interval", successes=8.0, trials=10.0, z=1.96)
    add("Wilson, arrays", "wilson_interval", successes=np.array([0.0, 3.0, 10.0, 7.5, 0.0]),
        trials=np.array([10.0, 10.0, 10.0, 12.5, 0.0]), z=2.576)
    add("Hanley-McNeil, scalars", "hanley_mcneil_se", auc=0.8, positives=50.0, negatives=50.0)
    add("Hanley-McNeil, arrays", "hanley_mcneil_se", auc=np.array([0.5, 0.9, 1.0, 0.7]),
        positives=np.array([10.0, 100.0, 5.0, 0.0]), negatives=np.array([10.0, 20.0, 5.0, 3.0]))
    return cases


def golden() -> dict[str, Any]:
    return {"version": VERSION, "tolerance": TOLERANCE, "cases": build_cases()}


def main() -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(golden(), separators=(",", ":"), allow_nan=False)
    OUTPUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(text) / 1000:.1f} kB to {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
