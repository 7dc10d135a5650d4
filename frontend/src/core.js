/**
 * The numeric core in the browser: every metric derived from logged counts.
 *
 * A twin of the Python module `tb_metrics_plugin/core.py` (same functions in camelCase, same
 * argument order, same formulas, same edge cases), pinned to it by the golden vectors in
 * `tests/golden/core_vectors.json` (`frontend/test/core.test.mjs`). No DOM, no dependencies.
 *
 * Conventions (docs/metrics.md):
 * - A histogram is one class's row of a threshold-curves tensor: `positive[k]` is the weight of
 *   positives with t_{k-1} < score <= t_k (length T + 1), likewise negatives. A prediction is
 *   positive at threshold t when score > t.
 * - Histogram-level functions take one class (a Float64Array or array of numbers) or several
 *   (an array of such rows, one per class). With `average` = "micro" | "macro" | "weighted" they take
 *   the rows and return one averaged result; with `average` null and rows, one result per class.
 * - A C×C confusion matrix is passed as a flat row-major array followed by C (`matrix, numClasses`):
 *   JS has no 2-D typed arrays. Results are flat too.
 * - Zero division gives 0 (scikit-learn's zero_division=0); NaN only where a quantity is undefined
 *   for lack of data. Output keys are the Python ones (snake_case), so JSON from either side reads
 *   the same.
 * - Curves run from the highest threshold to the lowest: +Infinity ("nothing positive"),
 *   t_{T-1}, ..., t_0, −Infinity ("everything positive"): T + 2 points.
 * - Hot loops allocate nothing per threshold: each call allocates its output arrays once.
 */

export const AVERAGES = Object.freeze(["micro", "macro", "weighted"]);
export const NORMALIZATIONS = Object.freeze(["true", "pred", "all", "none"]);
/** Keras' AUC(summation_method=...) Riemann sums that bound the PR-AUC from above / below. */
export const SUMMATION_METHODS = Object.freeze(["majoring", "minoring"]);
/** Cohen's kappa disagreement weights for ordinal classes: |i − j| and (i − j)². */
export const KAPPA_WEIGHTS = Object.freeze(["linear", "quadratic"]);

const METRIC_NAMES = Object.freeze([
  "precision", "recall", "specificity", "fpr", "fnr", "f1", "fbeta", "accuracy",
  "balanced_accuracy", "mcc", "kappa", "iou", "dice",
]);

// ------------------------------------------------------------------------------------------------
// Input checks and small helpers

function isRows(value) {
  return Array.isArray(value) && value.length > 0 && typeof value[0] !== "number" && value[0] != null;
}

function checkPair(positive, negative) {
  if (isRows(positive) !== isRows(negative) || positive.length !== negative.length) {
    throw new Error(
      `positiveHistograms and negativeHistograms differ in shape (${shapeOf(positive)} vs ${shapeOf(negative)}); ` +
        "pass the two halves of one threshold-curves tensor",
    );
  }
  const rows = isRows(positive) ? positive : [positive];
  const negativeRows = isRows(negative) ? negative : [negative];
  const bins = rows[0].length;
  if (bins < 2) throw new Error(`histograms have ${bins} bins; expected T + 1 with T >= 1`);
  for (let c = 0; c < rows.length; c++) {
    if (rows[c].length !== bins || negativeRows[c].length !== bins) {
      throw new Error(`histogram row ${c} has ${rows[c].length} / ${negativeRows[c].length} bins, expected ${bins}`);
    }
    for (let k = 0; k < bins; k++) {
      if (!Number.isFinite(rows[c][k]) || !Number.isFinite(negativeRows[c][k])) {
        throw new Error("histograms contain NaN or infinity; counts must be finite weights");
      }
    }
  }
}

function shapeOf(value) {
  return isRows(value) ? `${value.length}×${value[0].length}` : `${value.length}`;
}

/** Thresholds shared by every class (one row), or one row per class (C rows of T, format v2). */
function checkThresholds(thresholds, positive) {
  const bins = isRows(positive) ? positive[0].length : positive.length;
  if (isRows(thresholds)) {
    const classes = isRows(positive) ? positive.length : 1;
    if (!isRows(positive) || thresholds.length !== classes || thresholds.some((row) => row.length !== bins - 1)) {
      throw new Error(
        `thresholds has ${thresholds.length} rows of ${thresholds[0].length}, expected one row of ${bins - 1} or, per class, ` +
          `${classes} rows of ${bins - 1}: one per histogram bin but the last`,
      );
    }
    return;
  }
  if (thresholds.length !== bins - 1) {
    throw new Error(
      `thresholds has length ${thresholds.length}, expected ${bins - 1}: one per histogram bin but the last`,
    );
  }
}

/** Class c's thresholds: its own row, or the one shared row. */
function rowOf(thresholds, c) {
  return isRows(thresholds) ? thresholds[c] : thresholds;
}

/** The one threshold row an average needs; per-class rows must first be aligned (`alignClasses`). */
function sharedThresholds(thresholds, average) {
  if (average == null || !isRows(thresholds)) return thresholds;
  if (!thresholds.every((row) => sameRow(row, thresholds[0]))) {
    throw new Error(
      `average=${JSON.stringify(average)} needs thresholds shared by every class; these classes have their own ` +
        "(exact-mode or mixed counts): align them first with alignClasses(...)",
    );
  }
  return thresholds[0];
}

function checkAverage(average, positive) {
  if (average == null) return;
  if (!AVERAGES.includes(average)) throw new Error(`average=${JSON.stringify(average)}; expected null or one of ${AVERAGES.join(", ")}`);
  if (!isRows(positive)) throw new Error(`average=${JSON.stringify(average)} needs per-class histograms (an array of rows)`);
}

/** numerator / denominator, or `undefinedValue` when the denominator is 0. */
function divide(numerator, denominator, undefinedValue = 0) {
  return denominator !== 0 ? numerator / denominator : undefinedValue;
}

function sum(values) {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}

function sumRows(rows) {
  const total = new Float64Array(rows[0].length);
  for (const row of rows) for (let k = 0; k < total.length; k++) total[k] += row[k];
  return total;
}

/**
 * Calls `fn(positive, negative, c)` on each class and stacks the results like numpy: numbers into
 * Float64Array, arrays into rows; `thresholds` stays one array when every class has the same one.
 */
function perClass(positive, negative, fn) {
  const results = positive.map((row, c) => fn(row, negative[c], c));
  const first = results[0];
  if (typeof first === "number") return Float64Array.from(results);
  const stacked = {};
  for (const key of Object.keys(first)) {
    if (key === "thresholds") stacked[key] = results.every((result) => result[key] === first[key]) ? first[key] : results.map((result) => result[key]);
    else if (typeof first[key] === "number") stacked[key] = Float64Array.from(results, (result) => result[key]);
    else stacked[key] = results.map((result) => result[key]);
  }
  return stacked;
}

/**
 * Averages per-class values into one number, leaving out classes whose value is NaN.
 * macro = mean_c v_c; weighted = Σ s_c v_c / Σ s_c (s_c = support), over the classes with a defined
 * value. NaN when none has one or (weighted) their total support is 0. "micro" averages counts: refused.
 * @param {ArrayLike<number>} perClassValues
 * @param {ArrayLike<number>} support
 * @param {"macro"|"weighted"} average
 * @returns {number}
 */
export function averageOverClasses(perClassValues, support, average) {
  let weighted = 0;
  let weights = 0;
  if (average !== "macro" && average !== "weighted") {
    throw new Error(`average=${JSON.stringify(average)}; averageOverClasses takes "macro" or "weighted"`);
  }
  for (let c = 0; c < perClassValues.length; c++) {
    const value = perClassValues[c];
    if (Number.isNaN(value)) continue;
    const weight = average === "macro" ? 1 : support[c];
    weighted += weight * value;
    weights += weight;
  }
  return weights > 0 ? weighted / weights : NaN;
}

/** In place: `sums[j] / weights[j]` (NaN where the weight is 0). */
function finishAverage(sums, weights) {
  for (let j = 0; j < sums.length; j++) sums[j] = weights[j] !== 0 ? sums[j] / weights[j] : NaN;
  return sums;
}

/** Column-wise `averageOverClasses` of C rows, with `support[c]` as the weighted-average weight. */
function averageRows(rows, support, average) {
  const length = rows[0].length;
  const sums = new Float64Array(length);
  const weights = new Float64Array(length);
  for (let c = 0; c < rows.length; c++) {
    const row = rows[c];
    const weight = average === "macro" ? 1 : support[c];
    for (let j = 0; j < length; j++) {
      const value = row[j];
      if (Number.isNaN(value)) continue;
      sums[j] += weight * value;
      weights[j] += weight;
    }
  }
  return finishAverage(sums, weights);
}

// ------------------------------------------------------------------------------------------------
// Counts

/**
 * TP, FP, TN, FN at every stored threshold from the histograms:
 * TP[j] = Σ_{k>j} pos[k], FN[j] = Σ_{k<=j} pos[k], FP[j] = Σ_{k>j} neg[k], TN[j] = Σ_{k<=j} neg[k].
 * @param {ArrayLike<number>|ArrayLike<number>[]} positiveHistograms (T + 1) or rows of it
 * @param {ArrayLike<number>|ArrayLike<number>[]} negativeHistograms
 * @returns {{tp, fp, tn, fn}} Float64Array(T) each, or arrays of rows for rows in
 */
