/**
 * Chart axes in the TensorBoard look: linear rates and scores, logit scores (with the score axis'
 * "logit axis" toggle) and probit rates (the DET curve).
 */
import { addToggle } from "./frame.js";
import { AXIS_FONT, LABEL_FONT } from "./theme.js";

/**
 * uPlot axis options in the TensorBoard look. Colours are functions of `getTheme()`, so a theme
 * change only needs `u.redraw(false, true)`.
 */
export function axis(getTheme, options = {}) {
  return {
    font: AXIS_FONT,
    labelFont: LABEL_FONT,
    stroke: () => getTheme().text,
    grid: { stroke: () => getTheme().grid, width: 1 },
    ticks: { stroke: () => getTheme().grid, width: 1, size: 4 },
    labelSize: 18,
    labelGap: 2,
    size: 30,
    ...options,
  };
}

/**
 * uPlot `scales` and `axes` of a chart of two quantities on [0, 1] (rates, scores, fractions),
 * labelled `xLabel` and `yLabel`; `yMax` above 1 leaves room for points at 1.
 */
export function unitAxes(getTheme, xLabel, yLabel, yMax = 1) {
  return {
    scales: { x: { time: false, range: [0, 1] }, y: { range: [0, yMax] } },
    axes: [
      axis(getTheme, { label: xLabel, values: tickValues }),
      axis(getTheme, { label: yLabel, values: tickValues, size: 44 }),
    ],
  };
}

/** Numeric axis values with as many decimals as the tick step needs (0.1 → "0.1", not "0.10"). */
export function tickValues(_u, splits, _axisIdx, _space, increment) {
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(increment || 1) + 1e-9)));
  return splits.map((v) => (v == null ? "" : v.toFixed(decimals)));
}


/** Scores closer to 0 or 1 than this are drawn at its logit: float32 scores resolve ~6e-8 near 1. */
const LOGIT_EPSILON = 1e-9;

const PROBABILITY_TICKS = [
  1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1 - 1e-3,
  1 - 1e-4, 1 - 1e-5, 1 - 1e-6, 1 - 1e-7, 1 - 1e-8,
];

/** log(p / (1 − p)) with p clamped to [ε, 1 − ε]: the x position of a score on a logit axis. */
export function logit(p) {
  const clamped = Math.min(1 - LOGIT_EPSILON, Math.max(LOGIT_EPSILON, p));
  return Math.log(clamped / (1 - clamped));
}

/** 1 / (1 + e^−x): the score at logit x. */
export function sigmoid(x) {
  return 1 / (1 + Math.exp(-x));
}

/** A uPlot scale whose positions are logits of the values (custom distribution, fwd/bwd). */
export function logitScale(range) {
  return { time: false, distr: 100, fwd: logit, bwd: sigmoid, range };
}

/**
 * True when most of the curves' scores (weight of positives and negatives) lie within 0.01 of 0 or
 * of 1: a confident model, whose scores a linear score axis squeezes into its two ends.
 */
export function mostlyConfident(curves) {
  let outer = 0;
  let all = 0;
  for (const { thresholds, positiveHistogram, negativeHistogram, exact } of curves) {
    for (let k = 0; k < positiveHistogram.length; k++) {
      const weight = positiveHistogram[k] + negativeHistogram[k];
      all += weight;
      // Bin k holds scores in (t_{k−1}, t_k]; in an exact curve, the score t_k itself.
      const upper = k < thresholds.length ? thresholds[k] : Infinity;
      const lower = exact ? upper : k > 0 ? thresholds[k - 1] : -Infinity;
      if (upper <= 0.01 || lower >= 0.99) outer += weight;
    }
  }
  return all > 0 && outer / all > 0.5;
}

/**
 * The scores from the lower edge of the lowest occupied bin to the upper edge of the highest, over
 * all curves: the span of a logit axis (empty tails out to 1e-9 would squeeze the data).
 */
export function occupiedScoreRange(curves) {
  let from = Infinity;
  let to = -Infinity;
  for (const { thresholds, positiveHistogram, negativeHistogram, exact } of curves) {
    const last = thresholds.length - 1;
    for (let k = 0; k < positiveHistogram.length; k++) {
      if (!(positiveHistogram[k] > 0 || negativeHistogram[k] > 0)) continue;
      // An exact curve's bin k is the score t_k; a grid bin spans (t_{k−1}, t_k].
      from = Math.min(from, thresholds[Math.max(0, exact ? Math.min(last, k) : k - 1)]);
      to = Math.max(to, thresholds[Math.min(last, k)]);
    }
  }
  return from < to ? [from, to] : [0, 1];
}

