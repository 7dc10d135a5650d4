// Builds the object every view receives from the store state and the fetched counts. Curves are
// cached per (run, tag, step, class): dragging the threshold reuses them and only recomputes the
// operating points (a few numbers per run).

import * as core from "./core.js";
import * as topK from "./top_k.js";

const AVERAGES = ["micro", "macro", "weighted"];
/**
 * Curves kept for quick return to an earlier (run, step, class), bounded by the numbers they hold
 * (about 8 bytes each); the oldest is dropped first. 100 classes × 1000 thresholds is ~0.2 M.
 */
const CURVE_CACHE_CELLS = 2 ** 24;
/**
 * At most this many cells (classes × axis thresholds) in an average's aligned histograms. An average
 * of classes with their own thresholds lives on the union of them all, up to ~16,000 thresholds
 * (docs/format.md); with many classes that would be C × 16,000 cells per histogram, so the axis is
 * then thinned to evenly spaced thresholds of the union. Its counts stay exact where they are.
 */
export const ALIGNED_CELLS_BUDGET = 2 ** 20;
const AVERAGE_LABELS = { micro: "micro average", macro: "macro average", weighted: "weighted average" };

/** "class dog", "micro average", … for the class key of a tag. */
export function classLabel(classKey, classNames) {
  if (AVERAGES.includes(classKey)) return AVERAGE_LABELS[classKey];
  const name = classNames[Number(classKey)];
  return name === undefined ? `class ${classKey}` : `class ${name}`;
}

/**
 * Class `c` of one step of a threshold-curves answer: its thresholds (the step's shared row, or the
 * class's own row of a (1, C, T) array) with the +Infinity padding of format v2 left out, its
 * histograms cut to match (padded bins are empty), and whether the row holds the class's distinct
 * scores (exact mode; `exact` absent, as for v1 logs, means grid mode).
 * @returns {{thresholds: Float64Array, positive: Float64Array, negative: Float64Array, exact: boolean}}
 */
export function classRow(counts, c, sharedThresholds = null) {
  const bins = counts.positive.shape[counts.positive.shape.length - 1];
  const width = bins - 1;
  const values = counts.thresholds.values;
  const start = counts.thresholds.shape.length === 3 ? c * width : 0;
  let length = width;
  while (length > 0 && values[start + length - 1] === Infinity) length--;
  const histogram = (encoded) => new Float64Array(encoded.values.subarray(c * bins, c * bins + length + 1));
  return {
    // Classes that share one row may share one array (`sharedThresholds`): averages test identity first.
    thresholds: sharedThresholds ?? new Float64Array(values.subarray(start, start + length)),
    positive: histogram(counts.positive),
    negative: histogram(counts.negative),
    exact: counts.exact ? counts.exact.values[c] === 1 : false,
  };
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
 * The stored-threshold index a curve's counts are read at for the user's `threshold`: the core's
 * `thresholdIndex` with the curve's mode (nearest on the grid, floor when exact; −1 then means
 * everything positive).
 */
export function resolveThreshold(curve, threshold) {
  return core.thresholdIndex(curve.thresholds, threshold, curve.exact);
}

/**
 * `key` ("tp", "fp", "tn" or "fn") of a curve at index `j` of its thresholds; j = −1 (an exact
 * curve below every score) is everything positive: TP = P, FP = N, TN = FN = 0.
 */
export function countAt(curve, key, j) {
  if (j >= 0) return curve[key][j];
  return key === "tp" ? curve.positives : key === "fp" ? curve.negatives : 0;
}

/**
 * The axis an average is aligned on: the union of the classes' thresholds, or, when C × (U + 1)
 * would exceed ALIGNED_CELLS_BUDGET, evenly spaced thresholds of it (first and last kept).
 */
export function alignmentAxis(union, numClasses) {
  const size = Math.max(2, Math.floor(ALIGNED_CELLS_BUDGET / numClasses) - 1);
  if (union.length <= size) return union;
  return Float64Array.from({ length: size }, (_, i) => union[Math.round((i * (union.length - 1)) / (size - 1))]);
}

/**
 * One run's curve for a class or an average, from the counts of one step.
 *
 * A class has its own thresholds (`thresholds`, padding left out) and `exact` flag. For an average
 * the classes are put on one axis first when they do not share thresholds (`core.alignClasses`:
 * exact rows keep their exact counts there), and `thresholds` is that axis; `exact` when every class
 * is exact. A class, or the micro average (histograms summed over classes, one-vs-rest pooled), has
 * real counts. Macro and weighted averages are threshold averages of rates (the core's `rocCurve`
 * with `average`): their tp/fp/tn/fn are the averaged TPR and FPR times the mean class size, so that
 * rate views draw the averaged curves; exact averaged metrics come from the per-class histograms kept
 * in `positiveHistograms` / `negativeHistograms` with `average`, and the readout resolves the
 * threshold in each class's own row (`classes`).
 */
