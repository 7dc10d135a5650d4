// Builds the object every view receives from the store state and the fetched counts. Curves are
// cached per (run, tag, step, class): dragging the threshold reuses them and only recomputes the
// operating points (a few numbers per run).

import * as core from "./core.js";

const AVERAGES = ["micro", "macro", "weighted"];
/** Curves kept for quick return to an earlier (run, step, class); the oldest is dropped first. */
const CURVE_CACHE_SIZE = 48;
const AVERAGE_LABELS = { micro: "micro average", macro: "macro average", weighted: "weighted average" };

/** "class dog", "micro average", … for the class key of a tag. */
export function classLabel(classKey, classNames) {
  if (AVERAGES.includes(classKey)) return AVERAGE_LABELS[classKey];
  const name = classNames[Number(classKey)];
  return name === undefined ? `class ${classKey}` : `class ${name}`;
}

/** Row `index` of a [1, rows, width] typed array (one step) as a Float64Array. */
function row(encoded, index) {
  const width = encoded.shape[encoded.shape.length - 1];
  return Float64Array.from(encoded.values.subarray(index * width, (index + 1) * width));
}

function sumRows(rows) {
  const total = new Float64Array(rows[0].length);
  for (const values of rows) for (let k = 0; k < values.length; k++) total[k] += values[k];
  return total;
}

function total(values) {
  let sum = 0;
  for (let k = 0; k < values.length; k++) sum += values[k];
  return sum;
}

/**
 * One run's curve for a class or an average, from the counts of one step.
 *
 * A class, or the micro average (histograms summed over classes, one-vs-rest pooled), has exact
 * counts. Macro and weighted averages are threshold averages of rates (the core's `rocCurve` with
 * `average`): their tp/fp/tn/fn are the averaged TPR and FPR times the mean class size, so that rate
 * views draw the averaged curves; exact averaged metrics come from the per-class histograms kept in
 * `positiveHistograms` / `negativeHistograms` with `average`.
 */
export function buildCurve(run, color, counts, classKey) {
  const numClasses = counts.positive.shape[1];
  const thresholds = Float64Array.from(counts.thresholds.values.subarray(0, counts.thresholds.shape[1]));
  const positiveRows = Array.from({ length: numClasses }, (_, c) => row(counts.positive, c));
  const negativeRows = Array.from({ length: numClasses }, (_, c) => row(counts.negative, c));
  const average = AVERAGES.includes(classKey) ? classKey : null;
  let positiveHistogram;
  let negativeHistogram;
  if (average) {
    positiveHistogram = sumRows(positiveRows);
    negativeHistogram = sumRows(negativeRows);
  } else {
    positiveHistogram = positiveRows[Number(classKey)];
    negativeHistogram = negativeRows[Number(classKey)];
  }
  let { tp, fp, tn, fn } = core.confusionAtThresholds(positiveHistogram, negativeHistogram);
  let positives = total(positiveHistogram);
  let negatives = total(negativeHistogram);
  if (average === "macro" || average === "weighted") {
    const { tpr, fpr } = core.rocCurve(positiveRows, negativeRows, thresholds, average);
    const count = thresholds.length;
    positives /= numClasses;
    negatives /= numClasses;
    positiveHistogram = positiveHistogram.map((value) => value / numClasses);
    negativeHistogram = negativeHistogram.map((value) => value / numClasses);
    tp = new Float64Array(count);
    fp = new Float64Array(count);
    tn = new Float64Array(count);
    fn = new Float64Array(count);
    // rocCurve lists +inf first, then t_{T-1} … t_0, then −inf: grid index j is point T − j.
    for (let j = 0; j < count; j++) {
      tp[j] = tpr[count - j] * positives;
      fp[j] = fpr[count - j] * negatives;
      fn[j] = positives - tp[j];
      tn[j] = negatives - fp[j];
    }
  }
  return {
    run,
    color,
    classKey,
    average,
    thresholds,
    tp,
    fp,
    tn,
    fn,
    positives,
    negatives,
    positiveHistogram,
    negativeHistogram,
    // What the core's operating-point and averaged functions take: one class's histograms, or all
    // classes' with `average`.
    positiveHistograms: average ? positiveRows : positiveHistogram,
    negativeHistograms: average ? negativeRows : negativeHistogram,
  };
}

