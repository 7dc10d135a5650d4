// How the views and the readout use thresholds with format v2: exact curves (thresholds = distinct
// scores), the threshold the user asked for against the one the counts are read at, and the
// display-only binning of exact scores. (Drawing is tested in a browser.)
import assert from "node:assert/strict";
import test from "node:test";

import { buildCurve } from "../src/view_model.js";
import { describeThreshold, formatThresholdValue, optimizerRun } from "../src/readout.js";
import { exactReliabilityDiagram } from "../src/views/calibration.js";
import { allPositiveMetrics, curvePointAt } from "../src/views/chart/curve_data.js";
import { countRows, thresholdIndices, thresholdRow } from "../src/views/chart/tooltip_html.js";
import { exactDisplayBins } from "../src/views/distribution.js";

const typed = (values, shape) => ({ values: Float32Array.from(values), shape });

/** One exact class: scores 0.25 (1 positive, 2 negatives), 0.5 (0, 1), 0.75 (2, 0); bin 3 empty. */
const EXACT_COUNTS = {
  kind: "threshold_curves",
  tag: "threshold_curves",
  steps: [0],
  thresholds: typed([0.25, 0.5, 0.75, Infinity], [1, 1, 4]),
  positive: typed([1, 0, 2, 0, 0], [1, 1, 5]),
  negative: typed([2, 1, 0, 0, 0], [1, 1, 5]),
  exact: { values: Uint8Array.of(1), shape: [1, 1] },
};

test("the threshold box and readout show thresholds rounded, never 17 digits", () => {
  assert.equal(formatThresholdValue(0.2842610478401184), "0.2843");
  assert.equal(formatThresholdValue(0.5), "0.5");
  assert.equal(formatThresholdValue(0.509), "0.509");
  assert.equal(formatThresholdValue(0), "0");
  assert.equal(formatThresholdValue(1), "1");
  assert.equal(formatThresholdValue(NaN), "–");
  // Near the ends: enough digits to stay off 0 and 1, still a number the box accepts.
  assert.equal(formatThresholdValue(Math.fround(0.99999994)), "0.9999999404"); // 1 − 5.96e-8
  assert.equal(formatThresholdValue(1.234567e-7), "1.23e-7");
  for (const value of [0.2842610478401184, Math.fround(0.99999994), 1.234567e-7, 0.000999]) {
    const shown = Number(formatThresholdValue(value));
    assert.ok(shown > 0 && shown < 1 && Math.abs(shown - value) <= 1e-3 * Math.min(value, 1 - value) + 5e-5, `${value} shown as ${shown}`);
  }
});

test("the readout says what a threshold resolves to: exact, a stored one, or per class", () => {
  assert.equal(describeThreshold(0.5, { exact: true, stored: 0.5, exactClasses: 1 }), "0.5 (exact)");
  assert.equal(describeThreshold(0.5, { exact: false, stored: Math.fround(0.4993), exactClasses: 0 }), "0.5 → stored 0.4993");
  // A typed stored threshold is shown once.
  assert.equal(describeThreshold(Math.fround(0.4993), { exact: false, stored: Math.fround(0.4993), exactClasses: 0 }), "0.4993");
  assert.equal(describeThreshold(0.5, { exact: false, stored: NaN, exactClasses: 3 }), "0.5 → stored per class (3 classes exact)");
  assert.equal(describeThreshold(0.5, { exact: false, stored: 0.48, exactClasses: 1 }), "0.5 → stored 0.48 (1 class exact)");
  assert.equal(describeThreshold(0.5, null), "–"); // an argmax matrix has no threshold
});

test("the optimisers work on the picked run, else the first validation run, else the first", () => {
  const runs = ["a/train", "a/validation", "b/validation"];
  assert.equal(optimizerRun(runs, null), "a/validation");
  assert.equal(optimizerRun(runs, "b/validation"), "b/validation");
  assert.equal(optimizerRun(runs, "gone"), "a/validation");
  assert.equal(optimizerRun(["x/train", "y"], null), "x/train");
  assert.equal(optimizerRun([], null), null);
});