export function confusionAtThresholds(positiveHistograms, negativeHistograms) {
  if (isRows(positiveHistograms)) {
    const rows = positiveHistograms.map((row, c) => confusionAtThresholds(row, negativeHistograms[c]));
    return { tp: rows.map((r) => r.tp), fp: rows.map((r) => r.fp), tn: rows.map((r) => r.tn), fn: rows.map((r) => r.fn) };
  }
  const positive = positiveHistograms;
  const negative = negativeHistograms;
  const count = positive.length - 1;
  const tp = new Float64Array(count);
  const fp = new Float64Array(count);
  const tn = new Float64Array(count);
  const fn = new Float64Array(count);
  let below = 0;
  let belowNegative = 0;
  for (let j = 0; j < count; j++) {
    below += positive[j];
    belowNegative += negative[j];
    fn[j] = below;
    tn[j] = belowNegative;
  }
  let above = 0;
  let aboveNegative = 0;
  for (let j = count - 1; j >= 0; j--) {
    above += positive[j + 1];
    aboveNegative += negative[j + 1];
    tp[j] = above;
    fp[j] = aboveNegative;
  }
  return { tp, fp, tn, fn };
}

/**
 * TP and FP from "nothing positive" (+inf) down the grid to "everything positive" (−inf), T + 2
 * points, with the class totals P and N.
 */
function curveCounts(positive, negative) {
  const length = positive.length + 1;
  const tp = new Float64Array(length);
  const fp = new Float64Array(length);
  for (let i = 1; i < length; i++) {
    tp[i] = tp[i - 1] + positive[length - 1 - i];
    fp[i] = fp[i - 1] + negative[length - 1 - i];
  }
  return { tp, fp, positives: tp[length - 1], negatives: fp[length - 1] };
}

function curveThresholds(thresholds) {
  const count = thresholds.length;
  const out = new Float64Array(count + 2);
  out[0] = Infinity;
  for (let j = 0; j < count; j++) out[j + 1] = thresholds[count - 1 - j];
  out[count + 1] = -Infinity;
  return out;
}

/**
 * The stored threshold a user's `threshold` x resolves to, as an index into `thresholds` (rule of
 * docs/format.md, "Resolving a threshold"):
 * - grid mode (`exact` false): the stored threshold nearest to x, the lower one on a tie. Counts are
 *   exact only at stored thresholds.
 * - exact mode (`exact` true, the thresholds are the class's distinct scores): the floor,
 *   j = #{finite t_k <= float32(x)} − 1 (scores are compared in float32, as Keras does), which is −1
 *   when x is below every score: everything is predicted positive (TP = P, FP = N). No item scores
 *   in (t_j, x], so the counts at j are the counts at x.
 * −1 when there are no finite thresholds or x is NaN / null; padding (+Infinity at the end) is
 * never picked.
 * @param {ArrayLike<number>} thresholds increasing, possibly padded at the end with +Infinity
 * @param {number} threshold
 * @param {boolean} [exact=false]
 * @returns {number}
 */
export function thresholdIndex(thresholds, threshold, exact = false) {
  if (thresholds.length === 0 || threshold == null || Number.isNaN(threshold)) return -1;
  let low = 0;
  let high = thresholds.length;
  if (exact) {
    // Scores are compared in float32, as Keras does: 0.3 stands for float32(0.3), a little above it.
    const x = Math.fround(threshold);
    // First index whose threshold is above x (or not finite): the number of finite t_k <= x.
    while (low < high) {
      const middle = (low + high) >> 1;
      if (Math.fround(thresholds[middle]) <= x && thresholds[middle] !== Infinity) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }
  // The first padding slot (+Infinity): nearest is looked for among the finite thresholds.
  while (low < high) {
    const middle = (low + high) >> 1;
    if (thresholds[middle] !== Infinity) low = middle + 1;
    else high = middle;
  }
  const end = low;
  if (end === 0) return -1;
  low = 0;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (thresholds[middle] < threshold) low = middle + 1;
    else high = middle;
  }
  if (low === end) return low - 1;
  if (low === 0) return 0;
  return Math.abs(thresholds[low - 1] - threshold) <= Math.abs(thresholds[low] - threshold) ? low - 1 : low;
}

/**
 * TP, FP, TN, FN of one class at stored threshold `index` (−1: below every threshold, everything
 * predicted positive): TP = Σ_{k>index} pos[k], FN = Σ_{k<=index} pos[k], likewise FP and TN.
 * @param {ArrayLike<number>} positiveHistograms one class (T + 1)
 * @param {ArrayLike<number>} negativeHistograms
 * @param {number} index −1 … T − 1
 * @returns {{tp: number, fp: number, tn: number, fn: number}}
 */
export function countsAtIndex(positiveHistograms, negativeHistograms, index) {
  checkPair(positiveHistograms, negativeHistograms);
  if (isRows(positiveHistograms)) throw new Error("countsAtIndex takes one class's histograms");
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let k = 0; k < positiveHistograms.length; k++) {
    if (k > index) {
      tp += positiveHistograms[k];
      fp += negativeHistograms[k];
    } else {
      fn += positiveHistograms[k];
      tn += negativeHistograms[k];
    }
  }
  return { tp, fp, tn, fn };
}

function sameRow(a, b) {
  if (a.length !== b.length) return false;
  for (let j = 0; j < a.length; j++) if (!Object.is(a[j], b[j])) return false;
  return true;
}

/** JS only: the sorted union of the finite values of `rows`, without repeats, the axis `alignClasses` uses. */
export function unionOfFinite(rows) {
  let size = 0;
  for (const row of rows) for (let j = 0; j < row.length; j++) if (Number.isFinite(row[j])) size++;
  const all = new Float64Array(size);
  let at = 0;
  for (const row of rows) for (let j = 0; j < row.length; j++) if (Number.isFinite(row[j])) all[at++] = row[j];
  all.sort();
  let distinct = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[distinct - 1]) all[distinct++] = all[i];
  return all.slice(0, distinct);
}

/**
 * One class's histograms re-binned onto `axis` (U increasing thresholds): for each u_k its counts
 * are those at the index `thresholdIndex(thresholds, u_k, exact)` resolves to, and
 * pos'[0] = FN(u_0), pos'[k] = TP(u_{k−1}) − TP(u_k) (0 < k < U), pos'[U] = TP(u_{U−1});
 * likewise neg' with FP and TN. Mass is moved, never created: Σ pos' = Σ pos.
 * @returns {{positive: Float64Array, negative: Float64Array}} U + 1 bins each
 */
function alignRow(thresholds, positive, negative, exact, axis) {
  const count = thresholds.length;
  // Counts above each stored index j, and for j = −1 everything: TP(j) = above[j + 1].
  const above = new Float64Array(count + 1);
  const aboveNegative = new Float64Array(count + 1);
  let tp = 0;
  let fp = 0;
  for (let j = count - 1; j >= -1; j--) {
    tp += positive[j + 1];
    fp += negative[j + 1];
    above[j + 1] = tp;
    aboveNegative[j + 1] = fp;
  }
  const positives = above[0];
  const negatives = aboveNegative[0];
  const size = axis.length;
  const alignedPositive = new Float64Array(size + 1);
  const alignedNegative = new Float64Array(size + 1);
  let previousTp = positives;
  let previousFp = negatives;
  // The axis is increasing: `thresholdIndex(thresholds, axis[k], exact)` by one walk over both.
  let end = count;
  while (end > 0 && thresholds[end - 1] === Infinity) end--; // padding
  let passed = 0; // finite thresholds <= axis[k] (exact), or < axis[k] (nearest)
  for (let k = 0; k < size; k++) {
    const u = axis[k];
    let j;
    if (end === 0 || Number.isNaN(u)) {
      j = -1;
    } else if (exact) {
      const x = Math.fround(u); // as thresholdIndex: compared in float32
      while (passed < end && Math.fround(thresholds[passed]) <= x) passed++;
      j = passed - 1;
    } else {
      while (passed < end && thresholds[passed] < u) passed++;
      if (passed === end) j = end - 1;
      else if (passed === 0) j = 0;
      else j = Math.abs(thresholds[passed - 1] - u) <= Math.abs(thresholds[passed] - u) ? passed - 1 : passed;
    }
    const tpHere = above[j + 1];
    const fpHere = aboveNegative[j + 1];
    alignedPositive[k] = previousTp - tpHere;
    alignedNegative[k] = previousFp - fpHere;
    previousTp = tpHere;
    previousFp = fpHere;
  }
  alignedPositive[size] = previousTp;
  alignedNegative[size] = previousFp;
  return { positive: alignedPositive, negative: alignedNegative };
}

