// The chart views' pure helpers: axis transforms, the curve-point ↔ threshold bookkeeping, the
// distribution's display bins and the over-epochs series picking. (Drawing is tested in a browser.)
import assert from "node:assert/strict";
import test from "node:test";

import * as core from "../src/core.js";
import { logit, mostlyConfident, normalCdf, occupiedScoreRange, probit, sigmoid } from "../src/views/chart/axes.js";
import {
  curveGridIndex, curvePointAt, curveRows, hasBothClasses, splitDefined, thresholdRows,
} from "../src/views/chart/curve_data.js";
import { countRows, thresholdIndices, thresholdRow } from "../src/views/chart/tooltip_html.js";
import { displayBins } from "../src/views/distribution.js";
import { summaryValues } from "../src/views/epochs.js";
import { classTickLayout, MAX_UPRIGHT_LABEL_PX } from "../src/views/class_axis.js";

test("probit is the standard normal quantile and normalCdf its inverse", () => {
  // Reference quantiles: Φ⁻¹(0.975), Φ⁻¹(0.001), Φ⁻¹(0.5).
  assert.ok(Math.abs(probit(0.975) - 1.959963984540054) < 1e-8);
  assert.ok(Math.abs(probit(0.001) + 3.090232306167813) < 1e-8);
  assert.equal(probit(0.5), 0);
  for (const p of [1e-6, 0.01, 0.2, 0.5, 0.8, 0.99, 1 - 1e-6]) {
    assert.ok(Math.abs(normalCdf(probit(p)) - p) < 1e-7, `Φ(Φ⁻¹(${p}))`);
  }
  // Rates of 0 and 1 sit at the clamped ends, finite, in order.
  assert.ok(Number.isFinite(probit(0)) && Number.isFinite(probit(1)) && probit(0) < probit(1e-6));
});

test("logit and sigmoid are inverses, clamped at 1e-9 from the ends", () => {
  for (const p of [1e-8, 0.1, 0.5, 0.9, 1 - 1e-6]) assert.ok(Math.abs(sigmoid(logit(p)) - p) < 1e-12 * Math.max(1, 1 / p));
  assert.ok(Math.abs(logit(0) - Math.log(1e-9 / (1 - 1e-9))) < 1e-9);
  assert.equal(logit(0.5), 0);
});

test("curve points map to stored thresholds as the core orders them", () => {
  assert.deepEqual(Array.from(curveGridIndex(3)), [-1, 2, 1, 0, -1]);
  const thresholds = Float64Array.from([0, 0.25, 0.5, 0.75, 1]);
  const positive = [0, 1, 2, 3, 4, 0];
  const negative = [1, 4, 3, 2, 1, 0];
  const { thresholds: curveThresholds, fpr, tpr } = core.rocCurve(positive, negative, thresholds);
  const { tp, fp } = core.confusionAtThresholds(positive, negative);
  for (const t of [0, 0.1, 0.3, 0.5, 0.74, 0.9, 1]) {
    const i = curvePointAt(thresholds, t);
    const j = core.thresholdIndex(thresholds, t);
    assert.equal(curveThresholds[i], thresholds[j], `threshold ${t}`);
    assert.equal(tpr[i], tp[j] / 10);
    assert.equal(fpr[i], fp[j] / 11);
  }
});

test("curveRows lists every stored threshold of every run with its counts", () => {
  const thresholds = Float64Array.from([0.2, 0.6]);
  const curve = {
    run: "r", thresholds, tp: [3, 1], fp: [2, 0], tn: [1, 3], fn: [0, 2],
  };
  const series = [{ x: [0, 0, 0.5, 1], y: [0, 1 / 3, 1, 1] }];
  assert.deepEqual(curveRows([curve], series, () => ["extra"]), [
    ["r", "extra", 0.2, 0.5, 1, 3, 2, 1, 0],
    ["r", "extra", 0.6, 0, 1 / 3, 1, 0, 3, 2],
  ]);
});

test("thresholdRows puts each run's cells between its name and its counts", () => {
  const curves = [
    { run: "a", thresholds: [0.2, 0.6], tp: [3, 1], fp: [2, 0], tn: [1, 3], fn: [0, 2] },
    { run: "b", thresholds: [0.5], tp: [4], fp: [1], tn: [5], fn: [0] },
  ];
  assert.deepEqual(thresholdRows(curves, (r, j) => [r, curves[r].thresholds[j]]), [
    ["a", 0, 0.2, 3, 2, 1, 0],
    ["a", 0, 0.6, 1, 0, 3, 2],
    ["b", 1, 0.5, 4, 1, 5, 0],
  ]);
});

test("splitDefined keeps the curves a view can draw and names the runs it leaves out", () => {
  const both = { run: "both", positives: 3, negatives: 2 };
  const noNegatives = { run: "only positives", positives: 5, negatives: 0 };
  const empty = { run: "empty", positives: 0, negatives: 0 };
  assert.deepEqual(splitDefined([both, noNegatives, empty], hasBothClasses), {
    defined: [both], skippedRuns: ["only positives", "empty"],
  });
  assert.deepEqual(splitDefined([noNegatives, empty], (curve) => curve.positives > 0), {
    defined: [noNegatives], skippedRuns: ["empty"],
  });
});

