// The browser's slice maths (src/fairness.js) against the Python one: every case of
// tests/golden/fairness_vectors.json, to the file's tolerance (NaN ⇔ null). Run: node --test frontend/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { assertClose } from "./golden_assert.mjs";

import * as core from "../src/core.js";
import * as fairness from "../src/fairness.js";

const golden = JSON.parse(readFileSync(new URL("../../tests/golden/fairness_vectors.json", import.meta.url), "utf8"));

const camelCase = (name) => name.replace(/_([a-z])/g, (_, letter) => letter.toUpperCase());

/** A JSON argument as fairness.js takes it: lists become Float64Array, lists of lists arrays of rows. */
function toArgument(value) {
  if (!Array.isArray(value)) return value;
  if (value.length > 0 && Array.isArray(value[0])) return value.map(toArgument);
  return Float64Array.from(value, (item) => (item === null ? NaN : item));
}


test("golden file is version 1 and covers every function of fairness.js", () => {
  assert.equal(golden.version, 1);
  assert.ok(golden.cases.length > 60);
  const covered = new Set(golden.cases.map((testCase) => camelCase(testCase.function)));
  const exported = Object.entries(fairness).filter(([, value]) => typeof value === "function").map(([name]) => name);
  assert.deepEqual([...covered].sort(), exported.sort());
});

for (const testCase of golden.cases) {
  test(`golden: ${testCase.name} (${testCase.module}.${testCase.function})`, () => {
    const args = Object.values(testCase.args).map(toArgument);
    const actual = fairness[camelCase(testCase.function)](...args);
    assertClose(actual, testCase.expected, testCase.function, golden.tolerance);
  });
}

test("the optimiser's constrained modes keep the rate within the tolerance and report the cost", () => {
  const positive = [Float64Array.of(1, 2, 3, 6, 8), Float64Array.of(2, 3, 3, 2, 1)];
  const negative = [Float64Array.of(7, 5, 3, 1, 0), Float64Array.of(6, 4, 2, 2, 1)];
  const thresholds = Float64Array.of(0.2, 0.4, 0.6, 0.8);
  const result = fairness.sliceThresholds(positive, negative, thresholds, "equal_opportunity", "accuracy", 0.1);
  assert.ok(result.feasible);
  assert.ok(Math.abs(result.rates[0] - result.rates[1]) <= 0.1 + 1e-12);
  assert.equal(result.cost, result.single.value - result.value);
  assert.throws(() => fairness.sliceThresholds(positive, negative, thresholds, "fair"), /mode="fair"/);
  assert.throws(() => fairness.sliceThresholds(positive, negative, thresholds, "single", "fbeta", 1.5), /tolerance=1.5/);
});

test("the constrained optimiser's value is brute force's best over every choice within the tolerance", () => {
  // Small integer histograms (ties in the rates are common), every mode, objective and a few tolerances.
  let seed = 12345;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const histogram = (bins) => Float64Array.from({ length: bins }, () => (random() < 0.3 ? 0 : Math.floor(random() * 4)));
  let searched = 0;
  for (let trial = 0; trial < 150; trial++) {
    const slices = 1 + Math.floor(random() * 3);
    const size = 1 + Math.floor(random() * 5);
    const positive = Array.from({ length: slices }, () => histogram(size + 1));
    const negative = Array.from({ length: slices }, () => histogram(size + 1));
    const thresholds = Float64Array.from({ length: size }, (_, k) => (k + 1) / (size + 1));
    const counts = core.confusionAtThresholds(positive, negative);
    const at = (s, k) => ["tp", "fp", "tn", "fn"].map((key) => counts[key][s][k]);
    for (const mode of Object.keys(fairness.CONSTRAINED_RATES)) {
      const rateCounts = fairness.RATE_COUNTS[fairness.CONSTRAINED_RATES[mode]];
      const active = positive.map((row, s) => row.some(Boolean) || negative[s].some(Boolean));
      if (!active.every(Boolean)) continue;
      for (const objective of fairness.OBJECTIVES) {
        const tolerance = [0, 0.1, 0.3][trial % 3];
        const result = fairness.sliceThresholds(positive, negative, thresholds, mode, objective, tolerance);
        let best = -Infinity;
        for (let choice = 0; choice < size ** slices; choice++) {
          const picks = Array.from({ length: slices }, (_, s) => Math.floor(choice / size ** s) % size);
          const rates = picks
            .map((k, s) => rateCounts(...at(s, k)))
            .filter(([, trials]) => trials > 0)
            .map(([successes, trials]) => successes / trials);
          if (rates.length > 0 && Math.max(...rates) - Math.min(...rates) > tolerance + 1e-12) continue;
          const totals = [0, 1, 2, 3].map((i) => picks.reduce((total, k, s) => total + at(s, k)[i], 0));
          const metrics = core.thresholdMetrics(...totals);
          const value = { fbeta: metrics.fbeta, accuracy: metrics.accuracy, youden: metrics.recall - metrics.fpr }[objective];
          best = Math.max(best, value);
        }
        assert.equal(result.feasible, best > -Infinity, `${mode} ${objective} trial ${trial}`);
        if (result.feasible) assert.ok(Math.abs(result.value - best) < 1e-12, `${mode} ${objective}: ${result.value} != ${best}`);
        searched++;
      }
    }
  }
  assert.ok(searched > 300, `only ${searched} cases searched`);
});

test("an empty slice has no threshold and undefined gaps, never a division by zero", () => {
  const gaps = fairness.gapIntervals([5, 0], [1, 0], [4, 0], [2, 0], 0);
  for (const rate of fairness.GAP_RATES) {
    for (const values of Object.values(gaps[rate])) assert.ok(Number.isNaN(values[1]), rate);
  }
  const result = fairness.sliceThresholds([Float64Array.of(1, 2, 3), Float64Array.of(0, 0, 0)], [Float64Array.of(3, 2, 1), Float64Array.of(0, 0, 0)], Float64Array.of(0.3, 0.6), "per_slice");
  assert.equal(result.indices[1], -1);
  assert.ok(Number.isNaN(result.thresholds[1]));
});
