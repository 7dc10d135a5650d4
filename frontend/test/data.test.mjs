// Decoding the counts route's base64 typed arrays.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DataError, base64Bytes, createDataClient, decodeCounts, decodeTypedArray } from "../src/data.js";

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

test("prefetchTags sends the first tags request at once and the next tags() takes its answer", async () => {
  const urls = [];
  const fetchImpl = async (url) => {
    urls.push(url);
    return { ok: true, json: async () => ({ call: urls.length }) };
  };
  const client = createDataClient({ fetchImpl, baseUrl: "./" });
  client.prefetchTags();
  client.prefetchTags(); // a second prefetch before the answer is taken sends nothing more
  assert.deepEqual(urls, ["./tags"]);
  assert.deepEqual(await client.tags(), { call: 1 });
  assert.deepEqual(await client.tags(), { call: 2 }); // later calls (polling) always ask again
  assert.deepEqual(urls, ["./tags", "./tags"]);
});

test("a prefetched tags request that fails is reported by the tags() call that takes it", async () => {
  const fetchImpl = async () => ({ ok: false, status: 503, statusText: "Unavailable", json: async () => ({ error: "busy" }) });
  const client = createDataClient({ fetchImpl });
  client.prefetchTags();
  await assert.rejects(client.tags(), (error) => error instanceof DataError && /HTTP 503: busy/.test(error.message));
});

test("base64Bytes gives the same bytes through the native decoder and through atob", () => {
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) % 256);
  const text = Buffer.from(bytes).toString("base64");
  assert.deepEqual(base64Bytes(text, Uint8Array), bytes); // Node 20: no fromBase64, the atob loop
  let used = 0;
  const native = { fromBase64: (encoded) => { used += 1; return new Uint8Array(Buffer.from(encoded, "base64")); } };
  assert.deepEqual(base64Bytes(text, native), bytes);
  assert.equal(used, 1);
});
