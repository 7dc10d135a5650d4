// The slice plumbing of the tab: per-step views of all-step counts, slice curves at a step, rates and
// gaps at the shared threshold, gaps over epochs and the optimiser on slices with their own thresholds.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as core from "../src/core.js";
import * as fairness from "../src/fairness.js";
import {
  createSliceModelBuilder, optimiseSlices, sliceRun, sliceRuns, sliceTagName, stepCounts, tagSlices,
} from "../src/slices.js";

const typed = (values, shape) => ({ values: Float32Array.from(values), shape });

/** All-step counts of one binary slice tag: exact mode, each step its own scores (padded with +inf). */
function sliceCounts(tag, steps) {
  const width = Math.max(...steps.map((s) => s.thresholds.length));
  const thresholds = steps.flatMap((s) => [...s.thresholds, ...new Array(width - s.thresholds.length).fill(Infinity)]);
  const pad = (h) => [...h, ...new Array(width + 1 - h.length).fill(0)];
  return {
    kind: "threshold_curves",
    tag,
    steps: steps.map((_, i) => i),
    thresholds: typed(thresholds, [steps.length, 1, width]),
    positive: typed(steps.flatMap((s) => pad(s.positive)), [steps.length, 1, width + 1]),
    negative: typed(steps.flatMap((s) => pad(s.negative)), [steps.length, 1, width + 1]),
    exact: { values: Uint8Array.from(steps.map(() => 1)), shape: [steps.length, 1] },
  };
}

const TAG_INFO = { kind: "threshold_curves", class_names: ["yes"], steps: [0, 1], slices: { site: ["a", "b", "c"] }, min_slice_samples: 30 };
const SLICES = new Map([
  ["a", sliceCounts("t/site=a", [
    { thresholds: [0.2, 0.5, 0.8], positive: [1, 2, 5, 12], negative: [10, 6, 2, 1] },
    { thresholds: [0.3, 0.6], positive: [1, 3, 16], negative: [15, 3, 1] },
  ])],
  ["b", sliceCounts("t/site=b", [
    { thresholds: [0.4], positive: [3, 2], negative: [1, 4] },
    { thresholds: [0.1, 0.4, 0.7], positive: [0, 1, 2, 2], negative: [2, 2, 1, 0] },
  ])],
  ["c", sliceCounts("t/site=c", [
    { thresholds: [0.5], positive: [0, 0], negative: [0, 0] },
    { thresholds: [0.5], positive: [0, 0], negative: [0, 0] },
  ])],
]);

test("slice tags follow the storage contract; the slice run is the first selected run with slices", () => {
  assert.equal(sliceTagName("threshold_curves", "sex", "female"), "threshold_curves/sex=female");
  assert.deepEqual(tagSlices(TAG_INFO), { site: ["a", "b", "c"] });
  assert.deepEqual(tagSlices({ kind: "threshold_curves" }), {});
  const infoOf = (run) => (run === "r2" ? TAG_INFO : { kind: "threshold_curves" });
  assert.equal(sliceRun(["r1", "r2"], "t", infoOf), "r2");
  assert.equal(sliceRun(["r1"], "t", infoOf), null);
  // Several runs with slices: the user's pick when it is one of them, else the first.
  const both = (run) => (run === "r0" ? { kind: "threshold_curves" } : TAG_INFO);
  assert.deepEqual(sliceRuns(["r0", "r1", "r2"], "t", both), ["r1", "r2"]);
  assert.equal(sliceRun(["r0", "r1", "r2"], "t", both, "r2"), "r2");
  assert.equal(sliceRun(["r0", "r1", "r2"], "t", both, "r0"), "r1");
  assert.equal(sliceRun(["r0", "r1"], "t", both, "r2"), "r1");
});

test("stepCounts is one step of all-step counts, sharing the buffers", () => {
  const counts = SLICES.get("a");
  const second = stepCounts(counts, 1);
  assert.deepEqual(second.steps, [1]);
  assert.deepEqual(second.positive.shape, [1, 1, 4]);
  assert.deepEqual(Array.from(second.positive.values), [1, 3, 16, 0]);
  assert.equal(second.positive.values.buffer, counts.positive.values.buffer);
  assert.throws(() => stepCounts(counts, 2), /step index 2/);
});