test("tooltip rows over a score axis report each run's counts at the threshold the core picks", () => {
  const thresholds = Float64Array.from([0, 0.25, 0.5, 0.75, 1]);
  const positive = [0, 1, 2, 3, 4, 0];
  const negative = [1, 4, 3, 2, 1, 0];
  const counts = core.confusionAtThresholds(positive, negative);
  const curves = [{ run: "r", thresholds, ...counts }];
  for (const score of [0.1, 0.3, 0.74, 0.9]) {
    const index = thresholdIndices(curves, score);
    const j = core.thresholdIndex(thresholds, score);
    assert.deepEqual(index, [j]);
    const [label, cell] = thresholdRow(curves, index);
    assert.equal(label, "threshold");
    assert.equal(Number(cell(0)), thresholds[j]);
    const shown = Object.fromEntries(countRows(curves, index).map(([name, text]) => [name, Number(text(0))]));
    assert.deepEqual(shown, { TP: counts.tp[j], FP: counts.fp[j], TN: counts.tn[j], FN: counts.fn[j] });
  }
});

test("display bins conserve each class's mass and merge only at stored thresholds", () => {
  const thresholds = Float64Array.from(Array.from({ length: 101 }, (_, j) => j / 100));
  const positive = Float64Array.from({ length: 102 }, (_, k) => (k > 60 && k <= 100 ? 2 : 0));
  const negative = Float64Array.from({ length: 102 }, (_, k) => (k > 0 && k < 50 ? 1 : 0));
  positive[0] = 5; // scores ≤ 0: a zero-width bin, reported apart
  const distribution = core.scoreDistribution(positive, negative, thresholds);
  const bins = displayBins(distribution, (p) => p, [0, 1]);
  const mass = (densities) => densities.reduce((sum, d, b) => sum + d * (bins.edges[b + 1] - bins.edges[b]), 0);
  const positiveTotal = positive.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(mass(bins.positive) - (positiveTotal - 5) / positiveTotal) < 1e-12);
  assert.ok(Math.abs(mass(bins.negative) - 1) < 1e-12);
  assert.equal(bins.outside.positive, 5 / positiveTotal);
  assert.equal(bins.edges.length, bins.positive.length + 1);
  for (const edge of bins.edges) assert.ok(thresholds.includes(edge), `edge ${edge} is a stored threshold`);
  // About 60 display bins over [0, 1] from 100 stored ones: pairs of 0.01-wide bins.
  assert.equal(bins.positive.length, 50);
});

test("confident models are recognised and the occupied range spans their bins", () => {
  const thresholds = Float64Array.from([0, 0.001, 0.01, 0.5, 0.99, 0.999, 1]);
  const confident = {
    thresholds,
    positiveHistogram: Float64Array.from([0, 0, 0, 0, 1, 5, 4, 0]),
    negativeHistogram: Float64Array.from([0, 6, 3, 1, 0, 0, 0, 0]),
  };
  const calibrated = {
    thresholds,
    positiveHistogram: Float64Array.from([0, 0, 0, 2, 8, 0, 0, 0]),
    negativeHistogram: Float64Array.from([0, 0, 1, 8, 1, 0, 0, 0]),
  };
  assert.equal(mostlyConfident([confident]), true);
  assert.equal(mostlyConfident([calibrated]), false);
  assert.deepEqual(occupiedScoreRange([confident]), [0, 1]);
  assert.deepEqual(occupiedScoreRange([calibrated]), [0.001, 0.99]);
});

test("summaryValues picks a class, an average or a single value, null where undefined", () => {
  const summary = {
    steps: [0, 1],
    series: {
      roc_auc: { per_class: [[0.5, 0.6], [0.7, null]], macro: [0.55, 0.7], micro: [0.56, 0.71], weighted: [0.57, 0.72] },
      accuracy: { value: [0.8, 0.9] },
    },
  };
  assert.deepEqual(summaryValues(summary, "roc_auc", "1"), [0.6, null]);
  assert.deepEqual(summaryValues(summary, "roc_auc", "macro"), [0.55, 0.7]);
  assert.deepEqual(summaryValues(summary, "accuracy", "0"), [0.8, 0.9]);
  assert.equal(summaryValues(summary, "mean_iou", "0"), null);
});

test("every class gets a label while a line of text fits per class; wide names stand upright", () => {
  const px = (text) => 7 * text.length; // 7 px a character
  const digits = Array.from({ length: 10 }, (_, c) => String(c));
  assert.deepEqual(classTickLayout(digits, 400, px), { every: 1, rotate: 0, labels: digits, size: 20 });
  const names = ["background", "square", "disc", "cross"];
  const upright = classTickLayout(names, 160, px); // 40 px a class: "background" (70 px) does not fit across
  assert.deepEqual([upright.every, upright.rotate, upright.labels], [1, 90, names]);
  assert.equal(upright.size, 70 + 6);
  // 100 classes in 400 px: 4 px each, so every 4th class is labelled (a 14 px line of text each).
  const many = Array.from({ length: 100 }, (_, c) => `class ${String(c).padStart(3, "0")}`);
  const sparse = classTickLayout(many, 400, px);
  assert.equal(sparse.every, 4);
  assert.deepEqual(sparse.labels.filter(Boolean), many.filter((_, c) => c % 4 === 0));
  // Names longer than MAX_UPRIGHT_LABEL_PX are shortened in the middle.
  const long = classTickLayout(["a very long class name indeed", "b"], 40, px);
  assert.ok(px(long.labels[0]) <= MAX_UPRIGHT_LABEL_PX && long.labels[0].includes("…"), long.labels[0]);
});
