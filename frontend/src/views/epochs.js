/**
 * Over epochs: the per-epoch summary numbers of every selected run (ROC-AUC, average precision and
 * best F1 for threshold curves; accuracy and mean IoU for confusion matrices), one small chart per
 * metric, the current epoch marked. Clicking a chart moves to the epoch under the pointer.
 */
import uPlot from "uplot";
import { table } from "../export.js";
import { axis, tickValues } from "./chart/axes.js";
import { escapeHtml, formatNumber } from "./chart/format.js";
import { changedAny, createPlotHolder, createViewRoot, REBUILD_KEYS, renderLegend } from "./chart/frame.js";
import { tooltipPlugin } from "./chart/hover.js";
import { createOverlay, drawMarker, drawVerticalLine } from "./chart/overlay.js";
import { exportChartsPng } from "./chart/png.js";
import { themeOf, THEMES } from "./chart/theme.js";
import { runsTableHtml } from "./chart/tooltip_html.js";

const METRICS_BY_KIND = {
  threshold_curves: [
    { name: "roc_auc", label: "ROC-AUC" },
    { name: "average_precision", label: "Average precision" },
    { name: "best_f1", label: "Best F1", companion: { name: "best_f1_threshold", label: "at threshold" } },
  ],
  confusion_matrix: [
    { name: "accuracy", label: "Accuracy" },
    { name: "mean_iou", label: "Mean IoU" },
  ],
};
const SMALL_CHART_HEIGHT = 190;
// Epoch changes do not rebuild the charts (only the marker moves), unless the summaries changed.
const EPOCH_REBUILD_KEYS = REBUILD_KEYS.filter((key) => key !== "step");

/**
 * The values of `metric` at each step of one summary for the class key: a per-class series picks
 * its class, an averaged one its average, a single-valued one (accuracy, mean IoU) its value.
 * null where undefined (no data) or absent.
 */
export function summaryValues(summary, metric, classKey) {
  const series = summary.series && summary.series[metric];
  if (!series) return null;
  if (series.value) return series.value;
  if (series[classKey]) return series[classKey];
  if (series.per_class && /^\d+$/.test(classKey)) {
    const c = Number(classKey);
    return series.per_class.map((values) => (values && values[c] !== undefined ? values[c] : null));
  }
  return null;
}

