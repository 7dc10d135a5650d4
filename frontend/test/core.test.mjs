// The JS numeric core against the Python one: every case of tests/golden/core_vectors.json, to the
// file's tolerance (NaN ⇔ null, ±Infinity ⇔ "Infinity" / "-Infinity"). Run: node --test frontend/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { assertClose } from "./golden_assert.mjs";

import * as numericCore from "../src/core.js";
import * as topK from "../src/top_k.js";

// The numeric core is core.js and, for the rank-count metrics, top_k.js (tb_metrics_plugin/top_k.py).
const core = { ...numericCore, ...topK };

const golden = JSON.parse(readFileSync(new URL("../../tests/golden/core_vectors.json", import.meta.url), "utf8"));

// JS passes a C×C matrix as a flat row-major array followed by C, and returns flat matrices.
const MATRIX_FUNCTIONS = new Set(["matrix_metrics", "normalize_matrix", "top_confusions", "confusion_matrix_summary", "weighted_kappa"]);

const camelCase = (name) => name.replace(/_([a-z])/g, (_, letter) => letter.toUpperCase());

/** A JSON argument as the JS core takes it: lists become Float64Array (null inside means NaN). */
function toArgument(value) {
  if (!Array.isArray(value)) return value;
  if (value.length > 0 && Array.isArray(value[0])) return value.map(toArgument);
  return Float64Array.from(value, (item) => (item === null ? NaN : item));
}

function argumentsOf(testCase) {
  const args = [];
  for (const [name, value] of Object.entries(testCase.args)) {
    if (name === "matrix" && MATRIX_FUNCTIONS.has(testCase.function)) {
      args.push(Float64Array.from(value.flat()), value.length);
    } else {
      args.push(toArgument(value));
    }
  }
  return args;
}


test("golden file is version 1 with cases", () => {
  assert.equal(golden.version, 1);
  assert.equal(golden.tolerance, 1e-9);
  assert.ok(golden.cases.length > 200);
});

test("every Python core function in the golden file has a JS twin", () => {
  for (const name of new Set(golden.cases.map((testCase) => testCase.function))) {
    assert.equal(typeof core[camelCase(name)], "function", `core.${camelCase(name)} is missing`);
  }
});

// Python returns these tuples, JS objects: when the golden file keeps a tuple as a list, compare in this order.
const TUPLE_KEYS = {
  confusion_at_thresholds: ["tp", "fp", "tn", "fn"],
  counts_at_index: ["tp", "fp", "tn", "fn"],
  align_classes: ["axis", "positive", "negative"],
};

for (const testCase of golden.cases) {
  test(`golden: ${testCase.name} (${testCase.function})`, () => {
    let actual = core[camelCase(testCase.function)](...argumentsOf(testCase));
    if (Array.isArray(testCase.expected) && TUPLE_KEYS[testCase.function]) actual = TUPLE_KEYS[testCase.function].map((key) => actual[key]);
    let expected = testCase.expected;
    if (testCase.function === "normalize_matrix") expected = expected.flat();
    assertClose(actual, expected, testCase.function, golden.tolerance);
  });
}

test("top-k: no ranks give no summary, a k the log lacks is refused, route arrays slice per step", () => {
  assert.equal(topK.topKSummary(null, null), null);
  const trueRanks = [Float64Array.of(1, 0, 1), Float64Array.of(0, 1, 0)];
  assert.throws(() => topK.topKAccuracy(trueRanks, 3), /k=3 must be an integer from 1 to 2/);
  const counts = {
    ranked: { values: Uint8Array.of(0, 1), shape: [2] },
    true_ranks: { values: Float64Array.of(0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0), shape: [2, 2, 3] },
    class_ranks: { values: Float64Array.of(0, 0, 0, 0, 1, 1, 2, 0), shape: [2, 2, 2] },
  };
  assert.equal(topK.stepRanks(counts, 0), null);
  const { trueRanks: rows, classRanks } = topK.stepRanks(counts, 1);
  assert.deepEqual(rows.map((row) => Array.from(row)), [[1, 0, 1], [0, 1, 0]]);
  assert.deepEqual(classRanks.map((row) => Array.from(row)), [[1, 1], [2, 0]]);
  assert.equal(topK.topKAccuracy(rows, 1), 1 / 3);
  assert.equal(topK.stepRanks({ matrix: {} }, 0), null);
});

