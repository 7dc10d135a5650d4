/**
 * Calibration: the reliability diagram (observed fraction of positives against the mean predicted
 * score, in ten score bins) of each selected run, with its expected calibration error in the
 * legend, the diagonal of perfect calibration and the current threshold as a vertical line.
 *
 * It reads the score histograms, so it is meaningful when the scores are probabilities of the
 * class shown (a sigmoid output, or one class of a softmax, one-vs-rest).
 *
 * An exact curve (format v2: its thresholds are the distinct scores) is binned by its scores, as
 * scikit-learn's calibration_curve does; a grid curve by the stored thresholds nearest to the edges.
 */
import * as core from "../core.js";
import { table } from "../export.js";
import { unitAxes } from "./chart/axes.js";
import { createChartView, NO_CURVES_TEXT } from "./chart/chart_view.js";
import { derived, hasBothClasses, hasExactCounts, splitDefined } from "./chart/curve_data.js";
import { formatCount, formatNumber, formatThreshold } from "./chart/format.js";
import { mode2Points, runsLayoutKey } from "./chart/frame.js";
import { curveCursor, hoveredCurvePoint } from "./chart/hover.js";
import { drawVerticalLine } from "./chart/overlay.js";
import { runHeaderHtml } from "./chart/tooltip_html.js";

const NUM_BINS = 10;

/**
 * Reliability diagram of an exact curve: its distinct scores in `numBins` equal bins of [0, 1], a
 * score on an inner edge i/numBins going to the lower bin (scikit-learn's calibration_curve,
 * strategy="uniform"); per bin, count = Σ(pos+neg), fraction_positive = Σpos / count and
 * mean_predicted = Σ(pos+neg)·score / count, so that for unweighted items (fraction_positive,
 * mean_predicted) are calibration_curve's (prob_true, prob_pred). Empty bins are left out.
 * @param {ArrayLike<number>} scores the distinct scores, increasing
 * @param {ArrayLike<number>} positive positives' weight at each score (extra entries ignored)
 * @param {ArrayLike<number>} negative negatives' weight at each score
 * @returns {{lower, upper, mean_predicted, fraction_positive, count}} Float64Array each
 */
export function exactReliabilityDiagram(scores, positive, negative, numBins = NUM_BINS) {
  const step = 1 / numBins; // numpy.linspace(0, 1, numBins + 1) has the edges i·step
  const count = new Float64Array(numBins);
  const positives = new Float64Array(numBins);
  const weightedScores = new Float64Array(numBins);
  let bin = 0;
  for (let k = 0; k < scores.length; k++) {
    while (bin < numBins - 1 && (bin + 1) * step < scores[k]) bin++;
    const weight = positive[k] + negative[k];
    count[bin] += weight;
    positives[bin] += positive[k];
    weightedScores[bin] += weight * scores[k];
  }
  const kept = [];
  for (let b = 0; b < numBins; b++) if (count[b] > 0) kept.push(b);
  return {
    lower: Float64Array.from(kept, (b) => b * step),
    upper: Float64Array.from(kept, (b) => (b === numBins - 1 ? 1 : (b + 1) * step)),
    mean_predicted: Float64Array.from(kept, (b) => weightedScores[b] / count[b]),
    fraction_positive: Float64Array.from(kept, (b) => positives[b] / count[b]),
    count: Float64Array.from(kept, (b) => count[b]),
  };
}

/** ECE = Σ_b (count_b / n)·|fraction_positive_b − mean_predicted_b| of a diagram; NaN when empty. */
function calibrationError(diagram) {
  let total = 0;
  let weighted = 0;
  for (let b = 0; b < diagram.count.length; b++) {
    total += diagram.count[b];
    weighted += diagram.count[b] * Math.abs(diagram.fraction_positive[b] - diagram.mean_predicted[b]);
  }
  return total > 0 ? weighted / total : NaN;
}

