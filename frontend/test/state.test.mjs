// The shared store and its URL-hash encoding.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_STATE, createStore, decodeState, encodeState } from "../src/state.js";

test("set notifies subscribers with exactly the keys that changed", () => {
  const store = createStore({ ...DEFAULT_STATE });
  const calls = [];
  const unsubscribe = store.subscribe((state, changed) => calls.push([state.threshold, [...changed].sort()]));
  store.set({ threshold: 0.25, beta: 1, runs: null }); // beta and runs unchanged
  store.set({ threshold: 0.25 }); // nothing changed: no call
  store.set({ runs: ["a"] });
  unsubscribe();
  store.set({ threshold: 0.75 });
  assert.deepEqual(calls, [
    [0.25, ["threshold"]],
    [0.25, ["runs"]],
  ]);
  assert.equal(store.get().threshold, 0.75);
  assert.ok(Object.isFrozen(store.get()));
});

test("the hash round-trips every persisted key and leaves defaults and theme out", () => {
  const state = {
    ...DEFAULT_STATE,
    runs: ["binary/validation", "a,b&c"],
    tag: "threshold_curves",
    classKey: "macro",
    className: "007",
    step: 7,
    followLatest: false,
    threshold: 0.3125,
    beta: 2,
    costRatio: 5,
    minPrecision: 0.8,
    minRecall: 0.95,
    minSpecificity: 0.7,
    normalization: "pred",
    sortBy: "error",
    showDet: true,
    maxFpr: 0.1,
    sliceRun: "b/validation",
    sliceKey: "sex",
    sliceReference: "female",
    sliceGapRate: "selection_rate",
    sliceMode: "per_slice",
    sliceObjective: "youden",
    sliceTolerance: 0.02,
    topK: 3,
    theme: "dark",
  };
  const hash = encodeState(state);
  assert.ok(!hash.includes("theme"));
  const { theme, ...persisted } = state;
  assert.equal(theme, "dark");
  assert.deepEqual(decodeState(hash), persisted);
  assert.equal(encodeState(DEFAULT_STATE), "");
});

test("bad hash values are dropped, not trusted", () => {
  const patch = decodeState("#threshold=1.5&classKey=evil&normalization=x&runs=%7Bbad&step=abc&beta=-1&sortBy=error");
  assert.deepEqual(patch, { sortBy: "error" });
});

test("the ROC card's max FPR decodes only from (0, 1]", () => {
  assert.deepEqual(decodeState("#maxFpr=0.05"), { maxFpr: 0.05 });
  assert.deepEqual(decodeState("#maxFpr=1"), { maxFpr: 1 });
  for (const bad of ["0", "-0.1", "1.5", "off", ""]) assert.deepEqual(decodeState(`#maxFpr=${bad}`), {}, bad);
});
