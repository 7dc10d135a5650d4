// The IoU view. Confusion matrices: per-class IoU bars and mean IoU for every selected run, the
// runs' bars of a class side by side in their colours, every class labelled (class_axis.js).
// Threshold curves (binary or per-class segmentation masks): IoU = TP / (TP + FP + FN) against the
// threshold, with the current threshold marked.

import uPlot from "uplot";
import * as core from "../core.js";
import { table } from "../export.js";
import { resolveThreshold } from "../view_model.js";
import { PALETTE } from "../palette.js";
import { axis, tickValues } from "./chart/axes.js";
import { allPositiveMetrics, derived } from "./chart/curve_data.js";
import { escapeHtml, formatNumber } from "./chart/format.js";
import { CHART_HEIGHT, createPlotHolder, createViewRoot, renderLegend } from "./chart/frame.js";
import { tooltipPlugin } from "./chart/hover.js";
import { createOverlay, drawMarker, drawVerticalLine } from "./chart/overlay.js";
import { exportChartPng } from "./chart/png.js";
import { themeOf } from "./chart/theme.js";
import { countsTableHtml, runHeaderHtml } from "./chart/tooltip_html.js";
import { classAxis } from "./class_axis.js";

/** Share of a class's slot its group of bars spans, and the gap between two runs' bars (px). */
const GROUP_FRACTION = 0.8;
const BAR_GAP_PX = 1;

/**
 * uPlot `paths` drawing series `seriesIdx` (run r = seriesIdx − 1 of `numRuns`) as bars grouped by
 * class: class c's group spans GROUP_FRACTION of its slot, run r's bar its r-th part, from 0 to the
 * value. Undefined values (NaN, null) draw no bar.
 */
export function groupedBars(numRuns) {
  return (u, seriesIdx, idx0, idx1) => {
    const xs = u.data[0];
    const ys = u.data[seriesIdx];
    const slot = Math.abs(u.valToPos(1, "x", true) - u.valToPos(0, "x", true));
    const group = slot * GROUP_FRACTION;
    const bar = group / numRuns;
    const zero = Math.round(u.valToPos(0, "y", true));
    const path = new Path2D();
    for (let i = idx0; i <= idx1; i++) {
      const value = ys[i];
      if (value == null || Number.isNaN(value)) continue;
      const left = Math.round(u.valToPos(xs[i], "x", true) - group / 2 + (seriesIdx - 1) * bar);
      const right = Math.round(u.valToPos(xs[i], "x", true) - group / 2 + seriesIdx * bar) - (numRuns > 1 ? BAR_GAP_PX : 0);
      const top = Math.round(u.valToPos(value, "y", true));
      path.rect(left, top, Math.max(1, right - left), zero - top);
    }
    return { stroke: path, fill: path };
  };
}

/** Per-run per-class IoU and mean IoU of the model's matrices (the core's formulas). */
function matrixIous(model) {
  return model.matrices.map((entry) => {
    const metrics = core.matrixMetrics(entry.matrix, entry.numClasses);
    return { run: entry.run, color: entry.color, classNames: entry.classNames, iou: metrics.iou, meanIou: metrics.mean_iou };
  });
}

/** Per-run IoU at every stored threshold of the model's curves (and, for exact curves, below them all). */
function curveIous(model) {
  return model.curves.map((curve) => ({
    curve,
    run: curve.run,
    color: curve.color,
    thresholds: curve.thresholds,
    iou: derived(curve, "iou", () => core.thresholdMetrics(curve.tp, curve.fp, curve.tn, curve.fn).iou),
    allPositiveIou: allPositiveMetrics(curve).iou,
  }));
}

/** IoU of a row at the user's threshold: at the stored threshold it resolves to (−1: everything positive). */
function iouAt(row, threshold) {
  const j = resolveThreshold(row.curve, threshold);
  if (j >= 0) return row.iou[j];
  return row.curve.exact ? row.allPositiveIou : NaN;
}

/** uPlot data of the rows' IoU curves: one x array when they share thresholds, else joined. */
function iouData(rows) {
  const first = rows[0]?.thresholds ?? new Float64Array(0);
  const shared = rows.every((row) => row.thresholds.length === first.length && row.thresholds.every((t, j) => t === first[j]));
  if (shared) return [Float64Array.from(first), ...rows.map((row) => row.iou)];
  return uPlot.join(rows.map((row) => [row.thresholds, row.iou]));
}

