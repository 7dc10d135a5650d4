// The slices of a tag as the slice views see them: which keys and values a tag has, each slice's
// curve at the selected epoch, its rates and gaps at the shared threshold, the gaps over epochs and
// the per-slice threshold optimiser; for a confusion-matrix tag, each slice's matrix and its rates
// and gaps at the logged decision. Curves are built once per (slice, epoch, class); moving the
// threshold only reads counts off them. No DOM here.

import * as core from "./core.js";
import * as fairness from "./fairness.js";
import { buildCurve, countAt, curveOperatingPoint, resolveThreshold } from "./view_model.js";

/** Slice colours: Tableau's 10 (distinct from each other in light and dark), then dashed repeats. */
export const SLICE_PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
/** The fewest counted samples a slice's numbers are shown without a warning, if /tags gives none. */
export const DEFAULT_MIN_SLICE_SAMPLES = 30;
const MATRIX_KIND = "confusion_matrix";
const AVERAGE_KEYS = ["micro", "macro", "weighted"];

/** Labels of the gap rates, with the fairness criterion each one carries. */
export const GAP_LABELS = {
  tpr: "TPR (equal opportunity)",
  fpr: "FPR",
  fnr: "FNR",
  precision: "precision",
  selection_rate: "selection rate (demographic parity)",
  accuracy: "accuracy",
};

/** The tag that holds slice key=value of `tag` (the storage contract: "T/k=v"). */
export function sliceTagName(tag, key, value) {
  return `${tag}/${key}=${value}`;
}

/** {key: [values]} of a tag's /tags entry ({} without slices). */
export function tagSlices(tagInfo) {
  return tagInfo && tagInfo.slices && typeof tagInfo.slices === "object" ? tagInfo.slices : {};
}

/** The selected runs whose entry of `tag` has slices, in selection order. */
export function sliceRuns(runs, tag, infoOf) {
  return runs.filter((run) => Object.keys(tagSlices(infoOf(run, tag))).length > 0);
}

/**
 * The run whose slices are shown: `wanted` (the user's pick) when it is a selected run with slices
 * of `tag`, else the first such run, or null.
 */
export function sliceRun(runs, tag, infoOf, wanted = null) {
  const candidates = sliceRuns(runs, tag, infoOf);
  return candidates.includes(wanted) ? wanted : candidates[0] ?? null;
}

/**
 * One step of a counts answer holding every step (the counts route without `step`): the same
 * object shape with S = 1, its typed arrays views into the originals (no copy).
 */
export function stepCounts(counts, stepIndex) {
  const one = (encoded) => {
    if (!encoded) return encoded;
    const [steps, ...rest] = encoded.shape;
    const size = rest.reduce((product, dim) => product * dim, 1);
    if (stepIndex < 0 || stepIndex >= steps) throw new Error(`step index ${stepIndex} outside the ${steps} steps of the counts`);
    return { values: encoded.values.subarray(stepIndex * size, (stepIndex + 1) * size), shape: [1, ...rest] };
  };
  return {
    ...counts,
    steps: [counts.steps[stepIndex]],
    thresholds: one(counts.thresholds),
    positive: one(counts.positive),
    negative: one(counts.negative),
    exact: one(counts.exact),
  };
}

/** Samples counted in a curve: P + N of its first class (every class of a step counts each sample). */
export function curveSamples(curve) {
  const row = curve.classes[0];
  let total = 0;
  for (const value of row.positive) total += value;
  for (const value of row.negative) total += value;
  return total;
}

/** Counts of a curve at the shared `threshold`, resolved as the readout resolves it. */
export function countsAtThreshold(curve, threshold) {
  if (curve.average === "macro" || curve.average === "weighted") {
    throw new Error("slice rates need counts: pick a class or the micro average");
  }
  const j = resolveThreshold(curve, threshold);
  return { tp: countAt(curve, "tp", j), fp: countAt(curve, "fp", j), tn: countAt(curve, "tn", j), fn: countAt(curve, "fn", j) };
}

/** Columns (S,) of TP, FP, TN, FN of the slices' curves at `threshold`. */
function countColumns(curves, threshold) {
  const columns = { tp: new Float64Array(curves.length), fp: new Float64Array(curves.length), tn: new Float64Array(curves.length), fn: new Float64Array(curves.length) };
  curves.forEach((curve, s) => {
    const counts = countsAtThreshold(curve, threshold);
    for (const key of Object.keys(columns)) columns[key][s] = counts[key];
  });
  return columns;
}