/**
 * Puts classes that do not share thresholds on one axis, so that the shared-axis code (micro, macro
 * and weighted averages, averaged curves and optima) applies unchanged. The axis U is the sorted
 * union of every class's finite thresholds; class c's histograms are rebuilt from its counts at U,
 * each u resolved by `thresholdIndex` with that class's `exact` flag (nearest for grid rows, floor
 * for exact rows; see `alignRow`). An exact class keeps its exact counts at every u; a grid class
 * visits each of its own thresholds, so its curve, areas and optima are unchanged.
 * When every row is the same and none is exact the input is returned as it is (v1 logs). Micro
 * averages of aligned exact classes equal scikit-learn's micro averages on the raveled scores.
 * @param {ArrayLike<number>|ArrayLike<number>[]} thresholds one row shared by every class, or C rows
 *   of T, each increasing, padded with +Infinity (in JS the rows may also differ in length, padding
 *   trimmed)
 * @param {ArrayLike<number>[]} positiveHistograms C rows of T + 1
 * @param {ArrayLike<number>[]} negativeHistograms C rows of T + 1
 * @param {ArrayLike<number|boolean>|null} [exact=null] C flags (1 = the row holds distinct scores); null: none
 * @param {ArrayLike<number>|null} [axis=null] JS only: the increasing axis to align on instead of the
 *   union (e.g. a subset of it, to bound C × U); the counts at each of its values follow the same rules
 * @returns {{axis: ArrayLike<number>, positive: ArrayLike<number>[], negative: ArrayLike<number>[]}}
 *   axis (U), positive and negative (C rows of U + 1)
 */
export function alignClasses(thresholds, positiveHistograms, negativeHistograms, exact = null, axis = null) {
  if (!isRows(thresholds)) thresholds = Array.from(positiveHistograms, () => thresholds);
  exact ??= new Uint8Array(positiveHistograms.length);
  const rows = thresholds.length;
  if (!isRows(thresholds) || !isRows(positiveHistograms) || !isRows(negativeHistograms) ||
      positiveHistograms.length !== rows || negativeHistograms.length !== rows || exact.length !== rows) {
    throw new Error(
      `alignClasses needs C rows of thresholds, positive and negative histograms and C exact flags; got ${thresholds.length}, ` +
        `${positiveHistograms.length}, ${negativeHistograms.length} and ${exact.length}`,
    );
  }
  // Rows may differ in length (padding trimmed); each row's histograms have one bin more than it has thresholds.
  for (let c = 0; c < rows; c++) {
    checkPair(positiveHistograms[c], negativeHistograms[c]);
    if (thresholds[c].length !== positiveHistograms[c].length - 1) {
      throw new Error(`thresholds row ${c} has length ${thresholds[c].length}, expected ${positiveHistograms[c].length - 1}: one per histogram bin but the last`);
    }
  }
  const anyExact = Array.from(exact).some(Boolean);
  if (axis === null && !anyExact && thresholds.every((row) => row === thresholds[0] || sameRow(row, thresholds[0]))) {
    return { axis: thresholds[0], positive: positiveHistograms, negative: negativeHistograms };
  }
  axis ??= unionOfFinite(thresholds);
  const positive = [];
  const negative = [];
  for (let c = 0; c < rows; c++) {
    const row = alignRow(thresholds[c], positiveHistograms[c], negativeHistograms[c], Boolean(exact[c]), axis);
    positive.push(row.positive);
    negative.push(row.negative);
  }
  return { axis, positive, negative };
}

// ------------------------------------------------------------------------------------------------
// Metrics at a threshold

const NUM_METRICS = METRIC_NAMES.length;
const ALL_METRICS = Object.freeze(METRIC_NAMES.map((_, m) => m));

/** A Float64Array(length) for each metric number in `metrics` (the others stay null). */
function metricArrays(length, metrics = ALL_METRICS) {
  const arrays = new Array(NUM_METRICS).fill(null);
  for (const m of metrics) arrays[m] = new Float64Array(length);
  return arrays;
}

function metricObject(arrays, metrics = ALL_METRICS) {
  return Object.fromEntries(metrics.map((m) => [METRIC_NAMES[m], arrays[m]]));
}

/**
 * Metric number `m` (METRIC_NAMES order) at every index of the count arrays, into `values`; the
 * formulas of `thresholdMetrics`. One tight loop per metric (a switch inside the loop is 5× slower),
 * so a caller that needs two metrics computes two, not thirteen.
 */
function writeMetric(m, tp, fp, tn, fn, beta2, values) {
  const n = tp.length;
  switch (m) {
    case 0: // precision
      for (let j = 0; j < n; j++) values[j] = divide(tp[j], tp[j] + fp[j]);
      return;
    case 1: // recall
      for (let j = 0; j < n; j++) values[j] = divide(tp[j], tp[j] + fn[j]);
      return;
    case 2: // specificity
      for (let j = 0; j < n; j++) values[j] = divide(tn[j], fp[j] + tn[j]);
      return;
    case 3: // fpr
      for (let j = 0; j < n; j++) values[j] = divide(fp[j], fp[j] + tn[j]);
      return;
    case 4: // fnr
      for (let j = 0; j < n; j++) values[j] = divide(fn[j], tp[j] + fn[j]);
      return;
    case 5: // f1
    case 12: // dice
      for (let j = 0; j < n; j++) values[j] = divide(2 * tp[j], 2 * tp[j] + fp[j] + fn[j]);
      return;
    case 6: // fbeta
      for (let j = 0; j < n; j++) values[j] = divide((1 + beta2) * tp[j], (1 + beta2) * tp[j] + beta2 * fn[j] + fp[j]);
      return;
    case 7: // accuracy
      for (let j = 0; j < n; j++) values[j] = divide(tp[j] + tn[j], tp[j] + fn[j] + (fp[j] + tn[j]), NaN);
      return;
    case 8: // balanced accuracy: the mean of the rates of the classes present
      for (let j = 0; j < n; j++) {
        const positives = tp[j] + fn[j];
        const negatives = fp[j] + tn[j];
        const present = (positives > 0 ? 1 : 0) + (negatives > 0 ? 1 : 0);
        const rates = (positives > 0 ? divide(tp[j], positives) : 0) + (negatives > 0 ? divide(tn[j], negatives) : 0);
        values[j] = divide(rates, present, NaN);
      }
      return;
    case 9: // mcc
      for (let j = 0; j < n; j++) {
        const spread = Math.sqrt((tp[j] + fp[j]) * (tp[j] + fn[j]) * (fp[j] + tn[j]) * (tn[j] + fn[j]));
        values[j] = divide(tp[j] * tn[j] - fp[j] * fn[j], spread);
      }
      return;
    case 10: // kappa
      for (let j = 0; j < n; j++) {
        const chance = (tp[j] + fp[j]) * (fp[j] + tn[j]) + (tp[j] + fn[j]) * (fn[j] + tn[j]);
        values[j] = divide(2 * (tp[j] * tn[j] - fn[j] * fp[j]), chance, NaN);
      }
      return;
    case 11: // iou
      for (let j = 0; j < n; j++) values[j] = divide(tp[j], tp[j] + fp[j] + fn[j]);
      return;
    default:
      throw new Error(`no metric number ${m}`);
  }
}

/** Metrics number `metrics` (all by default) at every index of the count arrays into `out[m]`. */
function writeMetrics(tp, fp, tn, fn, beta2, out, metrics = ALL_METRICS) {
  for (const m of metrics) writeMetric(m, tp, fp, tn, fn, beta2, out[m]);
}

function checkBeta(beta) {
  if (!(beta > 0)) throw new Error(`beta=${beta}; F-beta needs beta > 0 (beta = 1 gives F1)`);
}

/**
 * Every confusion-count metric, elementwise. With P = TP + FN, N = FP + TN, n = P + N:
 * precision = TP/(TP+FP); recall = TP/P; specificity = TN/N; fpr = FP/N; fnr = FN/P;
 * f1 = dice = 2TP/(2TP+FP+FN); fbeta = (1+β²)TP/((1+β²)TP+β²FN+FP); iou = TP/(TP+FP+FN)
 * (all 0 when 0/0, scikit-learn's zero_division=0); accuracy = (TP+TN)/n (NaN for n = 0);
 * balanced_accuracy = mean of TPR and TNR over the classes present (NaN for n = 0);
 * mcc = (TP·TN − FP·FN)/√((TP+FP)(TP+FN)(TN+FP)(TN+FN)) (0 when undefined);
 * kappa = 2(TP·TN − FN·FP)/((TP+FP)(FP+TN) + (TP+FN)(FN+TN)) (NaN when undefined).
 * @param {number|ArrayLike<number>|ArrayLike<number>[]} tp numbers, arrays of equal length, or rows of them
 * @param {number|ArrayLike<number>} fp
 * @param {number|ArrayLike<number>} tn
 * @param {number|ArrayLike<number>} fn
 * @param {number} [beta=1]
 * @returns {Object<string, number|Float64Array>} keyed like Python: precision, recall, ..., dice
 */
export function thresholdMetrics(tp, fp, tn, fn, beta = 1) {
  checkBeta(beta);
  if (typeof tp === "number") {
    const out = metricArrays(1);
    writeMetrics([tp], [fp], [tn], [fn], beta * beta, out);
    return Object.fromEntries(METRIC_NAMES.map((name, m) => [name, out[m][0]]));
  }
  if (isRows(tp)) {
    const rows = tp.map((row, c) => thresholdMetrics(row, fp[c], tn[c], fn[c], beta));
    return Object.fromEntries(METRIC_NAMES.map((name) => [name, rows.map((metrics) => metrics[name])]));
  }
  const out = metricArrays(tp.length);
  writeMetrics(tp, fp, tn, fn, beta * beta, out);
  return metricObject(out);
}

