// Comparison of a JS core's output with a golden vector, shared by the core and fairness tests.
import assert from "node:assert/strict";

export function assertClose(actual, expected, path, tolerance) {
  if (expected === null) {
    assert.ok(typeof actual === "number" && Number.isNaN(actual), `${path}: expected NaN, got ${actual}`);
  } else if (expected === "Infinity" || expected === "-Infinity") {
    assert.equal(actual, expected === "Infinity" ? Infinity : -Infinity, path);
  } else if (typeof expected === "number") {
    assert.equal(typeof actual, "number", `${path}: expected a number, got ${actual}`);
    const error = Math.abs(actual - expected);
    assert.ok(error <= tolerance * Math.max(1, Math.abs(expected)), `${path}: ${actual} != ${expected}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) || ArrayBuffer.isView(actual), `${path}: expected an array, got ${actual}`);
    assert.equal(actual.length, expected.length, `${path}: length`);
    expected.forEach((item, index) => assertClose(actual[index], item, `${path}[${index}]`, tolerance));
  } else if (typeof expected === "object") {
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${path}: keys`);
    for (const key of Object.keys(expected)) assertClose(actual[key], expected[key], `${path}.${key}`, tolerance);
  } else {
    assert.equal(actual, expected, path);
  }
}
