// Repairing the stored selection against the runs and tags that exist, and CSV helpers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_STATE } from "../src/state.js";
import { assignRunColors, indexTags, reconcileState } from "../src/selection.js";
import { csvToRecords, exportFileName, toCsv } from "../src/export.js";
import { nearestStep, stepAfter, classOptions } from "../src/controls.js";

const TAGS = {
  "b/validation": {
    confusion_matrix: { kind: "confusion_matrix", class_names: ["x", "y", "z"], steps: [0, 1, 2], max_step: 2 },
    threshold_curves: { kind: "threshold_curves", class_names: ["x", "y", "z"], steps: [0, 1, 2], max_step: 2 },
  },
  "a/train": {
    threshold_curves: { kind: "threshold_curves", class_names: ["x", "y", "z"], steps: [0, 5], max_step: 5 },
    broken: { error: "format version 9 is newer than this plugin's 1; upgrade tb_metrics_plugin" },
  },
};

test("tags are indexed by run and tag; broken entries become messages", () => {
  const index = indexTags(TAGS);
  assert.deepEqual(index.allRuns, ["a/train", "b/validation"]);
  assert.deepEqual(index.tags, ["confusion_matrix", "threshold_curves"]);
  assert.equal(index.problems.length, 1);
  assert.match(index.problems[0], /a\/train.*broken.*upgrade/);
});

test("a tag with a warning (damaged or sampled steps) is shown with its good steps and a message", () => {
  const damaged = {
    run: { curves: { kind: "threshold_curves", class_names: ["x"], steps: [0, 1, 3], damaged_steps: [2],
                     warning: "1 of 4 steps cannot be decoded and are left out: step=2: negative counts" } },
  };
  const index = indexTags(damaged);
  assert.deepEqual(index.tags, ["curves"]);
  assert.deepEqual(index.problems, ["Run “run”, tag “curves”: 1 of 4 steps cannot be decoded and are left out: step=2: negative counts"]);
  const { patch, tagInfo } = reconcileState({ ...DEFAULT_STATE, step: 2 }, index);
  assert.deepEqual(tagInfo.steps, [0, 1, 3]);
  assert.equal(patch.step, 3);
});

test("an empty selection picks the threshold-curves tag, its first run and its latest step", () => {
  const { patch, runsWithTag, tagInfo } = reconcileState({ ...DEFAULT_STATE }, indexTags(TAGS));
  assert.deepEqual(patch, { tag: "threshold_curves", runs: ["a/train"], step: 5 });
  assert.deepEqual(runsWithTag, ["a/train", "b/validation"]);
  assert.equal(tagInfo.kind, "threshold_curves");
});

test("steps are the union over the selected runs; a missing step moves to the latest", () => {
  const state = { ...DEFAULT_STATE, tag: "threshold_curves", runs: ["a/train", "b/validation"], step: 1 };
  const { patch, tagInfo } = reconcileState(state, indexTags(TAGS));
  assert.deepEqual(tagInfo.steps, [0, 1, 2, 5]);
  assert.deepEqual(patch, {});
  assert.deepEqual(reconcileState({ ...state, step: 4 }, indexTags(TAGS)).patch, { step: 5 });
  assert.deepEqual(reconcileState({ ...state, followLatest: true }, indexTags(TAGS)).patch, { step: 5 });
});

test("a class key outside the tag's classes is replaced", () => {
  const state = { ...DEFAULT_STATE, tag: "confusion_matrix", runs: ["b/validation"], step: 2, classKey: "7" };
  assert.deepEqual(reconcileState(state, indexTags(TAGS)).patch, { classKey: "micro" });
  assert.deepEqual(reconcileState({ ...state, classKey: "2" }, indexTags(TAGS)).patch, {});
});

test("run colours are distinct and kept when new runs appear", () => {
  const colors = assignRunColors(["b", "c"]);
  assert.notEqual(colors.b, colors.c);
  const grown = assignRunColors(["a", "b", "c"], colors);
  assert.equal(grown.b, colors.b);
  assert.equal(grown.c, colors.c);
  assert.equal(new Set(Object.values(grown)).size, 3);
  assert.deepEqual(assignRunColors(["b", "c"]), colors); // a reload gives the same colours
});

test("epoch navigation steps over sparse logged steps", () => {
  assert.equal(nearestStep([0, 5, 10], 7), 5);
  assert.equal(stepAfter([0, 5, 10], 5, 1), 10);
  assert.equal(stepAfter([0, 5, 10], 10, 1), 10);
  assert.equal(stepAfter([0, 5, 10], 0, -1), 0);
  assert.deepEqual(classOptions(["only"]).map((option) => option.value), ["0"]);
  assert.deepEqual(classOptions(["a", "b"]).map((option) => option.value), ["micro", "macro", "weighted", "0", "1"]);
});

test("CSV round-trips through the JSON export", () => {
  const csv = toCsv(["run", "threshold", "note"], [["a,b", 0.5, 'say "hi"'], ["c", NaN, ""]]);
  assert.equal(csv, 'run,threshold,note\n"a,b",0.5,"say ""hi"""\nc,NaN,\n');
  assert.deepEqual(csvToRecords(csv), [
    { run: "a,b", threshold: 0.5, note: 'say "hi"' },
    { run: "c", threshold: null, note: "" },
  ]);
  assert.equal(exportFileName(["val/run 1", "roc", "", "step3"], "png"), "val_run_1_roc_step3.png");
});