test("per-class rows in, per-class rows out", () => {
  const positive = [Float64Array.of(0, 1, 2), Float64Array.of(2, 1, 0)];
  const negative = [Float64Array.of(1, 1, 0), Float64Array.of(0, 1, 1)];
  const counts = core.confusionAtThresholds(positive, negative);
  assert.deepEqual(Array.from(counts.tp[0]), [3, 2]);
  assert.deepEqual(Array.from(counts.fn[1]), [2, 3]);
  const areas = core.rocAuc(positive, negative);
  assert.deepEqual(Array.from(areas), [core.rocAuc(positive[0], negative[0]), core.rocAuc(positive[1], negative[1])]);
  const curves = core.rocCurve(positive, negative, Float64Array.of(0.3, 0.6));
  assert.equal(curves.tpr.length, 2);
  assert.deepEqual(Array.from(curves.thresholds), [Infinity, 0.6, 0.3, -Infinity]);
});

test("metrics of plain numbers are plain numbers", () => {
  const metrics = core.thresholdMetrics(8, 2, 85, 5);
  assert.equal(metrics.precision, 0.8);
  assert.equal(metrics.accuracy, 0.93);
  const [low, high] = core.wilsonInterval(8, 10);
  assert.ok(Math.abs(low - 0.4902) < 5e-5 && Math.abs(high - 0.9433) < 5e-5);
});

test("bad input is refused with a message naming it", () => {
  const one = Float64Array.of(1, 2, 3);
  assert.throws(() => core.rocAuc(one, Float64Array.of(1, 2)), /differ in shape/);
  assert.throws(() => core.rocCurve(one, one, Float64Array.of(0.5)), /thresholds has length 1, expected 2/);
  assert.throws(() => core.rocAuc(one, one, "macro"), /needs per-class histograms/);
  assert.throws(() => core.rocAuc([one, one], [one, one], "mean"), /average="mean"/);
  assert.throws(() => core.rocAuc(Float64Array.of(1, NaN), Float64Array.of(1, 1)), /NaN or infinity/);
  assert.throws(() => core.matrixMetrics(Float64Array.of(1, 2, 3), 2), /numClasses=2/);
  assert.throws(() => core.normalizeMatrix(Float64Array.of(1, 0, 0, 1), 2, "rows"), /normalize="rows"/);
  assert.throws(() => core.thresholdMetrics(1, 1, 1, 1, 0), /beta/);
  assert.throws(() => core.recallAtPrecision(one, one, Float64Array.of(0.2, 0.4), 1.5), /precision=1.5/);
  assert.throws(() => core.wilsonInterval(5, 3), /successes <= trials/);
  assert.throws(() => core.partialRocAuc(one, one, 0), /maxFpr=0; expected a false positive rate in \(0, 1\]/);
  assert.throws(() => core.partialRocAuc(one, one, 1.5), /maxFpr=1.5/);
  assert.throws(() => core.prAucBound(one, one, "interpolation"), /summationMethod="interpolation"; expected one of majoring, minoring/);
  assert.throws(() => core.weightedKappa(Float64Array.of(1, 0, 0, 1), 2, "squared"), /weights="squared"/);
  assert.throws(() => core.weightedKappa(Float64Array.of(1, 0, 0), 2, "linear"), /numClasses=2/);
});

// ------------------------------------------------------------------------------------------------
// Format v2: exact rows (thresholds = a class's distinct scores) and classes that do not share
// thresholds. Expected numbers are scikit-learn's on the raw scores below (dyadic, so float32 and
// float64 agree), written out so that these tests stand on their own until the golden file has them.

const SCORES = [
  [0.125, 0.375, 0.3125, 0.75, 0.375, 0.875, 0.25, 0.625, 0.375, 0.0625],
  [0.25, 0.25, 0.5625, 0.1875, 0.875, 0.125, 0.75, 0.25, 0.5, 0.4375],
];
const LABELS = [
  [0, 0, 1, 1, 1, 1, 0, 0, 0, 1],
  [1, 0, 1, 0, 1, 0, 1, 1, 0, 0],
];

