// The slice maths of the browser: the fairness rates of each slice with 95 % intervals, the gaps to a
// reference slice with intervals, and the per-slice threshold optimiser. A port of
// tb_metrics_plugin/fairness.py, fairness_intervals.py and fairness_thresholds.py (same names in
// camelCase, same argument order), pinned by tests/golden/fairness_vectors.json. Formulas:
// docs/metrics.md, "Slices". Counts are (S,) arrays, one entry per slice.

import * as core from "./core.js";

/** The rates compared between slices, in display order, with the fairness criterion each one carries. */
export const GAP_RATES = Object.freeze(["tpr", "fpr", "fnr", "precision", "selection_rate", "accuracy"]);

/** Each rate as [successes, trials] of one slice's counts. */
export const RATE_COUNTS = Object.freeze({
  tpr: (tp, fp, tn, fn) => [tp, tp + fn],
  fpr: (tp, fp, tn, fn) => [fp, fp + tn],
  fnr: (tp, fp, tn, fn) => [fn, tp + fn],
  precision: (tp, fp, tn, fn) => [tp, tp + fp],
  selection_rate: (tp, fp, tn, fn) => [tp + fp, tp + fp + tn + fn],
  accuracy: (tp, fp, tn, fn) => [tp + tn, tp + fp + tn + fn],
});

/** The rate each fairness constraint of the optimiser equalises. */
export const CONSTRAINED_RATES = Object.freeze({
  equal_opportunity: "tpr",
  demographic_parity: "selection_rate",
  equal_accuracy: "accuracy",
});
export const MODES = Object.freeze(["single", "per_slice", ...Object.keys(CONSTRAINED_RATES)]);
export const OBJECTIVES = Object.freeze(["fbeta", "accuracy", "youden"]);
const MAX_ITERATIONS = 100;
// Rates are ratios of counts: 0.55 − 0.5 is 0.050000000000000044, and a tolerance of 0.05 admits it.
const ROUNDING = 1e-12;

const divide = (numerator, denominator, undefinedValue) => (denominator !== 0 ? numerator / denominator : undefinedValue);

function checkCounts(tp, fp, tn, fn) {
  const lengths = [tp, fp, tn, fn].map((counts) => counts.length);
  if (new Set(lengths).size !== 1) {
    throw new Error(`tp, fp, tn, fn have lengths ${lengths.join(", ")}; pass one count per slice`);
  }
  for (const counts of [tp, fp, tn, fn]) {
    for (const value of counts) {
      if (!(value >= 0 && Number.isFinite(value))) throw new Error("counts must be finite and >= 0 (weighted counts are fine)");
    }
  }
}

/**
 * {rate: Float64Array(S)} of GAP_RATES: successes / trials of RATE_COUNTS, NaN where trials is 0
 * ("not defined": a slice without positives has no TPR; shown as "–", left out of gaps).
 */
export function sliceRates(tp, fp, tn, fn) {
  const result = {};
  for (const rate of GAP_RATES) {
    const [successes, trials] = successesAndTrials(rate, tp, fp, tn, fn);
    result[rate] = Float64Array.from(successes, (value, s) => divide(value, trials[s], NaN));
  }
  return result;
}

/**
 * {rate: [successes, trials]} (Float64Array(S) each) of GAP_RATES for S confusion matrices, each an
 * array of C rows (true classes) of C counts (predictions): class `classIndex` one-vs-rest at the
 * matrix's decision (TP = m[c][c], FN = row sum − TP, FP = column sum − TP, TN = n − TP − FN − FP),
 * accuracy the multiclass one (Σ m[c][c], n). With `classIndex` null (an average) only accuracy is
 * defined; the other rates get 0 trials.
 */