/**
 * Rates with Wilson intervals and gaps to the reference with Newcombe / Katz intervals, for the
 * slices' curves at `threshold` (see fairness.js). `reference` is an index into `curves`. Curves of
 * a macro or weighted average get the class-averaged rates with their approximate intervals
 * (fairness.averagedRateIntervals / averagedGapIntervals) from each class's counts there.
 */
export function slicePoint(curves, threshold, reference) {
  const average = curves[0]?.average;
  if (average === "macro" || average === "weighted") {
    const perClass = curves.map((curve) => curveOperatingPoint(curve, threshold, 1).classCounts);
    const [tp, fp, tn, fn] = ["tp", "fp", "tn", "fn"].map((key) => perClass.map((counts) => counts[key]));
    return {
      average,
      rates: fairness.averagedRateIntervals(tp, fp, tn, fn, average),
      gaps: fairness.averagedGapIntervals(tp, fp, tn, fn, average, reference),
    };
  }
  const { tp, fp, tn, fn } = countColumns(curves, threshold);
  return {
    average: null,
    counts: { tp, fp, tn, fn },
    rates: fairness.rateIntervals(tp, fp, tn, fn),
    gaps: fairness.gapIntervals(tp, fp, tn, fn, reference),
  };
}

/**
 * The most thresholds the optimiser searches. Its constrained modes try every attained rate as the
 * low end of the band (up to slices × thresholds bands), each a pass over slices × thresholds: with
 * 10 exact slices of 2,000 scores the whole union would take minutes, 256 takes tens of milliseconds.
 */
export const OPTIMISER_THRESHOLDS = 256;

/** `union` (sorted) thinned to at most `size` evenly spaced thresholds, first and last kept. */
export function thinnedAxis(union, size = OPTIMISER_THRESHOLDS) {
  if (union.length <= size) return union;
  return Float64Array.from({ length: size }, (_, i) => union[Math.round((i * (union.length - 1)) / (size - 1))]);
}

/**
 * The per-slice threshold optimiser on the slices' curves (one class each): their histograms put on
 * one axis — the union of their thresholds, thinned to OPTIMISER_THRESHOLDS (core.alignClasses keeps
 * exact slices exact at each of them) — then fairness.sliceThresholds. `searched` says how many
 * thresholds of how many it tried.
 */
export function optimiseSlices(curves, mode, objective, tolerance, beta) {
  if (curves.some((curve) => curve.average)) throw new Error("the per-slice optimiser works on one class: pick a class");
  const union = core.unionOfFinite(curves.map((curve) => curve.thresholds));
  const aligned = core.alignClasses(
    curves.map((curve) => curve.thresholds),
    curves.map((curve) => curve.positiveHistogram),
    curves.map((curve) => curve.negativeHistogram),
    curves.map((curve) => curve.exact),
    thinnedAxis(union),
  );
  const result = fairness.sliceThresholds(aligned.positive, aligned.negative, aligned.axis, mode, objective, tolerance, beta);
  return { ...result, searched: aligned.axis.length, union: union.length };
}

/**
 * Builds the slice part of the model, with caches: curves per (run, slice tag, step, class), so a
 * threshold drag only re-reads counts and recomputes the intervals (a few numbers per slice).
 */
