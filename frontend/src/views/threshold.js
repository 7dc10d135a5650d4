/**
 * Metrics against the threshold: precision, recall, F1, specificity, accuracy and MCC at every
 * stored threshold for each selected run, with a cursor at the current threshold that the user can
 * drag. One run: a colour per metric; several runs: each run's colour, a dash pattern per metric.
 */
import uPlot from "uplot";
import { table } from "../export.js";
import { resolveThreshold } from "../view_model.js";
import { axis, createScoreAxis, tickValues } from "./chart/axes.js";
import { createChartView, NO_CURVES_TEXT } from "./chart/chart_view.js";
import { allPositiveMetrics, metricsAtThresholds, thresholdRows } from "./chart/curve_data.js";
import { formatNumber } from "./chart/format.js";
import { runsLayoutKey } from "./chart/frame.js";
import { drawMarker, drawVerticalLine } from "./chart/overlay.js";
import { thresholdDragPlugin } from "./chart/threshold_input.js";
import { countRows, runsTableHtml, thresholdIndices, thresholdRow } from "./chart/tooltip_html.js";

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
  const chart = createChartView(container, {
    testid: "view-threshold", title: "Metrics vs threshold", rebuild, paintOverlay, exportTable,
  });
  const scoreAxis = createScoreAxis(chart, "Threshold");
  let curves = [];
  let metricValues = []; // per run: {precision: Float64Array(T), ...}
  let yLow = 0;
  let allPositive = []; // per run: the metrics where an exact curve is below every score
  const shown = Object.fromEntries(METRICS.map((metric) => [metric.name, true]));
  const steppedPaths = uPlot.paths.stepped({ align: 1 });
  /** Metric `name` of run r at its stored threshold j (−1: everything positive). */
  const metricAt = (r, name, j) => (j >= 0 ? metricValues[r][name][j] : allPositive[r][name]);

  const seriesIndex = (r, m) => 1 + r * METRICS.length + m;
  const colorOf = (r, m) => (curves.length === 1 ? METRICS[m].color : curves[r].color);

  function toggleMetric(m) {
    const metric = METRICS[m];
    shown[metric.name] = !shown[metric.name];
    const u = chart.holder.plot;
    if (u) u.batch(() => curves.forEach((_, r) => u.setSeries(seriesIndex(r, m), { show: shown[metric.name] })));
    renderMetricLegend();
    chart.paint();
  }

  function tooltip(u) {
    const idx = u.cursor.idx;
    if (idx == null) return null;
    const score = u.data[0][idx];
    const j = thresholdIndices(curves, score);
    const rows = [
      thresholdRow(curves, j, score),
      ...METRICS.filter((metric) => shown[metric.name])
        .map((metric) => [metric.label, (r) => formatNumber(metricAt(r, metric.name, j[r]))]),
      ...countRows(curves, j),
    ];
    return runsTableHtml(curves, rows);
  }

  function options(width) {
    return chart.options(width, tooltip, {
      scales: {
        x: scoreAxis.scale(),
        // The range function reads the current range, so new data only needs setData.
        y: { range: () => [yLow, 1.02] },
      },
      axes: [scoreAxis.axis(), axis(chart.getTheme, { values: tickValues, size: 44 })],
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
            // An exact curve's metrics hold from each score up to the next one: steps, not slopes.
            ...(curve.exact ? { paths: steppedPaths } : {}),
          })),
        ),
      ],
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      plugins: [thresholdDragPlugin(() => curves[0], chart.setThreshold)],
    });
  }

  function paintOverlay(ctx, u) {
    drawVerticalLine(ctx, u, u.valToPos(chart.threshold, "x"), chart.theme.accent, 1.5);
    curves.forEach((curve, r) => {
      const j = resolveThreshold(curve, chart.threshold);
      if (j < 0 && !curve.exact) return;
      // An exact curve has its counts at the threshold itself; a grid curve at the stored one.
      const x = u.valToPos(curve.exact ? chart.threshold : curve.thresholds[j], "x");
      METRICS.forEach((metric, m) => {
        if (!shown[metric.name]) return;
        drawMarker(ctx, x, u.valToPos(metricAt(r, metric.name, j), "y"), colorOf(r, m), chart.theme, 3.5);
      });
    });
  }

  function renderMetricLegend() {
    const metricItems = METRICS.map((metric, m) => ({
      color: curves.length === 1 ? metric.color : chart.theme.text,
      dash: curves.length === 1 ? [] : metric.dash,
      text: metric.label,
      off: !shown[metric.name],
      onClick: () => toggleMetric(m),
    }));
    const runItems = curves.length === 1 ? [] : curves.map((curve) => ({ color: curve.color, text: curve.run }));
    // The PNG legend lists what is drawn.
    chart.setLegend([...runItems, ...metricItems], [...runItems, ...metricItems.filter((item) => !item.off)]);
  }

  function rebuild(model) {
    curves = model.curves || [];
    scoreAxis.fit(curves);
    chart.dom.message.textContent = curves.length ? "" : NO_CURVES_TEXT;
    if (!curves.length) {
      chart.clear();
      renderMetricLegend();
      return;
    }
    metricValues = curves.map((curve) => metricsAtThresholds(curve));
    allPositive = curves.map((curve) => allPositiveMetrics(curve));
    // MCC is the one metric below 0: show [−1, 1] only when it goes there.
    yLow = metricValues.some((values) => values.mcc.some((v) => v < 0)) ? -1 : 0;
    renderMetricLegend();
    const tables = curves.map((curve, r) => [curve.thresholds, ...METRICS.map((metric) => metricValues[r][metric.name])]);
    const data = sameGrids(curves) ? [curves[0].thresholds, ...tables.flatMap((table) => table.slice(1))] : uPlot.join(tables);
    const modes = curves.map((curve) => (curve.exact ? "exact" : "grid")).join(",");
    chart.holder.show(`${scoreAxis.logit}|${modes}|${runsLayoutKey(curves)}`, options, data);
  }

  function exportTable() {
    const header = ["run", "threshold", ...METRICS.map((metric) => metric.name), "tp", "fp", "tn", "fn"];
    return table(header, thresholdRows(curves, (r, j) => [
      curves[r].thresholds[j], ...METRICS.map((metric) => metricValues[r][metric.name][j]),
    ]));
  }

  return chart.view;
}
