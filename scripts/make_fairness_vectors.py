"""Writes tests/golden/fairness_vectors.json: inputs and outputs of the Python slice maths.

The browser's copy (frontend/src/fairness.js) is tested against this file by
frontend/test/fairness.test.mjs, and tests/test_fairness_golden.py checks that the committed file is
what this script produces now. Regenerate after changing tb_metrics_plugin/fairness.py,
fairness_intervals.py or fairness_thresholds.py:

    python scripts/make_fairness_vectors.py

Format as tests/golden/core_vectors.json (see scripts/make_golden_vectors.py), plus "module": the
Python module of `function`; every function lives in fairness.js under its camelCase name.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_golden_vectors import encode  # noqa: E402

from tb_metrics_plugin import core, fairness, fairness_intervals, fairness_thresholds  # noqa: E402

OUTPUT = ROOT / "tests" / "golden" / "fairness_vectors.json"
VERSION = 1
TOLERANCE = 1e-9
MODULES = {"fairness": fairness, "fairness_intervals": fairness_intervals, "fairness_thresholds": fairness_thresholds}
# The functions with a JS twin, by module (fairness.gaps / largest_gap work on named slices for the CLI).
FUNCTIONS = {
    "fairness": ("slice_rates", "matrix_class_counts"),
    "fairness_intervals": ("rate_intervals", "gap_intervals", "newcombe_difference_interval", "katz_ratio_interval",
                           "matrix_rate_intervals", "matrix_gap_intervals", "averaged_rate_intervals",
                           "averaged_gap_intervals"),
    "fairness_thresholds": ("slice_thresholds",),
}


def sliced_histograms(rng: np.random.Generator, num_slices: int, num_bins: int, weighted: bool):
    """Per-slice histograms whose separation differs by slice (so the slices' rates differ)."""
    ramp = np.linspace(-1, 1, num_bins)
    separation = rng.uniform(0.3, 2.0, size=(num_slices, 1))
    positive = rng.poisson(3 * np.exp(separation * ramp)).astype(float)
    negative = rng.poisson(3 * np.exp(-separation * ramp)).astype(float)
    if weighted:  # quarter weights: exact in binary, so inputs round-trip through JSON unchanged
        positive *= rng.integers(1, 8, size=positive.shape) / 4
        negative *= rng.integers(1, 8, size=negative.shape) / 4
    return positive, negative


def build_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(20261202)
    cases: list[dict[str, Any]] = []

    def add(name: str, module: str, function: str, **args):
        result = getattr(MODULES[module], function)(**args)
        cases.append(
            {"name": name, "module": module, "function": function, "args": encode(args), "expected": encode(result)}
        )

    thresholds = np.round(np.linspace(0.05, 0.95, 9), 6)
    sets = {
        "integer": sliced_histograms(rng, 4, 10, weighted=False),
        "weighted": sliced_histograms(rng, 3, 10, weighted=True),
    }
    positive, negative = sliced_histograms(rng, 4, 10, weighted=False)
    positive[2] = negative[2] = 0  # an empty slice
    positive[3] = 0  # a slice without positives
    sets["empty and no positives"] = (positive, negative)

    for label, (positive, negative) in sets.items():
        tp, fp, tn, fn = core.confusion_at_thresholds(positive, negative)
        at = {"tp": tp[:, 4], "fp": fp[:, 4], "tn": tn[:, 4], "fn": fn[:, 4]}
        add(f"rates, {label}", "fairness", "slice_rates", **at)
        add(f"rate intervals, {label}", "fairness_intervals", "rate_intervals", **at, z=1.96)
        for reference in (0, 1):
            add(f"gap intervals to {reference}, {label}", "fairness_intervals", "gap_intervals", **at,
                reference=reference, z=1.96)
        hist = {"positive_histograms": positive, "negative_histograms": negative, "thresholds": thresholds}
        for mode in fairness_thresholds.MODES:
            for objective in fairness_thresholds.OBJECTIVES:
                add(f"optimiser {mode}, {objective}, {label}", "fairness_thresholds", "slice_thresholds", **hist,
                    mode=mode, objective=objective, tolerance=0.1, beta=1.0)
        for tolerance in (0.0, 0.02, 0.5):
            add(f"optimiser equal opportunity, tolerance {tolerance}, {label}", "fairness_thresholds",
                "slice_thresholds", **hist, mode="equal_opportunity", objective="fbeta", tolerance=tolerance, beta=2.0)

    pairs = {
        "successes_a": np.array([56.0, 0.0, 10.0, 5.0, 0.0, 0.0, 7.5]),
        "trials_a": np.array([70.0, 10.0, 10.0, 56.0, 0.0, 4.0, 12.5]),
        "successes_b": np.array([48.0, 3.0, 2.0, 0.0, 2.0, 0.0, 2.25]),
        "trials_b": np.array([80.0, 10.0, 15.0, 29.0, 5.0, 6.0, 3.0]),
    }
    add("Newcombe difference", "fairness_intervals", "newcombe_difference_interval", **pairs, z=1.96)
    add("Newcombe difference, z 2.576", "fairness_intervals", "newcombe_difference_interval", **pairs, z=2.576)
    add("Katz ratio", "fairness_intervals", "katz_ratio_interval", **pairs, z=1.96)

    # Confusion matrices per slice (an argmax classifier's, at its logged decision): 4 slices of a
    # 3-class matrix, one empty and one without samples of class 1; quarter weights in one set.
    matrices = rng.poisson(4.0, size=(4, 3, 3)).astype(float) + 6 * np.eye(3)
    matrices[2] = 0
    matrices[3, 1, :] = 0
    weighted = matrices * rng.integers(1, 8, size=matrices.shape) / 4
    for label, stack in {"integer": matrices, "weighted": weighted}.items():
        for class_index in (0, 1, None):
            add(f"matrix rate intervals, class {class_index}, {label}", "fairness_intervals", "matrix_rate_intervals",
                matrices=stack, class_index=class_index, z=1.96)
            for reference in (0, 3):
                add(f"matrix gap intervals, class {class_index}, to {reference}, {label}", "fairness_intervals",
                    "matrix_gap_intervals", matrices=stack, class_index=class_index, reference=reference, z=1.96)
        add(f"matrix class counts, {label}", "fairness", "matrix_class_counts", matrices=stack)
        tp, fp, tn, fn = fairness.matrix_class_counts(stack)
        per_class = {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
        for average in fairness_intervals.AVERAGES:
            add(f"{average} rate intervals, {label}", "fairness_intervals", "averaged_rate_intervals", **per_class,
                average=average, z=1.96)
            for reference in (0, 3):
                add(f"{average} gap intervals to {reference}, {label}", "fairness_intervals", "averaged_gap_intervals",
                    **per_class, average=average, reference=reference, z=1.96)

    # The optimiser with no slice constrained (no slice has positives: equal opportunity holds for
    # any thresholds), and at the tab's size class (10 slices, many thresholds, tied rates), where
    # the browser searches runs of thresholds sorted by rate instead of every threshold per band.
    positive, negative = sliced_histograms(rng, 3, 10, weighted=False)
    hist = {"positive_histograms": np.zeros_like(positive), "negative_histograms": negative, "thresholds": thresholds}
    for objective in fairness_thresholds.OBJECTIVES:
        add(f"optimiser equal opportunity, no slice has positives, {objective}", "fairness_thresholds",
            "slice_thresholds", **hist, mode="equal_opportunity", objective=objective, tolerance=0.1, beta=1.0)
    positive, negative = sliced_histograms(rng, 10, 41, weighted=False)
    hist = {"positive_histograms": positive, "negative_histograms": negative,
            "thresholds": np.round(np.linspace(0.025, 0.975, 40), 6)}
    for mode in fairness_thresholds.CONSTRAINED_RATES:
        for objective in ("fbeta", "youden"):
            add(f"optimiser {mode}, {objective}, 10 slices × 40 thresholds", "fairness_thresholds",
                "slice_thresholds", **hist, mode=mode, objective=objective, tolerance=0.05, beta=1.0)
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
