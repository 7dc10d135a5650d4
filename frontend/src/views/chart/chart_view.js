/** The frame of a view with one chart (`createChartView`), which most views are built on. */
import { CHART_HEIGHT, changedAny, createPlotHolder, createViewRoot, REBUILD_KEYS, renderLegend } from "./frame.js";
import { tooltipPlugin } from "./hover.js";
import { createOverlay } from "./overlay.js";
import { exportChartPng } from "./png.js";
import { THEMES, themeOf } from "./theme.js";

export const NO_CURVES_TEXT = "No threshold curves for the selected runs.";

/**
 * The frame of a view with one chart (ROC, precision–recall, DET, calibration, metrics vs
 * threshold, score distribution): its DOM, one uPlot chart with the marker overlay, the legend, the
 * theme and threshold of the last model, and the view object (the `View` contract of view_registry.js)
 * that the card holding it calls.
 *
 * The view supplies:
 * - `rebuild(model)`: the curves changed. It computes what is drawn, sets the message and legend and
 *   shows the data (`chart.holder.show(layoutKey, makeOptions, data)`), or `chart.clear()`. It runs
 *   when the runs, tag, class, step or theme changed or the model holds new curves; a threshold
 *   change never recomputes a curve.
 * - `paintOverlay(ctx, u)`: the markers at `chart.threshold`, repainted on every update (see
 *   `createOverlay`: the curves' canvas is left untouched).
 * - `exportTable()`: the rows of what is shown (`table(header, rows)` of export.js).
 *
 * @returns {object} the chart: `dom`, `holder`, `theme`, `getTheme`, `threshold`, `model`,
 *   `overlay`, `legendItems`, the methods below, and `view`, what `createXView` returns.
 */
export function createChartView(container, { testid, title, pngTitle = title, rebuild, paintOverlay, exportTable }) {
  const dom = createViewRoot(container, testid, title);
  const holder = createPlotHolder(dom.plot);
  const chart = {
    dom,
    holder,
    theme: THEMES.light,
    getTheme: () => chart.theme,
    threshold: 0.5,
    model: null,
    overlay: null,
    legendItems: [],
    /** Shows legend `items` in the header; `pngItems` (by default the same) go under the PNG. */
    setLegend(items, pngItems = items) {
      chart.legendItems = pngItems;
      renderLegend(dom.legend, items);
    },
    /** Nothing to draw: no chart, no markers, an empty legend (the message says why). */
    clear() {
      holder.clear();
      chart.overlay = null;
      chart.setLegend([]);
    },
    /**
     * uPlot options of a new chart `width` px wide: the common frame (height, padding, no uPlot
     * legend), a new marker overlay and the tooltip `tooltip(u)` (see `tooltipPlugin`), with the
     * view's own `options` (mode, scales, axes, series, cursor) and extra `plugins`.
     */
    options(width, tooltip, { plugins = [], ...options }) {
      chart.overlay = createOverlay();
      return {
        width,
        height: CHART_HEIGHT,
        legend: { show: false },
        padding: [8, 16, 0, 0],
        ...options,
        plugins: [chart.overlay.plugin, tooltipPlugin(tooltip, chart.getTheme), ...plugins],
      };
    },
    /** Repaints the markers. */
    paint() {
      if (chart.overlay) chart.overlay.draw(paintOverlay);
    },
    /** Rebuilds from the last model: a control of the view's own changed what is drawn. */
    rebuild() {
      if (chart.model) rebuild(chart.model);
      chart.paint();
    },
    /** Sets the threshold every view follows (the user dragged it on this chart). */
    setThreshold(threshold) {
      chart.model.setState({ threshold });
    },
    view: {
      update(model, changedKeys) {
        chart.model = model;
        chart.theme = themeOf(model.state);
        chart.threshold = model.state.threshold;
        // A theme change rebuilds too: legend swatches and axes take the new colours (rare event).
        if (changedAny(changedKeys, REBUILD_KEYS) || model.curves !== holder.source) {
          holder.source = model.curves;
          rebuild(model);
        }
        chart.paint();
      },
      exportTable: () => exportTable(),
      exportPng: () => exportChartPng(holder.plot, chart.overlay && chart.overlay.canvas, chart.theme, pngTitle, chart.legendItems),
      destroy() {
        holder.destroy();
        dom.root.remove();
      },
    },
  };
  return chart;
}
