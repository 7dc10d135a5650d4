// Run names shortened in the middle of what they share, so the part that tells runs apart stays.
import assert from "node:assert/strict";
import { test } from "node:test";
import { differingSpan, fitName, graphemes, maxRemovable, shortenedName } from "../src/run_names.js";

// One unit per character: widths in characters.
const chars = (text) => text.length;

test("the differing part is cut at separators", () => {
  const names = ["multiclass/train", "multiclass/validation"];
  assert.deepEqual(differingSpan("multiclass/train", names), [11, 16]);
  assert.deepEqual(differingSpan("multiclass/validation", names), [11, 21]);
  assert.deepEqual(differingSpan("run_a/validation", ["run_a/validation", "run_b/validation"]), [4, 5]);
  assert.deepEqual(differingSpan("alone", ["alone"]), [0, 5]);
});

test("a name that fits is never cut", () => {
  assert.equal(fitName("multiclass/validation", ["multiclass/train"], 21, chars), "multiclass/validation");
});

test("the shared prefix goes first and the differing part stays whole", () => {
  const names = ["multiclass/train", "multiclass/validation"];
  assert.equal(fitName("multiclass/validation", names, 16, chars), "mult…/validation");
  assert.equal(fitName("multiclass/train", names, 10, chars), "mul…/train");
  assert.equal(fitName("multiclass/train", names, 8, chars), "m…/train");
  assert.equal(fitName("multiclass/train", names, 7, chars), "m…/tr…n");
});

test("shared suffixes go next, then the middle of the differing part", () => {
  const names = ["experiment_long_a/seed1/validation", "experiment_long_a/seed2/validation"];
  const name = names[0];
  const span = differingSpan(name, names);
  assert.deepEqual(span, [18, 23]); // "seed1"
  // 16 characters of the prefix can go, then 9 of "/validation", then 3 of "seed1".
  assert.equal(maxRemovable(name, span), 16 + 9 + 3);
  for (let removed = 0; removed <= maxRemovable(name, span); removed++) {
    const shown = shortenedName(name, span, removed);
    assert.equal(shown.replace(/…/g, "").length, name.length - removed, shown);
    if (removed <= 16 + 9) assert.ok(shown.includes("seed1"), `${removed}: ${shown}`);
  }
  assert.equal(shortenedName(name, span, 16 + 9), "e…/seed1/…n");
  assert.equal(fitName(name, names, 14, chars), "e…/seed1/…tion");
  // Narrower than the differing part: its middle goes, its first and last characters stay.
  assert.equal(fitName("averyveryverylongname", ["other"], 8, chars), "aver…ame");
});

test("shortening never splits an emoji, a flag or a letter with its accent", () => {
  const name = "run 🐱‍👤🧪🇩🇪 é́ tail/validation";
  for (let removed = 1; removed <= maxRemovable(name, differingSpan(name, [name])); removed++) {
    const shown = shortenedName(name, differingSpan(name, [name]), removed);
    // Every character shown is one of the name's (or the ellipsis): no lone surrogate or half cluster.
    for (const char of graphemes(shown)) assert.ok(char === "…" || graphemes(name).includes(char), `${removed}: ${shown}`);
  }
});
