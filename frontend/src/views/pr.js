/**
 * The precision–recall view: one curve per selected run with its average precision in the legend,
 * iso-F1 lines, each run's prevalence baseline (a random classifier's precision) and its operating
 * point at the current threshold.
 */
import * as core from "../core.js";
import { toCsv } from "../export.js";
import {
  axis, changedAny, CHART_HEIGHT, closestHoveredSeries, countsTableHtml, createOverlay, createPlotHolder,
  createViewRoot, curveGridIndex, curvePointAt, curveRows, drawMarker, exportChartPng, FONT_FAMILY,
  formatNumber, histogramArgs, hoverPoints, nearestPointDataIdx, REBUILD_KEYS, renderLegend, runHeaderHtml,
  runsLayoutKey, themeOf, THEMES, tickValues, tooltipPlugin, uPlot,
} from "./chart_common.js";

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

/** Labels "F1 = f" at the right end of each iso-F1 line, drawn with the axes (they never move). */
function isoF1LabelPlugin(getTheme) {
  return {
    hooks: {
      drawAxes: (u) => {
        const { ctx } = u;
        ctx.save();
        ctx.font = `${Math.round(10 * uPlot.pxRatio)}px ${FONT_FAMILY}`;
        ctx.fillStyle = getTheme().faint;
        ctx.textAlign = "right";
        ctx.textBaseline = "bottom";
        ISO_F1_LINES.forEach(([recall, precision], k) => {
          const last = recall.length - 1;
          const x = u.valToPos(recall[last], "x", true) - 3;
          const y = u.valToPos(precision[last], "y", true) - 2;
          ctx.fillText(`F1=${ISO_F1_LEVELS[k]}`, x, y);
        });
        ctx.restore();
      },
    },
  };
}

/** Creates the precision–recall view in `container`. */
export function createPrView(container) {
  const dom = createViewRoot(container, "view-pr", "Precision–recall");
  const holder = createPlotHolder(dom.plot);
  let theme = THEMES.light;
  let curves = [];
  let series = [];
  let precisionAt = [];
  let averagePrecisions = [];
  let legendItems = [];
  let threshold = 0.5;
  let overlay = null;
  const getTheme = () => theme;

  function tooltip(u) {
    const s = closestHoveredSeries(u);
    if (s == null || s > curves.length) return null;
    const r = s - 1;
    const i = u.cursor.idxs[s];
    const j = series[r].gridIndex[i];
    const rates = `<div>recall ${formatNumber(series[r].x[i])} · precision ${formatNumber(series[r].y[i])}</div>`;
    const counts = j >= 0 ? countsTableHtml(curves[r], j) : "<div>end point (threshold ±∞)</div>";
    return runHeaderHtml(curves[r].run, curves[r].color) + rates + counts;
  }

  function options(width) {
    overlay = createOverlay();
    const reference = { stroke: () => theme.faint, width: 1, points: { show: false } };
    return {
      mode: 2,
      width,
      height: CHART_HEIGHT,
      legend: { show: false },
      padding: [8, 16, 0, 0],
      scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1.02] } },
      axes: [
        axis(getTheme, { label: "Recall", values: tickValues }),
        axis(getTheme, { label: "Precision", values: tickValues, size: 44 }),
      ],
      series: [
        {},
        ...curves.map((curve) => ({ label: curve.run, stroke: curve.color, width: 2, points: { show: false } })),
        ...curves.map((curve) => ({
          label: `${curve.run} prevalence`, stroke: curve.color, width: 1, dash: [6, 4], points: { show: false },
        })),
        ...ISO_F1_LEVELS.map((f) => ({ label: `F1 = ${f}`, dash: [2, 3], ...reference })),
      ],
      cursor: {
        dataIdx: nearestPointDataIdx((s) => s <= curves.length),
        points: hoverPoints(getTheme),
        drag: { x: true, y: true, uni: 20 },
      },
      plugins: [overlay.plugin, tooltipPlugin(tooltip, getTheme), isoF1LabelPlugin(getTheme)],
    };
  }

  function drawOperatingPoints() {
    if (!overlay) return;
    overlay.draw((ctx, u) => {
      curves.forEach((curve, r) => {
        const i = curvePointAt(curve.thresholds, threshold);
        if (i < 0) return;
        // The metric's precision (0 when nothing is predicted positive), not the curve's end point.
        const y = precisionAt[r](i);
        drawMarker(ctx, u.valToPos(series[r].x[i], "x"), u.valToPos(y, "y"), curve.color, theme);
      });
    });
  }

  function rebuild(model) {
    const all = model.curves || [];
    curves = all.filter((curve) => curve.positives > 0);
    const skipped = all.filter((curve) => !(curve.positives > 0)).map((curve) => curve.run);
    dom.message.textContent = skipped.length
      ? `Precision–recall is undefined without positives: ${skipped.join(", ")}.`
      : all.length ? "" : "No threshold curves for the selected runs.";
    if (!curves.length) {
      holder.clear();
      overlay = null;
      legendItems = [];
      renderLegend(dom.legend, legendItems);
      return;
    }
    series = curves.map((curve) => {
      const { precision, recall } = core.prCurve(...histogramArgs(curve), curve.thresholds, curve.average);
      return { x: recall, y: precision, gridIndex: curveGridIndex(curve.thresholds.length) };
    });
    precisionAt = curves.map((curve, r) => (i) => {
      const j = series[r].gridIndex[i];
      return j >= 0 && curve.tp[j] + curve.fp[j] === 0 ? 0 : series[r].y[i];
    });
    averagePrecisions = curves.map((curve) => core.averagePrecision(...histogramArgs(curve), curve.average));
    legendItems = curves.map((curve, r) => ({
      color: curve.color,
      text: `${curve.run}  AP ${formatNumber(averagePrecisions[r])}`,
    }));
    legendItems.push({ color: theme.faint, text: "iso-F1", dash: true });
    renderLegend(dom.legend, legendItems);
    const baselines = curves.map((curve) => {
      const prevalence = curve.positives / (curve.positives + curve.negatives);
      return [[0, 1], [prevalence, prevalence]];
    });
    const data = [null, ...series.map((s) => [s.x, s.y]), ...baselines, ...ISO_F1_LINES];
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
      const header = ["run", "average_precision", "prevalence", "threshold", "recall", "precision", "tp", "fp", "tn", "fn"];
      const prevalence = (r) => curves[r].positives / (curves[r].positives + curves[r].negatives);
      return toCsv(header, curveRows(curves, series, (r) => [averagePrecisions[r], prevalence(r)]));
    },
    exportPng() {
      return exportChartPng(holder.plot, overlay && overlay.canvas, theme, "Precision–recall", legendItems);
    },
    destroy() {
      holder.destroy();
      dom.root.remove();
    },
  };
}
