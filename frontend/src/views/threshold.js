/**
 * Metrics against the threshold: precision, recall, F1, specificity, accuracy and MCC at every
 * stored threshold for each selected run, with a cursor at the current threshold that the user can
 * drag. One run: a colour per metric; several runs: each run's colour, a dash pattern per metric.
 */
import * as core from "../core.js";
import { toCsv } from "../export.js";
import {
  addToggle, axis, changedAny, CHART_HEIGHT, createOverlay, createPlotHolder, createViewRoot, drawMarker,
  drawVerticalLine, exportChartPng, formatCount, formatNumber, formatThreshold, logitScale,
  metricsAtThresholds, mostlyConfident, occupiedScoreRange, probabilityAxis, REBUILD_KEYS, renderLegend,
  runsLayoutKey, runsTableHtml, themeOf, THEMES, thresholdDragPlugin, tickValues, tooltipPlugin, uPlot,
} from "./chart_common.js";

/** The metrics drawn, in legend order, with their colour when a single run is shown. */
const METRICS = [
  { name: "precision", label: "precision", color: "#0077bb", dash: [] },
  { name: "recall", label: "recall", color: "#ee7733", dash: [8, 3] },
  { name: "f1", label: "F1", color: "#009988", dash: [2, 2] },
  { name: "specificity", label: "specificity", color: "#cc3311", dash: [8, 3, 2, 3] },
  { name: "accuracy", label: "accuracy", color: "#33bbee", dash: [4, 4] },
  { name: "mcc", label: "MCC", color: "#ee3377", dash: [12, 4] },
];

/** True when every run's grid is the same array of thresholds (the default grid): no join needed. */
function sameGrids(curves) {
  const first = curves[0].thresholds;
  return curves.every(
    ({ thresholds }) => thresholds.length === first.length && thresholds.every((t, j) => t === first[j]),
  );
}