/** An exact row as the v2 writer stores it: the distinct scores, bin k = items scoring t_k, bin K empty. */
function exactRow(scores, labels) {
  const thresholds = Float64Array.from(new Set(scores)).sort();
  const positive = new Float64Array(thresholds.length + 1);
  const negative = new Float64Array(thresholds.length + 1);
  scores.forEach((score, i) => (labels[i] ? positive : negative)[thresholds.indexOf(score)]++);
  return { thresholds, positive, negative };
}

/** `row` padded at the end to `size` thresholds: +Infinity thresholds, empty bins. */
function padded({ thresholds, positive, negative }, size) {
  const pad = (values, length, fill) => Float64Array.from({ length }, (_, k) => (k < values.length ? values[k] : fill));
  return { thresholds: pad(thresholds, size, Infinity), positive: pad(positive, size + 1, 0), negative: pad(negative, size + 1, 0) };
}

test("exact rows: thresholdIndex is the floor, −1 below every score; grid rows keep the nearest", () => {
  // Stored scores are float32; a typed 0.3 stands for float32(0.3), so it is "at" the score 0.3.
  const thresholds = Float64Array.of(Math.fround(0.1), Math.fround(0.3), Math.fround(0.7), Infinity, Infinity);
  const cases = [[-1, -1, 0], [0.05, -1, 0], [0.1, 0, 0], [0.19, 0, 0], [0.29, 0, 1], [0.3, 1, 1], [0.69, 1, 2], [0.7, 2, 2], [1, 2, 2], [Infinity, 2, 2]];
  for (const [x, floor, nearest] of cases) {
    assert.equal(core.thresholdIndex(thresholds, x, true), floor, `floor of ${x}`);
    assert.equal(core.thresholdIndex(thresholds, x), nearest, `nearest to ${x}`);
  }
  // Exact resolution compares in float32: just below float32(0.3) in float64 is still at 0.3 …
  assert.equal(core.thresholdIndex(thresholds, Math.fround(0.3) - 1e-12, true), 1);
  // … and stored thresholds are compared as float32 too (they are float32 scores): a float64 row
  // [0.7] holds float32(0.7), which a typed 0.7 reaches.
  assert.equal(core.thresholdIndex(Float64Array.of(0.7), 0.7, true), 0);
  assert.equal(core.thresholdIndex(Float64Array.of(0.7), 0.6999999, true), -1);
  assert.equal(core.thresholdIndex(thresholds, NaN, true), -1);
  assert.equal(core.thresholdIndex(new Float64Array(0), 0.5, true), -1);
  // A tie keeps the lower stored threshold in grid mode.
  assert.equal(core.thresholdIndex(Float64Array.of(0.25, 0.75), 0.5), 0);
});

test("an exact row gives scikit-learn's ROC-AUC and average precision, ties included, padded or not", () => {
  const want = [[0.6000000000000001, 0.7142857142857143], [0.8, 0.85]];
  for (let c = 0; c < 2; c++) {
    const row = exactRow(SCORES[c], LABELS[c]);
    for (const { positive, negative } of [row, padded(row, 12)]) {
      assert.ok(Math.abs(core.rocAuc(positive, negative) - want[c][0]) < 1e-12, `class ${c} ROC-AUC`);
      assert.ok(Math.abs(core.averagePrecision(positive, negative) - want[c][1]) < 1e-12, `class ${c} AP`);
    }
  }
});

