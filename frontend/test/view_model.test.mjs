// The model the views receive: curves per class / average, operating points, matrix readouts.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as core from "../src/core.js";
import {
  ALIGNED_CELLS_BUDGET, alignmentAxis, buildCurve, classLabel, classRow, countAt, createModelBuilder, curveOperatingPoint,
  matrixOperatingPoint, resolveThreshold,
} from "../src/view_model.js";

const typed = (values, shape) => ({ values: Float32Array.from(values), shape });
// Two classes, three thresholds (four bins each).
const POSITIVE = [[1, 0, 2, 5], [0, 3, 1, 1]];
const NEGATIVE = [[4, 2, 1, 0], [6, 0, 0, 2]];
const COUNTS = {
  kind: "threshold_curves",
  tag: "threshold_curves",
  steps: [4],
  thresholds: typed([0.25, 0.5, 0.75], [1, 3]),
  positive: typed(POSITIVE.flat(), [1, 2, 4]),
  negative: typed(NEGATIVE.flat(), [1, 2, 4]),
};

test("a class curve holds that class's counts at every threshold", () => {
  const curve = buildCurve("r", "#000000", COUNTS, "1");
  const want = core.confusionAtThresholds(POSITIVE[1], NEGATIVE[1]);
  for (const key of ["tp", "fp", "tn", "fn"]) assert.deepEqual(Array.from(curve[key]), Array.from(want[key]));
  assert.equal(curve.positives, 5);
  assert.equal(curve.negatives, 8);
  assert.deepEqual(Array.from(curve.thresholds), [0.25, 0.5, 0.75]);
});

test("the micro curve pools the classes; macro keeps averaged rates", () => {
  const micro = buildCurve("r", "#000000", COUNTS, "micro");
  assert.deepEqual(Array.from(micro.tp), [12, 9, 6]); // Σ over classes of TP at each threshold
  const macro = buildCurve("r", "#000000", COUNTS, "macro");
  const roc = core.rocCurve(POSITIVE, NEGATIVE, [0.25, 0.5, 0.75], "macro");
  // Grid index j is ROC point T − j (the ROC runs from +inf down).
  for (let j = 0; j < 3; j++) {
    assert.ok(Math.abs(macro.tp[j] / macro.positives - roc.tpr[3 - j]) < 1e-12);
    assert.ok(Math.abs(macro.fp[j] / macro.negatives - roc.fpr[3 - j]) < 1e-12);
  }
});

test("operating points: nearest stored threshold, exact metrics, averaged metrics for macro", () => {
  const point = curveOperatingPoint(buildCurve("r", "#000000", COUNTS, "0"), 0.55, 2);
  assert.deepEqual(point.resolved, { exact: false, stored: 0.5, exactClasses: 0 });
  assert.equal(point.resolvedThreshold, 0.5);
  assert.deepEqual(point.counts, { tp: 7, fp: 1, tn: 6, fn: 1 });
  assert.equal(point.metrics.threshold, 0.55);
  assert.equal(point.metrics.precision, 7 / 8);
  assert.equal(point.metrics.fbeta, core.thresholdMetrics(7, 1, 6, 1, 2).fbeta);
  assert.ok(point.hasIntervals);

  const macro = curveOperatingPoint(buildCurve("r", "#000000", COUNTS, "macro"), 0.25, 1);
  const perClass = core.confusionAtThresholds(POSITIVE, NEGATIVE);
  const column = (rows) => rows.map((values) => [values[0]]);
  const want = core.averageThresholdMetrics(column(perClass.tp), column(perClass.fp), column(perClass.tn), column(perClass.fn), "macro");
  assert.equal(macro.metrics.precision, want.precision[0]);
  assert.equal(macro.metrics.recall, want.recall[0]);
  assert.equal(macro.hasIntervals, false);
});

test("a matrix readout is one-vs-rest per class and scikit-learn's average over classes", () => {
  const entry = { run: "r", color: "#000000", matrix: Float64Array.from([5, 1, 0, 2, 2, 1, 0, 3, 6]), numClasses: 3, classNames: ["a", "b", "c"] };
  const one = matrixOperatingPoint(entry, "1", 1);
  assert.deepEqual(one.counts, { tp: 2, fp: 4, tn: 11, fn: 3 });
  assert.ok(Number.isNaN(one.metrics.threshold));
  const metrics = core.matrixMetrics(entry.matrix, 3);
  const macro = matrixOperatingPoint(entry, "macro", 1);
  assert.ok(Math.abs(macro.metrics.precision - metrics.macro_precision) < 1e-12);
  assert.ok(Math.abs(macro.metrics.recall - metrics.macro_recall) < 1e-12);
  const micro = matrixOperatingPoint(entry, "micro", 1);
  assert.ok(Math.abs(micro.metrics.precision - metrics.accuracy) < 1e-12);
});