test("an exact curve: markers and tooltips read the counts at the floor, everything positive below", () => {
  const curve = buildCurve("r", "#000000", EXACT_COUNTS, "0");
  assert.deepEqual(Array.from(curve.thresholds), [0.25, 0.5, 0.75]);
  // The ROC point of the operating point: T + 2 points, +inf first; j = −1 is the last (−inf) point.
  assert.equal(curvePointAt(curve.thresholds, 0.1, true), 4);
  assert.equal(curvePointAt(curve.thresholds, 0.7, true), 2); // floor: 0.5 (j = 1), point T − j
  assert.equal(curvePointAt(curve.thresholds, 0.7), 1); // grid: the nearest, 0.75 (j = 2)
  const j = thresholdIndices([curve], 0.1);
  assert.deepEqual(j, [-1]);
  const counts = Object.fromEntries(countRows([curve], j).map(([name, text]) => [name, text(0)]));
  assert.deepEqual(counts, { TP: "3", FP: "3", TN: "0", FN: "0" });
  assert.equal(thresholdRow([curve], j, 0.1)[1](0), "0.1000 (exact)");
  const everything = allPositiveMetrics(curve);
  assert.equal(everything.recall, 1);
  assert.equal(everything.precision, 0.5);
});

test("exact scores are binned for display: mass kept, each score in the bin (e_b, e_b+1] holding it", () => {
  const scores = [0, 0.25, 0.5, 0.75, 1];
  const positive = [0.1, 0.2, 0.3, 0.4, 0];
  const negative = [0.5, 0.5, 0, 0, 0];
  const bins = exactDisplayBins(scores, positive, negative, (p) => p, (p) => p, [0, 1]);
  assert.equal(bins.edges.length, 61);
  assert.equal(bins.positive.length, 60);
  const width = 1 / 60;
  const mass = (densities) => densities.reduce((sum, d) => sum + d * width, 0);
  assert.ok(Math.abs(mass(bins.positive) - 1) < 1e-12);
  assert.ok(Math.abs(mass(bins.negative) - 1) < 1e-12);
  // 0.25 is the edge 15/60: it belongs to bin 14 (e_14, e_15]; 0 to the first bin.
  assert.ok(Math.abs(bins.positive[14] * width - 0.2) < 1e-12);
  assert.ok(Math.abs(bins.positive[0] * width - 0.1) < 1e-12);
  assert.deepEqual(bins.outside, { positive: 0, negative: 0 });
  const clipped = exactDisplayBins(scores, positive, negative, (p) => p, (p) => p, [0.2, 0.8]);
  assert.ok(Math.abs(clipped.outside.positive - 0.1) < 1e-12 && Math.abs(clipped.outside.negative - 0.5) < 1e-12);
});

test("an exact reliability diagram is scikit-learn's calibration_curve on the scores", () => {
  // calibration_curve(y, s, n_bins=4) for s = [0.125, 0.375, 0.3125, 0.75, 0.375, 0.875, 0.25, 0.625,
  // 0.375, 0.0625, 0.5], y = [0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1]: scores on inner edges go to the lower bin.
  const scores = [0.0625, 0.125, 0.25, 0.3125, 0.375, 0.5, 0.625, 0.75, 0.875];
  const positive = [1, 0, 0, 1, 1, 1, 0, 1, 1];
  const negative = [0, 1, 1, 0, 2, 0, 1, 0, 0];
  const diagram = exactReliabilityDiagram(scores, positive, negative, 4);
  const close = (actual, expected) => actual.forEach((value, b) => assert.ok(Math.abs(value - expected[b]) < 1e-12, `${value} != ${expected[b]}`));
  close(diagram.fraction_positive, [0.3333333333333333, 0.6, 0.5, 1.0]);
  close(diagram.mean_predicted, [0.14583333333333334, 0.3875, 0.6875, 0.875]);
  assert.deepEqual(Array.from(diagram.count), [3, 5, 2, 1]);
  assert.deepEqual(Array.from(diagram.lower), [0, 0.25, 0.5, 0.75]);
});