/**
 * `thresholdMetrics` averaged over classes at each threshold; counts are rows (C × T).
 * micro: the metrics of the summed counts; macro: mean over classes of each metric; weighted: mean
 * weighted by each class's TP + FN. NaN values are left out of the means (NaN if none is left).
 * @param {ArrayLike<number>[]} tp
 * @param {ArrayLike<number>[]} fp
 * @param {ArrayLike<number>[]} tn
 * @param {ArrayLike<number>[]} fn
 * @param {"micro"|"macro"|"weighted"} average
 * @param {number} [beta=1]
 * @returns {Object<string, Float64Array>}
 */
export function averageThresholdMetrics(tp, fp, tn, fn, average, beta = 1) {
  checkBeta(beta);
  if (!isRows(tp)) throw new Error("averageThresholdMetrics needs per-class counts: arrays of rows (C × T)");
  if (!AVERAGES.includes(average)) throw new Error(`average=${JSON.stringify(average)}; expected one of ${AVERAGES.join(", ")}`);
  return averagedMetrics(tp, fp, tn, fn, average, beta, ALL_METRICS);
}

/** `averageThresholdMetrics` of the metric numbers `metrics` only. */
function averagedMetrics(tp, fp, tn, fn, average, beta, metrics) {
  if (average === "micro") {
    const out = metricArrays(tp[0].length, metrics);
    writeMetrics(sumRows(tp), sumRows(fp), sumRows(tn), sumRows(fn), beta * beta, out, metrics);
    return metricObject(out, metrics);
  }
  const length = tp[0].length;
  const values = new Float64Array(length); // one class's values of one metric, reused (stays in cache)
  const sums = metricArrays(length, metrics);
  const weights = metricArrays(length, metrics);
  for (let c = 0; c < tp.length; c++) {
    const weight = average === "macro" ? 1 : length ? tp[c][0] + fn[c][0] : 0;
    for (const m of metrics) {
      writeMetric(m, tp[c], fp[c], tn[c], fn[c], beta * beta, values);
      const metricSums = sums[m];
      const metricWeights = weights[m];
      for (let j = 0; j < length; j++) {
        const value = values[j];
        if (value !== value) continue; // NaN: undefined for this class, left out of the mean
        metricSums[j] += weight * value;
        metricWeights[j] += weight;
      }
    }
  }
  for (const m of metrics) finishAverage(sums[m], weights[m]);
  return metricObject(sums, metrics);
}

// ------------------------------------------------------------------------------------------------
// Curves

/** Shared body of the three curves: `rates(counts)` gives the two arrays of one class. */
function curve(positiveHistograms, negativeHistograms, thresholds, average, keys, rates) {
  checkPair(positiveHistograms, negativeHistograms);
  checkThresholds(thresholds, positiveHistograms);
  checkAverage(average, positiveHistograms);
  thresholds = sharedThresholds(thresholds, average);
  const points = isRows(thresholds) ? thresholds.map(curveThresholds) : curveThresholds(thresholds);
  const one = (positive, negative, c = 0) => {
    const [a, b] = rates(curveCounts(positive, negative));
    return { [keys[0]]: a, [keys[1]]: b, thresholds: isRows(points) ? points[c] : points };
  };
  if (!isRows(positiveHistograms)) return one(positiveHistograms, negativeHistograms);
  if (average === "micro") return one(sumRows(positiveHistograms), sumRows(negativeHistograms));
  const perClassCurves = perClass(positiveHistograms, negativeHistograms, one);
  if (average == null) return perClassCurves;
  const support = positiveHistograms.map(sum);
  return {
    [keys[0]]: averageRows(perClassCurves[keys[0]], support, average),
    [keys[1]]: averageRows(perClassCurves[keys[1]], support, average),
    thresholds: points,
  };
}

/**
 * ROC curve: FPR = FP/N and TPR = TP/P at +inf, t_{T-1}, ..., t_0, −inf (T + 2 points, FPR
 * non-decreasing). TPR is NaN without positives, FPR without negatives. Averages are threshold
 * averages (macro FPR(t), TPR(t) = class means at the same t; NaN classes left out).
 * @returns {{fpr: Float64Array, tpr: Float64Array, thresholds: Float64Array}}
 */
export function rocCurve(positiveHistograms, negativeHistograms, thresholds, average = null) {
  return curve(positiveHistograms, negativeHistograms, thresholds, average, ["fpr", "tpr"], ({ tp, fp, positives, negatives }) => {
    const fpr = new Float64Array(tp.length);
    const tpr = new Float64Array(tp.length);
    for (let i = 0; i < tp.length; i++) {
      fpr[i] = divide(fp[i], negatives, NaN);
      tpr[i] = divide(tp[i], positives, NaN);
    }
    return [fpr, tpr];
  });
}

/**
 * Precision–recall curve, highest threshold first: precision = TP/(TP+FP) (1 where nothing is
 * predicted positive: scikit-learn's curve end point), recall = TP/P (NaN without positives).
 * @returns {{precision: Float64Array, recall: Float64Array, thresholds: Float64Array}}
 */
export function prCurve(positiveHistograms, negativeHistograms, thresholds, average = null) {
  return curve(positiveHistograms, negativeHistograms, thresholds, average, ["precision", "recall"], ({ tp, fp, positives }) => {
    const precision = new Float64Array(tp.length);
    const recall = new Float64Array(tp.length);
    for (let i = 0; i < tp.length; i++) {
      precision[i] = divide(tp[i], tp[i] + fp[i], 1);
      recall[i] = divide(tp[i], positives, NaN);
    }
    return [precision, recall];
  });
}

/**
 * Detection error trade-off: FPR = FP/N and FNR = FN/P at the `rocCurve` points, all kept.
 * @returns {{fpr: Float64Array, fnr: Float64Array, thresholds: Float64Array}}
 */
export function detCurve(positiveHistograms, negativeHistograms, thresholds, average = null) {
  return curve(positiveHistograms, negativeHistograms, thresholds, average, ["fpr", "fnr"], ({ tp, fp, positives, negatives }) => {
    const fpr = new Float64Array(tp.length);
    const fnr = new Float64Array(tp.length);
    for (let i = 0; i < tp.length; i++) {
      fnr[i] = divide(positives - tp[i], positives, NaN);
      fpr[i] = divide(fp[i], negatives, NaN);
    }
    return [fpr, fnr];
  });
}

// ------------------------------------------------------------------------------------------------
// Areas

function rocAucOfCurve({ tp, fp, positives, negatives }) {
  let area = 0;
  for (let i = 0; i + 1 < tp.length; i++) area += (fp[i + 1] - fp[i]) * (tp[i + 1] + tp[i]);
  return divide(area / 2, positives * negatives, NaN);
}

function averagePrecisionOfCurve({ tp, fp, positives }) {
  let area = 0;
  for (let i = 0; i + 1 < tp.length; i++) area += (tp[i + 1] - tp[i]) * divide(tp[i + 1], tp[i + 1] + fp[i + 1]);
  return divide(area, positives, NaN);
}

function prAucOfCurve({ tp, fp, positives }) {
  // Keras orders by increasing threshold: A = the lower threshold (more predicted), B = the next.
  let area = 0;
  for (let i = tp.length - 1; i > 0; i--) {
    const tpA = tp[i];
    const tpB = tp[i - 1];
    const predictedA = tpA + fp[i];
    const predictedB = tpB + fp[i - 1];
    const dtp = tpA - tpB;
    const slope = divide(dtp, Math.max(predictedA - predictedB, 0));
    const intercept = tpB - slope * predictedB;
    const ratio = predictedA > 0 && predictedB > 0 ? divide(predictedA, Math.max(predictedB, 0)) : 1;
    area += slope * (dtp + intercept * Math.log(ratio));
  }
  return divide(area, positives, NaN);
}

function checkMaxFpr(maxFpr) {
  if (!(typeof maxFpr === "number" && maxFpr > 0 && maxFpr <= 1)) {
    throw new Error(`maxFpr=${maxFpr}; expected a false positive rate in (0, 1], e.g. 0.1`);
  }
}

/** scikit-learn's max_fpr cut of the ROC points, the partial trapezoid area, McClish's standardisation. */
function partialRocAucOfCurve({ tp, fp, positives, negatives }, maxFpr) {
  if (!(positives > 0 && negatives > 0)) return NaN;
  const fprAt = (i) => fp[i] / negatives;
  const tprAt = (i) => tp[i] / positives;
  let area = 0;
  for (let i = 0; i + 1 < tp.length; i++) {
    const x0 = fprAt(i);
    const x1 = fprAt(i + 1);
    if (maxFpr < 1 && x1 > maxFpr) {
      // The last segment ends at max_fpr, its TPR interpolated between the points either side.
      const y = x1 === x0 ? tprAt(i) : tprAt(i) + ((maxFpr - x0) * (tprAt(i + 1) - tprAt(i))) / (x1 - x0);
      area += ((maxFpr - x0) * (tprAt(i) + y)) / 2;
      break;
    }
    area += ((x1 - x0) * (tprAt(i) + tprAt(i + 1))) / 2;
  }
  if (maxFpr === 1) return area;
  const minArea = 0.5 * maxFpr * maxFpr;
  return 0.5 * (1 + (area - minArea) / (maxFpr - minArea));
}

