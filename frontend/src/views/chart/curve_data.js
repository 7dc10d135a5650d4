/**
 * What views draw from a model curve (a class or an average): curve points by stored threshold,
 * operating points, metrics at every threshold, and CSV rows.
 */
import * as core from "../../core.js";

/** What has been derived from each curve, by name (a curve's counts never change once built). */
const derivedByCurve = new WeakMap();

/**
 * `compute()` for `curve` and `key`, computed once per curve object and kept with it. The view
 * model keeps a curve per (run, tag, step, class), so whatever a view draws from it (a ROC curve,
 * an area, metrics at every threshold) is computed once per epoch and class, not on every rebuild;
 * going back to an epoch or class shown before costs no arithmetic.
 */
export function derived(curve, key, compute) {
  let values = derivedByCurve.get(curve);
  if (!values) {
    values = new Map();
    derivedByCurve.set(curve, values);
  }
  if (!values.has(key)) values.set(key, compute());
  return values.get(key);
}

/**
 * For a curve of T + 2 points as the core returns them (+∞ end, t_{T−1} … t_0, −∞ end), the
 * index in the stored thresholds of each point (−1 for the two ends).
 */
export function curveGridIndex(numThresholds) {
  const gridIndex = new Int32Array(numThresholds + 2).fill(-1);
  for (let i = 1; i <= numThresholds; i++) gridIndex[i] = numThresholds - i;
  return gridIndex;
}

/**
 * The curve point (see `curveGridIndex`) of the operating point at `threshold`: the stored
 * threshold the core picks for it (`thresholdIndex` with `exact`, as the readout does; for an exact
 * curve below every score, the "everything positive" end); −1 when there is none.
 */
export function curvePointAt(thresholds, threshold, exact = false) {
  const index = core.thresholdIndex(thresholds, threshold, exact);
  return index < 0 && !exact ? -1 : thresholds.length - index;
}

/**
 * CSV rows, one per run and stored threshold (ascending): [run, ...cells(r, j), TP, FP, TN, FN] for
 * run r at threshold index j.
 */
export function thresholdRows(curves, cells) {
  const rows = [];
  curves.forEach((curve, r) => {
    for (let j = 0; j < curve.thresholds.length; j++) {
      rows.push([curve.run, ...cells(r, j), curve.tp[j], curve.fp[j], curve.tn[j], curve.fn[j]]);
    }
  });
  return rows;
}

/**
 * CSV rows of curve points, one per run and stored threshold (ascending):
 * [run, ...perRun(r), threshold, x, y, TP, FP, TN, FN] with x, y the curve's coordinates there
 * (`series[r]` holds the T + 2 points as the core returns them; see `curveGridIndex`).
 */
export function curveRows(curves, series, perRun) {
  return thresholdRows(curves, (r, j) => {
    const i = curves[r].thresholds.length - j;
    return [...perRun(r), curves[r].thresholds[j], series[r].x[i], series[r].y[i]];
  });
}

/**
 * The curves `isDefined` holds for, and the names of the runs it does not (a ROC curve needs
 * positives and negatives, for instance): `{defined, skippedRuns}`.
 */
export function splitDefined(curves, isDefined) {
  const defined = curves.filter(isDefined);
  const skippedRuns = curves.filter((curve) => !defined.includes(curve)).map((curve) => curve.run);
  return { defined, skippedRuns };
}

/** True when a curve has both positives and negatives (ROC, DET and calibration need both). */
export function hasBothClasses(curve) {
  return curve.positives > 0 && curve.negatives > 0;
}

/**
 * precision, recall, F1, specificity, accuracy, MCC, … at every stored threshold of one curve: of
 * its counts for a class or the micro average, the class mean for a macro / weighted average.
 */
export function metricsAtThresholds(curve) {
  return derived(curve, "metricsAtThresholds", () => {
    if (curve.average === "macro" || curve.average === "weighted") {
      const { tp, fp, tn, fn } = core.confusionAtThresholds(curve.positiveHistograms, curve.negativeHistograms);
      return core.averageThresholdMetrics(tp, fp, tn, fn, curve.average);
    }
    return core.thresholdMetrics(curve.tp, curve.fp, curve.tn, curve.fn);
  });
}

/**
 * `metricsAtThresholds` of "everything positive" (TP = P, FP = N), where an exact curve is below
 * its lowest score: one number per metric.
 */
export function allPositiveMetrics(curve) {
  return derived(curve, "allPositiveMetrics", () => allPositiveMetricsOf(curve));
}

function allPositiveMetricsOf(curve) {
  if (curve.average === "macro" || curve.average === "weighted") {
    const column = (key) => curve.classes.map((row) => [key === "tp" ? sumOf(row.positive) : key === "fp" ? sumOf(row.negative) : 0]);
    const averaged = core.averageThresholdMetrics(column("tp"), column("fp"), column("tn"), column("fn"), curve.average);
    return Object.fromEntries(Object.entries(averaged).map(([name, values]) => [name, values[0]]));
  }
  return core.thresholdMetrics(curve.positives, curve.negatives, 0, 0);
}

function sumOf(values) {
  let total = 0;
  for (let k = 0; k < values.length; k++) total += values[k];
  return total;
}

/** The arguments the core's curve and area functions take for a model curve (class or average). */
export function histogramArgs(curve) {
  return [curve.positiveHistograms ?? curve.positiveHistogram, curve.negativeHistograms ?? curve.negativeHistogram];
}

/** True when the curve's counts are real counts (a class, or the micro pool), not averaged rates. */
export function hasExactCounts(curve) {
  return !curve.average || curve.average === "micro";
}
