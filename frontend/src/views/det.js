/**
 * The detection error trade-off (DET) view, shown when the user asks for it: false negative rate
 * against false positive rate on probit axes (a binormal model's ROC becomes a straight line), one
 * curve per selected run with its operating point at the current threshold.
 */
import * as core from "../core.js";
import { toCsv } from "../export.js";
import {
  axis, changedAny, CHART_HEIGHT, closestHoveredSeries, countsTableHtml, createOverlay, createPlotHolder,
  createViewRoot, curveGridIndex, curvePointAt, curveRows, drawMarker, exportChartPng, formatNumber,
  histogramArgs, hoverPoints, nearestPointDataIdx, probabilityAxis, probitScale, REBUILD_KEYS,
  renderLegend, runHeaderHtml, runsLayoutKey, themeOf, THEMES, tooltipPlugin,
} from "./chart_common.js";

/**
 * The axes span rates from 0.001 (lower when the data goes lower, down to 1e-5) to 0.999, about
 * scikit-learn's DetCurveDisplay (±3 on the probit scale).
 */
const DEFAULT_RANGE = [0.001, 0.999];
const MIN_RATE = 1e-5;

/**
 * One run's DET points in drawing order with their grid indices; rates of exactly 0 or 1 (at an
 * infinite probit) are dropped, as scikit-learn's `det_curve` drops them.
 */
function detSeries(curve) {
  const { fpr, fnr } = core.detCurve(...histogramArgs(curve), curve.thresholds, curve.average);
  const allGridIndex = curveGridIndex(curve.thresholds.length);
  const x = [];
  const y = [];
  const gridIndex = [];
  for (let i = 0; i < fpr.length; i++) {
    if (fpr[i] > 0 && fpr[i] < 1 && fnr[i] > 0 && fnr[i] < 1) {
      x.push(fpr[i]);
      y.push(fnr[i]);
      gridIndex.push(allGridIndex[i]);
    }
  }
  return { x, y, gridIndex, fpr, fnr };
}

/** Creates the DET view in `container`. */
export function createDetView(container) {
  const dom = createViewRoot(container, "view-det", "DET (probit axes)");
  const holder = createPlotHolder(dom.plot);
  let theme = THEMES.light;
  let curves = [];
  let series = [];
  let legendItems = [];
  let threshold = 0.5;
  let overlay = null;
  let range = DEFAULT_RANGE;
  const getTheme = () => theme;

  function tooltip(u) {
    const s = closestHoveredSeries(u);
    if (s == null || s > curves.length) return null;
    const r = s - 1;
    const i = u.cursor.idxs[s];
    const rates = `<div>FPR ${formatNumber(series[r].x[i])} · FNR ${formatNumber(series[r].y[i])}</div>`;
    return runHeaderHtml(curves[r].run, curves[r].color) + rates + countsTableHtml(curves[r], series[r].gridIndex[i]);
  }

  function options(width) {
    overlay = createOverlay();
    return {
      mode: 2,
      width,
      height: CHART_HEIGHT,
      legend: { show: false },
      padding: [8, 16, 0, 0],
      // A function, so new data with a new range only needs setData, not a new chart.
      scales: { x: probitScale(() => range), y: probitScale(() => range) },
      axes: [
        axis(getTheme, probabilityAxis("False positive rate")),
        axis(getTheme, { ...probabilityAxis("False negative rate"), size: 50 }),
      ],
      series: [
        {},
        ...curves.map((curve) => ({ label: curve.run, stroke: curve.color, width: 2, points: { show: false } })),
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
        const { fpr, fnr } = series[r];
        drawMarker(ctx, u.valToPos(fpr[i], "x"), u.valToPos(fnr[i], "y"), curve.color, theme);
      });
    });
  }

  function rebuild(model) {
    const all = model.curves || [];
    curves = all.filter((curve) => curve.positives > 0 && curve.negatives > 0);
    const skipped = all.filter((curve) => !curves.includes(curve)).map((curve) => curve.run);
    dom.message.textContent = !all.length
      ? "No threshold curves for the selected runs."
      : skipped.length ? `DET is undefined without both positives and negatives: ${skipped.join(", ")}.` : "";
    if (!curves.length) {
      holder.clear();
      overlay = null;
      legendItems = [];
      renderLegend(dom.legend, legendItems);
      return;
    }
    series = curves.map(detSeries);
    let low = DEFAULT_RANGE[0];
    for (const { x, y } of series) {
      for (const rate of x) low = Math.min(low, Math.max(MIN_RATE, rate));
      for (const rate of y) low = Math.min(low, Math.max(MIN_RATE, rate));
    }
    range = [low, DEFAULT_RANGE[1]];
    legendItems = curves.map((curve) => ({ color: curve.color, text: curve.run }));
    renderLegend(dom.legend, legendItems);
    const data = [null, ...series.map((s) => [s.x, s.y])];
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
      drawOperatingPoints();
    },
    exportCsv() {
      const header = ["run", "threshold", "fpr", "fnr", "tp", "fp", "tn", "fn"];
      // All stored thresholds, including rates of 0 or 1 that the probit axes cannot show.
      const full = series.map(({ fpr, fnr }) => ({ x: fpr, y: fnr }));
      return toCsv(header, curveRows(curves, full, () => []));
    },
    exportPng() {
      return exportChartPng(holder.plot, overlay && overlay.canvas, theme, "DET", legendItems);
    },
    destroy() {
      holder.destroy();
      dom.root.remove();
    },
  };
}