function matrixRateCounts(matrices, classIndex) {
  const [tp, fp, tn, fn] = matrixClassCounts(matrices);
  const size = matrices.length ? matrices[0].length : 0;
  if (classIndex !== null && !(Number.isInteger(classIndex) && classIndex >= 0 && classIndex < size)) {
    throw new Error(`classIndex=${classIndex}; expected a class, 0 <= classIndex < ${size}, or null for an average`);
  }
  // Every class one-vs-rest counts all n samples: n = TP + FP + TN + FN of class 0.
  const total = Float64Array.from(tp, (row, s) => (size ? row[0] + fp[s][0] + tn[s][0] + fn[s][0] : 0));
  const correct = Float64Array.from(tp, (row) => row.reduce((sum, value) => sum + value, 0));
  const result = {};
  for (const rate of GAP_RATES) {
    const column = (rows) => Float64Array.from(rows, (row) => row[classIndex]);
    result[rate] = classIndex === null
      ? [new Float64Array(matrices.length), new Float64Array(matrices.length)]
      : successesAndTrials(rate, column(tp), column(fp), column(tn), column(fn));
  }
  result.accuracy = [correct, total];
  return result;
}

/** Wilson bound of one proportion, NaN for trials = 0 (core.wilsonInterval on numbers). */
function wilson(successes, trials, z) {
  return core.wilsonInterval(successes, trials, z);
}

function differenceOf(successesA, trialsA, successesB, trialsB, z) {
  const pA = divide(successesA, trialsA, NaN);
  const pB = divide(successesB, trialsB, NaN);
  const [lowA, highA] = wilson(successesA, trialsA, z);
  const [lowB, highB] = wilson(successesB, trialsB, z);
  const difference = pA - pB;
  return [
    difference,
    difference - Math.sqrt((pA - lowA) ** 2 + (highB - pB) ** 2),
    difference + Math.sqrt((highA - pA) ** 2 + (pB - lowB) ** 2),
  ];
}

function ratioOf(successesA, trialsA, successesB, trialsB, z) {
  const pA = divide(successesA, trialsA, NaN);
  const pB = divide(successesB, trialsB, NaN);
  const ratio = divide(pA, pB, NaN);
  const variance = divide(1, successesA, NaN) - divide(1, trialsA, NaN) + divide(1, successesB, NaN) - divide(1, trialsB, NaN);
  const spread = Math.exp(z * Math.sqrt(Math.max(variance, 0)));
  return [ratio, ratio / spread, ratio * spread];
}

/** Applies a [value, low, high] function elementwise over (S,) arrays; returns three Float64Arrays. */
function columns(fn, successesA, trialsA, successesB, trialsB, z) {
  const out = [new Float64Array(successesA.length), new Float64Array(successesA.length), new Float64Array(successesA.length)];
  for (let s = 0; s < successesA.length; s++) {
    const triple = fn(successesA[s], trialsA[s], successesB[s], trialsB[s], z);
    for (let i = 0; i < 3; i++) out[i][s] = triple[i];
  }
  return out;
}

/**
 * p̂_a − p̂_b with Newcombe's hybrid score interval, from the Wilson intervals (l, u) of each:
 * low = d − √((p̂_a − l_a)² + (u_b − p̂_b)²), high = d + √((u_a − p̂_a)² + (p̂_b − l_b)²). NaN when a trials is 0.
 * @returns {[Float64Array, Float64Array, Float64Array]} difference, low, high
 */
export function newcombeDifferenceInterval(successesA, trialsA, successesB, trialsB, z = 1.96) {
  return columns(differenceOf, successesA, trialsA, successesB, trialsB, z);
}

/**
 * p̂_a / p̂_b with the Katz log interval: ratio · exp(±z √(1/x_a − 1/n_a + 1/x_b − 1/n_b)). The ratio is
 * NaN when a trials is 0 or p̂_b = 0; the interval too when x_a = 0.
 * @returns {[Float64Array, Float64Array, Float64Array]} ratio, low, high
 */
export function katzRatioInterval(successesA, trialsA, successesB, trialsB, z = 1.96) {
  return columns(ratioOf, successesA, trialsA, successesB, trialsB, z);
}

function successesAndTrials(rate, tp, fp, tn, fn) {
  const successes = new Float64Array(tp.length);
  const trials = new Float64Array(tp.length);
  for (let s = 0; s < tp.length; s++) [successes[s], trials[s]] = RATE_COUNTS[rate](tp[s], fp[s], tn[s], fn[s]);
  return [successes, trials];
}