test("curves are reused while only the threshold moves", () => {
  const builder = createModelBuilder();
  const input = (threshold) => ({
    state: { runs: ["r"], classKey: "0", threshold, beta: 1, step: 4 },
    tagInfo: { kind: "threshold_curves", class_names: ["x", "y"] },
    runColors: { r: "#123456" },
    counts: new Map([["r", COUNTS]]),
    summaries: {},
    setState() {},
  });
  const first = builder.build(input(0.3));
  const second = builder.build(input(0.7));
  assert.equal(second.curves, first.curves);
  assert.notDeepEqual(second.operatingPoints[0].counts, first.operatingPoints[0].counts);
  assert.equal(first.curves[0].color, "#123456");
  assert.equal(classLabel("micro", []), "micro average");
  assert.equal(classLabel("1", ["x", "y"]), "class y");
});

// Format v2: a step whose class 0 is exact (its distinct scores 0.2 and 0.6, padded with +Infinity)
// and class 1 on the grid 0.1, 0.5, 0.9.
const V2_COUNTS = {
  kind: "threshold_curves",
  tag: "threshold_curves",
  steps: [2],
  thresholds: typed([0.2, 0.6, Infinity, 0.1, 0.5, 0.9], [1, 2, 3]),
  positive: typed([1, 2, 0, 0, 0, 1, 1, 1], [1, 2, 4]),
  negative: typed([2, 1, 0, 0, 1, 1, 0, 1], [1, 2, 4]),
  exact: { values: Uint8Array.of(1, 0), shape: [1, 2] },
};

test("v2: a class keeps its own thresholds without padding, and its mode", () => {
  const exactRow = classRow(V2_COUNTS, 0);
  assert.deepEqual(Array.from(exactRow.thresholds), [0.2, 0.6].map(Math.fround));
  assert.deepEqual(Array.from(exactRow.positive), [1, 2, 0]);
  assert.equal(exactRow.exact, true);
  const gridRow = classRow(V2_COUNTS, 1);
  assert.equal(gridRow.exact, false);
  assert.equal(gridRow.thresholds.length, 3);
  // A v1 answer (shared thresholds, no exact flags) is on the grid.
  assert.equal(classRow(COUNTS, 1).exact, false);
  assert.deepEqual(Array.from(classRow(COUNTS, 1).thresholds), [0.25, 0.5, 0.75]);
});

test("v2: an exact class's counts hold at any threshold, everything positive below its lowest score", () => {
  const curve = buildCurve("r", "#000000", V2_COUNTS, "0");
  assert.equal(curve.exact, true);
  const at = (x) => curveOperatingPoint(curve, x, 1);
  // Scores: 0.2 (1 positive, 2 negatives), 0.6 (2 positives, 1 negative); positive when score > x.
  assert.deepEqual(at(0.1).counts, { tp: 3, fp: 3, tn: 0, fn: 0 });
  assert.deepEqual(at(0.19).counts, { tp: 3, fp: 3, tn: 0, fn: 0 });
  // Scores are float32 and compared in float32: a typed 0.2 is the stored score 0.2 (Keras' rule).
  assert.deepEqual(at(0.2).counts, { tp: 2, fp: 1, tn: 2, fn: 1 });
  assert.deepEqual(at(0.59).counts, { tp: 2, fp: 1, tn: 2, fn: 1 });
  assert.deepEqual(at(0.6).counts, { tp: 0, fp: 0, tn: 3, fn: 3 });
  const point = at(0.4);
  assert.deepEqual(point.resolved, { exact: true, stored: 0.4, exactClasses: 1 });
  assert.equal(point.resolvedThreshold, 0.4);
  assert.equal(point.metrics.threshold, 0.4);
  assert.equal(resolveThreshold(curve, 0.1), -1);
  assert.equal(countAt(curve, "tp", -1), 3);
  assert.equal(countAt(curve, "fn", -1), 0);
});