/** Creates the calibration view in `container`. */
export function createCalibrationView(container) {
  const chart = createChartView(container, {
    testid: "view-calibration", title: "Calibration", rebuild, paintOverlay, exportTable,
  });
  let curves = [];
  let diagrams = [];
  let errors = [];

  function tooltip(u) {
    const hovered = hoveredCurvePoint(u, curves.length);
    if (!hovered) return null;
    const { r, i: b } = hovered;
    const diagram = diagrams[r];
    const row = (name, value) => `<tr><td>${name}</td><td>${value}</td></tr>`;
    return (
      runHeaderHtml(curves[r].run, curves[r].color) +
      `<table>${row("scores", `${formatThreshold(diagram.lower[b])} – ${formatThreshold(diagram.upper[b])}`)}` +
      row("mean predicted", formatNumber(diagram.mean_predicted[b])) +
      row("fraction positive", formatNumber(diagram.fraction_positive[b])) +
      row(hasExactCounts(curves[r]) ? "count" : "count (class mean)", formatCount(diagram.count[b])) +
      "</table>"
    );
  }

  function options(width) {
    const { getTheme } = chart;
    return chart.options(width, tooltip, {
      mode: 2,
      ...unitAxes(getTheme, "Mean predicted score", "Fraction of positives"),
      series: [
        {},
        ...curves.map((curve) => ({
          label: curve.run, stroke: curve.color, width: 2,
          points: mode2Points(curve.color),
        })),
        {
          label: "perfectly calibrated", stroke: () => getTheme().reference, width: 1, dash: [4, 4],
          points: { show: false },
        },
      ],
      cursor: curveCursor(getTheme, curves.length, { x: false, y: false }),
    });
  }

  function paintOverlay(ctx, u) {
    drawVerticalLine(ctx, u, u.valToPos(chart.threshold, "x"), chart.theme.accent, 1.5, [3, 3]);
  }

  function rebuild(model) {
    const all = model.curves || [];
    // Calibration compares predicted scores with observed frequencies: it needs both classes.
    const { defined, skippedRuns } = splitDefined(all, hasBothClasses);
    curves = defined;
    const notes = [];
    if (!all.length) notes.push(NO_CURVES_TEXT);
    if (skippedRuns.length) notes.push(`Calibration needs positives and negatives: ${skippedRuns.join(", ")} left out.`);
    // An average has no scores of its own: the classes' one-vs-rest scores are pooled.
    if (curves.some((curve) => curve.average)) notes.push("Scores of all classes pooled (one-vs-rest).");
    chart.dom.message.textContent = notes.join(" ");
    if (!curves.length) {
      chart.clear();
      return;
    }
    diagrams = curves.map((curve) => derived(curve, "reliability diagram", () => (curve.exact
      ? exactReliabilityDiagram(curve.thresholds, curve.positiveHistogram, curve.negativeHistogram, NUM_BINS)
      : core.reliabilityDiagram(curve.positiveHistogram, curve.negativeHistogram, curve.thresholds, NUM_BINS))));
    // The core's expectedCalibrationError formula, on either kind of diagram.
    errors = diagrams.map(calibrationError);
    chart.setLegend([
      ...curves.map((curve, r) => ({ color: curve.color, text: `${curve.run}  ECE ${formatNumber(errors[r])}` })),
      { color: chart.theme.reference, text: "perfectly calibrated", dash: true },
    ]);
    const data = [
      null,
      ...diagrams.map((diagram) => [Array.from(diagram.mean_predicted), Array.from(diagram.fraction_positive)]),
      [[0, 1], [0, 1]],
    ];
    chart.holder.show(runsLayoutKey(curves), options, data);
  }

  function exportTable() {
    const header = ["run", "ece", "bin_lower", "bin_upper", "mean_predicted", "fraction_positive", "count"];
    const rows = [];
    curves.forEach((curve, r) => {
      const diagram = diagrams[r];
      for (let b = 0; b < diagram.count.length; b++) {
        rows.push([
          curve.run, errors[r], diagram.lower[b], diagram.upper[b], diagram.mean_predicted[b],
          diagram.fraction_positive[b], diagram.count[b],
        ]);
      }
    });
    return table(header, rows);
  }

  return chart.view;
}