/** Creates the IoU view in `container` (the `View` contract of view_registry.js). */
export function createIouView(container) {
  const dom = createViewRoot(container, "view-iou", "IoU");
  const holder = createPlotHolder(dom.plot);
  let theme = themeOf(null);
  let mode = null; // "bars" | "threshold"
  let rows = [];
  let threshold = 0.5;
  let overlay = null;
  let legendItems = [];
  let source = null;
  const getTheme = () => theme;

  function barTooltip(u) {
    const index = u.cursor.idx;
    if (index == null) return null;
    const name = rows[0]?.classNames[index] ?? String(index);
    return `<div><b>${escapeHtml(name)}</b></div>` +
      rows.map((row) => `<div>${runHeaderHtml(row.run, row.color)}IoU ${formatNumber(row.iou[index])}</div>`).join("");
  }

  function thresholdTooltip(u) {
    const index = u.cursor.idx;
    if (index == null) return null;
    // Each run's counts at the stored threshold the hovered one resolves to (runs may differ in thresholds).
    const hovered = u.data[0][index];
    return rows.map((row) => {
      const j = resolveThreshold(row.curve, hovered);
      const counts = j >= 0 ? countsTableHtml(row.curve, j) : "";
      return `${runHeaderHtml(row.run, row.color)}<div>IoU ${formatNumber(iouAt(row, hovered))}</div>${counts}`;
    }).join("");
  }

  function barOptions(width, classNames) {
    overlay = null;
    return {
      width,
      height: CHART_HEIGHT,
      legend: { show: false },
      plugins: [tooltipPlugin(barTooltip, getTheme)],
      cursor: { points: { show: false }, drag: { x: true, y: false } },
      scales: { x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] }, y: { range: [0, 1] } },
      axes: [
        // The class names drawn, for tests and assistive tools (the canvas holds them as pixels).
        classAxis(getTheme, "class", classNames, (labels) => {
          dom.root.dataset.classLabels = JSON.stringify(labels);
        }),
        axis(getTheme, { label: "IoU", values: tickValues }),
      ],
      series: [
        { label: "class", value: (_u, v) => (v == null ? "–" : classNames[v] ?? String(v)) },
        ...rows.map((row) => ({
          label: row.run,
          stroke: row.color,
          fill: row.color,
          width: 0,
          paths: groupedBars(rows.length),
          points: { show: false },
          value: (_u, v) => formatNumber(v),
        })),
      ],
    };
  }

  function thresholdOptions(width) {
    overlay = createOverlay();
    return {
      width,
      height: CHART_HEIGHT,
      legend: { show: false },
      plugins: [overlay.plugin, tooltipPlugin(thresholdTooltip, getTheme)],
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
      axes: [axis(getTheme, { label: "Threshold", values: tickValues }), axis(getTheme, { label: "IoU", values: tickValues })],
      series: [
        { label: "threshold", value: (_u, v) => (v == null ? "–" : v.toFixed(4)) },
        ...rows.map((row) => ({
          label: row.run, stroke: row.color, width: 2, points: { show: false }, value: (_u, v) => formatNumber(v),
          // An exact curve's IoU holds from each score up to the next one.
          ...(row.curve.exact ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}),
        })),
      ],
      hooks: { draw: [() => drawMarkers()] },
    };
  }

  function drawMarkers() {
    if (!overlay || !holder.plot) return;
    overlay.draw((ctx, u) => {
      drawVerticalLine(ctx, u, u.valToPos(threshold, "x"), PALETTE.light.page.accent, 1.5, [4, 3]);
      for (const row of rows) {
        const j = resolveThreshold(row.curve, threshold);
        if (j < 0 && !row.curve.exact) continue;
        // An exact curve has its counts at the threshold itself; a grid curve at the stored one.
        const x = row.curve.exact ? threshold : row.thresholds[j];
        drawMarker(ctx, u.valToPos(x, "x"), u.valToPos(iouAt(row, threshold), "y"), row.color, theme);
      }
    });
  }

  function atThresholdText() {
    return rows.map((row) => ({ color: row.color, text: `${row.run}: IoU ${formatNumber(iouAt(row, threshold))} at threshold` }));
  }

  return {
    update(model, changedKeys) {
      theme = themeOf(model.state);
      threshold = model.state.threshold;
      const kind = model.tagInfo.kind;
      const nextSource = kind === "confusion_matrix" ? model.matrices : model.curves;
      const dataChanged = nextSource !== source || !changedKeys || changedKeys.has("theme");
      if (kind === "confusion_matrix") {
        if (dataChanged) {
          source = nextSource;
          rows = matrixIous(model);
          mode = "bars";
          dom.message.textContent = rows.length ? "" : "No matrix for the selected runs at this epoch.";
          const classNames = rows[0]?.classNames ?? [];
          const x = Float64Array.from(classNames, (_, index) => index);
          legendItems = rows.map((row) => ({ color: row.color, text: `${row.run}: mean IoU ${formatNumber(row.meanIou)}` }));
          renderLegend(dom.legend, legendItems);
          const layoutKey = `bars|${rows.map((row) => row.run).join(",")}|${classNames.length}|${model.state.theme}`;
          holder.show(layoutKey, (width) => barOptions(width, classNames), [x, ...rows.map((row) => row.iou)]);
        }
        return;
      }
      if (dataChanged) {
        source = nextSource;
        rows = curveIous(model);
        mode = "threshold";
        dom.message.textContent = rows.length ? `IoU = TP / (TP + FP + FN) of ${model.classLabel}` : "No data for the selected runs at this epoch.";
        const modes = rows.map((row) => (row.curve.exact ? "exact" : "grid")).join(",");
        const layoutKey = `threshold|${rows.map((row) => row.run).join(",")}|${modes}|${model.state.theme}`;
        holder.show(layoutKey, thresholdOptions, iouData(rows));
      }
      legendItems = atThresholdText();
      renderLegend(dom.legend, legendItems);
      drawMarkers();
    },
    exportTable() {
      if (mode === "bars") {
        const classNames = rows[0]?.classNames ?? [];
        return table(["run", "class", "iou"], rows.flatMap((row) => classNames.map((name, c) => [row.run, name, row.iou[c]]))
          .concat(rows.map((row) => [row.run, "mean_iou", row.meanIou])));
      }
      return table(["run", "threshold", "iou"], rows.flatMap((row) => Array.from(row.thresholds, (t, j) => [row.run, t, row.iou[j]])));
    },
    exportPng() {
      return exportChartPng(holder.plot, overlay?.canvas ?? null, theme, "IoU", legendItems);
    },
    destroy() {
      holder.destroy();
      dom.root.remove();
    },
  };
}