export function buildCurve(run, color, counts, classKey) {
  const numClasses = counts.positive.shape[1];
  const average = AVERAGES.includes(classKey) ? classKey : null;
  if (!average) {
    const row = classRow(counts, Number(classKey));
    return {
      run,
      color,
      classKey,
      average,
      exact: row.exact,
      thresholds: row.thresholds,
      ...core.confusionAtThresholds(row.positive, row.negative),
      positives: total(row.positive),
      negatives: total(row.negative),
      positiveHistogram: row.positive,
      negativeHistogram: row.negative,
      // What the core's operating-point and averaged functions take: one class's histograms, or all
      // classes' with `average`.
      positiveHistograms: row.positive,
      negativeHistograms: row.negative,
      classes: [row],
    };
  }
  // One threshold row for every class (v1, or v2 on the grid): the classes share one array.
  const shared = counts.thresholds.shape.length === 2 ? classRow(counts, 0).thresholds : null;
  const classes = Array.from({ length: numClasses }, (_, c) => classRow(counts, c, shared));
  const union = shared && !classes.some((row) => row.exact) ? null : core.unionOfFinite(classes.map((row) => row.thresholds));
  const aligned = shared && !classes.some((row) => row.exact)
    ? { axis: shared, positive: classes.map((row) => row.positive), negative: classes.map((row) => row.negative) }
    : core.alignClasses(
      classes.map((row) => row.thresholds),
      classes.map((row) => row.positive),
      classes.map((row) => row.negative),
      classes.map((row) => row.exact),
      alignmentAxis(union, numClasses),
    );
  const thresholds = aligned.axis;
  const axisThresholds = union ? union.length : thresholds.length;
  const positiveRows = aligned.positive;
  const negativeRows = aligned.negative;
  let positiveHistogram = sumRows(positiveRows);
  let negativeHistogram = sumRows(negativeRows);
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
    // Exact at any threshold only on the whole union: a thinned axis is exact at its own thresholds.
    exact: classes.every((row) => row.exact) && axisThresholds === thresholds.length,
    thresholds,
    // How many thresholds the classes have in all (the union); more than `thresholds` when thinned.
    axisThresholds,
    tp,
    fp,
    tn,
    fn,
    positives,
    negatives,
    positiveHistogram,
    negativeHistogram,
    positiveHistograms: positiveRows,
    negativeHistograms: negativeRows,
    classes,
  };
}

/**
 * What the user's `threshold` resolves to in a curve, for the readout: `exact` when the counts are
 * those at `threshold` itself (every class concerned is in exact mode); otherwise `stored`, the
 * grid threshold the counts are read at (NaN when the classes of an average resolve to different
 * ones), and `exactClasses`, how many classes of an average are exact.
 */
function resolution(curve, indices, threshold) {
  let exactClasses = 0;
  let stored = null;
  for (let c = 0; c < curve.classes.length; c++) {
    const row = curve.classes[c];
    if (row.exact) {
      exactClasses++;
      continue;
    }
    const value = row.thresholds[indices[c]];
    // Grid classes at different stored thresholds (rows of different grids): none to name.
    stored = stored === null || Object.is(stored, value) ? value : NaN;
  }
  if (stored === null) return { exact: true, stored: threshold, exactClasses };
  return { exact: false, stored, exactClasses };
}

/**
 * The operating point of a curve at `threshold`: exact counts and every metric there. Each class
 * resolves the threshold in its own row (`resolveThreshold` rules: nearest stored threshold on the
 * grid, floor in exact mode), so an average is the average of its classes' operating points.
 */
