// Repairing the stored selection against the runs and tags that exist, and CSV helpers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_STATE } from "../src/state.js";
import { assignRunColors, defaultRuns, indexTags, reconcileClass, reconcileState } from "../src/selection.js";
import { exportFileName, table, tableToCsv, tableToRecords } from "../src/export.js";
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

test("a first visit picks the threshold-curves tag, a validation run and its latest step", () => {
  const { patch, runsWithTag, tagInfo } = reconcileState({ ...DEFAULT_STATE }, indexTags(TAGS));
  // Class 0, shown by index, is from now on kept by its name.
  assert.deepEqual(patch, { tag: "threshold_curves", runs: ["b/validation"], step: 2, className: "x" });
  assert.deepEqual(runsWithTag, ["a/train", "b/validation"]);
  assert.equal(tagInfo.kind, "threshold_curves");
});

test("held-out splits are preferred, whatever they are called; else the first run", () => {
  assert.deepEqual(defaultRuns(["binary/train", "binary/validation", "multiclass/validation"]), ["binary/validation"]);
  assert.deepEqual(defaultRuns(["m_train", "m_val"]), ["m_val"]);
  assert.deepEqual(defaultRuns(["run1/train", "run1/eval"]), ["run1/eval"]);
  assert.deepEqual(defaultRuns(["a", "b"]), ["a"]);
  assert.deepEqual(defaultRuns(["interval"]), ["interval"]); // "val" inside a word is no split
  assert.deepEqual(defaultRuns([]), []);
});

test("an emptied selection stays empty; runs without the tag give way to the default", () => {
  const index = indexTags(TAGS);
  const none = reconcileState({ ...DEFAULT_STATE, tag: "threshold_curves", runs: [], className: "x" }, index);
  assert.deepEqual(none.patch, {});
  const gone = reconcileState({ ...DEFAULT_STATE, tag: "confusion_matrix", runs: ["a/train"], step: 2, className: "x" }, index);
  assert.deepEqual(gone.patch, { runs: ["b/validation"] });
});

test("steps are the union over the selected runs; a missing step moves to the latest", () => {
  const state = { ...DEFAULT_STATE, tag: "threshold_curves", runs: ["a/train", "b/validation"], step: 1, followLatest: false, className: "x" };
  const { patch, tagInfo } = reconcileState(state, indexTags(TAGS));
  assert.deepEqual(tagInfo.steps, [0, 1, 2, 5]);
  assert.deepEqual(patch, {});
  assert.deepEqual(reconcileState({ ...state, step: 4 }, indexTags(TAGS)).patch, { step: 5 });
  assert.deepEqual(reconcileState({ ...state, followLatest: true }, indexTags(TAGS)).patch, { step: 5 });
});

test("a class key outside the tag's classes shows the micro average and says so", () => {
  const state = { ...DEFAULT_STATE, tag: "confusion_matrix", runs: ["b/validation"], step: 2, classKey: "7" };
  const outside = reconcileState(state, indexTags(TAGS));
  assert.deepEqual(outside.patch, {}); // the choice is kept; what is shown is not patched into it
  assert.equal(outside.classKey, "micro");
  assert.equal(outside.classNote, "Tag “confusion_matrix” has no class 7; showing micro average.");
  const inside = reconcileState({ ...state, classKey: "2" }, indexTags(TAGS));
  assert.deepEqual([inside.classKey, inside.classNote], ["2", ""]);
});

test("the class is kept by name across tags that order classes differently", () => {
  const curves = ["benign"];
  const matrix = ["malignant", "benign"];
  const chosen = { classKey: "0", className: "benign" };
  assert.deepEqual(reconcileClass(chosen, curves, "threshold_curves"), { classKey: "0", note: "" });
  assert.deepEqual(reconcileClass(chosen, matrix, "confusion_matrix"), { classKey: "1", note: "" });
  // A name the tag lacks: shown is the fallback, and a note says so.
  const missing = reconcileClass({ classKey: "0", className: "malignant" }, curves, "threshold_curves");
  assert.equal(missing.classKey, "0");
  assert.equal(missing.note, "Class “malignant” is not in tag “threshold_curves” of the selected runs; showing class “benign”.");
  // Repeated names: the chosen index wins while it still holds the name.
  assert.deepEqual(reconcileClass({ classKey: "2", className: "x" }, ["x", "y", "x"], "t"), { classKey: "2", note: "" });
  // No name (an old URL): by index.
  assert.deepEqual(reconcileClass({ classKey: "1", className: null }, matrix, "t"), { classKey: "1", note: "" });
  // An average of a one-class tag.
  const average = reconcileClass({ classKey: "macro", className: null }, curves, "threshold_curves");
  assert.equal(average.classKey, "0");
  assert.match(average.note, /one class, so no macro average: showing class “benign”/);
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

test("the CSV and the JSON export of the same rows say the same", () => {
  const rows = table(["run", "threshold", "note"], [["a,b", 0.5, 'say "hi"'], ["c", NaN, ""]]);
  assert.equal(tableToCsv(rows), 'run,threshold,note\n"a,b",0.5,"say ""hi"""\nc,NaN,\n');
  assert.deepEqual(tableToRecords(rows), [
    { run: "a,b", threshold: 0.5, note: 'say "hi"' },
    { run: "c", threshold: null, note: "" },
  ]);
  assert.equal(exportFileName(["val/run 1", "roc", "", "step3"], "png"), "val_run_1_roc_step3.png");
});
