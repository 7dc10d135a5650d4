// The model the views receive: curves per class / average, operating points, matrix readouts.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as core from "../src/core.js";
import { buildCurve, classLabel, createModelBuilder, curveOperatingPoint, matrixOperatingPoint } from "../src/model.js";

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
  assert.equal(point.index, 1);
  assert.deepEqual(point.counts, { tp: 7, fp: 1, tn: 6, fn: 1 });
  assert.equal(point.metrics.threshold, 0.55);
  assert.equal(point.metrics.precision, 7 / 8);
  assert.equal(point.metrics.fbeta, core.thresholdMetrics(7, 1, 6, 1, 2).fbeta);
  assert.ok(point.exact);

  const macro = curveOperatingPoint(buildCurve("r", "#000000", COUNTS, "macro"), 0.25, 1);
  const perClass = core.confusionAtThresholds(POSITIVE, NEGATIVE);
  const column = (rows) => rows.map((values) => [values[0]]);
  const want = core.averageThresholdMetrics(column(perClass.tp), column(perClass.fp), column(perClass.tn), column(perClass.fn), "macro");
  assert.equal(macro.metrics.precision, want.precision[0]);
  assert.equal(macro.metrics.recall, want.recall[0]);
  assert.equal(macro.exact, false);
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
