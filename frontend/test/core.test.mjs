// The JS numeric core against the Python one: every case of tests/golden/core_vectors.json, to the
// file's tolerance (NaN ⇔ null, ±Infinity ⇔ "Infinity" / "-Infinity"). Run: node --test frontend/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import * as core from "../src/core.js";

const golden = JSON.parse(readFileSync(new URL("../../tests/golden/core_vectors.json", import.meta.url), "utf8"));

// JS passes a C×C matrix as a flat row-major array followed by C, and returns flat matrices.
const MATRIX_FUNCTIONS = new Set(["matrix_metrics", "normalize_matrix", "top_confusions", "confusion_matrix_summary"]);

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

function assertClose(actual, expected, path, tolerance) {
  if (expected === null) {
    assert.ok(typeof actual === "number" && Number.isNaN(actual), `${path}: expected NaN, got ${actual}`);
  } else if (expected === "Infinity" || expected === "-Infinity") {
    assert.equal(actual, expected === "Infinity" ? Infinity : -Infinity, path);
  } else if (typeof expected === "number") {
    assert.equal(typeof actual, "number", `${path}: expected a number, got ${actual}`);
    const error = Math.abs(actual - expected);
    assert.ok(error <= tolerance * Math.max(1, Math.abs(expected)), `${path}: ${actual} != ${expected}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) || ArrayBuffer.isView(actual), `${path}: expected an array, got ${actual}`);
    assert.equal(actual.length, expected.length, `${path}: length`);
    expected.forEach((item, index) => assertClose(actual[index], item, `${path}[${index}]`, tolerance));
  } else if (typeof expected === "object") {
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${path}: keys`);
    for (const key of Object.keys(expected)) assertClose(actual[key], expected[key], `${path}.${key}`, tolerance);
  } else {
    assert.equal(actual, expected, path);
  }
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

for (const testCase of golden.cases) {
  test(`golden: ${testCase.name} (${testCase.function})`, () => {
    const actual = core[camelCase(testCase.function)](...argumentsOf(testCase));
    let expected = testCase.expected;
    if (testCase.function === "normalize_matrix") expected = expected.flat();
    assertClose(actual, expected, testCase.function, golden.tolerance);
  });
}

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
});