test("alignClasses: a worked example of a floor row and a nearest row on the union axis", () => {
  // Class 0 exact (scores 0.2: one positive, two negatives; 0.6: two positives, one negative).
  // Class 1 on the grid 0.1, 0.5, 0.9. Axis: 0.1, 0.2, 0.5, 0.6, 0.9.
  const aligned = core.alignClasses(
    [Float64Array.of(0.2, 0.6, Infinity), Float64Array.of(0.1, 0.5, 0.9)],
    [Float64Array.of(1, 2, 0, 0), Float64Array.of(0, 1, 1, 1)],
    [Float64Array.of(2, 1, 0, 0), Float64Array.of(1, 1, 0, 1)],
    Uint8Array.of(1, 0),
  );
  assert.deepEqual(Array.from(aligned.axis), [0.1, 0.2, 0.5, 0.6, 0.9]);
  assert.deepEqual(aligned.positive.map((row) => Array.from(row)), [[0, 1, 0, 2, 0, 0], [0, 0, 1, 0, 1, 1]]);
  assert.deepEqual(aligned.negative.map((row) => Array.from(row)), [[0, 2, 0, 1, 0, 0], [1, 0, 1, 0, 0, 1]]);
});

test("alignClasses returns shared grid rows as they are (v1 values unchanged)", () => {
  const thresholds = [Float64Array.of(0.25, 0.5), Float64Array.of(0.25, 0.5)];
  const positive = [Float64Array.of(1, 2, 3), Float64Array.of(0, 1, 0)];
  const negative = [Float64Array.of(3, 2, 1), Float64Array.of(1, 1, 1)];
  const aligned = core.alignClasses(thresholds, positive, negative, Uint8Array.of(0, 0));
  assert.equal(aligned.axis, thresholds[0]);
  assert.equal(aligned.positive, positive);
  assert.equal(aligned.negative, negative);
  assert.throws(() => core.alignClasses(thresholds, positive, negative, [0]), /C exact flags/);
});

test("aligned exact classes: micro and macro averages equal scikit-learn's on the raw scores", () => {
  const rows = [padded(exactRow(SCORES[0], LABELS[0]), 9), exactRow(SCORES[1], LABELS[1])];
  // Rows of different lengths cannot be one tensor: pad the second to the first's length.
  rows[1] = padded(rows[1], 9);
  const aligned = core.alignClasses(rows.map((r) => r.thresholds), rows.map((r) => r.positive), rows.map((r) => r.negative), [1, 1]);
  const close = (actual, expected, what) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);
  close(core.rocAuc(aligned.positive, aligned.negative, "micro"), 0.68, "micro ROC-AUC");
  close(core.averagePrecision(aligned.positive, aligned.negative, "micro"), 0.7587121212121213, "micro AP");
  close(core.rocAuc(aligned.positive, aligned.negative, "macro"), 0.7000000000000001, "macro ROC-AUC");
  close(core.averagePrecision(aligned.positive, aligned.negative, "macro"), 0.7821428571428571, "macro AP");
  // Counts at any x: the floor on the aligned axis (every row exact), against precision_recall_fscore_support.
  const counts = core.confusionAtThresholds(aligned.positive, aligned.negative);
  const wanted = {
    0.375: { micro: [0.625, 0.5, 0.5555555555555556], macro: [0.6333333333333333, 0.5, 0.55] },
    0.3: { micro: [0.5833333333333334, 0.7, 0.6363636363636364], macro: [0.5857142857142856, 0.7, 0.6333333333333333] },
    0.25: { micro: [0.5833333333333334, 0.7, 0.6363636363636364], macro: [0.5857142857142856, 0.7, 0.6333333333333333] },
  };
  for (const [x, averages] of Object.entries(wanted)) {
    const j = core.thresholdIndex(aligned.axis, Number(x), true);
    for (const [average, [precision, recall, f1]] of Object.entries(averages)) {
      const at = (values) => values.map((row) => [row[j]]);
      const metrics = core.averageThresholdMetrics(at(counts.tp), at(counts.fp), at(counts.tn), at(counts.fn), average);
      close(metrics.precision[0], precision, `${average} precision at ${x}`);
      close(metrics.recall[0], recall, `${average} recall at ${x}`);
      close(metrics.f1[0], f1, `${average} F1 at ${x}`);
    }
  }
});

