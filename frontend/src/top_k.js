/**
 * Top-k accuracy and top-k precision / recall from the rank counts a confusion matrix's log holds:
 * the browser twin of `tb_metrics_plugin/top_k.py` (same functions in camelCase, same formulas and
 * edge cases), pinned to it by the golden vectors (`frontend/test/core.test.mjs`). No DOM.
 *
 * With R the true ranks (C rows of K + 1) and Q the class ranks (C rows of K) of one step, k in 1 … K:
 *   hits_c = Σ_{r<k} R[c][r], support_c = Σ_r R[c][r], listed_c = Σ_{r<k} Q[c][r];
 *   top_k_accuracy = Σ hits / Σ support (NaN when nothing was counted);
 *   top_k_recall_c = hits_c / support_c, top_k_precision_c = hits_c / listed_c (0 where the
 *   denominator is 0); macro the mean over classes, weighted by support, micro from summed counts.
 * Ties share the better rank (tf.math.in_top_k), see docs/metrics.md.
 */

/** The k shown when none is asked for: 5 (Keras' default), or K when fewer are logged. */
export const DEFAULT_K = 5;

/** K, the number of ranks logged: each true-rank row has K + 1 entries. */
export function loggedDepth(trueRanks) {
  return trueRanks[0].length - 1;
}

/** min(DEFAULT_K, K). */
export function defaultK(trueRanks) {
  return Math.min(DEFAULT_K, loggedDepth(trueRanks));
}

/** `k` after checking it is an integer in 1 … K; throws naming k and K otherwise. */
export function checkK(k, trueRanks) {
  const largest = loggedDepth(trueRanks);
  if (!Number.isInteger(k) || k < 1 || k > largest) {
    throw new Error(`k=${k} must be an integer from 1 to ${largest}: this log holds the ranks 0 … ${largest - 1} (K = min(number of classes, 10)).`);
  }
  return k;
}

function prefixSum(row, k) {
  let sum = 0;
  for (let r = 0; r < k; r++) sum += row[r];
  return sum;
}

function rowSum(row) {
  return prefixSum(row, row.length);
}

/** Σ_c Σ_{r<k} R[c][r] / Σ R; NaN when nothing was counted. */
export function topKAccuracy(trueRanks, k) {
  checkK(k, trueRanks);
  let hits = 0;
  let total = 0;
  for (const row of trueRanks) {
    hits += prefixSum(row, k);
    total += rowSum(row);
  }
  return total > 0 ? hits / total : NaN;
}

/** {top_k_precision, top_k_recall: {per_class: Float64Array(C), macro, micro, weighted}} at k. */
export function topKPrecisionRecall(trueRanks, classRanks, k) {
  checkK(k, trueRanks);
  const numClasses = trueRanks.length;
  const hits = new Float64Array(numClasses);
  const support = new Float64Array(numClasses);
  const listed = new Float64Array(numClasses);
  for (let c = 0; c < numClasses; c++) {
    hits[c] = prefixSum(trueRanks[c], k);
    support[c] = rowSum(trueRanks[c]);
    listed[c] = prefixSum(classRanks[c], k);
  }
  const totalHits = hits.reduce((a, b) => a + b, 0);
  const totalSupport = support.reduce((a, b) => a + b, 0);
  const result = {};
  for (const [name, denominator] of [["top_k_precision", listed], ["top_k_recall", support]]) {
    const perClass = new Float64Array(numClasses);
    let weightedSum = 0;
    for (let c = 0; c < numClasses; c++) {
      perClass[c] = denominator[c] > 0 ? hits[c] / denominator[c] : 0;
      weightedSum += perClass[c] * support[c];
    }
    const denominatorSum = denominator.reduce((a, b) => a + b, 0);
    result[name] = {
      per_class: perClass,
      macro: numClasses ? perClass.reduce((a, b) => a + b, 0) / numClasses : NaN,
      micro: denominatorSum > 0 ? totalHits / denominatorSum : NaN,
      weighted: totalSupport > 0 ? weightedSum / totalSupport : NaN,
    };
  }
  return result;
}

/** {k, top_k_accuracy, top_k_precision, top_k_recall} of one step at k (default `defaultK`); null without ranks. */
export function topKSummary(trueRanks, classRanks, k = null) {
  if (!trueRanks || !classRanks) return null;
  const chosen = k === null || k === undefined ? defaultK(trueRanks) : checkK(k, trueRanks);
  return { k: chosen, top_k_accuracy: topKAccuracy(trueRanks, chosen), ...topKPrecisionRecall(trueRanks, classRanks, chosen) };
}

/**
 * One step's rank rows from the counts route's flat arrays: `trueRanks` (S, C, K + 1) and
 * `classRanks` (S, C, K) as {values, shape}; null when the step (or the tag) has no ranks.
 */
export function stepRanks(counts, stepIndex) {
  if (!counts.true_ranks || !counts.ranked || !counts.ranked.values[stepIndex]) return null;
  const rows = ({ values, shape }) => {
    const [, numClasses, width] = shape;
    const start = stepIndex * numClasses * width;
    return Array.from({ length: numClasses }, (_, c) => values.subarray(start + c * width, start + (c + 1) * width));
  };
  return { trueRanks: rows(counts.true_ranks), classRanks: rows(counts.class_ranks) };
}
