/**
 * A chart view's DOM (title, legend, toggles, message, plot), the charts' CSS, and the holder of its
 * uPlot instance that follows the panel's width.
 */
import uPlot from "uplot";
import { FONT_FAMILY } from "./theme.js";

const STYLE_ID = "tbm-chart-style";

const CHART_CSS = `
.tbm-chart { position: relative; font: 13px ${FONT_FAMILY}; color: var(--tbm-text-muted); }
.tbm-chart-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 14px; margin: 0 0 4px; }
.tbm-chart-title { font-weight: 500; font-size: 13px; }
.tbm-chart-legend { display: flex; flex-wrap: wrap; gap: 2px 14px; font-size: 12px; }
.tbm-chart-legend-item { display: inline-flex; align-items: center; gap: 5px; white-space: nowrap; }
button.tbm-chart-legend-item { font: inherit; color: inherit; background: none; border: 0; padding: 0; cursor: pointer; }
.tbm-chart-legend-off { opacity: 0.4; text-decoration: line-through; }
.tbm-chart-controls { display: inline-flex; gap: 10px; font-size: 12px; margin-left: auto; }
.tbm-chart-controls label { display: inline-flex; align-items: center; gap: 4px; cursor: pointer; }
.tbm-chart-plot { position: relative; min-height: 40px; }
.tbm-chart-message { font-size: 12px; opacity: 0.8; padding: 6px 0; }
.tbm-chart-message:empty { display: none; }
.tbm-chart .u-over canvas.tbm-chart-overlay { position: absolute; left: 0; top: 0; pointer-events: none; }
.tbm-chart-tooltip { position: absolute; z-index: 10; pointer-events: none; display: none; padding: 4px 7px;
  font: 12px ${FONT_FAMILY}; line-height: 1.45; border: 1px solid; border-radius: 3px; white-space: nowrap;
  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.2); }
.tbm-chart-tooltip table { border-collapse: collapse; }
.tbm-chart-tooltip td { padding: 0 4px; text-align: right; font-variant-numeric: tabular-nums; }
.tbm-chart-tooltip td:first-child { text-align: left; padding-left: 0; }
.tbm-chart .u-title { font-size: 12px; font-weight: 500; line-height: 1.6; }
`;

/** Adds the charts' own CSS to the document once (uPlot's stylesheet comes with the tab's). */
function ensureStyles(doc) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CHART_CSS;
  doc.head.appendChild(style);
}


/**
 * The DOM skeleton of a chart view inside `container`.
 *
 * @returns {{root, head, legend, controls, plot, message}} `root` carries `data-testid=testid`.
 */
export function createViewRoot(container, testid, title) {
  const doc = container.ownerDocument;
  ensureStyles(doc);
  const root = doc.createElement("div");
  root.className = "tbm-chart";
  root.dataset.testid = testid;
  root.setAttribute("role", "figure");
  root.setAttribute("aria-label", title);
  const head = doc.createElement("div");
  head.className = "tbm-chart-head";
  const titleEl = doc.createElement("span");
  titleEl.className = "tbm-chart-title";
  titleEl.textContent = title;
  const legend = doc.createElement("div");
  legend.className = "tbm-chart-legend";
  const controls = doc.createElement("div");
  controls.className = "tbm-chart-controls";
  head.append(titleEl, legend, controls);
  const message = doc.createElement("div");
  message.className = "tbm-chart-message";
  const plot = doc.createElement("div");
  plot.className = "tbm-chart-plot";
  root.append(head, message, plot);
  container.appendChild(root);
  return { root, head, legend, controls, plot, message };
}

/**
 * Fills `legendEl` with one swatch + text per item ({color, text, dash?, off?, onClick?}); `dash` is
 * a canvas dash pattern (array) or `true` for a plain dashed line; items with `onClick` are toggle
 * buttons, dimmed while `off`.
 */