export function createSliceModelBuilder() {
  const curveCache = new Map();
  const matrixCache = new Map();
  let lastKey = "";
  let lastCurves = [];
  let lastMembers = [];

  /** Slice `value`'s matrix at one step, as C rows of C counts, with its label and colour. */
  function cachedMatrix(key, values, value, counts, stepIndex) {
    const cacheKey = `${key}=${value}\u0000${stepIndex}`;
    const hit = matrixCache.get(cacheKey);
    if (hit && hit.counts === counts) return hit.member;
    const size = counts.matrix.shape[1];
    const flat = counts.matrix.values.subarray(stepIndex * size * size, (stepIndex + 1) * size * size);
    const rows = Array.from({ length: size }, (_, r) => Float64Array.from(flat.subarray(r * size, (r + 1) * size)));
    const member = {
      run: `${key}=${value}`,
      sliceValue: value,
      color: SLICE_PALETTE[values.indexOf(value) % SLICE_PALETTE.length],
      rows,
      samples: rows.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0),
    };
    matrixCache.set(cacheKey, { counts, member });
    return member;
  }

  /** The curve of slice `value` (of `key`'s `values`) at one step; its label and colour follow from the slice. */
  function cachedCurve(run, key, values, value, counts, stepIndex, classKey) {
    const cacheKey = `${run}\u0000${key}=${value}\u0000${stepIndex}\u0000${classKey}`;
    const hit = curveCache.get(cacheKey);
    if (hit && hit.counts === counts) return hit.curve;
    const color = SLICE_PALETTE[values.indexOf(value) % SLICE_PALETTE.length];
    const curve = buildCurve(`${key}=${value}`, color, stepCounts(counts, stepIndex), classKey);
    curve.sliceValue = value;
    curveCache.set(cacheKey, { counts, curve });
    return curve;
  }

  return {
    /** Forgets every curve (new counts for another run, tag or key). */
    clear() {
      curveCache.clear();
      matrixCache.clear();
      lastKey = "";
      lastCurves = [];
      lastMembers = [];
    },
    /**
     * @param {{state: object, run: string|null, tagInfo: object, sliceCounts: Map<string, object>|null}} input
     *   sliceCounts: slice value → that slice tag's counts of every step.
     * @returns {object|null} null when no slice key is chosen
     */
    build({ state, run, tagInfo, sliceCounts }) {
      const slices = tagSlices(tagInfo);
      const key = state.sliceKey;
      if (!key || !slices[key] || !run) return null;
      const values = slices[key];
      const minSamples = tagInfo.min_slice_samples ?? DEFAULT_MIN_SLICE_SAMPLES;
      const kind = tagInfo.kind ?? "threshold_curves";
      const base = { key, values, run, kind, minSamples, curves: [], members: [], loading: !sliceCounts, problems: [] };
      if (!sliceCounts) return base;
      if (kind === MATRIX_KIND) {
        const built = buildMatrixSlices(base, state, sliceCounts, cachedMatrix);
        // The same array while nothing changed, so the views skip rebuilding their tables and charts.
        const same = built.members.length === lastMembers.length && built.members.every((member, s) => member === lastMembers[s]);
        if (same) built.members = lastMembers;
        else lastMembers = built.members;
        return built;
      }
      const curves = [];
      values.forEach((value) => {
        const counts = sliceCounts.get(value);
        if (!counts) {
          base.problems.push(`slice ${key}=${value} has no counts`);
          return;
        }
        const stepIndex = counts.steps.indexOf(state.step);
        if (stepIndex < 0) {
          base.problems.push(`slice ${key}=${value} has no epoch ${state.step}`);
          return;
        }
        curves.push(cachedCurve(run, key, values, value, counts, stepIndex, state.classKey));
      });
      // The same array while nothing changed, so the curve views skip rebuilding their charts.
      const signature = curves.map((curve) => curve.run).join("\u0000");
      const same = signature === lastKey && curves.every((curve, s) => curve === lastCurves[s]);
      if (!same) {
        lastKey = signature;
        lastCurves = curves;
      }
      const shown = lastCurves;
      const referenceIndex = Math.max(0, shown.findIndex((curve) => curve.sliceValue === state.sliceReference));
      // Kept with each curve (cached per run, slice, step and class): a drag frame need not re-sum them.
      const samples = shown.map((curve) => (curve.samples ??= curveSamples(curve)));
      return {
        ...base,
        curves: shown,
        members: shown,
        samples,
        small: samples.map((n) => n < minSamples),
        referenceIndex,
        average: shown[0]?.average ?? null,
        point: shown.length ? slicePoint(shown, state.threshold, referenceIndex) : null,
        /** Gaps of `rate` to the reference at every logged step, the threshold held (for the epochs view). */
        gapsOverEpochs: (rate) => gapsOverEpochs(sliceCounts, values, key, run, state, referenceIndex, rate, cachedCurve),
      };
    },
  };
}

/**
 * For every step the slices share: each slice's `rate` gap (difference with its interval) to the
 * reference slice at the shared threshold. Curves come from the builder's cache, so dragging the
 * threshold re-reads counts only.
 * @returns {{steps: number[], slices: {value, label, color, difference: Float64Array, low: Float64Array, high: Float64Array}[]}}
 */
function gapsOverEpochs(sliceCounts, values, key, run, state, referenceIndex, rate, cachedCurve) {
  return overEpochs(sliceCounts, values, key, referenceIndex, rate, (present, step, reference) => {
    const curves = present.map((value) => {
      const counts = sliceCounts.get(value);
      return cachedCurve(run, key, values, value, counts, counts.steps.indexOf(step), state.classKey);
    });
    return slicePoint(curves, state.threshold, reference).gaps;
  });
}

