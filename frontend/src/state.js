// The one shared state of the tab (runs, tag, class, epoch, threshold, …) that every view follows,
// and its persistence in the URL hash (and localStorage, which survives TensorBoard reloading the
// plugin's iframe without our hash).

/** Every state key with its default value. */
export const DEFAULT_STATE = Object.freeze({
  // null: not chosen yet (the tab picks a validation run); []: the user unticked every run.
  runs: null,
  tag: null,
  // The chosen class (index or average) and that class's name, by which it is found in other tags.
  classKey: "0",
  className: null,
  step: null,
  // On while the user is at the latest epoch: new epochs are then shown as they are logged.
  followLatest: true,
  threshold: 0.5,
  beta: 1,
  costRatio: 1,
  minPrecision: 0.9,
  minRecall: 0.9,
  minSpecificity: 0.9,
  normalization: "none",
  sortBy: "class",
  showDet: false,
  // The ROC card's max FPR for the partial ROC-AUC; null: off.
  maxFpr: null,
  // Slices: the run whose slices are compared (null: the first selected run that has them), the key
  // compared (null: none), the reference slice's value, the gap over epochs, and the per-slice
  // optimiser's mode, objective and tolerance.
  sliceRun: null,
  sliceKey: null,
  sliceReference: null,
  sliceGapRate: "tpr",
  sliceMode: "equal_opportunity",
  sliceObjective: "fbeta",
  sliceTolerance: 0.05,
  // The k of the top-k line under the confusion matrix; null: min(5, K).
  topK: null,
  theme: "light",
});

const NORMALIZATIONS = ["none", "true", "pred", "all"];
const SORTS = ["class", "error"];
const SLICE_GAP_RATES = ["tpr", "fpr", "fnr", "precision", "selection_rate", "accuracy"];
const SLICE_MODES = ["single", "per_slice", "equal_opportunity", "demographic_parity", "equal_accuracy"];
const SLICE_OBJECTIVES = ["fbeta", "accuracy", "youden"];
const AVERAGES = ["micro", "macro", "weighted"];
// The theme follows the host page; it is never restored from an old URL.
const NOT_PERSISTED = new Set(["theme"]);
const STORAGE_KEY = "tb_metrics.state";

function sameValue(a, b) {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => item === b[index]);
  }
  return Object.is(a, b);
}

/**
 * A minimal observable store.
 * @param {object} initial state
 * @returns {{get: () => object, set: (patch: object) => void,
 *            subscribe: (fn: (state: object, changedKeys: Set<string>) => void) => () => void}}
 */
export function createStore(initial) {
  let state = Object.freeze({ ...initial });
  const subscribers = new Set();
  return {
    get: () => state,
    set(patch) {
      const changedKeys = new Set();
      for (const [key, value] of Object.entries(patch)) {
        if (!sameValue(state[key], value)) changedKeys.add(key);
      }
      if (changedKeys.size === 0) return;
      state = Object.freeze({ ...state, ...patch });
      for (const fn of [...subscribers]) fn(state, changedKeys);
    },
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  };
}

/** Number in [low, high], or undefined when `text` is not one. */
function parseNumber(text, low, high) {
  if (text === "") return undefined;
  const value = Number(text);
  return Number.isFinite(value) && value >= low && value <= high ? value : undefined;
}

function parseBoolean(text) {
  return text === "1" ? true : text === "0" ? false : undefined;
}

