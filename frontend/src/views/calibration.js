/**
 * Calibration: the reliability diagram (observed fraction of positives against the mean predicted
 * score, in ten score bins) of each selected run, with its expected calibration error in the
 * legend, the diagonal of perfect calibration and the current threshold as a vertical line.
 *
 * It reads the score histograms, so it is meaningful when the scores are probabilities of the
 * class shown (a sigmoid output, or one class of a softmax, one-vs-rest).
 */
import * as core from "../core.js";
import { toCsv } from "../export.js";
import {
  createChartView, curveCursor, drawVerticalLine, formatCount, formatNumber, formatThreshold, hasBothClasses,
  hasExactCounts, hoveredCurvePoint, mode2Points, NO_CURVES_TEXT, runHeaderHtml, runsLayoutKey, splitDefined,
  unitAxes,
} from "./chart_common.js";

const NUM_BINS = 10;

/** Creates the calibration view in `container`. */
export function createCalibrationView(container) {
  const chart = createChartView(container, {
    testid: "view-calibration", title: "Calibration", rebuild, paintOverlay, exportCsv,
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
    diagrams = curves.map((curve) =>
      core.reliabilityDiagram(curve.positiveHistogram, curve.negativeHistogram, curve.thresholds, NUM_BINS),
    );
    errors = curves.map((curve) =>
      core.expectedCalibrationError(curve.positiveHistogram, curve.negativeHistogram, curve.thresholds, NUM_BINS),
    );
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

  function exportCsv() {
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
    return toCsv(header, rows);
  }

  return chart.view;
}
