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
  axis, changedAny, CHART_HEIGHT, closestHoveredSeries, createOverlay, createPlotHolder, createViewRoot,
  drawVerticalLine, exportChartPng, formatCount, formatNumber, formatThreshold, hasExactCounts, hoverPoints, mode2Points,
  nearestPointDataIdx, REBUILD_KEYS, renderLegend, runHeaderHtml, runsLayoutKey, themeOf, THEMES,
  tickValues, tooltipPlugin,
} from "./chart_common.js";

const NUM_BINS = 10;

/** Creates the calibration view in `container`. */
export function createCalibrationView(container) {
  const dom = createViewRoot(container, "view-calibration", "Calibration");
  const holder = createPlotHolder(dom.plot);
  let theme = THEMES.light;
  let curves = [];
  let diagrams = [];
  let errors = [];
  let legendItems = [];
  let threshold = 0.5;
  let overlay = null;
  const getTheme = () => theme;

  function tooltip(u) {
    const s = closestHoveredSeries(u);
    if (s == null || s > curves.length) return null;
    const diagram = diagrams[s - 1];
    const b = u.cursor.idxs[s];
    const row = (name, value) => `<tr><td>${name}</td><td>${value}</td></tr>`;
    return (
      runHeaderHtml(curves[s - 1].run, curves[s - 1].color) +
      `<table>${row("scores", `${formatThreshold(diagram.lower[b])} – ${formatThreshold(diagram.upper[b])}`)}` +
      row("mean predicted", formatNumber(diagram.mean_predicted[b])) +
      row("fraction positive", formatNumber(diagram.fraction_positive[b])) +
      row(hasExactCounts(curves[s - 1]) ? "count" : "count (class mean)", formatCount(diagram.count[b])) +
      "</table>"
    );
  }

  function options(width) {
    overlay = createOverlay();
    return {
      mode: 2,
      width,
      height: CHART_HEIGHT,
      legend: { show: false },
      padding: [8, 16, 0, 0],
      scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
      axes: [
        axis(getTheme, { label: "Mean predicted score", values: tickValues }),
        axis(getTheme, { label: "Fraction of positives", values: tickValues, size: 44 }),
      ],
      series: [
        {},
        ...curves.map((curve) => ({
          label: curve.run, stroke: curve.color, width: 2,
          points: mode2Points(curve.color),
        })),
        { label: "perfectly calibrated", stroke: () => theme.reference, width: 1, dash: [4, 4], points: { show: false } },
      ],
      cursor: {
        dataIdx: nearestPointDataIdx((s) => s <= curves.length),
        points: hoverPoints(getTheme),
        drag: { x: false, y: false },
      },
      plugins: [overlay.plugin, tooltipPlugin(tooltip, getTheme)],
    };
  }

  function drawThreshold() {
    if (!overlay) return;
    overlay.draw((ctx, u) => drawVerticalLine(ctx, u, u.valToPos(threshold, "x"), theme.accent, 1.5, [3, 3]));
  }

  function rebuild(model) {
    const all = model.curves || [];
    // Calibration compares predicted scores with observed frequencies: it needs both classes.
    curves = all.filter((curve) => curve.positives > 0 && curve.negatives > 0);
    const skipped = all.filter((curve) => !curves.includes(curve)).map((curve) => curve.run);
    const notes = [];
    if (!all.length) notes.push("No threshold curves for the selected runs.");
    if (skipped.length) notes.push(`Calibration needs positives and negatives: ${skipped.join(", ")} left out.`);
    // An average has no scores of its own: the classes' one-vs-rest scores are pooled.
    if (curves.some((curve) => curve.average)) notes.push("Scores of all classes pooled (one-vs-rest).");
    dom.message.textContent = notes.join(" ");
    if (!curves.length) {
      holder.clear();
      overlay = null;
      legendItems = [];
      renderLegend(dom.legend, legendItems);
      return;
    }
    diagrams = curves.map((curve) =>
      core.reliabilityDiagram(curve.positiveHistogram, curve.negativeHistogram, curve.thresholds, NUM_BINS),
    );
    errors = curves.map((curve) =>
      core.expectedCalibrationError(curve.positiveHistogram, curve.negativeHistogram, curve.thresholds, NUM_BINS),
    );
    legendItems = curves.map((curve, r) => ({ color: curve.color, text: `${curve.run}  ECE ${formatNumber(errors[r])}` }));
    legendItems.push({ color: theme.reference, text: "perfectly calibrated", dash: true });
    renderLegend(dom.legend, legendItems);
    const data = [
      null,
      ...diagrams.map((diagram) => [Array.from(diagram.mean_predicted), Array.from(diagram.fraction_positive)]),
      [[0, 1], [0, 1]],
    ];
    holder.show(runsLayoutKey(curves), options, data);
  }

  return {
    update(model, changedKeys) {
      theme = themeOf(model.state);
      threshold = model.state.threshold;
      if (changedAny(changedKeys, REBUILD_KEYS) || model.curves !== holder.source) {
        holder.source = model.curves;
        rebuild(model);
      }
      drawThreshold();
    },
    exportCsv() {
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
    },
    exportPng() {
      return exportChartPng(holder.plot, overlay && overlay.canvas, theme, "Calibration", legendItems);
    },
    destroy() {
      holder.destroy();
      dom.root.remove();
    },
  };
}
