/**
 * The ROC view: TPR against FPR for every selected run, AUC ± its Hanley–McNeil standard error in
 * the legend, the chance diagonal, and each run's operating point at the current threshold.
 */
import * as core from "../core.js";
import { toCsv } from "../export.js";
import {
  axis, changedAny, CHART_HEIGHT, closestHoveredSeries, countsTableHtml, createOverlay, createPlotHolder,
  createViewRoot, curveGridIndex, curvePointAt, curveRows, drawMarker, exportChartPng, formatNumber,
  hasExactCounts, histogramArgs, hoverPoints, nearestPointDataIdx, REBUILD_KEYS, renderLegend, runHeaderHtml,
  runsLayoutKey, themeOf, THEMES, tickValues, tooltipPlugin,
} from "./chart_common.js";

/**
 * One run's ROC points in drawing order (ascending FPR, from the +∞ end down the grid to the −∞
 * end), with `gridIndex[i]` the index in `curve.thresholds` of point i (−1 at the ends).
 */
function rocSeries(curve) {
  const { fpr, tpr } = core.rocCurve(...histogramArgs(curve), curve.thresholds, curve.average);
  return { x: fpr, y: tpr, gridIndex: curveGridIndex(curve.thresholds.length) };
}

/** Creates the ROC view in `container` (see CONTRACT: update / exportCsv / exportPng / destroy). */
export function createRocView(container) {
  const dom = createViewRoot(container, "view-roc", "ROC");
  const holder = createPlotHolder(dom.plot);
  let theme = THEMES.light;
  let curves = [];
  let series = [];
  let areas = [];
  let legendItems = [];
  let threshold = 0.5;
  let overlay = null;

  const getTheme = () => theme;

  function tooltip(u) {
    const s = closestHoveredSeries(u);
    if (s == null || s > curves.length) return null;
    const curve = curves[s - 1];
    const i = u.cursor.idxs[s];
    const j = series[s - 1].gridIndex[i];
    const rates = `<div>FPR ${formatNumber(series[s - 1].x[i])} · TPR ${formatNumber(series[s - 1].y[i])}</div>`;
    const counts = j >= 0 ? countsTableHtml(curve, j) : "<div>end point (threshold ±∞)</div>";
    return runHeaderHtml(curve.run, curve.color) + rates + counts;
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
        axis(getTheme, { label: "False positive rate", values: tickValues }),
        axis(getTheme, { label: "True positive rate", values: tickValues, size: 44 }),
      ],
      series: [
        {},
        ...curves.map((curve) => ({ label: curve.run, stroke: curve.color, width: 2, points: { show: false } })),
        {
          label: "chance", stroke: () => theme.reference, width: 1, dash: [4, 4], points: { show: false },
        },
      ],
      cursor: {
        dataIdx: nearestPointDataIdx((s) => s <= curves.length),
        points: hoverPoints(getTheme),
        drag: { x: true, y: true, uni: 20 },
      },
      plugins: [overlay.plugin, tooltipPlugin(tooltip, getTheme)],
    };
  }

  function drawOperatingPoints() {
    if (!overlay) return;
    overlay.draw((ctx, u) => {
      curves.forEach((curve, r) => {
        const i = curvePointAt(curve.thresholds, threshold);
        if (i < 0) return;
        drawMarker(ctx, u.valToPos(series[r].x[i], "x"), u.valToPos(series[r].y[i], "y"), curve.color, theme);
      });
    });
  }

  function rebuild(model) {
    curves = (model.curves || []).filter((curve) => curve.positives > 0 && curve.negatives > 0);
    const skipped = (model.curves || []).filter((curve) => !curves.includes(curve));
    dom.message.textContent = skipped.length
      ? `ROC is undefined without both positives and negatives: ${skipped.map((c) => c.run).join(", ")}.`
      : "";
    if (!curves.length) {
      if (!skipped.length) dom.message.textContent = "No threshold curves for the selected runs.";
      holder.clear();
      overlay = null;
      renderLegend(dom.legend, []);
      return;
    }
    series = curves.map(rocSeries);
    areas = curves.map((curve) => {
      const auc = core.rocAuc(...histogramArgs(curve), curve.average);
      // The Hanley–McNeil error needs the counts behind one curve: not defined for a mean of curves.
      const se = hasExactCounts(curve) ? core.hanleyMcneilSe(auc, curve.positives, curve.negatives) : NaN;
      return { auc, se };
    });
    legendItems = curves.map((curve, r) => ({
      color: curve.color,
      text: `${curve.run}  AUC ${formatNumber(areas[r].auc)}${Number.isNaN(areas[r].se) ? "" : ` ± ${formatNumber(areas[r].se)}`}`,
    }));
    legendItems.push({ color: theme.reference, text: "chance", dash: true });
    renderLegend(dom.legend, legendItems);
    const data = [null, ...series.map((s) => [s.x, s.y]), [[0, 1], [0, 1]]];
    holder.show(runsLayoutKey(curves), options, data);
  }

  return {
    update(model, changedKeys) {
      theme = themeOf(model.state);
      threshold = model.state.threshold;
      // A theme change rebuilds too: legend swatches and axes take the new colours (rare event).
      if (changedAny(changedKeys, REBUILD_KEYS) || model.curves !== holder.source) {
        holder.source = model.curves;
        rebuild(model);
      }
      drawOperatingPoints();
    },
    exportCsv() {
      const header = ["run", "roc_auc", "roc_auc_se", "threshold", "fpr", "tpr", "tp", "fp", "tn", "fn"];
      return toCsv(header, curveRows(curves, series, (r) => [areas[r].auc, areas[r].se]));
    },
    exportPng() {
      return exportChartPng(holder.plot, overlay && overlay.canvas, theme, "ROC", legendItems);
    },
    destroy() {
      holder.destroy();
      dom.root.remove();
    },
  };
}