/** {rate: {value, low, high, trials}} of {rate: [successes, trials]}: value NaN where trials is 0. */
function proportionIntervals(proportions, z) {
  const result = {};
  for (const [rate, [successes, trials]] of Object.entries(proportions)) {
    const [low, high] = wilson(successes, trials, z);
    result[rate] = { value: Float64Array.from(successes, (value, s) => divide(value, trials[s], NaN)), low, high, trials };
  }
  return result;
}

/** Gaps with intervals of every slice to slice `reference`, for {rate: [successes, trials]}. */
function proportionGapIntervals(proportions, reference, z) {
  const slices = Object.values(proportions)[0][0].length;
  if (!(Number.isInteger(reference) && reference >= 0 && reference < slices)) {
    throw new Error(`reference=${reference}; expected the index of a slice, 0 <= reference < ${slices}`);
  }
  const result = {};
  for (const [rate, [successes, trials]] of Object.entries(proportions)) {
    const referenceSuccesses = new Float64Array(slices).fill(successes[reference]);
    const referenceTrials = new Float64Array(slices).fill(trials[reference]);
    const difference = newcombeDifferenceInterval(successes, trials, referenceSuccesses, referenceTrials, z);
    const ratio = katzRatioInterval(successes, trials, referenceSuccesses, referenceTrials, z);
    for (const values of [difference[1], difference[2], ratio[1], ratio[2]]) values[reference] = NaN;
    result[rate] = {
      difference: difference[0],
      difference_low: difference[1],
      difference_high: difference[2],
      ratio: ratio[0],
      ratio_low: ratio[1],
      ratio_high: ratio[2],
    };
  }
  return result;
}

function countProportions(tp, fp, tn, fn) {
  return Object.fromEntries(GAP_RATES.map((rate) => [rate, successesAndTrials(rate, tp, fp, tn, fn)]));
}

/**
 * Each rate of each slice with its Wilson interval: {rate: {value, low, high, trials}}, Float64Array(S) each.
 */
export function rateIntervals(tp, fp, tn, fn, z = 1.96) {
  checkCounts(tp, fp, tn, fn);
  return proportionIntervals(countProportions(tp, fp, tn, fn), z);
}

/**
 * Gaps of every slice to slice `reference`: {rate: {difference, difference_low, difference_high, ratio,
 * ratio_low, ratio_high}}, Float64Array(S) each. The reference's own row: difference 0, ratio 1, NaN intervals.
 */
export function gapIntervals(tp, fp, tn, fn, reference, z = 1.96) {
  checkCounts(tp, fp, tn, fn);
  return proportionGapIntervals(countProportions(tp, fp, tn, fn), reference, z);
}

/**
 * rateIntervals of S confusion matrices at their logged decision (arrays of C rows of C counts):
 * class `classIndex` one-vs-rest, accuracy the multiclass one; with `classIndex` null only accuracy.
 */
export function matrixRateIntervals(matrices, classIndex, z = 1.96) {
  return proportionIntervals(matrixRateCounts(matrices, classIndex), z);
}

/** gapIntervals of S confusion matrices at their logged decision (the rates of matrixRateIntervals). */
export function matrixGapIntervals(matrices, classIndex, reference, z = 1.96) {
  return proportionGapIntervals(matrixRateCounts(matrices, classIndex), reference, z);
}

/** The class averages of a rate with an (approximate) interval; "micro" pools the counts (rateIntervals). */
export const AVERAGES = Object.freeze(["macro", "weighted"]);

/**
 * [tp, fp, tn, fn], each an array of S Float64Array(C), of every class one-vs-rest in S confusion
 * matrices (arrays of C rows of C counts): TP = m[c][c], FN = row sum − TP, FP = column sum − TP,
 * TN = n − TP − FN − FP.
 */