test("per-class threshold rows: each class is read on its own row; an average refuses unaligned rows", () => {
  const thresholds = [Float64Array.of(0.25, 0.5, Infinity), Float64Array.of(0.1, 0.6, 0.9)];
  const positive = [Float64Array.of(1, 2, 0, 0), Float64Array.of(0, 1, 1, 1)];
  const negative = [Float64Array.of(2, 1, 0, 0), Float64Array.of(1, 1, 0, 1)];
  const roc = core.rocCurve(positive, negative, thresholds);
  assert.deepEqual(roc.thresholds.map((row) => Array.from(row)), [[Infinity, Infinity, 0.5, 0.25, -Infinity], [Infinity, 0.9, 0.6, 0.1, -Infinity]]);
  const best = core.bestFbetaThreshold(positive, negative, thresholds);
  assert.equal(best.threshold[0], thresholds[0][best.index[0]]);
  assert.equal(best.threshold[1], thresholds[1][best.index[1]]);
  assert.throws(() => core.rocCurve(positive, negative, thresholds, "macro"), /align them first with alignClasses/);
  assert.throws(() => core.rocCurve(positive, negative, [thresholds[0]]), /expected one row of 3 or, per class, 2 rows of 3/);
  // Padding is clipped to the scores' range (the open top bin to 1): the padded bin is zero wide.
  const distribution = core.scoreDistribution(positive, negative, thresholds);
  assert.deepEqual(Array.from(distribution.upper[0]), [0.25, 0.5, 1, 1]);
  assert.deepEqual(Array.from(distribution.lower[0]), [0, 0.25, 0.5, 1]);
});

test("countsAtIndex: −1 is everything positive, the last index nothing", () => {
  const positive = Float64Array.of(1, 0, 2);
  const negative = Float64Array.of(2, 1, 0);
  assert.deepEqual(core.countsAtIndex(positive, negative, -1), { tp: 3, fp: 3, tn: 0, fn: 0 });
  assert.deepEqual(core.countsAtIndex(positive, negative, 0), { tp: 2, fp: 1, tn: 2, fn: 1 });
  assert.deepEqual(core.countsAtIndex(positive, negative, 1), { tp: 2, fp: 0, tn: 3, fn: 1 });
});

test("alignClasses agrees with thresholdIndex at every axis point, ties and padding included", () => {
  let seed = 11;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let trial = 0; trial < 30; trial++) {
    const width = 6;
    const rows = Array.from({ length: 3 }, (_, c) => {
      const values = Array.from(new Set(Array.from({ length: width }, () => Math.round(random() * 12) / 12))).sort((a, b) => a - b);
      const thresholds = Float64Array.from({ length: width }, (_, k) => (k < values.length ? values[k] : Infinity));
      const positive = Float64Array.from({ length: width + 1 }, (_, k) => (k <= values.length ? Math.floor(random() * 4) : 0));
      const negative = Float64Array.from({ length: width + 1 }, (_, k) => (k <= values.length ? Math.floor(random() * 4) : 0));
      return { thresholds, positive, negative, exact: c !== 1 || trial % 2 === 0 };
    });
    const aligned = core.alignClasses(rows.map((r) => r.thresholds), rows.map((r) => r.positive), rows.map((r) => r.negative), rows.map((r) => r.exact));
    rows.forEach((row, c) => {
      const total = row.positive.reduce((a, b) => a + b, 0);
      const tpAt = (j) => row.positive.reduce((sum, value, k) => (k > j ? sum + value : sum), 0);
      let previous = total;
      aligned.axis.forEach((u, k) => {
        const here = tpAt(core.thresholdIndex(row.thresholds, u, row.exact));
        assert.equal(aligned.positive[c][k], previous - here, `trial ${trial}, class ${c}, axis point ${k}`);
        previous = here;
      });
      assert.equal(aligned.positive[c][aligned.axis.length], previous);
    });
  }
});

test("matrixOneVsRest: every class one-vs-rest of a flat matrix (as fairness.matrix_class_counts' doctest)", () => {
  const counts = core.matrixOneVsRest([5, 1, 2, 6], 2);
  assert.deepEqual(Array.from(counts.tp), [5, 6]);
  assert.deepEqual(Array.from(counts.fp), [2, 1]);
  assert.deepEqual(Array.from(counts.tn), [6, 5]);
  assert.deepEqual(Array.from(counts.fn), [1, 2]);
  assert.throws(() => core.matrixOneVsRest([1, 2, 3], 2), /numClasses=2/);
});