/** Creates the over-epochs view in `container`. */
export function createEpochsView(container) {
  const dom = createViewRoot(container, "view-epochs", "Over epochs");
  dom.plot.style.display = "flex";
  dom.plot.style.flexWrap = "wrap";
  dom.plot.style.gap = "8px";
  let theme = THEMES.light;
  let model = null;
  let runs = [];
  let charts = []; // {metric, cell, holder, overlay, tables}
  let sources = [];
  let legendItems = [];
  let step = null;
  const getTheme = () => theme;

  function clearCharts() {
    for (const chart of charts) {
      chart.holder.destroy();
      chart.cell.remove();
    }
    charts = [];
  }

  function chartOptions(chart) {
    return (width) => {
      chart.overlay = createOverlay();
      const tooltip = (u) => {
        const idx = u.cursor.idx;
        if (idx == null) return null;
        const rows = [[chart.metric.label, (r) => formatNumber(u.data[r + 1][idx])]];
        const { companion } = chart.metric;
        if (companion) {
          // The companion series (e.g. best F1's threshold) at the hovered epoch of each run.
          const step = u.data[0][idx];
          rows.push([companion.label, (r) => {
            const { summary } = runs[r];
            const values = summaryValues(summary, companion.name, model.state.classKey);
            const i = summary.steps.indexOf(step);
            return values && i >= 0 ? formatNumber(values[i]) : "–";
          }]);
        }
        return `<div>epoch ${escapeHtml(u.data[0][idx])}</div>${runsTableHtml(runs, rows)}`;
      };
      const jumpToEpoch = {
        hooks: {
          init: (u) => {
            u.over.style.cursor = "pointer";
            u.over.addEventListener("click", () => {
              const idx = u.cursor.idx;
              if (idx == null || !model) return;
              // Back at the latest epoch the view follows training again.
              const step = u.data[0][idx];
              model.setState({ step, followLatest: step === model.tagInfo.max_step });
            });
          },
        },
      };
      return {
        width,
        height: SMALL_CHART_HEIGHT,
        title: chart.metric.label,
        legend: { show: false },
        padding: [4, 12, 0, 0],
        scales: { x: { time: false }, y: { range: (_u, min, max) => paddedRange(min, max) } },
        axes: [
          axis(getTheme, { label: "Epoch", values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : "")) }),
          axis(getTheme, { values: tickValues, size: 44 }),
        ],
        series: [
          { label: "epoch" },
          ...runs.map((run) => ({
            label: run.run, stroke: run.color, width: 2, spanGaps: true,
            points: { show: true, size: 5, fill: run.color, stroke: run.color },
          })),
        ],
        cursor: { drag: { x: false, y: false }, points: { size: 8 } },
        plugins: [chart.overlay.plugin, tooltipPlugin(tooltip, getTheme), jumpToEpoch],
      };
    };
  }

  function drawEpochMarkers() {
    for (const chart of charts) {
      if (!chart.overlay) continue;
      chart.overlay.draw((ctx, u) => {
        if (step == null) return;
        drawVerticalLine(ctx, u, u.valToPos(step, "x"), theme.accent, 1.5);
        const idx = u.data[0].indexOf(step);
        if (idx < 0) return;
        runs.forEach((run, r) => {
          const value = u.data[r + 1][idx];
          if (value != null) drawMarker(ctx, u.valToPos(step, "x"), u.valToPos(value, "y"), run.color, theme, 4.5);
        });
      });
    }
  }

  function rebuild() {
    clearCharts();
    const kind = model.tagInfo && model.tagInfo.kind;
    const metrics = METRICS_BY_KIND[kind] || [];
    const summaries = model.summaries || {};
    runs = (model.state.runs || [])
      .filter((run) => summaries[run])
      .map((run) => ({ run, color: (model.runColors && model.runColors[run]) || theme.text, summary: summaries[run] }));
    legendItems = runs.map((run) => ({ color: run.color, text: run.run }));
    renderLegend(dom.legend, legendItems);
    dom.message.textContent = runs.length ? "" : "No per-epoch summaries for the selected runs yet.";
    if (!runs.length) return;
    for (const metric of metrics) {
      const tables = runs.map(({ summary }) => [
        summary.steps,
        summaryValues(summary, metric.name, model.state.classKey) || summary.steps.map(() => null),
      ]);
      if (tables.every(([, values]) => values.every((v) => v == null))) continue;
      const cell = dom.root.ownerDocument.createElement("div");
      cell.style.flex = "1 1 240px";
      cell.style.minWidth = "220px";
      dom.plot.appendChild(cell);
      const chart = { metric, cell, holder: createPlotHolder(cell, SMALL_CHART_HEIGHT), overlay: null, tables };
      charts.push(chart);
      const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
      chart.holder.show("epochs", chartOptions(chart), data);
    }
    if (!charts.length) dom.message.textContent = "The selected runs have no defined per-epoch values for this class.";
  }

  return {
    update(nextModel, changedKeys) {
      model = nextModel;
      theme = themeOf(model.state);
      step = model.state.step;
      const nextSources = (model.state.runs || []).map((run) => model.summaries && model.summaries[run]);
      const summariesChanged = nextSources.length !== sources.length || nextSources.some((s, i) => s !== sources[i]);
      const rebuilt = changedAny(changedKeys, EPOCH_REBUILD_KEYS) || summariesChanged;
      if (rebuilt) {
        sources = nextSources;
        rebuild();
      }
      // The markers show the epoch, not the threshold: a threshold drag leaves these charts alone.
      if (rebuilt || changedAny(changedKeys, ["step"])) drawEpochMarkers();
    },
    exportTable() {
      const header = ["run", "step", ...charts.map((chart) => chart.metric.name)];
      const rows = [];
      runs.forEach(({ run, summary }, r) => {
        summary.steps.forEach((s, i) => rows.push([run, s, ...charts.map((chart) => chart.tables[r][1][i])]));
      });
      return table(header, rows);
    },
    exportPng() {
      const panels = charts.map((chart) => ({
        plot: chart.holder.plot, overlayCanvas: chart.overlay && chart.overlay.canvas, title: chart.metric.label,
      }));
      return exportChartsPng(panels, theme, legendItems);
    },
    destroy() {
      clearCharts();
      dom.root.remove();
    },
  };
}

/** [min, max] padded by 5 % (a flat series gets ±0.05), so points do not sit on the frame. */
function paddedRange(min, max) {
  if (min == null || max == null) return [0, 1];
  const pad = max > min ? (max - min) * 0.05 : 0.05;
  return [min - pad, max + pad];
}