test("v2: averages align the classes; the readout resolves each class in its own row", () => {
  const micro = buildCurve("r", "#000000", V2_COUNTS, "micro");
  assert.equal(micro.exact, false); // class 1 is on the grid
  assert.deepEqual(Array.from(micro.thresholds), [0.1, 0.2, 0.5, 0.6, 0.9].map(Math.fround));
  // Aligned rows (see the core's worked example) summed: positives [0,1,1,2,1,1], negatives [1,2,1,1,0,1].
  assert.deepEqual(Array.from(micro.positiveHistogram), [0, 1, 1, 2, 1, 1]);
  assert.deepEqual(Array.from(micro.negativeHistogram), [1, 2, 1, 1, 0, 1]);
  // At 0.55: class 0 floors to 0.2 (TP 2, FP 1, TN 2, FN 1); class 1 takes its nearest, 0.5 (TP 2, FP 1, TN 2, FN 1).
  const point = curveOperatingPoint(micro, 0.55, 1);
  assert.deepEqual(point.counts, { tp: 4, fp: 2, tn: 4, fn: 2 });
  assert.equal(point.resolved.exact, false);
  assert.equal(point.resolved.stored, Math.fround(0.5));
  assert.equal(point.resolved.exactClasses, 1);
  const macro = curveOperatingPoint(buildCurve("r", "#000000", V2_COUNTS, "macro"), 0.55, 1);
  const want = core.averageThresholdMetrics([[2], [2]], [[1], [1]], [[2], [2]], [[1], [1]], "macro");
  assert.equal(macro.metrics.precision, want.precision[0]);
  // Areas of an average are those of the classes: macro ROC-AUC = mean of the two classes' own.
  const auc = (key) => {
    const curve = buildCurve("r", "#000000", V2_COUNTS, key);
    return core.rocAuc(curve.positiveHistogram, curve.negativeHistogram);
  };
  const macroCurve = buildCurve("r", "#000000", V2_COUNTS, "macro");
  const macroAuc = core.rocAuc(macroCurve.positiveHistograms, macroCurve.negativeHistograms, "macro");
  assert.ok(Math.abs(macroAuc - (auc("0") + auc("1")) / 2) < 1e-12);
});

test("v2: a large average is aligned on evenly spaced thresholds of the union, exact there", () => {
  // 300 exact classes with 40 distinct scores each: 12,000 thresholds in all, 3.6 M cells, above the budget.
  const numClasses = 300;
  const width = 40;
  const scores = Float32Array.from({ length: numClasses * width }, (_, i) => ((i * 7919) % 12000 + 0.5) / 12000);
  for (let c = 0; c < numClasses; c++) scores.subarray(c * width, (c + 1) * width).sort();
  const positive = Float32Array.from({ length: numClasses * (width + 1) }, (_, i) => (i % (width + 1) === width ? 0 : i % 3 === 0 ? 1 : 0));
  const negative = Float32Array.from(positive, (value, i) => (i % (width + 1) === width ? 0 : 1 - value));
  const counts = {
    kind: "threshold_curves", tag: "t", steps: [0],
    thresholds: { values: scores, shape: [1, numClasses, width] },
    positive: { values: positive, shape: [1, numClasses, width + 1] },
    negative: { values: negative, shape: [1, numClasses, width + 1] },
    exact: { values: new Uint8Array(numClasses).fill(1), shape: [1, numClasses] },
  };
  const micro = buildCurve("r", "#000000", counts, "micro");
  assert.equal(micro.axisThresholds, 12000);
  assert.ok(micro.thresholds.length < 12000 && numClasses * (micro.thresholds.length + 1) <= ALIGNED_CELLS_BUDGET);
  assert.equal(micro.exact, false); // exact only at the kept thresholds: the tab snaps to them
  // At each kept threshold the micro counts are the sum of the classes' exact counts there.
  for (const j of [0, 100, micro.thresholds.length - 1]) {
    const at = micro.thresholds[j];
    let tp = 0;
    for (let c = 0; c < numClasses; c++) {
      for (let k = 0; k < width; k++) if (scores[c * width + k] > at) tp += positive[c * (width + 1) + k];
    }
    assert.equal(micro.tp[j], tp, `TP at ${at}`);
  }
  assert.deepEqual(Array.from(alignmentAxis(Float64Array.of(0.1, 0.2, 0.3), 2)), [0.1, 0.2, 0.3]);
});