test("slice model: rates and gaps at the threshold equal fairness.js on each slice's exact counts", () => {
  const builder = createSliceModelBuilder();
  const state = { sliceKey: "site", sliceReference: "b", step: 0, classKey: "0", threshold: 0.45 };
  const slices = builder.build({ state, run: "r", tagInfo: TAG_INFO, sliceCounts: SLICES });
  assert.deepEqual(slices.curves.map((curve) => curve.run), ["site=a", "site=b", "site=c"]);
  assert.equal(slices.referenceIndex, 1);
  assert.deepEqual(slices.samples, [39, 10, 0]);
  assert.deepEqual(slices.small, [false, true, true]);
  // Exact counts at 0.45: slice a at its stored 0.2 (floor), b at 0.4, c empty.
  const tp = [19, 2, 0], fp = [9, 4, 0], tn = [10, 1, 0], fn = [1, 3, 0];
  const want = fairness.gapIntervals(tp, fp, tn, fn, 1);
  assert.deepEqual(Array.from(slices.point.counts.tp), tp);
  for (const rate of fairness.GAP_RATES) {
    assert.deepEqual(Array.from(slices.point.gaps[rate].difference), Array.from(want[rate].difference), rate);
  }
  assert.ok(Number.isNaN(slices.point.rates.accuracy.value[2]));
  // Dragging the threshold reuses the curves: the same array, views skip their rebuild.
  const again = builder.build({ state: { ...state, threshold: 0.7 }, run: "r", tagInfo: TAG_INFO, sliceCounts: SLICES });
  assert.equal(again.curves, slices.curves);
  assert.deepEqual(Array.from(again.point.counts.tp), [17, 2, 0]);
});

test("gaps over epochs hold the threshold and follow each step's counts", () => {
  const builder = createSliceModelBuilder();
  const state = { sliceKey: "site", sliceReference: "a", step: 1, classKey: "0", threshold: 0.45 };
  const slices = builder.build({ state, run: "r", tagInfo: TAG_INFO, sliceCounts: SLICES });
  const overEpochs = slices.gapsOverEpochs("tpr");
  assert.deepEqual(overEpochs.steps, [0, 1]);
  const b = overEpochs.slices[1];
  assert.equal(b.label, "site=b");
  // Step 0: a TPR 19/20, b 2/5; step 1: a at 0.3 → 19/20, b at 0.4 → 4/5.
  assert.ok(Math.abs(b.difference[0] - (2 / 5 - 19 / 20)) < 1e-12);
  assert.ok(Math.abs(b.difference[1] - (4 / 5 - 19 / 20)) < 1e-12);
  assert.ok(b.low[1] < b.difference[1] && b.difference[1] < b.high[1]);
  assert.ok(Number.isNaN(overEpochs.slices[2].difference[0])); // the empty slice: no gap
});

test("the optimiser on slices with their own exact thresholds equals brute force over their union", () => {
  const builder = createSliceModelBuilder();
  const state = { sliceKey: "site", sliceReference: "a", step: 1, classKey: "0", threshold: 0.5 };
  const { curves } = builder.build({ state, run: "r", tagInfo: TAG_INFO, sliceCounts: SLICES });
  const result = optimiseSlices(curves, "equal_opportunity", "accuracy", 0.2, 1);
  assert.ok(result.feasible);
  const axis = core.unionOfFinite(curves.map((curve) => curve.thresholds));
  // Brute force: every pair of axis thresholds for a and b (c is empty).
  let best = -Infinity;
  for (const ta of axis) {
    for (const tb of axis) {
      const at = (curve, t) => {
        const j = core.thresholdIndex(curve.thresholds, t, true);
        return j < 0 ? { tp: curve.positives, fp: curve.negatives, tn: 0, fn: 0 } : { tp: curve.tp[j], fp: curve.fp[j], tn: curve.tn[j], fn: curve.fn[j] };
      };
      const a = at(curves[0], ta);
      const b = at(curves[1], tb);
      if (Math.abs(a.tp / (a.tp + a.fn) - b.tp / (b.tp + b.fn)) > 0.2 + 1e-12) continue;
      best = Math.max(best, (a.tp + a.tn + b.tp + b.tn) / (curves[0].positives + curves[0].negatives + curves[1].positives + curves[1].negatives));
    }
  }
  assert.ok(Math.abs(result.value - best) < 1e-12, `${result.value} != ${best}`);
  assert.equal(result.indices[2], -1);
});

test("the optimiser searches at most OPTIMISER_THRESHOLDS thresholds, ends kept, and says so", async () => {
  const { OPTIMISER_THRESHOLDS, thinnedAxis } = await import("../src/slices.js");
  const union = Float64Array.from({ length: 1000 }, (_, i) => i / 1000);
  const axis = thinnedAxis(union);
  assert.equal(axis.length, OPTIMISER_THRESHOLDS);
  assert.equal(axis[0], 0);
  assert.equal(axis[axis.length - 1], 0.999);
  assert.equal(thinnedAxis(union.subarray(0, 10)).length, 10);
  const builder = createSliceModelBuilder();
  const state = { sliceKey: "site", sliceReference: "a", step: 0, classKey: "0", threshold: 0.5 };
  const { curves } = builder.build({ state, run: "r", tagInfo: TAG_INFO, sliceCounts: SLICES });
  const result = optimiseSlices(curves, "single", "fbeta", 0.1, 1);
  assert.equal(result.searched, result.union);
});