/** The operating point of a curve at `threshold`: exact counts and every metric there. */
export function curveOperatingPoint(curve, threshold, beta) {
  const index = core.thresholdIndex(curve.thresholds, threshold);
  const gridThreshold = curve.thresholds[index];
  let counts;
  let metrics;
  if (curve.average) {
    // Per-class counts of every threshold, computed once per curve: dragging only indexes them.
    curve.perClassCounts ??= core.confusionAtThresholds(curve.positiveHistograms, curve.negativeHistograms);
    const perClass = curve.perClassCounts;
    const at = (rows) => rows.map((values) => [values[index]]);
    counts = { tp: 0, fp: 0, tn: 0, fn: 0 };
    for (const key of Object.keys(counts)) for (const values of perClass[key]) counts[key] += values[index];
    const averaged = core.averageThresholdMetrics(at(perClass.tp), at(perClass.fp), at(perClass.tn), at(perClass.fn), curve.average, beta);
    metrics = Object.fromEntries(Object.entries(averaged).map(([name, values]) => [name, values[0]]));
  } else {
    counts = { tp: curve.tp[index], fp: curve.fp[index], tn: curve.tn[index], fn: curve.fn[index] };
    metrics = core.thresholdMetrics(counts.tp, counts.fp, counts.tn, counts.fn, beta);
  }
  return {
    run: curve.run,
    color: curve.color,
    index,
    gridThreshold,
    counts,
    // Wilson intervals describe one proportion of counts: a class or the micro pool, not a mean of rates.
    exact: curve.average === null || curve.average === "micro",
    metrics: { ...metrics, ...counts, threshold },
  };
}

/** One-vs-rest counts of every class of a C×C matrix (rows = true class): per-class arrays. */
const oneVsRestCache = new WeakMap();
function oneVsRest(matrix, size) {
  if (!oneVsRestCache.has(matrix)) oneVsRestCache.set(matrix, countOneVsRest(matrix, size));
  return oneVsRestCache.get(matrix);
}

function countOneVsRest(matrix, size) {
  const tp = new Float64Array(size);
  const rowSums = new Float64Array(size);
  const colSums = new Float64Array(size);
  let all = 0;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const value = matrix[r * size + c];
      rowSums[r] += value;
      colSums[c] += value;
      all += value;
    }
    tp[r] = matrix[r * size + r];
  }
  const fp = colSums.map((value, c) => value - tp[c]);
  const fn = rowSums.map((value, c) => value - tp[c]);
  const tn = tp.map((value, c) => all - value - fp[c] - fn[c]);
  return { tp, fp, tn, fn };
}

/** The readout's numbers for a confusion matrix: one class one-vs-rest, or an average over classes. */
export function matrixOperatingPoint(entry, classKey, beta) {
  const perClass = oneVsRest(entry.matrix, entry.numClasses);
  const average = AVERAGES.includes(classKey) ? classKey : null;
  let counts;
  let metrics;
  if (average) {
    counts = Object.fromEntries(Object.entries(perClass).map(([key, values]) => [key, total(values)]));
    const column = (values) => Array.from(values, (value) => [value]);
    const averaged = core.averageThresholdMetrics(column(perClass.tp), column(perClass.fp), column(perClass.tn), column(perClass.fn), average, beta);
    metrics = Object.fromEntries(Object.entries(averaged).map(([name, values]) => [name, values[0]]));
  } else {
    const c = Number(classKey);
    counts = { tp: perClass.tp[c], fp: perClass.fp[c], tn: perClass.tn[c], fn: perClass.fn[c] };
    metrics = core.thresholdMetrics(counts.tp, counts.fp, counts.tn, counts.fn, beta);
  }
  return {
    run: entry.run,
    color: entry.color,
    index: -1,
    gridThreshold: NaN,
    counts,
    exact: average === null || average === "micro",
    // An argmax matrix has no threshold: the readout shows none rather than an unused one.
    metrics: { ...metrics, ...counts, threshold: NaN },
  };
}