function checkSummationMethod(summationMethod) {
  if (!SUMMATION_METHODS.includes(summationMethod)) {
    throw new Error(`summationMethod=${JSON.stringify(summationMethod)}; expected one of ${SUMMATION_METHODS.join(", ")} (the interpolated area is prAuc)`);
  }
}

function prAucBoundOfCurve({ tp, fp, positives }, summationMethod) {
  const pick = summationMethod === "majoring" ? Math.max : Math.min;
  let area = 0;
  for (let i = 0; i + 1 < tp.length; i++) {
    const height = pick(divide(tp[i], tp[i] + fp[i]), divide(tp[i + 1], tp[i + 1] + fp[i + 1]));
    area += (tp[i + 1] - tp[i]) * height;
  }
  return divide(area, positives, NaN);
}

function area(positiveHistograms, negativeHistograms, average, ofCurve) {
  checkPair(positiveHistograms, negativeHistograms);
  checkAverage(average, positiveHistograms);
  const one = (positive, negative) => ofCurve(curveCounts(positive, negative));
  if (!isRows(positiveHistograms)) return one(positiveHistograms, negativeHistograms);
  if (average === "micro") return one(sumRows(positiveHistograms), sumRows(negativeHistograms));
  const values = perClass(positiveHistograms, negativeHistograms, one);
  if (average == null) return values;
  return averageOverClasses(values, positiveHistograms.map(sum), average);
}

/**
 * ROC-AUC by the trapezoid rule over the `rocCurve` points: Σ (FPR_{i+1} − FPR_i)(TPR_i + TPR_{i+1})/2.
 * In-bin scores are ties (½), as scikit-learn's roc_auc_score; equals Keras' AUC on the same
 * thresholds. NaN without positives or negatives. macro/weighted average the per-class areas
 * (NaN classes left out); micro is the area of the summed histograms.
 * @returns {number|Float64Array}
 */
export function rocAuc(positiveHistograms, negativeHistograms, average = null) {
  return area(positiveHistograms, negativeHistograms, average, rocAucOfCurve);
}

/**
 * Average precision, scikit-learn's step definition: Σ_n (R_n − R_{n−1}) P_n from the highest
 * threshold down, P = TP/(TP+FP), R = TP/P. A bin's scores enter together (ties). NaN without positives.
 * @returns {number|Float64Array}
 */
export function averagePrecision(positiveHistograms, negativeHistograms, average = null) {
  return area(positiveHistograms, negativeHistograms, average, averagePrecisionOfCurve);
}

/**
 * PR-AUC with Keras' Davis–Goadrich interpolation (AUC(curve="PR")): between thresholds A < B,
 * Σ slope·(ΔTP + intercept·ln(p_A/p_B)) / P with p = TP + FP, slope = ΔTP/Δp (0 if Δp = 0),
 * intercept = TP_B − slope·p_B, the log term 0 when p_A or p_B is 0. NaN without positives.
 * @returns {number|Float64Array}
 */
export function prAuc(positiveHistograms, negativeHistograms, average = null) {
  return area(positiveHistograms, negativeHistograms, average, prAucOfCurve);
}

/**
 * Standardised partial ROC-AUC up to `maxFpr`, scikit-learn's roc_auc_score(max_fpr=...): the ROC
 * points with FPR <= maxFpr plus one at FPR = maxFpr (TPR interpolated linearly) give the partial
 * area A_p; McClish: ½·(1 + (A_p − maxFpr²/2) / (maxFpr − maxFpr²/2)). maxFpr = 1 is rocAuc. NaN
 * without positives or negatives. Averages as rocAuc.
 * @param {number} maxFpr in (0, 1]
 * @returns {number|Float64Array}
 */
export function partialRocAuc(positiveHistograms, negativeHistograms, maxFpr, average = null) {
  checkMaxFpr(maxFpr);
  return area(positiveHistograms, negativeHistograms, average, (curve) => partialRocAucOfCurve(curve, maxFpr));
}

/**
 * Keras' Riemann-sum bounds of the PR-AUC, AUC(curve="PR", summation_method="majoring"|"minoring"):
 * Σ_i (R_{i+1} − R_i)·max|min(P_i, P_{i+1}) over the prCurve points from the highest threshold
 * down, P = TP/(TP+FP) (0 when nothing is predicted positive). minoring <= prAuc <= majoring. NaN
 * without positives. micro = Keras' multi_label=False, macro = multi_label=True.
 * @param {"majoring"|"minoring"} summationMethod
 * @returns {number|Float64Array}
 */
export function prAucBound(positiveHistograms, negativeHistograms, summationMethod, average = null) {
  checkSummationMethod(summationMethod);
  return area(positiveHistograms, negativeHistograms, average, (curve) => prAucBoundOfCurve(curve, summationMethod));
}

// ------------------------------------------------------------------------------------------------
// Operating points

/**
 * First index of the maximum of `objective` where `feasible(j)` (−1 if none); NaN never qualifies.
 * Ties go to the larger `tieBreak[j]`, then to the lowest index.
 */
function bestIndex(objective, feasible, tieBreak) {
  let best = -1;
  for (let j = 0; j < objective.length; j++) {
    const value = objective[j];
    if (Number.isNaN(value) || !feasible(j)) continue;
    if (best < 0 || value > objective[best] || (tieBreak && value === objective[best] && tieBreak[j] > tieBreak[best])) {
      best = j;
    }
  }
  return best;
}

function operatingPoint(index, thresholds, objective, infeasibleValue) {
  if (index < 0) return { index: -1, threshold: NaN, value: infeasibleValue };
  return { index, threshold: thresholds[index], value: objective[index] };
}

/** Per class (rows, no average): runs `one(positive, negative, c)` on each row and stacks {index, threshold, value}. */
function pointPerClass(positiveHistograms, negativeHistograms, one) {
  const points = positiveHistograms.map((row, c) => one(row, negativeHistograms[c], c));
  return {
    index: Int32Array.from(points, (point) => point.index),
    threshold: Float64Array.from(points, (point) => point.threshold),
    value: Float64Array.from(points, (point) => point.value),
  };
}

/** Checks an optimiser's input; returns the thresholds to use (the shared row for an average). */
function preparePoint(positiveHistograms, negativeHistograms, thresholds, average) {
  checkPair(positiveHistograms, negativeHistograms);
  checkThresholds(thresholds, positiveHistograms);
  checkAverage(average, positiveHistograms);
  return sharedThresholds(thresholds, average);
}

/**
 * The named metrics at every threshold: of one class, of the summed counts (micro), or
 * class-averaged; only those asked for are computed.
 */
function metricsAtThresholds(positiveHistograms, negativeHistograms, average, beta, names) {
  const metrics = names.map((name) => METRIC_NAMES.indexOf(name));
  const { tp, fp, tn, fn } = confusionAtThresholds(positiveHistograms, negativeHistograms);
  if (average != null) return averagedMetrics(tp, fp, tn, fn, average, beta, metrics);
  const out = metricArrays(tp.length, metrics);
  writeMetrics(tp, fp, tn, fn, beta * beta, out, metrics);
  return metricObject(out, metrics);
}

const always = () => true;

/**
 * The stored threshold maximising F-beta = (1+β²)TP/((1+β²)TP + β²FN + FP); ties to the lowest.
 * With `average`, the maximum of the averaged F-beta at one shared threshold.
 * @returns {{index: number, threshold: number, value: number}} index −1 / threshold NaN if none
 */
export function bestFbetaThreshold(positiveHistograms, negativeHistograms, thresholds, beta = 1, average = null) {
  checkBeta(beta);
  thresholds = preparePoint(positiveHistograms, negativeHistograms, thresholds, average);
  if (isRows(positiveHistograms) && average == null) {
    return pointPerClass(positiveHistograms, negativeHistograms, (p, n, c) => bestFbetaThreshold(p, n, rowOf(thresholds, c), beta));
  }
  const objective = metricsAtThresholds(positiveHistograms, negativeHistograms, average, beta, ["fbeta"]).fbeta;
  return operatingPoint(bestIndex(objective, always), thresholds, objective, NaN);
}

/**
 * The stored threshold maximising Youden's J = TPR − FPR; ties to the lowest. Index −1 and value NaN
 * for a class without positives or negatives.
 * @returns {{index: number, threshold: number, value: number}}
 */
export function bestYoudenThreshold(positiveHistograms, negativeHistograms, thresholds, average = null) {
  thresholds = preparePoint(positiveHistograms, negativeHistograms, thresholds, average);
  if (isRows(positiveHistograms) && average == null) {
    return pointPerClass(positiveHistograms, negativeHistograms, (p, n, c) => bestYoudenThreshold(p, n, rowOf(thresholds, c)));
  }
  const metrics = metricsAtThresholds(positiveHistograms, negativeHistograms, average, 1, ["recall", "fpr"]);
  const objective = new Float64Array(thresholds.length);
  for (let j = 0; j < objective.length; j++) objective[j] = metrics.recall[j] - metrics.fpr[j];
  const defined = average != null || (sum(positiveHistograms) > 0 && sum(negativeHistograms) > 0);
  return operatingPoint(bestIndex(objective, () => defined), thresholds, objective, NaN);
}

