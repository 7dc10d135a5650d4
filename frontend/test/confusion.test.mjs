// Class ordering and permutation behind the confusion heatmap.
import assert from "node:assert/strict";
import { test } from "node:test";
import { classOrder, permuteMatrix } from "../src/views/confusion.js";

test("sorting by error puts the lowest recall first, ties by class index", () => {
  const recall = Float64Array.from([0.9, 0.5, 0.9, 0.1]);
  assert.deepEqual(Array.from(classOrder(recall, "class")), [0, 1, 2, 3]);
  assert.deepEqual(Array.from(classOrder(recall, "error")), [3, 1, 0, 2]);
});

test("permuting rows and columns together keeps every cell's (true, predicted) pair", () => {
  const matrix = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const order = Int32Array.from([2, 0, 1]);
  const permuted = permuteMatrix(matrix, 3, order);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) assert.equal(permuted[r * 3 + c], matrix[order[r] * 3 + order[c]]);
  }
  assert.deepEqual(Array.from(permuted.subarray(0, 3)), [9, 7, 8]); // true class 2 first
});