export function matrixClassCounts(matrices) {
  const out = [[], [], [], []];
  for (const matrix of matrices) {
    const size = matrix.length;
    if (size !== matrices[0].length) throw new Error("matrices: pass one C x C confusion matrix per slice, (S, C, C)");
    const flat = new Float64Array(size * size);
    for (let r = 0; r < size; r++) {
      if (matrix[r].length !== size) throw new Error("matrices: pass one C x C confusion matrix per slice, (S, C, C)");
      for (let c = 0; c < size; c++) {
        const value = matrix[r][c];
        if (!(value >= 0 && Number.isFinite(value))) throw new Error("matrices must hold finite counts >= 0 (weighted counts are fine)");
        flat[r * size + c] = value;
      }
    }
    if (size === 0) {
      for (const list of out) list.push(new Float64Array(0));
      continue;
    }
    const counts = core.matrixOneVsRest(flat, size);
    [counts.tp, counts.fp, counts.tn, counts.fn].forEach((values, k) => out[k].push(values));
  }
  return out;
}

/**
 * Each rate of each slice averaged over classes ("macro": mean; "weighted": by the classes'
 * positives) over the classes where it is defined, with an approximate interval: the Wald interval
 * of the weighted mean, se² = Σ (w_c / W)² p_c (1 − p_c) / n_c, clipped to [0, 1] (see
 * fairness_intervals.averaged_rate_intervals for when it is exact). Counts: arrays of S rows of C.
 * @returns {{[rate: string]: {value: Float64Array, low: Float64Array, high: Float64Array, se: Float64Array}}}
 */
export function averagedRateIntervals(tp, fp, tn, fn, average, z = 1.96) {
  if (!AVERAGES.includes(average)) throw new Error(`average=${JSON.stringify(average)}; expected one of ${AVERAGES.join(", ")} (a class or micro: rateIntervals)`);
  const slices = tp.length;
  const shapes = [tp, fp, tn, fn].map((rows) => `${rows.length}x${rows[0]?.length ?? 0}`);
  if (new Set(shapes).size !== 1 || [tp, fp, tn, fn].some((rows) => rows.some((row) => row.length !== tp[0].length))) {
    throw new Error(`tp, fp, tn, fn have shapes ${shapes.join(", ")}; pass (S, C) each: slices by classes`);
  }
  for (const rows of [tp, fp, tn, fn]) {
    for (const row of rows) {
      for (const value of row) {
        if (!(value >= 0 && Number.isFinite(value))) throw new Error("counts must be finite and >= 0 (weighted counts are fine)");
      }
    }
  }
  const result = {};
  for (const rate of GAP_RATES) {
    const entry = { value: new Float64Array(slices), low: new Float64Array(slices), high: new Float64Array(slices), se: new Float64Array(slices) };
    for (let s = 0; s < slices; s++) {
      let total = 0;
      const terms = [];
      for (let c = 0; c < tp[s].length; c++) {
        const [successes, trials] = RATE_COUNTS[rate](tp[s][c], fp[s][c], tn[s][c], fn[s][c]);
        if (!(trials > 0)) continue;
        const weight = average === "macro" ? 1 : tp[s][c] + fn[s][c];
        total += weight;
        terms.push([weight, successes / trials, trials]);
      }
      let value = 0;
      let variance = 0;
      for (const [weight, proportion, trials] of terms) {
        const share = divide(weight, total, 0);
        value += share * proportion;
        variance += share * share * ((proportion * (1 - proportion)) / trials);
      }
      const se = total > 0 ? Math.sqrt(variance) : NaN;
      entry.value[s] = total > 0 ? value : NaN;
      entry.se[s] = se;
      entry.low[s] = Math.min(1, Math.max(0, entry.value[s] - z * se));
      entry.high[s] = Math.min(1, Math.max(0, entry.value[s] + z * se));
    }
    result[rate] = entry;
  }
  return result;
}

/**
 * Gaps of every slice's class-averaged rate to slice `reference`: difference d ± z √(se_s² + se_r²),
 * ratio R · exp(±z √(se_s²/m_s² + se_r²/m_r²)); the reference's own row has NaN intervals.
 */