/** Tick values for a probability axis drawn in logit (or probit) space: 0.01, 0.1, 0.5, 0.9, … */
function probabilitySplits(u, axisIdx, scaleMin, scaleMax) {
  const key = u.axes[axisIdx].scale;
  const width = Math.abs(u.valToPos(scaleMax, key) - u.valToPos(scaleMin, key));
  const inRange = PROBABILITY_TICKS.filter((p) => p >= scaleMin && p <= scaleMax);
  // Keep ticks at least 36 px apart, preferring the round ones near 0.5.
  const kept = [];
  const order = [...inRange].sort((a, b) => Math.abs(a - 0.5) - Math.abs(b - 0.5));
  for (const p of order) {
    const x = u.valToPos(p, key);
    if (kept.every((q) => Math.abs(u.valToPos(q, key) - x) >= 36) || width === 0) kept.push(p);
  }
  return kept.sort((a, b) => a - b);
}

/**
 * Axis options for a probability axis drawn in logit or probit space. `filter` keeps every split:
 * uPlot's default filter for custom scales (distr ≥ 3 with log base 10) keeps only powers of ten.
 */
export function probabilityAxis(label) {
  return { label, splits: probabilitySplits, values: probabilityValues, filter: (_u, splits) => splits };
}

/** Labels for `probabilitySplits`: "0.001", "0.5", "0.999", "1−1e-6". */
function probabilityValues(_u, splits) {
  return splits.map((p) => {
    if (p == null) return "";
    if (p > 0.999 && p < 1) return `1−${(1 - p).toExponential(0)}`;
    if (p < 1e-3 && p > 0) return p.toExponential(0);
    return String(Number(p.toPrecision(3)));
  });
}

// Coefficients of Acklam's rational approximation of the normal quantile (relative error < 1.2e-9),
// used only to place rates on a probit axis.
const PROBIT_A = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];

const PROBIT_B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];

const PROBIT_C = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];

const PROBIT_D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];

const PROBIT_TAIL = 0.02425;

/** Rates closer to 0 or 1 than this sit at the edge of a probit axis. */
const PROBIT_EPSILON = 1e-7;

const polynomial = (coefficients, x) => coefficients.reduce((sum, c) => sum * x + c, 0);

/** Φ⁻¹(p), the standard normal quantile, with p clamped to [ε, 1 − ε]: a position on a probit axis. */
export function probit(p) {
  const q = Math.min(1 - PROBIT_EPSILON, Math.max(PROBIT_EPSILON, p));
  if (q < PROBIT_TAIL || q > 1 - PROBIT_TAIL) {
    const r = Math.sqrt(-2 * Math.log(Math.min(q, 1 - q)));
    const tail = polynomial(PROBIT_C, r) / (polynomial(PROBIT_D, r) * r + 1);
    return q < 0.5 ? tail : -tail;
  }
  const r = (q - 0.5) * (q - 0.5);
  return ((q - 0.5) * polynomial(PROBIT_A, r)) / (polynomial(PROBIT_B, r) * r + 1);
}

/** Φ(x), the standard normal CDF (Zelen & Severo 26.2.17, error < 7.5e-8): probit's inverse. */
export function normalCdf(x) {
  const t = 1 / (1 + 0.2316419 * Math.abs(x));
  const density = Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
  const tail = density * polynomial([1.330274429, -1.821255978, 1.781477937, -0.356563782, 0.31938153, 0], t);
  return x >= 0 ? 1 - tail : tail;
}

/** A uPlot scale whose positions are probits of the values (the DET curve's axes). */
export function probitScale(range) {
  return { time: false, distr: 100, fwd: probit, bwd: normalCdf, range };
}

/**
 * The score axis of a chart whose x is the score (metrics vs threshold, score distribution), with
 * its "logit axis" toggle in the view's header: linear on [0, 1], or logit over the occupied scores
 * (`occupiedScoreRange`). Until the user picks, the axis is logit for confident models (see
 * `mostlyConfident`). `label` names the axis ("Threshold", "Score").
 */
export function createScoreAxis(chart, label) {
  let userPicked = false;
  const scoreAxis = {
    logit: false,
    /** The scores the axis spans; a range function reads it, so new data needs only setData. */
    range: [0, 1],
    /** Picks linear or logit for `curves` (unless the user did) and the span of the axis. */
    fit(curves) {
      if (!userPicked) {
        scoreAxis.logit = mostlyConfident(curves);
        toggle.checked = scoreAxis.logit;
      }
      scoreAxis.range = scoreAxis.logit ? occupiedScoreRange(curves) : [0, 1];
    },
    /** Where a score sits along the axis, in the axis' units (score or logit). */
    position: (score) => (scoreAxis.logit ? logit(score) : score),
    /** uPlot options of the x scale. */
    scale: () => (scoreAxis.logit ? logitScale(() => scoreAxis.range) : { time: false, range: [0, 1] }),
    /** uPlot options of the x axis. */
    axis: () => axis(chart.getTheme, scoreAxis.logit
      ? probabilityAxis(`${label} (logit axis)`)
      : { label, values: tickValues }),
  };
  const toggle = addToggle(chart.dom.controls, "logit axis", false, (checked) => {
    userPicked = true;
    scoreAxis.logit = checked;
    chart.rebuild();
  });
  return scoreAxis;
}
