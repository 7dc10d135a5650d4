// Hostile names through the view exports: CSV → JSON keeps every name as the same text, and file
// names stay plain and short.
import assert from "node:assert/strict";
import { test } from "node:test";

import { csvToRecords, exportFileName, toCsv } from "../src/export.js";

const HOSTILE = [
  "007", "1e3", "NaN", " ", "-0", "Infinity", "a,b", 'say "hi"', "line\nbreak", "cr\r\nlf", "<script>x</script>",
  "مرحبا \u202eשלום\u202c 😀", "' ` \\ ${x} &amp;",
];

test("names that look like numbers, or hold quotes and line breaks, come back as the same text", () => {
  const csv = toCsv(["class", "value"], HOSTILE.map((name, index) => [name, index + 0.5]));
  assert.deepEqual(csvToRecords(csv), HOSTILE.map((name, index) => ({ class: name, value: index + 0.5 })));
  // Headers (class names as columns) too; numbers and NaN keep their meaning.
  const wide = toCsv(["true \\ predicted", ...HOSTILE], [["007", ...HOSTILE.map(() => NaN)]]);
  const [record] = csvToRecords(wide);
  assert.deepEqual(Object.keys(record), ["true \\ predicted", ...HOSTILE]);
  assert.equal(record["true \\ predicted"], "007");
  assert.ok(HOSTILE.every((name) => record[name] === null));
});

test("CSV with CRLF line ends and a final line without a break parses", () => {
  assert.deepEqual(csvToRecords('a,b\r\n1,"x\r\ny"\r\n2,z'), [{ a: 1, b: "x\r\ny" }, { a: 2, b: "z" }]);
});

test("export file names are plain ASCII, bounded, and keep the last part", () => {
  const name = exportFileName(["<img src=x onerror=alert(1)>", "roc", "a".repeat(400), "b".repeat(400), "step12"], "csv");
  assert.match(name, /^[A-Za-z0-9._-]+$/);
  assert.ok(name.length <= 160, name);
  assert.ok(name.endsWith("_step12.csv"), name);
  assert.equal(exportFileName(["\u202e😀", "تقييم"], "json"), "tb_metrics.json");
});
