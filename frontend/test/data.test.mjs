// Decoding the counts route's base64 typed arrays.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DataError, decodeCounts, decodeTypedArray } from "../src/data.js";

const encode = (ArrayType, dtype, values, shape) => ({
  dtype,
  shape,
  data: Buffer.from(new ArrayType(values).buffer).toString("base64"),
});

test("float32 and float64 arrays decode to the same numbers", () => {
  const values = [0, 0.5, 1e-8, 3, Infinity, 16777217];
  const f32 = decodeTypedArray(encode(Float32Array, "float32", values, [2, 3]));
  assert.ok(f32.values instanceof Float32Array);
  assert.deepEqual(f32.shape, [2, 3]);
  assert.deepEqual(Array.from(f32.values), Array.from(new Float32Array(values)));
  const f64 = decodeTypedArray(encode(Float64Array, "float64", values, [6]));
  assert.deepEqual(Array.from(f64.values), values);
});

test("a wrong dtype or byte count is an error that says what was expected", () => {
  assert.throws(() => decodeTypedArray({ dtype: "int8", shape: [1], data: "AA==" }), (error) => error instanceof DataError && /float32, float64 or uint8/.test(error.message));
  assert.throws(() => decodeTypedArray(encode(Float32Array, "float32", [1, 2], [3])), /needs 12 bytes, got 8/);
});

test("decodeCounts decodes only the typed fields", () => {
  const json = { run: "r", steps: [3], thresholds: encode(Float32Array, "float32", [0, 1], [1, 2]) };
  const decoded = decodeCounts(json);
  assert.equal(decoded.run, "r");
  assert.deepEqual(decoded.steps, [3]);
  assert.deepEqual(Array.from(decoded.thresholds.values), [0, 1]);
  assert.equal(decoded.matrix, undefined);
});

test("uint8 arrays (the exact flags of format v2) decode as they are", () => {
  const flags = decodeTypedArray(encode(Uint8Array, "uint8", [1, 0, 1], [1, 3]));
  assert.ok(flags.values instanceof Uint8Array);
  assert.deepEqual(Array.from(flags.values), [1, 0, 1]);
  const json = { exact: encode(Uint8Array, "uint8", [0, 1], [1, 2]), thresholds: encode(Float32Array, "float32", [0.5, 1, 0.25, Infinity], [1, 2, 2]) };
  const decoded = decodeCounts(json);
  assert.deepEqual(Array.from(decoded.exact.values), [0, 1]);
  assert.deepEqual(decoded.thresholds.shape, [1, 2, 2]);
});
