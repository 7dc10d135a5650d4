// Hostile names through the view exports: CSV and JSON of the same rows keep every name as the same
// text, and file names stay plain and short.
import assert from "node:assert/strict";
import { test } from "node:test";

import { EMPTY_TABLE, exportFileName, table, tableToCsv, tableToRecords, withColumns } from "../src/export.js";
import { exportContext } from "../src/export_naming.js";

const HOSTILE = [
  "007", "1e3", "NaN", " ", "-0", "Infinity", "a,b", 'say "hi"', "line\nbreak", "cr\r\nlf", "<script>x</script>",
  "مرحبا \u202eשלום\u202c 😀", "' ` \\ ${x} &amp;",
];

test("names that look like numbers, or hold quotes and line breaks, come back as the same text", () => {
  const rows = table(["class", "value"], HOSTILE.map((name, index) => [name, index + 0.5]));
  assert.deepEqual(tableToRecords(rows), HOSTILE.map((name, index) => ({ class: name, value: index + 0.5 })));
  // Headers (class names as columns) too; numbers and NaN keep their meaning.
  const wide = table(["true \\ predicted", ...HOSTILE], [["007", ...HOSTILE.map(() => NaN)]]);
  const [record] = tableToRecords(wide);
  assert.deepEqual(Object.keys(record), ["true \\ predicted", ...HOSTILE]);
  assert.equal(record["true \\ predicted"], "007");
  assert.ok(HOSTILE.every((name) => record[name] === null));
});

test("a value with CR LF line breaks is one quoted CSV field, and the same text in JSON", () => {
  const rows = table(["a", "b"], [[1, "x\r\ny"], [2, "z"]]);
  assert.equal(tableToCsv(rows), 'a,b\n1,"x\r\ny"\n2,z\n');
  assert.deepEqual(tableToRecords(rows), [{ a: 1, b: "x\r\ny" }, { a: 2, b: "z" }]);
});

test("export file names are plain ASCII, bounded, and keep the last part", () => {
  const name = exportFileName(["<img src=x onerror=alert(1)>", "roc", "a".repeat(400), "b".repeat(400), "step12"], "csv");
  assert.match(name, /^[A-Za-z0-9._-]+$/);
  assert.ok(name.length <= 160, name);
  assert.ok(name.endsWith("_step12.csv"), name);
  assert.equal(exportFileName(["\u202e😀", "تقييم"], "json"), "tb_metrics.json");
});

test("context columns go after the run column", () => {
  const rows = table(["run", "threshold", "tpr"], [["a,b", 0.25, 1], ["c", 0.5, 0.5]]);
  const added = withColumns(rows, [["tag", "curves"], ["step", 3], ["class", "007"], ["average", ""], ["selected_threshold", 0.5]]);
  assert.equal(tableToCsv(added).split("\n")[0], "run,tag,step,class,average,selected_threshold,threshold,tpr");
  assert.deepEqual(tableToRecords(added), [
    { run: "a,b", tag: "curves", step: 3, class: "007", average: "", selected_threshold: 0.5, threshold: 0.25, tpr: 1 },
    { run: "c", tag: "curves", step: 3, class: "007", average: "", selected_threshold: 0.5, threshold: 0.5, tpr: 0.5 },
  ]);
  // Columns a view already has are not repeated; without a run column they go first.
  assert.equal(tableToCsv(withColumns(table(["step", "x"], [[1, 2]]), [["tag", "t"], ["step", 9]])), "tag,step,x\nt,1,2\n");
  assert.equal(tableToCsv(withColumns(EMPTY_TABLE, [["tag", "t"]])), "");
  assert.deepEqual(tableToRecords(withColumns(EMPTY_TABLE, [["tag", "t"]])), []);
});

const MODEL = {
  state: { tag: "curves", runs: ["m/train", "m/validation"], step: 2, threshold: 0.5, classKey: "3" },
  tagInfo: { kind: "threshold_curves", class_names: ["0", "1", "2", "macro"], steps: [0, 1, 2] },
};

test("exports of class 3 and of the macro average never share a name or rows", () => {
  const spec = { id: "roc" };
  const ofClass = exportContext(MODEL, spec);
  const ofMacro = exportContext({ ...MODEL, state: { ...MODEL.state, classKey: "macro" } }, spec);
  assert.equal(exportFileName(ofClass.fileParts, "csv"), "curves_roc_m_train_m_validation_class3-macro_step2_t0.5.csv");
  assert.equal(exportFileName(ofMacro.fileParts, "csv"), "curves_roc_m_train_m_validation_macro-average_step2_t0.5.csv");
  assert.deepEqual(ofClass.columns, [["tag", "curves"], ["step", 2], ["class", "macro"], ["average", ""], ["selected_threshold", 0.5]]);
  assert.deepEqual(ofMacro.columns, [["tag", "curves"], ["step", 2], ["class", "macro"], ["average", "macro"], ["selected_threshold", 0.5]]);
  // Over epochs: every step, so the name gives their range and the rows their own step.
  const epochs = exportContext(MODEL, { id: "epochs", allSteps: true });
  assert.ok(exportFileName(epochs.fileParts, "csv").includes("_steps0-2_"));
  assert.ok(!epochs.columns.some(([name]) => name === "step"));
  // A confusion-matrix tag names its decision rule, not a class or threshold.
  const matrix = exportContext({
    state: { ...MODEL.state, tag: "cm" }, tagInfo: { kind: "confusion_matrix", class_names: ["a", "b"], decision: "score > 0.5", steps: [2] },
  }, { id: "confusion" });
  assert.deepEqual(matrix.columns, [["tag", "cm"], ["step", 2], ["decision", "score > 0.5"]]);
  assert.equal(exportFileName(matrix.fileParts, "png"), "cm_confusion_m_train_m_validation_step2_score_0.5.png");
});

test("long run names are cut before the class, step and threshold", () => {
  const long = { ...MODEL, state: { ...MODEL.state, runs: ["r".repeat(80), "s".repeat(80)] } };
  const name = exportFileName(exportContext(long, { id: "roc" }).fileParts, "csv");
  assert.ok(name.length <= 160, name);
  assert.ok(name.endsWith("_class3-macro_step2_t0.5.csv"), name);
});
