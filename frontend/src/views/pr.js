/**
 * The precision–recall view: one curve per selected run with its average precision and its PR-AUC
 * (Keras' interpolation, between Keras' minoring and majoring sums) in the legend,
 * iso-F1 lines, each run's prevalence baseline (a random classifier's precision) and its operating
 * point at the current threshold.
 */
import uPlot from "uplot";
import * as core from "../core.js";
import { countAt } from "../view_model.js";
import { unitAxes } from "./chart/axes.js";
import { histogramArgs } from "./chart/curve_data.js";
import { createCurveView } from "./chart/curve_view.js";
import { formatNumber } from "./chart/format.js";
import { FONT_FAMILY } from "./chart/theme.js";

const ISO_F1_LEVELS = [0.2, 0.4, 0.6, 0.8];
const ISO_F1_POINTS = 60;

/** Points of the iso-F1 line F1 = f: precision = f·r / (2r − f) for recall r in (f/2, 1]. */
function isoF1Line(f) {
  const recall = new Float64Array(ISO_F1_POINTS);
  const precision = new Float64Array(ISO_F1_POINTS);
  // Start where precision reaches 1 (r = f / (2 − f)); below that the line leaves the plot.
  const start = f / (2 - f);
  for (let i = 0; i < ISO_F1_POINTS; i++) {
    const r = start + ((1 - start) * i) / (ISO_F1_POINTS - 1);
    recall[i] = r;
    precision[i] = (f * r) / (2 * r - f);
  }
  return [recall, precision];
}
const ISO_F1_LINES = ISO_F1_LEVELS.map(isoF1Line);

/**
 * Labels "F1=f" at the right end of each iso-F1 line, drawn after the curves on a plate of the
 * background colour, so that no curve or prevalence line runs through them.
 */
function isoF1LabelPlugin(getTheme) {
  return {
    hooks: {
      draw: (u) => {
        const { ctx } = u;
        const ratio = uPlot.pxRatio;
        const theme = getTheme();
        ctx.save();
        ctx.font = `${Math.round(10 * ratio)}px ${FONT_FAMILY}`;
        ctx.textAlign = "right";
        ctx.textBaseline = "bottom";
        const pad = 2 * ratio;
        const height = 11 * ratio;
        ISO_F1_LINES.forEach(([recall, precision], k) => {
          const last = recall.length - 1;
          const x = u.valToPos(recall[last], "x", true) - 3 * ratio;
          const y = u.valToPos(precision[last], "y", true) - 2 * ratio;
          const text = `F1=${ISO_F1_LEVELS[k]}`;
          const width = ctx.measureText(text).width;
          ctx.fillStyle = theme.background;
          ctx.fillRect(x - width - pad, y - height - pad / 2, width + 2 * pad, height + pad);
          ctx.fillStyle = theme.faint;
          ctx.fillText(text, x, y);
        });
        ctx.restore();
      },
    },
  };
}

/** The share of positives: a random classifier's precision, the PR curve's baseline. */
function prevalence(curve) {
  return curve.positives / (curve.positives + curve.negatives);
}

/** Creates the precision–recall view in `container`. */
export function createPrView(container) {
  return createCurveView(container, {
    testid: "view-pr",
    title: "Precision–recall",
    isDefined: (curve) => curve.positives > 0,
    undefinedText: "Precision–recall is undefined without positives",
    points(curve) {
      const { precision, recall } = core.prCurve(...histogramArgs(curve), curve.thresholds, curve.average);
      return { x: recall, y: precision };
    },
    x: { name: "recall", column: "recall" },
    y: { name: "precision", column: "precision" },
    // The metric's precision (0 when nothing is predicted positive), not the curve's end point.
    operatingPoint(curve, { x, y }, i) {
      // The stored threshold of point i (see curveGridIndex); −1 is an exact curve's "everything positive".
      const j = curve.thresholds.length - i;
      return [x[i], countAt(curve, "tp", j) + countAt(curve, "fp", j) === 0 ? 0 : y[i]];
    },
    plotAxes: (getTheme) => unitAxes(getTheme, "Recall", "Precision", 1.02),
    perRun: {
      columns: ["average_precision", "prevalence", "pr_auc", "pr_auc_minoring", "pr_auc_majoring"],
      values: (curve) => {
        const args = [...histogramArgs(curve)];
        return [
          core.averagePrecision(...args, curve.average), prevalence(curve), core.prAuc(...args, curve.average),
          core.prAucBound(...args, "minoring", curve.average), core.prAucBound(...args, "majoring", curve.average),
        ];
      },
      // PR-AUC (Keras' interpolation) between Keras' minoring and majoring Riemann sums.
      legendText: (curve, [averagePrecision, , prAuc, minoring, majoring]) =>
        `${curve.run}  AP ${formatNumber(averagePrecision)} · PR-AUC ${formatNumber(prAuc)} (bounds ${formatNumber(minoring, 3)}–${formatNumber(majoring, 3)})`,
    },
    references: {
      // Each run's dashed prevalence line: the precision of a classifier that guesses.
      legend: (theme, curves) => [
        ...curves.map((curve) => ({
          color: curve.color, dash: [6, 4], text: `${curves.length > 1 ? `${curve.run} ` : ""}prevalence ${formatNumber(prevalence(curve), 3)}`,
        })),
        { color: theme.faint, text: "iso-F1", dash: true },
      ],
      series: (getTheme, curves) => [
        ...curves.map((curve) => ({
          label: `${curve.run} prevalence`, stroke: curve.color, width: 1, dash: [6, 4], points: { show: false },
        })),
        ...ISO_F1_LEVELS.map((f) => ({
          label: `F1 = ${f}`, dash: [2, 3], stroke: () => getTheme().faint, width: 1, points: { show: false },
        })),
      ],
      data: (curves) => [
        ...curves.map((curve) => [[0, 1], [prevalence(curve), prevalence(curve)]]),
        ...ISO_F1_LINES,
      ],
      plugins: (getTheme) => [isoF1LabelPlugin(getTheme)],
    },
  });
}