export function averagedGapIntervals(tp, fp, tn, fn, average, reference, z = 1.96) {
  const rates = averagedRateIntervals(tp, fp, tn, fn, average, z);
  const slices = tp.length;
  if (!(Number.isInteger(reference) && reference >= 0 && reference < slices)) {
    throw new Error(`reference=${reference}; expected the index of a slice, 0 <= reference < ${slices}`);
  }
  const result = {};
  for (const [rate, { value, se }] of Object.entries(rates)) {
    const base = value[reference];
    const baseSe = se[reference];
    const entry = Object.fromEntries(["difference", "difference_low", "difference_high", "ratio", "ratio_low", "ratio_high"].map((key) => [key, new Float64Array(slices)]));
    for (let s = 0; s < slices; s++) {
      const difference = value[s] - base;
      const spread = z * Math.sqrt(se[s] ** 2 + baseSe ** 2);
      const ratio = divide(value[s], base, NaN);
      const logSpread = z * Math.sqrt(divide(se[s] ** 2, value[s] ** 2, NaN) + divide(baseSe ** 2, base ** 2, NaN));
      entry.difference[s] = difference;
      entry.difference_low[s] = s === reference ? NaN : difference - spread;
      entry.difference_high[s] = s === reference ? NaN : difference + spread;
      entry.ratio[s] = ratio;
      entry.ratio_low[s] = s === reference ? NaN : ratio * Math.exp(-logSpread);
      entry.ratio_high[s] = s === reference ? NaN : ratio * Math.exp(logSpread);
    }
    result[rate] = entry;
  }
  return result;
}

// ------------------------------------------------------------------------------------------------
// The per-slice threshold optimiser

/** Per-slice rows {numerator, denominator|null} with objective = Σ num / Σ den (see fairness_thresholds.py). */
function objectiveTerms(counts, objective, beta) {
  const { tp, fp, tn, fn } = counts;
  const slices = tp.length;
  const map = (fn2) => tp.map((row, s) => Float64Array.from(row, (_, k) => fn2(s, k)));
  if (objective === "fbeta") {
    const beta2 = beta * beta;
    return {
      numerator: map((s, k) => (1 + beta2) * tp[s][k]),
      denominator: map((s, k) => (1 + beta2) * tp[s][k] + beta2 * fn[s][k] + fp[s][k]),
    };
  }
  let total = 0;
  let positives = 0;
  let negatives = 0;
  for (let s = 0; s < slices; s++) {
    total += tp[s][0] + fp[s][0] + tn[s][0] + fn[s][0];
    positives += tp[s][0] + fn[s][0];
    negatives += fp[s][0] + tn[s][0];
  }
  if (objective === "accuracy") {
    const scale = divide(1, total, 0);
    return { numerator: map((s, k) => (tp[s][k] + tn[s][k]) * scale), denominator: null };
  }
  const perPositive = divide(1, positives, 0);
  const perNegative = divide(1, negatives, 0);
  return { numerator: map((s, k) => tp[s][k] * perPositive - fp[s][k] * perNegative), denominator: null };
}

/** The objective of pooled counts: numbers, or arrays (one value per threshold). */
function pooledObjective(tp, fp, tn, fn, objective, beta) {
  const metrics = core.thresholdMetrics(tp, fp, tn, fn, beta);
  if (objective === "fbeta") return metrics.fbeta;
  if (objective === "accuracy") return metrics.accuracy;
  if (typeof tp === "number") return metrics.recall - metrics.fpr;
  return metrics.recall.map((recall, k) => recall - metrics.fpr[k]);
}

function firstBest(values, feasible) {
  let best = -1;
  for (let k = 0; k < values.length; k++) {
    if (feasible[k] && (best < 0 || values[k] > values[best])) best = k;
  }
  return best;
}

/**
 * The per-slice indices maximising Σ num / Σ den, slice s's index taken from its candidates
 * `order[s][start[s]]` … `order[s][end[s] - 1]` (indices in any order), and the value; null when no
 * choice beats `floor` (ratios only): Dinkelbach's iteration from λ = max(0, floor), see
 * fairness_thresholds.py. Of equal scores the lowest index wins, as in the Python scan. Scores are
 * computed in place, without arrays per step.
 */