/** The steps every present slice has, and each slice's `rate` gap series from `gapsAt(present, step, reference)`. */
function overEpochs(sliceCounts, values, key, referenceIndex, rate, gapsAt) {
  const present = values.filter((value) => sliceCounts.get(value));
  if (!present.length) return { steps: [], slices: [] };
  const steps = sliceCounts.get(present[0]).steps.filter((step) => present.every((value) => sliceCounts.get(value).steps.includes(step)));
  const series = present.map((value, s) => ({
    value,
    label: `${key}=${value}`,
    color: SLICE_PALETTE[values.indexOf(value) % SLICE_PALETTE.length],
    difference: new Float64Array(steps.length),
    low: new Float64Array(steps.length),
    high: new Float64Array(steps.length),
    index: s,
  }));
  const reference = Math.min(referenceIndex, present.length - 1);
  steps.forEach((step, i) => {
    const gaps = gapsAt(present, step, reference);
    for (const entry of series) {
      entry.difference[i] = gaps[rate].difference[entry.index];
      entry.low[i] = gaps[rate].difference_low[entry.index];
      entry.high[i] = gaps[rate].difference_high[entry.index];
    }
  });
  return { steps, slices: series };
}

/** The class index of a matrix's rates for a class key, null for an average. */
export function matrixClassIndex(classKey) {
  return AVERAGE_KEYS.includes(classKey) ? null : Number(classKey);
}

/**
 * The slice part of the model for a confusion-matrix tag: each slice's matrix at the selected epoch
 * (`members`), its rates with Wilson intervals and gaps to the reference at the logged decision
 * (matrixSlicePoint: the chosen class one-vs-rest or a class average, accuracy the multiclass one),
 * and the gaps over epochs.
 */
function buildMatrixSlices(base, state, sliceCounts, cachedMatrix) {
  const { key, values } = base;
  const members = [];
  values.forEach((value) => {
    const counts = sliceCounts.get(value);
    const stepIndex = counts ? counts.steps.indexOf(state.step) : -1;
    if (!counts) base.problems.push(`slice ${key}=${value} has no counts`);
    else if (stepIndex < 0) base.problems.push(`slice ${key}=${value} has no epoch ${state.step}`);
    else members.push(cachedMatrix(key, values, value, counts, stepIndex));
  });
  const referenceIndex = Math.max(0, members.findIndex((member) => member.sliceValue === state.sliceReference));
  const classIndex = matrixClassIndex(state.classKey);
  const average = classIndex === null ? state.classKey : null;
  const samples = members.map((member) => member.samples);
  return {
    ...base,
    members,
    samples,
    small: samples.map((n) => n < base.minSamples),
    referenceIndex,
    classIndex,
    average,
    point: members.length ? matrixSlicePoint(members.map((member) => member.rows), classIndex, average, referenceIndex) : null,
    gapsOverEpochs: (rate) => matrixGapsOverEpochs(sliceCounts, values, key, classIndex, average, referenceIndex, rate, cachedMatrix),
  };
}

/**
 * Rates and gaps of confusion-matrix slices (arrays of C rows) at their logged decision: one class
 * one-vs-rest, or for "macro" / "weighted" the class-averaged rates with approximate intervals
 * (fairness.averagedRateIntervals); accuracy is always the multiclass one, and with "micro" (the
 * pooled one-vs-rest counts, whose recall and precision are the accuracy) it is the only rate.
 */
export function matrixSlicePoint(matrices, classIndex, average, reference) {
  if (average !== "macro" && average !== "weighted") {
    return {
      average: null,
      rates: fairness.matrixRateIntervals(matrices, classIndex),
      gaps: fairness.matrixGapIntervals(matrices, classIndex, reference),
    };
  }
  const [tp, fp, tn, fn] = fairness.matrixClassCounts(matrices);
  const rates = fairness.averagedRateIntervals(tp, fp, tn, fn, average);
  const gaps = fairness.averagedGapIntervals(tp, fp, tn, fn, average, reference);
  rates.accuracy = fairness.matrixRateIntervals(matrices, null).accuracy;
  gaps.accuracy = fairness.matrixGapIntervals(matrices, null, reference).accuracy;
  return { average, rates, gaps };
}

/** As gapsOverEpochs, for confusion-matrix slices at their logged decision. */
function matrixGapsOverEpochs(sliceCounts, values, key, classIndex, average, referenceIndex, rate, cachedMatrix) {
  return overEpochs(sliceCounts, values, key, referenceIndex, rate, (present, step, reference) => {
    const matrices = present.map((value) => {
      const counts = sliceCounts.get(value);
      return cachedMatrix(key, values, value, counts, counts.steps.indexOf(step)).rows;
    });
    return matrixSlicePoint(matrices, classIndex, average, reference).gaps;
  });
}
