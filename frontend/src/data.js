// Talks to the plugin's routes: fetches, caches and decodes; turns every failure into a sentence.
// Relative URLs ("./tags") reach /data/plugin/tb_metrics/ through the iframe's <base href>.

/** A failed request, with a message meant for the user. */
export class DataError extends Error {
  constructor(message, { status = 0, route = "" } = {}) {
    super(message);
    this.name = "DataError";
    this.status = status;
    this.route = route;
  }
}

const ARRAY_TYPES = { float32: Float32Array, float64: Float64Array, uint8: Uint8Array };

/**
 * Decodes a typed array sent as {dtype, shape, data: base64 of little-endian bytes}.
 * Every browser TensorBoard supports is little-endian, so the bytes are used as they are.
 * @returns {{values: Float32Array|Float64Array|Uint8Array, shape: number[]}}
 */
export function decodeTypedArray(encoded) {
  const ArrayType = ARRAY_TYPES[encoded?.dtype];
  if (!ArrayType) {
    throw new DataError(`Unsupported array dtype ${JSON.stringify(encoded?.dtype)}: expected float32, float64 or uint8.`);
  }
  const bytes = base64Bytes(encoded.data);
  const size = encoded.shape.reduce((product, dim) => product * dim, 1);
  if (bytes.length !== size * ArrayType.BYTES_PER_ELEMENT) {
    throw new DataError(
      `Array of shape [${encoded.shape}] needs ${size * ArrayType.BYTES_PER_ELEMENT} bytes, got ${bytes.length}.`,
    );
  }
  return { values: new ArrayType(bytes.buffer), shape: encoded.shape };
}

/**
 * The bytes of a base64 string: the browser's native decoder where it has one (Chromium 140+,
 * Firefox 133+, Safari 18.2+; several times faster than a loop on a megabyte of counts, which the
 * first drawing waits for), else `atob` and a byte loop.
 * @param {string} text
 * @param {typeof Uint8Array} [bytesType] the Uint8Array whose `fromBase64` to use (tests pass one without)
 */
export function base64Bytes(text, bytesType = Uint8Array) {
  if (typeof bytesType.fromBase64 === "function") return bytesType.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const TYPED_FIELDS = ["thresholds", "positive", "negative", "exact", "matrix", "ranked", "true_ranks", "class_ranks"];

/**
 * The counts route's JSON with its typed arrays decoded in place of the base64 objects. Threshold
 * curves: `thresholds` (S, T) shared by the classes of a step or (S, C, T) per class; `exact`
 * (S, C) uint8, absent for v1 logs (every row on the grid). Confusion matrices: `matrix` (S, C, C),
 * and where some step logged ranks `ranked` (S,) uint8, `true_ranks` (S, C, K + 1), `class_ranks` (S, C, K).
 */
export function decodeCounts(json) {
  const decoded = { ...json };
  for (const field of TYPED_FIELDS) {
    if (json[field]) decoded[field] = decodeTypedArray(json[field]);
  }
  return decoded;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) search.set(key, String(value));
  }
  return search.toString();
}

async function requestJson(fetchImpl, url, route) {
  let response;
  try {
    response = await fetchImpl(url, { headers: { Accept: "application/json" } });
  } catch (error) {
    throw new DataError(`Could not reach TensorBoard for ${route} (${error.message}). Is it still running?`, { route });
  }
  if (!response.ok) {
    let detail = "";
    try {
      detail = (await response.json()).error || "";
    } catch {
      // not JSON: keep the status line
    }
    throw new DataError(
      `The ${route} request failed with HTTP ${response.status}${detail ? `: ${detail}` : ` ${response.statusText}`}.`,
      { status: response.status, route },
    );
  }
  try {
    return await response.json();
  } catch (error) {
    throw new DataError(`The ${route} reply is not valid JSON (${error.message}).`, { route });
  }
}

/**
 * A client for the plugin's routes. Counts and summaries are cached per (run, tag, step): logged
 * steps never change. `tags()` is never cached, so polling sees new epochs; `prefetchTags()` sends
 * the first tags request at once (before the tab builds its page) and the next `tags()` call takes
 * its answer.
 * @param {{fetchImpl?: typeof fetch, baseUrl?: string}} options
 */
export function createDataClient({ fetchImpl = (...args) => fetch(...args), baseUrl = "./" } = {}) {
  const cache = new Map();
  const requestTags = () => requestJson(fetchImpl, `${baseUrl}tags`, "tags");
  let prefetchedTags = null;
  const cached = (key, load) => {
    if (!cache.has(key)) {
      const promise = load();
      cache.set(key, promise);
      // A failure is not cached: the next call retries.
      promise.catch(() => cache.delete(key));
    }
    return cache.get(key);
  };
  return {
    tags: () => {
      const answer = prefetchedTags ?? requestTags();
      prefetchedTags = null;
      return answer;
    },
    prefetchTags: () => {
      prefetchedTags ??= requestTags();
      prefetchedTags.catch(() => {}); // reported by the tags() call that takes it
    },
    counts: (run, tag, step) =>
      cached(`counts\u0000${run}\u0000${tag}\u0000${step}`, async () =>
        decodeCounts(await requestJson(fetchImpl, `${baseUrl}counts?${query({ run, tag, step })}`, "counts")),
      ),
    /** Every step's counts of a run/tag (a slice's, for gaps over epochs); `lastStep` keys the cache as for summaries. */
    allCounts: (run, tag, lastStep) =>
      cached(`all-counts\u0000${run}\u0000${tag}\u0000${lastStep}`, async () =>
        decodeCounts(await requestJson(fetchImpl, `${baseUrl}counts?${query({ run, tag })}`, "counts")),
      ),
    /** Summaries grow while training runs; `lastStep` keys the cache so a new epoch refetches. */
    summary: (run, tag, lastStep) =>
      cached(`summary\u0000${run}\u0000${tag}\u0000${lastStep}`, () =>
        requestJson(fetchImpl, `${baseUrl}summary?${query({ run, tag })}`, "summary"),
      ),
    exportUrl: (params) => `${baseUrl}export?${query(params)}`,
  };
}