test("slice tags keep their info but are not listed as tags", async () => {
  const { indexTags } = await import("../src/selection.js");
  const index = indexTags({
    r: {
      t: { kind: "threshold_curves", steps: [0], slices: { site: ["a"] } },
      "t/site=a": { kind: "threshold_curves", steps: [0], slice: { parent: "t", key: "site", value: "a" } },
    },
  });
  assert.deepEqual(index.tags, ["t"]);
  assert.equal(index.info.get("r\u0000t/site=a").slice.value, "a");
});

/** All-step counts of one confusion-matrix slice tag: (S, C, C). */
function matrixCounts(tag, matrices) {
  const size = matrices[0].length;
  return { kind: "confusion_matrix", tag, steps: matrices.map((_, i) => i), matrix: typed(matrices.flat(2), [matrices.length, size, size]) };
}

test("confusion-matrix slices: rates of the chosen class and multiclass accuracy at the logged decision, gaps over epochs", () => {
  const info = { kind: "confusion_matrix", class_names: ["x", "y", "z"], steps: [0, 1], slices: { site: ["a", "b"] }, min_slice_samples: 30 };
  const a = [[[5, 1, 0], [2, 6, 1], [0, 0, 4]], [[6, 0, 0], [1, 8, 0], [0, 1, 3]]];
  const b = [[[1, 1, 1], [0, 0, 0], [2, 0, 3]], [[2, 1, 0], [0, 0, 0], [1, 0, 4]]];
  const counts = new Map([["a", matrixCounts("m/site=a", a)], ["b", matrixCounts("m/site=b", b)]]);
  const builder = createSliceModelBuilder();
  const state = { sliceKey: "site", sliceReference: "a", step: 0, classKey: "1", threshold: 0.5 };
  const slices = builder.build({ state, run: "r", tagInfo: info, sliceCounts: counts });
  assert.equal(slices.kind, "confusion_matrix");
  assert.deepEqual(slices.members.map((member) => member.run), ["site=a", "site=b"]);
  assert.deepEqual(slices.samples, [19, 8]);
  assert.deepEqual(slices.small, [true, true]);
  const { rates, gaps } = slices.point;
  assert.equal(rates.tpr.value[0], 6 / 9);
  assert.equal(rates.precision.value[0], 6 / 7);
  assert.equal(rates.accuracy.value[0], 15 / 19);
  assert.ok(Number.isNaN(rates.tpr.value[1]), "slice b has no samples of class y: no TPR");
  assert.ok(Number.isNaN(gaps.tpr.difference[1]), "and no TPR gap");
  assert.equal(gaps.accuracy.difference[1], 4 / 8 - 15 / 19);
  // The same members while nothing changed: the views keep their tables.
  assert.equal(builder.build({ state, run: "r", tagInfo: info, sliceCounts: counts }).members, slices.members);
  // An average: accuracy alone.
  const averaged = builder.build({ state: { ...state, classKey: "micro" }, run: "r", tagInfo: info, sliceCounts: counts });
  assert.equal(averaged.classIndex, null);
  assert.ok(Number.isNaN(averaged.point.rates.tpr.value[0]));
  assert.equal(averaged.point.rates.accuracy.value[0], 15 / 19);
  // Macro: the classes' rates averaged where defined (slice b has no class y), accuracy still the matrix's.
  const macro = builder.build({ state: { ...state, classKey: "macro" }, run: "r", tagInfo: info, sliceCounts: counts });
  assert.equal(macro.point.average, "macro");
  assert.ok(Math.abs(macro.point.rates.tpr.value[0] - (5 / 6 + 6 / 9 + 4 / 4) / 3) < 1e-12);
  assert.ok(Math.abs(macro.point.rates.tpr.value[1] - (1 / 3 + 3 / 5) / 2) < 1e-12);
  assert.equal(macro.point.rates.accuracy.value[1], 4 / 8);
  assert.ok(macro.point.rates.tpr.low[0] < macro.point.rates.tpr.value[0]);
  const overEpochs = slices.gapsOverEpochs("accuracy");
  assert.deepEqual(overEpochs.steps, [0, 1]);
  assert.equal(overEpochs.slices[1].difference[1], 6 / 8 - 17 / 19);
  assert.equal(overEpochs.slices[0].difference[1], 0);
});