/**
 * The stored threshold minimising the expected cost π·FNR + r·(1 − π)·FPR (units of one FN's cost),
 * r = costRatio = cost(FP)/cost(FN); with prevalence null, π is observed and the cost is
 * (FN + r·FP)/n. Ties to the lowest threshold; value = the minimum cost.
 * @returns {{index: number, threshold: number, value: number}}
 */
export function minCostThreshold(positiveHistograms, negativeHistograms, thresholds, costRatio = 1, prevalence = null, average = null) {
  if (!(costRatio >= 0 && Number.isFinite(costRatio))) {
    throw new Error(`costRatio=${costRatio}; expected a finite cost of a FP per cost of a FN, >= 0`);
  }
  if (prevalence != null && !(prevalence >= 0 && prevalence <= 1)) {
    throw new Error(`prevalence=${prevalence}; expected a fraction in [0, 1] or null (observed)`);
  }
  thresholds = preparePoint(positiveHistograms, negativeHistograms, thresholds, average);
  if (isRows(positiveHistograms) && average == null) {
    return pointPerClass(positiveHistograms, negativeHistograms, (p, n, c) => minCostThreshold(p, n, rowOf(thresholds, c), costRatio, prevalence));
  }
  const costOf = (positive, negative) => {
    const { tp, fp, tn, fn } = confusionAtThresholds(positive, negative);
    const cost = new Float64Array(tp.length);
    for (let j = 0; j < cost.length; j++) {
      if (prevalence == null) {
        cost[j] = divide(fn[j] + costRatio * fp[j], tp[j] + fn[j] + fp[j] + tn[j], NaN);
      } else {
        cost[j] = prevalence * divide(fn[j], fn[j] + tp[j]) + costRatio * (1 - prevalence) * divide(fp[j], fp[j] + tn[j]);
      }
    }
    return cost;
  };
  let cost;
  if (!isRows(positiveHistograms)) cost = costOf(positiveHistograms, negativeHistograms);
  else if (average === "micro") cost = costOf(sumRows(positiveHistograms), sumRows(negativeHistograms));
  else {
    const rows = positiveHistograms.map((row, c) => costOf(row, negativeHistograms[c]));
    cost = averageRows(rows, positiveHistograms.map(sum), average);
  }
  const negated = cost.map((value) => -value);
  return operatingPoint(bestIndex(negated, always), thresholds, cost, NaN);
}

function atConstraint(positiveHistograms, negativeHistograms, thresholds, average, constrained, dependent, bound, self) {
  if (!(bound >= 0 && bound <= 1)) throw new Error(`minimum ${constrained}=${bound}; expected a fraction in [0, 1]`);
  thresholds = preparePoint(positiveHistograms, negativeHistograms, thresholds, average);
  if (isRows(positiveHistograms) && average == null) {
    return pointPerClass(positiveHistograms, negativeHistograms, (p, n, c) => self(p, n, rowOf(thresholds, c), bound));
  }
  const metrics = metricsAtThresholds(positiveHistograms, negativeHistograms, average, 1, [constrained, dependent]);
  const limit = metrics[constrained];
  const index = bestIndex(metrics[dependent], (j) => limit[j] >= bound, limit);
  return operatingPoint(index, thresholds, metrics[dependent], 0);
}

/**
 * Best recall over the stored thresholds with precision >= minPrecision (keras RecallAtPrecision):
 * 0 (index −1) when none qualifies; ties to the higher precision, then the lowest threshold.
 * @returns {{index: number, threshold: number, value: number}}
 */
export function recallAtPrecision(positiveHistograms, negativeHistograms, thresholds, minPrecision, average = null) {
  return atConstraint(positiveHistograms, negativeHistograms, thresholds, average, "precision", "recall", minPrecision, recallAtPrecision);
}

/**
 * Best precision with recall >= minRecall (keras PrecisionAtRecall); 0 when none qualifies.
 * @returns {{index: number, threshold: number, value: number}}
 */
export function precisionAtRecall(positiveHistograms, negativeHistograms, thresholds, minRecall, average = null) {
  return atConstraint(positiveHistograms, negativeHistograms, thresholds, average, "recall", "precision", minRecall, precisionAtRecall);
}

/**
 * Best sensitivity TP/P with specificity TN/N >= minSpecificity (keras SensitivityAtSpecificity).
 * @returns {{index: number, threshold: number, value: number}}
 */
export function sensitivityAtSpecificity(positiveHistograms, negativeHistograms, thresholds, minSpecificity, average = null) {
  return atConstraint(positiveHistograms, negativeHistograms, thresholds, average, "specificity", "recall", minSpecificity, sensitivityAtSpecificity);
}

/**
 * Best specificity TN/N with sensitivity TP/P >= minSensitivity (keras SpecificityAtSensitivity).
 * @returns {{index: number, threshold: number, value: number}}
 */
export function specificityAtSensitivity(positiveHistograms, negativeHistograms, thresholds, minSensitivity, average = null) {
  return atConstraint(positiveHistograms, negativeHistograms, thresholds, average, "recall", "specificity", minSensitivity, specificityAtSensitivity);
}

// ------------------------------------------------------------------------------------------------
// Confusion matrix (flat row-major, rows = true class)

function checkMatrix(matrix, numClasses) {
  if (!Number.isInteger(numClasses) || numClasses < 1 || matrix.length !== numClasses * numClasses) {
    throw new Error(
      `confusion matrix has ${matrix.length} entries for numClasses=${numClasses}; pass a flat row-major C×C array and C`,
    );
  }
  for (let i = 0; i < matrix.length; i++) {
    if (!Number.isFinite(matrix[i])) throw new Error("confusion matrix contains NaN or infinity; counts must be finite weights");
  }
}

/**
 * One-vs-rest counts of every class of a confusion matrix (flat, row-major, rows = true class):
 * TP_c = m[c,c], FN_c = R_c − TP_c, FP_c = K_c − TP_c, TN_c = n − TP_c − FN_c − FP_c, with R_c
 * the row sum, K_c the column sum and n the total.
 * @param {ArrayLike<number>} matrix C×C counts
 * @param {number} numClasses C
 * @returns {{tp: Float64Array, fp: Float64Array, tn: Float64Array, fn: Float64Array}} (C,) each
 */
export function matrixOneVsRest(matrix, numClasses) {
  const { support, predicted, diagonal: tp, total } = matrixMargins(matrix, numClasses);
  const fn = support.map((rowSum, c) => rowSum - tp[c]);
  const fp = predicted.map((columnSum, c) => columnSum - tp[c]);
  const tn = tp.map((truePositives, c) => total - truePositives - fn[c] - fp[c]);
  return { tp, fp, tn, fn };
}

/**
 * Row sums R_c (support), column sums K_c (predicted), diagonal m[c,c] and total n of a flat,
 * row-major C×C confusion matrix, after `checkMatrix`.
 * @returns {{support: Float64Array, predicted: Float64Array, diagonal: Float64Array, total: number}}
 */
function matrixMargins(matrix, numClasses) {
  checkMatrix(matrix, numClasses);
  const size = numClasses;
  const support = new Float64Array(size);
  const predicted = new Float64Array(size);
  const diagonal = new Float64Array(size);
  let total = 0;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const value = matrix[r * size + c];
      support[r] += value;
      predicted[c] += value;
      total += value;
    }
    diagonal[r] = matrix[r * size + r];
  }
  return { support, predicted, diagonal, total };
}

/**
 * Metrics of a confusion matrix. Per class (Float64Array(C)), TP_c = m[c,c], R_c row sum (support),
 * K_c column sum (predicted): precision = TP/K, recall = TP/R, f1 = 2TP/(R+K), iou = TP/(R+K−TP)
 * (0 when 0/0). Scalars (n = Σ m): accuracy = ΣTP/n; balanced_accuracy = mean recall of classes with
 * R > 0; kappa = (n·ΣTP − ΣR·K)/(n² − ΣR·K) (NaN when undefined); kappa_linear, kappa_quadratic
 * (weightedKappa); mcc = (n·ΣTP − ΣR·K)/√((n² − ΣK²)(n² − ΣR²))
 * (0 when undefined); mean_iou = mean IoU over classes with R+K−TP > 0 (Keras MeanIoU);
 * frequency_weighted_iou = Σ (R/n)·iou; macro_/weighted_ precision, recall, f1, iou. NaN scalars
 * for an all-zero matrix.
 * @param {ArrayLike<number>} matrix flat C×C
 * @param {number} numClasses C
 * @returns {Object}
 */