function bestChoice(numerator, denominator, { order, start, end }, active, floor = -Infinity) {
  const slices = numerator.length;
  const picksAt = (lambda) => {
    const indices = new Array(slices);
    for (let s = 0; s < slices; s++) {
      let best = -1;
      let bestScore = 0;
      if (active[s]) {
        const num = numerator[s];
        const den = denominator ? denominator[s] : null;
        const candidates = order[s];
        for (let i = start[s]; i < end[s]; i++) {
          const k = candidates[i];
          const score = den ? num[k] - lambda * den[k] : num[k];
          if (best < 0 || score > bestScore || (score === bestScore && k < best)) {
            best = k;
            bestScore = score;
          }
        }
      }
      indices[s] = best;
    }
    return indices;
  };
  const valueOf = (indices) => {
    let top = 0;
    let bottom = 0;
    indices.forEach((k, s) => {
      if (k >= 0) {
        top += numerator[s][k];
        if (denominator) bottom += denominator[s][k];
      }
    });
    return denominator ? divide(top, bottom, 0) : top;
  };
  if (!denominator) {
    const indices = picksAt(0);
    return [indices, valueOf(indices)];
  }
  let bestIndices = null;
  let bestValue = -Infinity;
  let level = Math.max(0, floor);
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    const indices = picksAt(level);
    const value = valueOf(indices);
    if (bestIndices === null && !(value > floor)) return null;
    if (bestIndices !== null && !(value > bestValue)) break;
    bestIndices = indices;
    bestValue = value;
    level = value;
  }
  return [bestIndices, bestValue];
}

/**
 * Per-slice thresholds for `mode` and their cost against one threshold for all ("single"); see
 * tb_metrics_plugin/fairness_thresholds.py. Histograms are rows (S × (K + 1)) on the shared axis
 * `thresholds` (K) (core.alignClasses puts slices with their own thresholds on one).
 * @returns {{indices: number[], thresholds: Float64Array, value: number, single: {index, threshold, value},
 *   cost: number, rates: Float64Array, feasible: boolean}}
 */