const CODECS = {
  runs: {
    encode: (runs) => JSON.stringify(runs),
    decode(text) {
      try {
        const runs = JSON.parse(text);
        return Array.isArray(runs) && runs.every((run) => typeof run === "string") ? runs : undefined;
      } catch {
        return undefined;
      }
    },
  },
  tag: { encode: String, decode: (text) => text || undefined },
  classKey: {
    encode: String,
    decode: (text) => (/^\d+$/.test(text) || AVERAGES.includes(text) ? text : undefined),
  },
  className: { encode: String, decode: (text) => text },
  step: { encode: String, decode: (text) => parseNumber(text, -Infinity, Infinity) },
  followLatest: { encode: (v) => (v ? "1" : "0"), decode: parseBoolean },
  threshold: { encode: String, decode: (text) => parseNumber(text, 0, 1) },
  beta: { encode: String, decode: (text) => parseNumber(text, 1e-6, 1e6) },
  costRatio: { encode: String, decode: (text) => parseNumber(text, 1e-9, 1e9) },
  minPrecision: { encode: String, decode: (text) => parseNumber(text, 0, 1) },
  minRecall: { encode: String, decode: (text) => parseNumber(text, 0, 1) },
  minSpecificity: { encode: String, decode: (text) => parseNumber(text, 0, 1) },
  normalization: { encode: String, decode: (text) => (NORMALIZATIONS.includes(text) ? text : undefined) },
  sortBy: { encode: String, decode: (text) => (SORTS.includes(text) ? text : undefined) },
  showDet: { encode: (v) => (v ? "1" : "0"), decode: parseBoolean },
  maxFpr: { encode: String, decode: (text) => (parseNumber(text, 0, 1) > 0 ? Number(text) : undefined) },
  sliceRun: { encode: String, decode: (text) => text || undefined },
  sliceKey: { encode: String, decode: (text) => text || undefined },
  sliceReference: { encode: String, decode: (text) => text },
  sliceGapRate: { encode: String, decode: (text) => (SLICE_GAP_RATES.includes(text) ? text : undefined) },
  sliceMode: { encode: String, decode: (text) => (SLICE_MODES.includes(text) ? text : undefined) },
  sliceObjective: { encode: String, decode: (text) => (SLICE_OBJECTIVES.includes(text) ? text : undefined) },
  sliceTolerance: { encode: String, decode: (text) => parseNumber(text, 0, 1) },
  topK: { encode: String, decode: (text) => (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 10 ? Number(text) : undefined) },
};

/** The state keys that differ from their defaults, as a URL hash ("#threshold=0.3&…"). */
export function encodeState(state) {
  const params = new URLSearchParams();
  for (const [key, codec] of Object.entries(CODECS)) {
    if (state[key] === null || state[key] === undefined) continue;
    if (NOT_PERSISTED.has(key) || sameValue(state[key], DEFAULT_STATE[key])) continue;
    params.set(key, codec.encode(state[key]));
  }
  const text = params.toString();
  return text ? `#${text}` : "";
}

/** A patch of the valid keys found in a URL hash; unknown keys and bad values are ignored. */
export function decodeState(hash) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  const patch = {};
  for (const [key, codec] of Object.entries(CODECS)) {
    if (!params.has(key)) continue;
    const value = codec.decode(params.get(key));
    if (value !== undefined) patch[key] = value;
  }
  return patch;
}

function readStorage(win) {
  try {
    return win.localStorage.getItem(STORAGE_KEY) || "";
  } catch {
    return ""; // storage disabled (privacy settings): the hash still works
  }
}

/** The state saved by an earlier visit: the URL hash wins, then localStorage. */
export function restoreState(win = window) {
  const fromHash = decodeState(win.location.hash);
  if (Object.keys(fromHash).length > 0) return fromHash;
  return decodeState(readStorage(win));
}

/** How long the state must rest before it is written (a history entry costs milliseconds). */
export const PERSIST_DELAY_MS = 200;

/**
 * Keeps the URL hash and localStorage in step with the store. Writes wait until the state rests for
 * PERSIST_DELAY_MS, so dragging the threshold does not spend its frames in the history API; a
 * pending write is flushed when the page goes away (TensorBoard reloading or leaving the tab).
 * @returns {() => void} stops persisting
 */
export function persistState(store, win = window) {
  let timer = null;
  const write = () => {
    if (timer !== null) win.clearTimeout(timer);
    timer = null;
    const hash = encodeState(store.get());
    if (hash !== win.location.hash && !(hash === "" && win.location.hash === "")) {
      win.history.replaceState(null, "", `${win.location.pathname}${win.location.search}${hash}`);
    }
    try {
      win.localStorage.setItem(STORAGE_KEY, hash);
    } catch {
      // storage full or disabled: the hash alone still persists the state
    }
  };
  const flush = () => {
    if (timer !== null) write();
  };
  win.addEventListener("pagehide", flush);
  const unsubscribe = store.subscribe(() => {
    if (timer !== null) win.clearTimeout(timer);
    timer = win.setTimeout(write, PERSIST_DELAY_MS);
  });
  return () => {
    flush();
    unsubscribe();
    win.removeEventListener("pagehide", flush);
  };
}