export function matrixMetrics(matrix, numClasses) {
  const size = numClasses;
  const { support, predicted, diagonal: truePositives, total } = matrixMargins(matrix, numClasses);
  const precision = new Float64Array(size);
  const recall = new Float64Array(size);
  const f1 = new Float64Array(size);
  const iou = new Float64Array(size);
  let correct = 0;
  let chance = 0;
  let predictedSquares = 0;
  let supportSquares = 0;
  let iouSum = 0;
  let iouClasses = 0;
  let recallSum = 0;
  let supportedClasses = 0;
  for (let c = 0; c < size; c++) {
    const tp = truePositives[c];
    const union = support[c] + predicted[c] - tp;
    precision[c] = divide(tp, predicted[c]);
    recall[c] = divide(tp, support[c]);
    f1[c] = divide(2 * tp, support[c] + predicted[c]);
    iou[c] = divide(tp, union);
    correct += tp;
    chance += support[c] * predicted[c];
    predictedSquares += predicted[c] * predicted[c];
    supportSquares += support[c] * support[c];
    if (union > 0) {
      iouSum += iou[c];
      iouClasses += 1;
    }
    if (support[c] > 0) {
      recallSum += recall[c];
      supportedClasses += 1;
    }
  }
  const empty = total === 0;
  const kappaDenominator = total * total - chance;
  const mccDenominator = Math.sqrt((total * total - predictedSquares) * (total * total - supportSquares));
  const perClassMetrics = { precision, recall, f1, iou };
  const averages = {};
  for (const [name, values] of Object.entries(perClassMetrics)) {
    averages[`macro_${name}`] = sum(values) / size;
    let weighted = 0;
    for (let c = 0; c < size; c++) weighted += support[c] * values[c];
    averages[`weighted_${name}`] = empty ? NaN : weighted / total;
  }
  let frequencyWeighted = 0;
  for (let c = 0; c < size; c++) frequencyWeighted += support[c] * iou[c];
  return {
    ...perClassMetrics,
    support,
    predicted,
    accuracy: empty ? NaN : correct / total,
    balanced_accuracy: supportedClasses > 0 ? recallSum / supportedClasses : NaN,
    kappa: kappaDenominator !== 0 ? (total * correct - chance) / kappaDenominator : NaN,
    kappa_linear: weightedKappa(matrix, numClasses, "linear"),
    kappa_quadratic: weightedKappa(matrix, numClasses, "quadratic"),
    mcc: empty ? NaN : mccDenominator ? (total * correct - chance) / mccDenominator : 0,
    mean_iou: iouClasses > 0 ? iouSum / iouClasses : NaN,
    frequency_weighted_iou: empty ? NaN : frequencyWeighted / total,
    ...averages,
  };
}

/**
 * Cohen's kappa with disagreement weights for ordinal classes (class index = rank): with
 * w_ij = |i − j| ("linear") or (i − j)² ("quadratic"), κ_w = 1 − Σ w_ij m_ij / Σ w_ij R_i K_j / n,
 * scikit-learn's cohen_kappa_score(weights=...) with labels=range(C). NaN when the denominator is 0.
 * @param {ArrayLike<number>} matrix flat C×C
 * @param {number} numClasses
 * @param {"linear"|"quadratic"} [weights="linear"]
 * @returns {number}
 */
export function weightedKappa(matrix, numClasses, weights = "linear") {
  if (!KAPPA_WEIGHTS.includes(weights)) {
    throw new Error(`weights=${JSON.stringify(weights)}; expected one of ${KAPPA_WEIGHTS.join(", ")} (unweighted kappa is matrixMetrics' kappa)`);
  }
  checkMatrix(matrix, numClasses);
  const size = numClasses;
  const support = new Float64Array(size);
  const predicted = new Float64Array(size);
  let total = 0;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      support[r] += matrix[r * size + c];
      predicted[c] += matrix[r * size + c];
      total += matrix[r * size + c];
    }
  }
  if (total === 0) return NaN;
  let observed = 0;
  let expected = 0;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const weight = weights === "linear" ? Math.abs(r - c) : (r - c) * (r - c);
      observed += weight * matrix[r * size + c];
      expected += (weight * support[r] * predicted[c]) / total;
    }
  }
  return expected !== 0 ? 1 - observed / expected : NaN;
}

/**
 * The matrix divided by its row sums ("true"), column sums ("pred") or total ("all"); "none" or
 * null copies. Zero rows / columns stay 0 (scikit-learn's confusion_matrix(normalize=...)).
 * @param {ArrayLike<number>} matrix flat C×C
 * @param {number} numClasses
 * @param {"true"|"pred"|"all"|"none"|null} [normalize="true"]
 * @returns {Float64Array} flat C×C
 */
export function normalizeMatrix(matrix, numClasses, normalize = "true") {
  checkMatrix(matrix, numClasses);
  const size = numClasses;
  const out = Float64Array.from(matrix);
  if (normalize == null || normalize === "none") return out;
  if (!NORMALIZATIONS.includes(normalize)) {
    throw new Error(`normalize=${JSON.stringify(normalize)}; expected one of ${NORMALIZATIONS.join(", ")}`);
  }
  const rowSums = new Float64Array(size);
  const colSums = new Float64Array(size);
  let total = 0;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const value = matrix[r * size + c];
      rowSums[r] += value;
      colSums[c] += value;
    }
    total += rowSums[r];
  }
  const byRow = normalize === "true";
  const byColumn = normalize === "pred";
  for (let r = 0; r < size; r++) {
    const offset = r * size;
    for (let c = 0; c < size; c++) {
      out[offset + c] = divide(matrix[offset + c], byRow ? rowSums[r] : byColumn ? colSums[c] : total);
    }
  }
  return out;
}

/**
 * The k largest non-zero off-diagonal cells (true i predicted as j ≠ i), by count descending, ties
 * by true class then predicted class; fraction_of_true = m[i,j] / Σ_j m[i,j].
 * @param {ArrayLike<number>} matrix flat C×C
 * @param {number} numClasses
 * @param {number} [k=10]
 * @returns {{true: Int32Array, pred: Int32Array, count: Float64Array, fraction_of_true: Float64Array}}
 */
export function topConfusions(matrix, numClasses, k = 10) {
  checkMatrix(matrix, numClasses);
  if (!(k >= 0)) throw new Error(`k=${k}; expected the number of cells to return, >= 0`);
  const size = numClasses;
  // A sorted buffer of at most k cells: row-major scanning meets ties in (true, pred) order, so a cell
  // only displaces strictly smaller counts.
  const cells = [];
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const count = matrix[r * size + c];
      if (r === c || count === 0 || k === 0) continue;
      if (cells.length === k && !(count > cells[k - 1].count)) continue;
      let at = cells.length;
      while (at > 0 && cells[at - 1].count < count) at--;
      cells.splice(at, 0, { r, c, count });
      if (cells.length > k) cells.pop();
    }
  }
  const rowSums = new Float64Array(size);
  for (const cell of cells) {
    if (rowSums[cell.r] === 0) for (let c = 0; c < size; c++) rowSums[cell.r] += matrix[cell.r * size + c];
  }
  return {
    true: Int32Array.from(cells, (cell) => cell.r),
    pred: Int32Array.from(cells, (cell) => cell.c),
    count: Float64Array.from(cells, (cell) => cell.count),
    fraction_of_true: Float64Array.from(cells, (cell) => divide(cell.count, rowSums[cell.r])),
  };
}

// ------------------------------------------------------------------------------------------------
// Score distribution and calibration

/**
 * Lower and upper edges of the T + 1 bins, clipped to the scores' range: the open outer bins to
 * [0, 1], the +Infinity padding of an exact row to its last score (so padded bins have no width).
 */
function binEdges(thresholds) {
  const count = thresholds.length;
  let high = 1;
  for (let k = 0; k < count; k++) if (Number.isFinite(thresholds[k]) && thresholds[k] > high) high = thresholds[k];
  const lower = new Float64Array(count + 1);
  const upper = new Float64Array(count + 1);
  lower[0] = Math.min(0, thresholds[0], high);
  for (let k = 0; k < count; k++) {
    lower[k + 1] = Math.min(thresholds[k], high);
    upper[k] = Math.min(thresholds[k], high);
  }
  upper[count] = high;
  return { lower, upper };
}

/**
 * Per-bin fractions of the positives' and the negatives' weight: bin k holds scores in
 * (t_{k−1}, t_k], the outer bins shown clipped to [0, 1]. positive_k = pos_k / Σ pos (NaN without
 * positives), likewise negative; rows of them for rows in. With per-class thresholds (rows) the
 * edges are per class too.
 * @returns {{lower: Float64Array, upper: Float64Array, positive: Float64Array, negative: Float64Array}}
 */
export function scoreDistribution(positiveHistograms, negativeHistograms, thresholds) {
  checkPair(positiveHistograms, negativeHistograms);
  checkThresholds(thresholds, positiveHistograms);
  // Per-class thresholds: per-class edges, rows of them.
  const { lower, upper } = isRows(thresholds)
    ? { lower: thresholds.map((row) => binEdges(row).lower), upper: thresholds.map((row) => binEdges(row).upper) }
    : binEdges(thresholds);
  const fractions = (histogram) => {
    const total = sum(histogram);
    return Float64Array.from(histogram, (value) => divide(value, total, NaN));
  };
  if (isRows(positiveHistograms)) {
    return { lower, upper, positive: positiveHistograms.map(fractions), negative: negativeHistograms.map(fractions) };
  }
  return { lower, upper, positive: fractions(positiveHistograms), negative: fractions(negativeHistograms) };
}