/** The model builder with its caches (one per app). */
export function createModelBuilder() {
  const curveCache = new Map();
  const matrixCache = new Map();
  const matrixScalarCache = new WeakMap();
  let lastCurves = [];
  let lastMatrices = [];

  const cachedCurve = (counts, run, color, classKey) => {
    const key = `${run}\u0000${counts.tag}\u0000${counts.steps[0]}\u0000${classKey}\u0000${color}`;
    const hit = curveCache.get(key);
    if (hit && hit.counts === counts) return hit.curve;
    const curve = buildCurve(run, color, counts, classKey);
    curveCache.set(key, { counts, curve });
    // Bounded: 100 classes × 1000 thresholds is about 1.5 MB a curve.
    if (curveCache.size > CURVE_CACHE_SIZE) curveCache.delete(curveCache.keys().next().value);
    return curve;
  };

  const cachedMatrix = (counts, run, color) => {
    const hit = matrixCache.get(run);
    if (hit && hit.counts === counts && hit.entry.color === color) return hit.entry;
    const size = counts.matrix.shape[1];
    const entry = {
      run,
      color,
      matrix: Float64Array.from(counts.matrix.values.subarray(0, size * size)),
      numClasses: size,
      classNames: counts.class_names.length === size ? counts.class_names : Array.from({ length: size }, (_, i) => String(i)),
    };
    matrixCache.set(run, { counts, entry });
    return entry;
  };

  // An argmax matrix does not depend on the threshold: its readout is computed once per class and β.
  const matrixPointCache = new WeakMap();
  const cachedMatrixPoint = (entry, classKey, beta) => {
    if (!matrixPointCache.has(entry)) matrixPointCache.set(entry, new Map());
    const points = matrixPointCache.get(entry);
    const key = `${classKey}|${beta}`;
    if (!points.has(key)) points.set(key, matrixOperatingPoint(entry, classKey, beta));
    return points.get(key);
  };

  /** The same array as last time when every element is the same, so views can skip redrawing. */
  const stable = (previous, next) =>
    previous.length === next.length && previous.every((item, index) => item === next[index]) ? previous : next;

  return {
    /**
     * @param {{state: object, tagInfo: object, runColors: object, counts: Map<string, object>,
     *          summaries: object, setState: (patch: object) => void}} input
     */
    build({ state, tagInfo, runColors, counts, summaries, setState }) {
      const runsWithData = state.runs.filter((run) => counts.has(run) && counts.get(run).kind === tagInfo.kind);
      let curves = [];
      let matrices = [];
      if (tagInfo.kind === "threshold_curves") {
        curves = stable(lastCurves, runsWithData.map((run) => cachedCurve(counts.get(run), run, runColors[run], state.classKey)));
        lastCurves = curves;
      } else if (tagInfo.kind === "confusion_matrix") {
        matrices = stable(lastMatrices, runsWithData.map((run) => cachedMatrix(counts.get(run), run, runColors[run])));
        lastMatrices = matrices;
      }
      const operatingPoints = tagInfo.kind === "threshold_curves"
        ? curves.map((curve) => curveOperatingPoint(curve, state.threshold, state.beta))
        : matrices.map((entry) => cachedMatrixPoint(entry, state.classKey, state.beta));
      const matrixScalars = matrices.map((entry) => {
        if (!matrixScalarCache.has(entry)) matrixScalarCache.set(entry, core.matrixMetrics(entry.matrix, entry.numClasses));
        return { run: entry.run, color: entry.color, metrics: matrixScalarCache.get(entry) };
      });
      return {
        state,
        tagInfo,
        runColors,
        curves,
        matrices,
        summaries: Object.fromEntries(state.runs.filter((run) => summaries[run]).map((run) => [run, summaries[run]])),
        setState,
        // Shell extras (not part of the view contract): the readout's numbers.
        classLabel: classLabel(state.classKey, tagInfo.class_names),
        runsWithoutData: state.runs.filter((run) => !runsWithData.includes(run)),
        operatingPoints,
        matrixScalars,
      };
    },
  };
}