export function sliceThresholds(positiveHistograms, negativeHistograms, thresholds, mode = "single", objective = "fbeta", tolerance = 0.05, beta = 1) {
  if (positiveHistograms.some((row) => row.length !== thresholds.length + 1)) {
    throw new Error(`histogram rows must have ${thresholds.length + 1} bins: one axis shared by every slice (align them first)`);
  }
  if (!MODES.includes(mode)) throw new Error(`mode=${JSON.stringify(mode)}; expected one of ${MODES.join(", ")}`);
  if (!OBJECTIVES.includes(objective)) throw new Error(`objective=${JSON.stringify(objective)}; expected one of ${OBJECTIVES.join(", ")}`);
  if (!(tolerance >= 0 && tolerance <= 1)) throw new Error(`tolerance=${tolerance}; expected the largest allowed gap of a rate, in [0, 1]`);
  if (!(beta > 0)) throw new Error(`beta=${beta}; F-beta needs beta > 0 (beta = 1 gives F1)`);
  const counts = core.confusionAtThresholds(positiveHistograms, negativeHistograms);
  const slices = positiveHistograms.length;
  const size = thresholds.length;
  const active = positiveHistograms.map((row, s) => sum(row) + sum(negativeHistograms[s]) > 0);
  const { numerator, denominator } = objectiveTerms(counts, objective, beta);

  const pooledCounts = ["tp", "fp", "tn", "fn"].map((key) => {
    const total = new Float64Array(size);
    for (let s = 0; s < slices; s++) {
      const row = counts[key][s];
      for (let k = 0; k < size; k++) total[k] += row[k];
    }
    return total;
  });
  const pooled = pooledObjective(...pooledCounts, objective, beta);
  const singleIndex = firstBest(pooled, Array.from(pooled, (value) => !Number.isNaN(value)));
  const single = {
    index: singleIndex,
    threshold: singleIndex >= 0 ? thresholds[singleIndex] : NaN,
    value: singleIndex >= 0 ? pooled[singleIndex] : NaN,
  };

  const rates = new Float64Array(slices).fill(NaN);
  const everywhere = Int32Array.from({ length: size }, (_, k) => k);
  let indices;
  if (mode === "single") {
    indices = active.map((isActive) => (isActive ? singleIndex : -1));
  } else if (mode === "per_slice") {
    indices = active.map((isActive, s) => {
      const own = { tp: [counts.tp[s]], fp: [counts.fp[s]], tn: [counts.tn[s]], fn: [counts.fn[s]] };
      const terms = objectiveTerms(own, objective, beta);
      const candidates = { order: [everywhere], start: [0], end: [size] };
      return bestChoice(terms.numerator, terms.denominator, candidates, [isActive])[0][0];
    });
  } else {
    const rateName = CONSTRAINED_RATES[mode];
    const rate = counts.tp.map((row, s) =>
      Float64Array.from(row, (_, k) => {
        const [successes, trials] = RATE_COUNTS[rateName](counts.tp[s][k], counts.fp[s][k], counts.tn[s][k], counts.fn[s][k]);
        return divide(successes, trials, NaN);
      }),
    );
    const constrained = active.map((isActive, s) => {
      const [, trials] = RATE_COUNTS[rateName](counts.tp[s][0], counts.fp[s][0], counts.tn[s][0], counts.fn[s][0]);
      return isActive && trials > 0;
    });
    // No slice with the rate defined (no positives for TPR): nothing is constrained, one band.
    const vacuous = !constrained.some(Boolean);
    const lows = vacuous ? [0] : [...new Set(rate.flatMap((row, s) => (constrained[s] ? Array.from(row) : [])))].sort((a, b) => a - b);
    let bestValue = -Infinity;
    indices = null;
    // A constrained slice's thresholds allowed at `low` are those with low <= rate <= low + tolerance:
    // one run of its thresholds sorted by rate (NaN rates left out), [start, end), and both ends only
    // move forward as `low` rises. So each low costs the runs' lengths, not every threshold. A low at
    // which no run grew at its end allows a subset of what the low before it allowed: it cannot do
    // better (a strictly better value is needed to win), and it is not searched.
    const byRate = rate.map((row, s) => (constrained[s] ? sortedByValue(row) : everywhere));
    const start = new Int32Array(slices);
    const end = Int32Array.from(byRate, (order, s) => (constrained[s] ? 0 : order.length)); // unconstrained: all
    const candidates = { order: byRate, start, end };
    for (const low of lows) {
      let empty = false;
      let grew = false;
      for (let s = 0; s < slices; s++) {
        if (!constrained[s]) continue;
        const row = rate[s];
        const order = byRate[s];
        while (start[s] < order.length && !(row[order[start[s]]] >= low)) start[s]++;
        const last = end[s];
        if (end[s] < start[s]) end[s] = start[s];
        while (end[s] < order.length && row[order[end[s]]] - low <= tolerance + ROUNDING) end[s]++;
        grew ||= end[s] > last;
        empty ||= end[s] === start[s];
      }
      if (empty || !(grew || vacuous)) continue;
      const choice = bestChoice(numerator, denominator, candidates, active, bestValue);
      if (choice !== null && choice[1] > bestValue) {
        [indices, bestValue] = choice;
      }
    }
    if (indices === null) {
      return {
        indices: new Array(slices).fill(-1),
        thresholds: new Float64Array(slices).fill(NaN),
        value: NaN,
        single,
        cost: NaN,
        rates,
        feasible: false,
      };
    }
    indices.forEach((k, s) => {
      if (constrained[s] && k >= 0) rates[s] = rate[s][k];
    });
  }
  const totals = ["tp", "fp", "tn", "fn"].map((key) => {
    let value = 0;
    indices.forEach((k, s) => {
      if (k >= 0) value += counts[key][s][k];
    });
    return value;
  });
  const value = pooledObjective(...totals, objective, beta);
  return {
    indices,
    thresholds: Float64Array.from(indices, (k) => (k >= 0 ? thresholds[k] : NaN)),
    value,
    single,
    cost: single.value - value,
    rates,
    feasible: true,
  };
}

/** The indices of `values`' numbers (NaN left out) in ascending order of value. */
function sortedByValue(values) {
  const order = [];
  for (let k = 0; k < values.length; k++) if (!Number.isNaN(values[k])) order.push(k);
  return Int32Array.from(order).sort((a, b) => values[a] - values[b]);
}

function sum(values) {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