export function curveOperatingPoint(curve, threshold, beta) {
  // Per-class counts of every threshold, computed once per curve: moving the threshold only indexes them.
  curve.classCounts ??= curve.average
    ? curve.classes.map((row) => ({
      ...core.confusionAtThresholds(row.positive, row.negative), positives: total(row.positive), negatives: total(row.negative),
    }))
    : [curve];
  // Classes sharing one grid row resolve alike: one search per distinct row and mode.
  let lastRow = null;
  let lastExact = null;
  let lastIndex = -1;
  const indices = curve.classes.map((row) => {
    if (row.thresholds !== lastRow || row.exact !== lastExact) {
      lastRow = row.thresholds;
      lastExact = row.exact;
      lastIndex = core.thresholdIndex(row.thresholds, threshold, row.exact);
    }
    return lastIndex;
  });
  const keys = ["tp", "fp", "tn", "fn"];
  let counts;
  let metrics;
  let classCounts = null;
  if (curve.average) {
    // One-element columns per class: the averaged metrics at this one threshold.
    counts = { tp: 0, fp: 0, tn: 0, fn: 0 };
    const columns = { tp: [], fp: [], tn: [], fn: [] };
    curve.classCounts.forEach((source, c) => {
      for (const key of keys) {
        const value = countAt(source, key, indices[c]);
        columns[key].push([value]);
        counts[key] += value;
      }
    });
    const averaged = core.averageThresholdMetrics(columns.tp, columns.fp, columns.tn, columns.fn, curve.average, beta);
    metrics = Object.fromEntries(Object.entries(averaged).map(([name, values]) => [name, values[0]]));
    // Each class's counts at the threshold (the slice views average the fairness rates over them).
    classCounts = Object.fromEntries(keys.map((key) => [key, Float64Array.from(columns[key], ([value]) => value)]));
  } else {
    counts = Object.fromEntries(keys.map((key) => [key, countAt(curve, key, indices[0])]));
    metrics = core.thresholdMetrics(counts.tp, counts.fp, counts.tn, counts.fn, beta);
  }
  const resolved = resolution(curve, indices, threshold);
  return {
    run: curve.run,
    color: curve.color,
    counts,
    resolved,
    // The threshold the counts hold at: the user's in exact mode, else the stored one.
    resolvedThreshold: resolved.exact ? threshold : resolved.stored,
    classCounts,
    // Wilson intervals describe one proportion of counts: a class or the micro pool, not a mean of rates.
    hasIntervals: curve.average === null || curve.average === "micro",
    metrics: { ...metrics, ...counts, threshold },
  };
}

/** One-vs-rest counts of every class of a C×C matrix (rows = true class): per-class arrays. */
const oneVsRestCache = new WeakMap();
function oneVsRest(matrix, size) {
  if (!oneVsRestCache.has(matrix)) oneVsRestCache.set(matrix, core.matrixOneVsRest(matrix, size));
  return oneVsRestCache.get(matrix);
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
    counts,
    resolved: null,
    resolvedThreshold: NaN,
    hasIntervals: average === null || average === "micro",
    // An argmax matrix has no threshold: the readout shows none rather than an unused one.
    metrics: { ...metrics, ...counts, threshold: NaN },
  };
}

/** About how many numbers a curve holds: its classes' rows and, for an average, the aligned rows. */
function curveCells(curve) {
  let cells = 0;
  for (const row of curve.classes) cells += 2 * row.positive.length;
  if (curve.average) cells += 2 * curve.positiveHistograms.length * (curve.thresholds.length + 1);
  return cells + 6 * curve.thresholds.length;
}

/** The model builder with its caches (one per app). */
export function createModelBuilder() {
  const curveCache = new Map();
  const matrixCache = new Map();
  const matrixScalarCache = new WeakMap();
  let lastCurves = [];
  let lastMatrices = [];

  let cachedCells = 0;
  const cachedCurve = (counts, run, color, classKey) => {
    const key = `${run}\u0000${counts.tag}\u0000${counts.steps[0]}\u0000${classKey}\u0000${color}`;
    const hit = curveCache.get(key);
    if (hit && hit.counts === counts) return hit.curve;
    const curve = buildCurve(run, color, counts, classKey);
    const cells = curveCells(curve);
    if (hit) cachedCells -= hit.cells;
    curveCache.set(key, { counts, curve, cells });
    cachedCells += cells;
    while (cachedCells > CURVE_CACHE_CELLS && curveCache.size > 1) {
      const oldest = curveCache.keys().next().value;
      cachedCells -= curveCache.get(oldest).cells;
      curveCache.delete(oldest);
    }
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
      // The step's rank counts of top-k metrics (null when it logged none: v1, the compiled metric).
      ranks: topK.stepRanks(counts, 0),
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
        const topKNumbers = entry.ranks
          ? topK.topKSummary(entry.ranks.trueRanks, entry.ranks.classRanks,
            Math.min(state.topK ?? topK.defaultK(entry.ranks.trueRanks), topK.loggedDepth(entry.ranks.trueRanks)))
          : null;
        const depth = entry.ranks ? topK.loggedDepth(entry.ranks.trueRanks) : 0;
        return { run: entry.run, color: entry.color, metrics: matrixScalarCache.get(entry), topK: topKNumbers, depth };
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