export function renderLegend(legendEl, items) {
  const doc = legendEl.ownerDocument;
  const svgNs = "http://www.w3.org/2000/svg";
  legendEl.replaceChildren(
    ...items.map(({ color, text, dash, off, onClick }) => {
      const item = doc.createElement(onClick ? "button" : "span");
      item.className = "tbm-chart-legend-item";
      if (onClick) {
        item.type = "button";
        item.title = off ? `Show ${text}` : `Hide ${text}`;
        item.setAttribute("aria-pressed", String(!off));
        item.addEventListener("click", onClick);
      }
      if (off) item.classList.add("tbm-chart-legend-off");
      const swatch = doc.createElementNS(svgNs, "svg");
      swatch.setAttribute("width", "22");
      swatch.setAttribute("height", "6");
      const line = doc.createElementNS(svgNs, "line");
      for (const [name, value] of [["x1", 0], ["y1", 3], ["x2", 22], ["y2", 3], ["stroke", color], ["stroke-width", 2]]) {
        line.setAttribute(name, String(value));
      }
      const pattern = dash === true ? [4, 3] : dash;
      if (pattern && pattern.length) line.setAttribute("stroke-dasharray", pattern.join(" "));
      swatch.appendChild(line);
      const label = doc.createElement("span");
      label.textContent = text;
      item.append(swatch, label);
      return item;
    }),
  );
}

/** A labelled checkbox in a view's header; `onChange(checked)` runs on every toggle. */
export function addToggle(controlsEl, text, checked, onChange) {
  const doc = controlsEl.ownerDocument;
  const label = doc.createElement("label");
  const input = doc.createElement("input");
  input.type = "checkbox";
  input.checked = checked;
  input.addEventListener("change", () => onChange(input.checked));
  label.append(input, doc.createTextNode(text));
  controlsEl.appendChild(label);
  return input;
}


/**
 * State keys after whose change a view rebuilds its uPlot data: the curves changed (runs, tag,
 * class, step) or the colours did (theme, a rare event). A threshold change never rebuilds.
 */
export const REBUILD_KEYS = ["runs", "tag", "classKey", "step", "theme"];

/** True when `changedKeys` (a Set, or null/undefined meaning "everything") holds any of `keys`. */
export function changedAny(changedKeys, keys) {
  if (!changedKeys) return true;
  for (const key of keys) if (changedKeys.has(key)) return true;
  return false;
}

export const CHART_HEIGHT = 280;

/** Width for a chart in `plotEl` (its layout width, or a default before layout). */
function chartWidth(plotEl) {
  return Math.max(200, Math.floor(plotEl.clientWidth || 420));
}

/**
 * Calls `onWidth(width)` when `element`'s width changes (charts follow the panel's width), and
 * returns the function that stops observing.
 */
function observeWidth(element, onWidth) {
  const View = element.ownerDocument.defaultView;
  if (!View || !View.ResizeObserver) return () => {};
  let lastWidth = element.clientWidth;
  const observer = new View.ResizeObserver(() => {
    const width = element.clientWidth;
    if (width > 0 && Math.abs(width - lastWidth) >= 1) {
      lastWidth = width;
      onWidth(width);
    }
  });
  observer.observe(element);
  return () => observer.disconnect();
}

/** A key that changes when the runs shown or their colours change (then uPlot's series must). */
export function runsLayoutKey(curves) {
  return curves.map((curve) => `${curve.run}\u0000${curve.color}`).join("\u0001");
}

/**
 * Owns one uPlot instance in `plotEl`: creates it when the series layout (`layoutKey`, e.g. the
 * runs and their colours) changes, otherwise only swaps its data; follows the element's width.
 * `source` is free for the view to remember which model data the chart shows. `makeOptions(width)`
 * must use `height`.
 */
export function createPlotHolder(plotEl, height = CHART_HEIGHT) {
  let plot = null;
  let layout = null;
  const stopObserving = observeWidth(plotEl, (width) => {
    if (plot) plot.setSize({ width: Math.max(200, Math.floor(width)), height });
  });
  return {
    source: undefined,
    get plot() {
      return plot;
    },
    show(layoutKey, makeOptions, data) {
      if (!plot || layoutKey !== layout) {
        if (plot) plot.destroy();
        plot = new uPlot(makeOptions(chartWidth(plotEl)), data, plotEl);
        layout = layoutKey;
      } else {
        plot.setData(data);
      }
      return plot;
    },
    clear() {
      if (plot) plot.destroy();
      plot = null;
      layout = null;
    },
    destroy() {
      stopObserving();
      this.clear();
    },
  };
}

const pointsPathBuilder = uPlot.paths.points();

/**
 * Series point options for uPlot's mode 2 (per-series x): uPlot passes the points builder the
 * x-index window of mode 1, which mode 2 does not have, so the window is the series' whole data.
 */
export function mode2Points(color, size = 6) {
  return {
    show: true,
    size,
    fill: color,
    stroke: color,
    paths: (u, seriesIdx, _idx0, _idx1, filtered) =>
      pointsPathBuilder(u, seriesIdx, 0, u.data[seriesIdx][0].length - 1, filtered),
  };
}