/** For each fine bin (T + 1), the calibration bin it belongs to. */
function coarseBins(thresholds, numBins) {
  if (!Number.isInteger(numBins) || numBins < 1) throw new Error(`numBins=${numBins}; expected a positive integer`);
  // The stored threshold nearest to each uniform edge i / numBins closes a calibration bin.
  const nearest = new Int32Array(numBins - 1);
  for (let i = 1; i < numBins; i++) {
    const target = i / numBins;
    let best = 0;
    for (let j = 1; j < thresholds.length; j++) {
      if (Math.abs(thresholds[j] - target) < Math.abs(thresholds[best] - target)) best = j;
    }
    nearest[i - 1] = best;
  }
  const bins = new Int32Array(thresholds.length + 1);
  let edge = 0;
  for (let k = 0; k < bins.length; k++) {
    while (edge < nearest.length && nearest[edge] < k) edge++;
    bins[k] = edge;
  }
  return bins;
}

/**
 * Calibration curve of one class from its histograms. The uniform edges i/numBins move to the
 * nearest stored threshold; per calibration bin b: fraction_positive = Σpos/Σ(pos+neg),
 * count = Σ(pos+neg), mean_predicted = Σ (pos+neg)·midpoint / count over its fine bins. Empty bins
 * are left out. Equals scikit-learn's calibration_curve prob_true where the edges are stored thresholds.
 * @returns {{lower, upper, mean_predicted, fraction_positive, count}} Float64Array each
 */
export function reliabilityDiagram(positiveHistograms, negativeHistograms, thresholds, numBins = 10) {
  checkPair(positiveHistograms, negativeHistograms);
  if (isRows(positiveHistograms)) throw new Error("reliabilityDiagram takes one class's histograms");
  checkThresholds(thresholds, positiveHistograms);
  const bins = coarseBins(thresholds, numBins);
  const fine = binEdges(thresholds);
  const count = new Float64Array(numBins);
  const positives = new Float64Array(numBins);
  const weightedMidpoints = new Float64Array(numBins);
  const lower = new Float64Array(numBins).fill(Infinity);
  const upper = new Float64Array(numBins).fill(-Infinity);
  for (let k = 0; k < bins.length; k++) {
    const b = bins[k];
    const total = positiveHistograms[k] + negativeHistograms[k];
    count[b] += total;
    positives[b] += positiveHistograms[k];
    weightedMidpoints[b] += (total * (fine.lower[k] + fine.upper[k])) / 2;
    lower[b] = Math.min(lower[b], fine.lower[k]);
    upper[b] = Math.max(upper[b], fine.upper[k]);
  }
  const kept = [];
  for (let b = 0; b < numBins; b++) if (count[b] > 0) kept.push(b);
  return {
    lower: Float64Array.from(kept, (b) => lower[b]),
    upper: Float64Array.from(kept, (b) => upper[b]),
    mean_predicted: Float64Array.from(kept, (b) => weightedMidpoints[b] / count[b]),
    fraction_positive: Float64Array.from(kept, (b) => positives[b] / count[b]),
    count: Float64Array.from(kept, (b) => count[b]),
  };
}

/**
 * ECE = Σ_b (count_b / n)·|fraction_positive_b − mean_predicted_b| over the reliabilityDiagram bins;
 * NaN for empty histograms.
 * @returns {number}
 */
export function expectedCalibrationError(positiveHistograms, negativeHistograms, thresholds, numBins = 10) {
  const diagram = reliabilityDiagram(positiveHistograms, negativeHistograms, thresholds, numBins);
  const total = sum(diagram.count);
  if (!(total > 0)) return NaN;
  let weighted = 0;
  for (let b = 0; b < diagram.count.length; b++) {
    weighted += diagram.count[b] * Math.abs(diagram.fraction_positive[b] - diagram.mean_predicted[b]);
  }
  return weighted / total;
}

// ------------------------------------------------------------------------------------------------
// Uncertainty

/** Applies `fn` to numbers, or elementwise to arrays (returning Float64Array). */
function elementwise(arrays, fn) {
  const firstArray = arrays.find((value) => typeof value !== "number");
  if (!firstArray) return fn(...arrays);
  const out = new Float64Array(firstArray.length);
  const args = new Array(arrays.length);
  for (let i = 0; i < out.length; i++) {
    for (let a = 0; a < arrays.length; a++) args[a] = typeof arrays[a] === "number" ? arrays[a] : arrays[a][i];
    out[i] = fn(...args);
  }
  return out;
}

/**
 * Wilson score interval of p̂ = successes/trials: centre = (p̂ + z²/2n)/(1 + z²/n), half-width
 * = z/(1 + z²/n)·√(p̂(1−p̂)/n + z²/4n²). NaN for trials = 0.
 * @param {number|ArrayLike<number>} successes
 * @param {number|ArrayLike<number>} trials
 * @param {number} [z=1.96]
 * @returns {[number, number]|[Float64Array, Float64Array]} [low, high]
 */
export function wilsonInterval(successes, trials, z = 1.96) {
  if (!(z > 0)) throw new Error(`z=${z}; expected a positive normal quantile (1.96 for 95 %)`);
  const bound = (sign) => (s, n) => {
    if (s < 0 || s > n) throw new Error("wilsonInterval needs 0 <= successes <= trials");
    const proportion = divide(s, n, NaN);
    const z2OverN = divide(z * z, n, NaN);
    const centre = (proportion + z2OverN / 2) / (1 + z2OverN);
    const half = (z / (1 + z2OverN)) * Math.sqrt(divide(proportion * (1 - proportion), n, NaN) + (z2OverN * z2OverN) / (4 * z * z));
    return centre + sign * half;
  };
  return [elementwise([successes, trials], bound(-1)), elementwise([successes, trials], bound(1))];
}

/**
 * Hanley–McNeil standard error of a ROC-AUC A: SE² = (A(1−A) + (n_P−1)(Q1−A²) + (n_N−1)(Q2−A²))/(n_P n_N),
 * Q1 = A/(2−A), Q2 = 2A²/(1+A). NaN when n_P or n_N is 0 or A is NaN.
 * @returns {number|Float64Array}
 */
export function hanleyMcneilSe(auc, positives, negatives) {
  return elementwise([auc, positives, negatives], (a, p, n) => {
    const q1 = a / (2 - a);
    const q2 = (2 * a * a) / (1 + a);
    const variance = divide(a * (1 - a) + (p - 1) * (q1 - a * a) + (n - 1) * (q2 - a * a), p * n, NaN);
    return Math.sqrt(Math.max(variance, 0));
  });
}

// ------------------------------------------------------------------------------------------------
// Per-step summaries (as the backend's summary route)

/**
 * roc_auc, average_precision, pr_auc, pr_auc_majoring, pr_auc_minoring (per class; macro/weighted
 * average the areas, micro is the area
 * of the summed histograms) and best_f1 / best_f1_threshold (per class; micro/macro/weighted: the
 * maximum of the averaged F1 at one shared threshold). Classes with their own thresholds (per-class
 * rows, `exact`) are put on one axis with `alignClasses` for the micro numbers and the averaged F1.
 * @param {ArrayLike<number>|ArrayLike<number>[]} thresholds one shared row or one row per class
 * @param {ArrayLike<number|boolean>|null} [exact=null] per-class exact flags
 * @returns {Object<string, {per_class: Float64Array, micro: number, macro: number, weighted: number}>}
 */
export function thresholdCurvesSummary(positiveHistograms, negativeHistograms, thresholds, exact = null) {
  const positive = isRows(positiveHistograms) ? positiveHistograms : [positiveHistograms];
  const negative = isRows(negativeHistograms) ? negativeHistograms : [negativeHistograms];
  checkPair(positive, negative);
  checkThresholds(thresholds, positive);
  const aligned = alignClasses(thresholds, positive, negative, exact);
  const summary = {};
  const majoring = (p, n, average) => prAucBound(p, n, "majoring", average);
  const minoring = (p, n, average) => prAucBound(p, n, "minoring", average);
  for (const [name, fn] of [
    ["roc_auc", rocAuc], ["average_precision", averagePrecision], ["pr_auc", prAuc],
    ["pr_auc_majoring", majoring], ["pr_auc_minoring", minoring],
  ]) {
    summary[name] = {
      per_class: fn(positive, negative),
      micro: fn(aligned.positive, aligned.negative, "micro"),
      macro: fn(positive, negative, "macro"),
      weighted: fn(positive, negative, "weighted"),
    };
  }
  summary.best_f1 = {};
  summary.best_f1_threshold = {};
  for (const average of [null, ...AVERAGES]) {
    const point = average == null
      ? bestFbetaThreshold(positive, negative, thresholds, 1, null)
      : bestFbetaThreshold(aligned.positive, aligned.negative, aligned.axis, 1, average);
    summary.best_f1[average ?? "per_class"] = point.value;
    summary.best_f1_threshold[average ?? "per_class"] = point.threshold;
  }
  return summary;
}

/**
 * accuracy, mean_iou, kappa, kappa_linear, kappa_quadratic ({value}) and per-class iou ({per_class})
 * of a confusion matrix.
 * @param {ArrayLike<number>} matrix flat C×C
 * @param {number} numClasses
 */
export function confusionMatrixSummary(matrix, numClasses) {
  const metrics = matrixMetrics(matrix, numClasses);
  return {
    accuracy: { value: metrics.accuracy },
    mean_iou: { value: metrics.mean_iou },
    kappa: { value: metrics.kappa },
    kappa_linear: { value: metrics.kappa_linear },
    kappa_quadratic: { value: metrics.kappa_quadratic },
    iou: { per_class: metrics.iou },
  };
}