/** Creates the metric-vs-threshold view in `container`. */
export function createThresholdView(container) {
  const dom = createViewRoot(container, "view-threshold", "Metrics vs threshold");
  const holder = createPlotHolder(dom.plot);
  let theme = THEMES.light;
  let curves = [];
  let metricValues = []; // per run: {precision: Float64Array(T), ...}
  let legendItems = [];
  let threshold = 0.5;
  let overlay = null;
  let model = null;
  let logitAxis = false;
  let logitRange = [0, 1];
  let yLow = 0;
  const shown = Object.fromEntries(METRICS.map((metric) => [metric.name, true]));
  const getTheme = () => theme;

  const seriesIndex = (r, m) => 1 + r * METRICS.length + m;
  const colorOf = (r, m) => (curves.length === 1 ? METRICS[m].color : curves[r].color);

  function toggleMetric(m) {
    const metric = METRICS[m];
    shown[metric.name] = !shown[metric.name];
    const u = holder.plot;
    if (u) u.batch(() => curves.forEach((_, r) => u.setSeries(seriesIndex(r, m), { show: shown[metric.name] })));
    renderMetricLegend();
    drawCursor();
  }
  // Until the user picks, the axis is logit for confident models (see `mostlyConfident`).
  let userPickedAxis = false;
  const logitToggle = addToggle(dom.controls, "logit axis", false, (checked) => {
    userPickedAxis = true;
    logitAxis = checked;
    if (model) rebuild(model);
    drawCursor();
  });

  function tooltip(u) {
    const idx = u.cursor.idx;
    if (idx == null) return null;
    const x = u.data[0][idx];
    const j = curves.map((curve) => core.thresholdIndex(curve.thresholds, x));
    const rows = [
      ["threshold", (r) => formatThreshold(curves[r].thresholds[j[r]])],
      ...METRICS.filter((metric) => shown[metric.name])
        .map((metric) => [metric.label, (r) => formatNumber(metricValues[r][metric.name][j[r]])]),
      ...["tp", "fp", "tn", "fn"].map((key) => [key.toUpperCase(), (r) => formatCount(curves[r][key][j[r]])]),
    ];
    return runsTableHtml(curves, rows);
  }

  function options(width) {
    overlay = createOverlay();
    return {
      width,
      height: CHART_HEIGHT,
      legend: { show: false },
      padding: [8, 16, 0, 0],
      scales: {
        // The range function reads the current range, so new data only needs setData.
        x: logitAxis ? logitScale(() => logitRange) : { time: false, range: [0, 1] },
        y: { range: () => [yLow, 1.02] },
      },
      axes: [
        axis(getTheme, logitAxis
          ? probabilityAxis("Threshold (logit axis)")
          : { label: "Threshold", values: tickValues }),
        axis(getTheme, { values: tickValues, size: 44 }),
      ],
      series: [
        { label: "threshold" },
        ...curves.flatMap((curve, r) =>
          METRICS.map((metric, m) => ({
            label: `${curve.run} ${metric.label}`,
            stroke: colorOf(r, m),
            width: metric.name === "f1" ? 2 : 1.5,
            dash: curves.length === 1 ? [] : metric.dash,
            show: shown[metric.name],
            points: { show: false },
          })),
        ),
      ],
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      plugins: [
        overlay.plugin,
        tooltipPlugin(tooltip, getTheme),
        thresholdDragPlugin(() => curves[0] && curves[0].thresholds, (t) => model.setState({ threshold: t })),
      ],
    };
  }

  function drawCursor() {
    if (!overlay) return;
    overlay.draw((ctx, u) => {
      drawVerticalLine(ctx, u, u.valToPos(threshold, "x"), theme.accent, 1.5);
      curves.forEach((curve, r) => {
        const j = core.thresholdIndex(curve.thresholds, threshold);
        if (j < 0) return;
        const x = u.valToPos(curve.thresholds[j], "x");
        METRICS.forEach((metric, m) => {
          if (!shown[metric.name]) return;
          drawMarker(ctx, x, u.valToPos(metricValues[r][metric.name][j], "y"), colorOf(r, m), theme, 3.5);
        });
      });
    });
  }

  function renderMetricLegend() {
    const metricItems = METRICS.map((metric, m) => ({
      color: curves.length === 1 ? metric.color : theme.text,
      dash: curves.length === 1 ? [] : metric.dash,
      text: metric.label,
      off: !shown[metric.name],
      onClick: () => toggleMetric(m),
    }));
    const runItems = curves.length === 1 ? [] : curves.map((curve) => ({ color: curve.color, text: curve.run }));
    renderLegend(dom.legend, [...runItems, ...metricItems]);
    // The PNG legend lists what is drawn.
    legendItems = [...runItems, ...metricItems.filter((item) => !item.off)];
  }

  function rebuild(nextModel) {
    curves = nextModel.curves || [];
    if (!userPickedAxis) {
      logitAxis = mostlyConfident(curves);
      logitToggle.checked = logitAxis;
    }
    dom.message.textContent = curves.length ? "" : "No threshold curves for the selected runs.";
    if (!curves.length) {
      holder.clear();
      overlay = null;
      renderMetricLegend();
      return;
    }
    metricValues = curves.map((curve) => metricsAtThresholds(curve));
    logitRange = occupiedScoreRange(curves);
    // MCC is the one metric below 0: show [−1, 1] only when it goes there.
    yLow = metricValues.some((values) => values.mcc.some((v) => v < 0)) ? -1 : 0;
    renderMetricLegend();
    const tables = curves.map((curve, r) => [curve.thresholds, ...METRICS.map((metric) => metricValues[r][metric.name])]);
    const data = sameGrids(curves) ? [curves[0].thresholds, ...tables.flatMap((table) => table.slice(1))] : uPlot.join(tables);
    const layout = `${logitAxis}|${runsLayoutKey(curves)}`;
    holder.show(layout, options, data);
  }

  return {
    update(nextModel, changedKeys) {
      model = nextModel;
      theme = themeOf(model.state);
      threshold = model.state.threshold;
      if (changedAny(changedKeys, REBUILD_KEYS) || model.curves !== holder.source) {
        holder.source = model.curves;
        rebuild(model);
      }
      drawCursor();
    },
    exportCsv() {
      const header = ["run", "threshold", ...METRICS.map((metric) => metric.name), "tp", "fp", "tn", "fn"];
      const rows = [];
      curves.forEach((curve, r) => {
        for (let j = 0; j < curve.thresholds.length; j++) {
          rows.push([
            curve.run, curve.thresholds[j], ...METRICS.map((metric) => metricValues[r][metric.name][j]),
            curve.tp[j], curve.fp[j], curve.tn[j], curve.fn[j],
          ]);
        }
      });
      return toCsv(header, rows);
    },
    exportPng() {
      return exportChartPng(holder.plot, overlay && overlay.canvas, theme, "Metrics vs threshold", legendItems);
    },
    destroy() {
      holder.destroy();
      dom.root.remove();
    },
  };
}
