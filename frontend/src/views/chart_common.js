/**
 * What every chart view shares: the TensorBoard look (light/dark), uPlot axes, a marker overlay that
 * moves with the threshold without redrawing the curves, the hover tooltip, CSV rows and PNG export,
 * and the frame of a one-chart view (`createChartView`), of which `createCurveView` makes the views
 * of one curve per run through the stored thresholds (ROC, precision–recall, DET).
 *
 * Why an overlay canvas for markers: a threshold change must repaint every view within one frame.
 * The curves do not depend on the threshold, so they stay on uPlot's canvas untouched; only the
 * few operating-point markers, drawn on a second canvas inside uPlot's `.u-over`, are cleared and
 * drawn again (microseconds, independent of the number of thresholds).
 */
import uPlot from "uplot";
import * as core from "../core.js";
import { toCsv } from "../export.js";
import { countAt, resolveThreshold } from "../model.js";

// ------------------------------------------------------------------------------------------------
// The TensorBoard look

const ACCENT = "#f57c00";

export const FONT_FAMILY = "Roboto, 'Helvetica Neue', Arial, sans-serif";

export const AXIS_FONT = `12px ${FONT_FAMILY}`;

const LABEL_FONT = `13px ${FONT_FAMILY}`;

/**
 * Colours of TensorBoard's light and dark themes, as its scalar charts use them; the same values as
 * the tab's CSS custom properties (--tbm-surface, --tbm-text-muted, --tbm-grid, --tbm-accent).
 */
export const THEMES = {
  light: {
    accent: ACCENT,
    background: "#ffffff",
    text: "#616161",
    axis: "#9e9e9e",
    grid: "rgba(0, 0, 0, 0.08)",
    reference: "#9e9e9e",
    faint: "rgba(0, 0, 0, 0.22)",
    markerRing: "#ffffff",
    tooltipBackground: "rgba(255, 255, 255, 0.96)",
    tooltipText: "#212121",
    tooltipBorder: "#e0e0e0",
  },
  dark: {
    accent: "#ef8a2c",
    background: "#3a3a3a",
    text: "#a8a8a8",
    axis: "#757575",
    grid: "rgba(255, 255, 255, 0.12)",
    reference: "#9e9e9e",
    faint: "rgba(255, 255, 255, 0.28)",
    markerRing: "#3a3a3a",
    tooltipBackground: "rgba(48, 48, 48, 0.96)",
    tooltipText: "#eeeeee",
    tooltipBorder: "#616161",
  },
};

/** The theme object for a store state (`theme` is "light" or "dark"; anything else is light). */
export function themeOf(state) {
  return THEMES[state && state.theme] || THEMES.light;
}

const STYLE_ID = "tbm-chart-style";

const CHART_CSS = `
.tbm-chart { position: relative; font: 13px ${FONT_FAMILY}; color: var(--tbm-text-muted, #616161); }
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

// ------------------------------------------------------------------------------------------------
// A view's DOM: title, legend, toggles, message, plot

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

// ------------------------------------------------------------------------------------------------
// uPlot set-up

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
 * uPlot axis options in the TensorBoard look. Colours are functions of `getTheme()`, so a theme
 * change only needs `u.redraw(false, true)`.
 */
export function axis(getTheme, options = {}) {
  return {
    font: AXIS_FONT,
    labelFont: LABEL_FONT,
    stroke: () => getTheme().text,
    grid: { stroke: () => getTheme().grid, width: 1 },
    ticks: { stroke: () => getTheme().grid, width: 1, size: 4 },
    labelSize: 18,
    labelGap: 2,
    size: 30,
    ...options,
  };
}

/**
 * uPlot `scales` and `axes` of a chart of two quantities on [0, 1] (rates, scores, fractions),
 * labelled `xLabel` and `yLabel`; `yMax` above 1 leaves room for points at 1.
 */
export function unitAxes(getTheme, xLabel, yLabel, yMax = 1) {
  return {
    scales: { x: { time: false, range: [0, 1] }, y: { range: [0, yMax] } },
    axes: [
      axis(getTheme, { label: xLabel, values: tickValues }),
      axis(getTheme, { label: yLabel, values: tickValues, size: 44 }),
    ],
  };
}

/** Numeric axis values with as many decimals as the tick step needs (0.1 → "0.1", not "0.10"). */
export function tickValues(_u, splits, _axisIdx, _space, increment) {
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(increment || 1) + 1e-9)));
  return splits.map((v) => (v == null ? "" : v.toFixed(decimals)));
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

/** uPlot cursor points for hover: hollow rings, so they are not mistaken for operating points. */
export function hoverPoints(getTheme) {
  return {
    size: 9,
    width: 2,
    fill: () => getTheme().background,
    stroke: (u, s) => u.series[s].stroke(u, s),
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

// ------------------------------------------------------------------------------------------------
// Markers that follow the threshold

/**
 * A second canvas laid over uPlot's plotting area for markers that move with the threshold.
 * `draw(paint)` clears it and calls `paint(ctx, u)` with the context scaled to CSS pixels of the
 * plotting area (so `u.valToPos(v, key)` positions are used directly).
 */
export function createOverlay() {
  let canvas = null;
  let plotInstance = null;
  let lastPaint = null;
  const resize = (u) => {
    const ratio = uPlot.pxRatio;
    const width = u.bbox.width;
    const height = u.bbox.height;
    canvas.width = Math.max(1, Math.round(width));
    canvas.height = Math.max(1, Math.round(height));
    canvas.style.width = `${width / ratio}px`;
    canvas.style.height = `${height / ratio}px`;
    // Resizing clears a canvas: paint the markers again.
    if (lastPaint) overlay.draw(lastPaint);
  };
  const overlay = {
    plugin: {
      hooks: {
        init: (u) => {
          plotInstance = u;
          canvas = u.root.ownerDocument.createElement("canvas");
          canvas.className = "tbm-chart-overlay";
          u.over.appendChild(canvas);
        },
        setSize: (u) => resize(u),
        ready: (u) => resize(u),
        // Scales change on zoom; markers must follow.
        setScale: () => {
          if (lastPaint && plotInstance && plotInstance.status === 1) overlay.draw(lastPaint);
        },
      },
    },
    get canvas() {
      return canvas;
    },
    draw(paint) {
      lastPaint = paint;
      if (!canvas || !plotInstance) return;
      const ctx = canvas.getContext("2d");
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.setTransform(uPlot.pxRatio, 0, 0, uPlot.pxRatio, 0, 0);
      paint(ctx, plotInstance);
    },
  };
  return overlay;
}

/** A filled circle with a ring in the background colour, so it reads on top of its own curve. */
export function drawMarker(ctx, x, y, color, theme, radius = 5) {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return;
  ctx.beginPath();
  ctx.arc(x, y, radius, 0, 2 * Math.PI);
  ctx.fillStyle = color;
  ctx.fill();
  ctx.lineWidth = 2;
  ctx.strokeStyle = theme.markerRing;
  ctx.stroke();
}

/** A vertical line across the plotting area at CSS x position `x` (the threshold cursor). */
export function drawVerticalLine(ctx, u, x, color, width = 1.5, dash = []) {
  if (!Number.isFinite(x)) return;
  const height = u.bbox.height / uPlot.pxRatio;
  ctx.beginPath();
  ctx.setLineDash(dash);
  ctx.moveTo(x, 0);
  ctx.lineTo(x, height);
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.stroke();
  ctx.setLineDash([]);
}

// ------------------------------------------------------------------------------------------------
// Hover

/**
 * A hover tooltip as a uPlot plugin. `content(u)` returns an HTML string for the current cursor
 * (u.cursor.left/top/idx/idxs) or null to hide it. The box is kept inside the plotting area.
 */
export function tooltipPlugin(content, getTheme) {
  let box = null;
  const hide = () => {
    if (box) box.style.display = "none";
  };
  return {
    hooks: {
      init: (u) => {
        box = u.root.ownerDocument.createElement("div");
        box.className = "tbm-chart-tooltip";
        u.over.appendChild(box);
        u.over.addEventListener("mouseleave", hide);
      },
      setCursor: (u) => {
        const { left, top } = u.cursor;
        const html = left == null || left < 0 ? null : content(u);
        if (!html) {
          hide();
          return;
        }
        const theme = getTheme();
        box.innerHTML = html;
        box.style.background = theme.tooltipBackground;
        box.style.color = theme.tooltipText;
        box.style.borderColor = theme.tooltipBorder;
        box.style.display = "block";
        const plotWidth = u.over.clientWidth;
        const plotHeight = u.over.clientHeight;
        const { offsetWidth: width, offsetHeight: height } = box;
        const x = left + 12 + width > plotWidth ? Math.max(0, left - 12 - width) : left + 12;
        const y = top + 12 + height > plotHeight ? Math.max(0, top - 12 - height) : top + 12;
        box.style.left = `${x}px`;
        box.style.top = `${y}px`;
      },
    },
  };
}

/**
 * `cursor.dataIdx` for uPlot's mode 2 (per-series x and y): the index of the point of series
 * `seriesIdx` nearest to the mouse in screen pixels, or null beyond `maxDistance` pixels or for
 * series that `hoverable(seriesIdx)` rejects (reference lines).
 */
export function nearestPointDataIdx(hoverable, maxDistance = 40) {
  return (u, seriesIdx) => {
    if (seriesIdx === 0 || !hoverable(seriesIdx) || !u.series[seriesIdx].show) return null;
    const { left, top } = u.cursor;
    if (left == null || left < 0) return null;
    const [xs, ys] = u.data[seriesIdx];
    const series = u.series[seriesIdx];
    const [xKey, yKey] = [series.facets[0].scale, series.facets[1].scale];
    let best = null;
    let bestDistance = maxDistance * maxDistance;
    for (let i = 0; i < xs.length; i++) {
      if (xs[i] == null || ys[i] == null) continue;
      const dx = u.valToPos(xs[i], xKey) - left;
      const dy = u.valToPos(ys[i], yKey) - top;
      const distance = dx * dx + dy * dy;
      if (distance < bestDistance) {
        bestDistance = distance;
        best = i;
      }
    }
    return best;
  };
}

/** Of the series with a hovered point (mode 2), the one whose point is nearest to the mouse. */
export function closestHoveredSeries(u) {
  const { left, top, idxs } = u.cursor;
  let best = null;
  let bestDistance = Infinity;
  for (let s = 1; s < u.series.length; s++) {
    const i = idxs && idxs[s];
    if (i == null) continue;
    const [xs, ys] = u.data[s];
    const [xKey, yKey] = [u.series[s].facets[0].scale, u.series[s].facets[1].scale];
    const dx = u.valToPos(xs[i], xKey) - left;
    const dy = u.valToPos(ys[i], yKey) - top;
    if (dx * dx + dy * dy < bestDistance) {
      bestDistance = dx * dx + dy * dy;
      best = s;
    }
  }
  return best;
}

/**
 * The hovered point of a mode-2 chart whose first `numCurves` series are the runs' curves (the
 * rest are reference lines): `{r, i}`, point i of run r's data, or null when none is near.
 */
export function hoveredCurvePoint(u, numCurves) {
  const s = closestHoveredSeries(u);
  if (s == null || s > numCurves) return null;
  return { r: s - 1, i: u.cursor.idxs[s] };
}

/**
 * uPlot cursor options of a mode-2 chart whose first `numCurves` series are curves to hover: the
 * nearest point, drawn as a hollow ring; `drag` as uPlot's `cursor.drag` (zooming).
 */
export function curveCursor(getTheme, numCurves, drag) {
  return { dataIdx: nearestPointDataIdx((s) => s <= numCurves), points: hoverPoints(getTheme), drag };
}

/** Formats a rate or score for display (4 significant decimals; "–" for NaN/null). */
export function formatNumber(value, digits = 4) {
  if (value == null || Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  return value.toFixed(digits);
}

/** Formats a threshold: enough digits to tell grid points apart near 0 and 1. */
export function formatThreshold(value) {
  if (value == null || Number.isNaN(value)) return "–";
  if (value > 0 && value < 1e-3) return value.toExponential(2);
  if (value < 1 && 1 - value < 1e-3) return `1 − ${(1 - value).toExponential(2)}`;
  return value.toFixed(4);
}

/** Formats a count: integers as integers, weighted counts with 4 significant digits. */
export function formatCount(value) {
  if (value == null || Number.isNaN(value)) return "–";
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/** Escapes text for the tooltip's innerHTML (run names are user data). */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A tooltip table with one column per run: `rows` are [label, (run index) → text] pairs; the
 * header row shows each run's colour and name.
 */
export function runsTableHtml(curves, rows) {
  const head = curves
    .map((curve) => `<td><span style="color:${escapeHtml(curve.color)}">●</span> ${escapeHtml(curve.run)}</td>`)
    .join("");
  const body = rows
    .map(([label, cell]) => `<tr><td>${escapeHtml(label)}</td>${curves.map((_, r) => `<td>${cell(r)}</td>`).join("")}</tr>`)
    .join("");
  return `<table><tr><td></td>${head}</tr>${body}</table>`;
}

/**
 * The stored threshold of each run that `score` resolves to (`resolveThreshold`, as the readout
 * does: nearest on the grid, floor for an exact curve, where −1 is everything positive): what a
 * tooltip over a score axis reports counts at.
 */
export function thresholdIndices(curves, score) {
  return curves.map((curve) => resolveThreshold(curve, score));
}

/**
 * A `runsTableHtml` row: the threshold each run's counts hold at: its stored threshold `index[r]`,
 * or for an exact curve `score` itself, marked "(exact)".
 */
export function thresholdRow(curves, index, score) {
  return ["threshold", (r) => (curves[r].exact ? `${formatThreshold(score)} (exact)` : formatThreshold(curves[r].thresholds[index[r]]))];
}

/** `runsTableHtml` rows: each run's TP, FP, TN and FN at its stored threshold `index[r]` (−1: everything positive). */
export function countRows(curves, index) {
  return ["tp", "fp", "tn", "fn"].map((key) => [key.toUpperCase(), (r) => formatCount(countAt(curves[r], key, index[r]))]);
}

/**
 * Tooltip rows for TP/FP/TN/FN at one threshold of one run's curve. For a macro / weighted average
 * the counts are class means (see model.js), and say so.
 */
export function countsTableHtml(curve, index) {
  const row = (name, value) => `<tr><td>${name}</td><td>${value}</td></tr>`;
  const note = hasExactCounts(curve) ? "" : row("counts", "mean per class");
  return (
    `<table>${row("threshold", formatThreshold(curve.thresholds[index]))}` +
    row("TP", formatCount(curve.tp[index])) +
    row("FP", formatCount(curve.fp[index])) +
    row("TN", formatCount(curve.tn[index])) +
    row("FN", formatCount(curve.fn[index])) +
    note +
    "</table>"
  );
}

/** A coloured run name for a tooltip header. */
export function runHeaderHtml(run, color) {
  return `<div><span style="color:${escapeHtml(color)}">●</span> <b>${escapeHtml(run)}</b></div>`;
}

// ------------------------------------------------------------------------------------------------
// Dragging the threshold

/** Coalesces calls into one per animation frame (drags fire many events per frame). */
function perFrame(fn) {
  let pending = null;
  let lastArgs = null;
  return (...args) => {
    lastArgs = args;
    if (pending != null) return;
    pending = requestAnimationFrame(() => {
      pending = null;
      fn(...lastArgs);
    });
  };
}

/**
 * Lets the user drag the threshold on a chart whose x scale is the score: pressing anywhere in the
 * plotting area and moving sets the threshold to the score at the pointer, snapped to the nearest
 * stored threshold on a grid (the counts exist only there; an exact curve has counts at any score).
 * `getCurve()` gives the curve that decides ({thresholds, exact}); `setThreshold(t)` applies it.
 * Returns a uPlot plugin.
 */
export function thresholdDragPlugin(getCurve, setThreshold) {
  return {
    hooks: {
      init: (u) => {
        const over = u.over;
        over.style.cursor = "ew-resize";
        const apply = perFrame((clientX) => {
          const curve = getCurve();
          if (!curve || !curve.thresholds.length) return;
          const left = clientX - over.getBoundingClientRect().left;
          const value = Math.min(1, Math.max(0, u.posToVal(left, "x")));
          setThreshold(curve.exact ? value : curve.thresholds[core.thresholdIndex(curve.thresholds, value)]);
        });
        const onMove = (event) => apply(event.clientX);
        const onUp = () => {
          over.ownerDocument.removeEventListener("mousemove", onMove);
          over.ownerDocument.removeEventListener("mouseup", onUp);
        };
        over.addEventListener("mousedown", (event) => {
          if (event.button !== 0) return;
          event.preventDefault();
          apply(event.clientX);
          over.ownerDocument.addEventListener("mousemove", onMove);
          over.ownerDocument.addEventListener("mouseup", onUp);
        });
      },
    },
  };
}

/** A press and release closer than this (px) is a click, not a drag (which zooms). */
const CLICK_SLOP_PX = 4;

/**
 * Lets a click on a curve chart (ROC, precision–recall, DET) move the threshold to the point the
 * click is nearest to, as a press on the metrics-vs-threshold chart does. `pointThreshold(u)` is
 * the stored threshold of the hovered point (null: none near, or an end point); a drag still zooms.
 * Returns a uPlot plugin.
 */
export function clickToThresholdPlugin(pointThreshold, setThreshold) {
  return {
    hooks: {
      init: (u) => {
        let press = null;
        u.over.addEventListener("mousedown", (event) => {
          press = event.button === 0 ? { x: event.clientX, y: event.clientY } : null;
        });
        u.over.addEventListener("click", (event) => {
          if (!press || Math.hypot(event.clientX - press.x, event.clientY - press.y) > CLICK_SLOP_PX) return;
          const threshold = pointThreshold(u);
          if (threshold !== null) setThreshold(threshold);
        });
      },
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Curves, thresholds and the core

/**
 * For a curve of T + 2 points as the core returns them (+∞ end, t_{T−1} … t_0, −∞ end), the
 * index in the stored thresholds of each point (−1 for the two ends).
 */
export function curveGridIndex(numThresholds) {
  const gridIndex = new Int32Array(numThresholds + 2).fill(-1);
  for (let i = 1; i <= numThresholds; i++) gridIndex[i] = numThresholds - i;
  return gridIndex;
}

/**
 * The curve point (see `curveGridIndex`) of the operating point at `threshold`: the stored
 * threshold the core picks for it (`thresholdIndex` with `exact`, as the readout does; for an exact
 * curve below every score, the "everything positive" end); −1 when there is none.
 */
export function curvePointAt(thresholds, threshold, exact = false) {
  const index = core.thresholdIndex(thresholds, threshold, exact);
  return index < 0 && !exact ? -1 : thresholds.length - index;
}

/**
 * CSV rows, one per run and stored threshold (ascending): [run, ...cells(r, j), TP, FP, TN, FN] for
 * run r at threshold index j.
 */
export function thresholdRows(curves, cells) {
  const rows = [];
  curves.forEach((curve, r) => {
    for (let j = 0; j < curve.thresholds.length; j++) {
      rows.push([curve.run, ...cells(r, j), curve.tp[j], curve.fp[j], curve.tn[j], curve.fn[j]]);
    }
  });
  return rows;
}

/**
 * CSV rows of curve points, one per run and stored threshold (ascending):
 * [run, ...perRun(r), threshold, x, y, TP, FP, TN, FN] with x, y the curve's coordinates there
 * (`series[r]` holds the T + 2 points as the core returns them; see `curveGridIndex`).
 */
export function curveRows(curves, series, perRun) {
  return thresholdRows(curves, (r, j) => {
    const i = curves[r].thresholds.length - j;
    return [...perRun(r), curves[r].thresholds[j], series[r].x[i], series[r].y[i]];
  });
}

/**
 * The curves `isDefined` holds for, and the names of the runs it does not (a ROC curve needs
 * positives and negatives, for instance): `{defined, skippedRuns}`.
 */
export function splitDefined(curves, isDefined) {
  const defined = curves.filter(isDefined);
  const skippedRuns = curves.filter((curve) => !defined.includes(curve)).map((curve) => curve.run);
  return { defined, skippedRuns };
}

/** True when a curve has both positives and negatives (ROC, DET and calibration need both). */
export function hasBothClasses(curve) {
  return curve.positives > 0 && curve.negatives > 0;
}

/**
 * precision, recall, F1, specificity, accuracy, MCC, … at every stored threshold of one curve: of
 * its counts for a class or the micro average, the class mean for a macro / weighted average.
 */
export function metricsAtThresholds(curve) {
  if (curve.average === "macro" || curve.average === "weighted") {
    const { tp, fp, tn, fn } = core.confusionAtThresholds(curve.positiveHistograms, curve.negativeHistograms);
    return core.averageThresholdMetrics(tp, fp, tn, fn, curve.average);
  }
  return core.thresholdMetrics(curve.tp, curve.fp, curve.tn, curve.fn);
}

/**
 * `metricsAtThresholds` of "everything positive" (TP = P, FP = N), where an exact curve is below
 * its lowest score: one number per metric.
 */
export function allPositiveMetrics(curve) {
  if (curve.average === "macro" || curve.average === "weighted") {
    const column = (key) => curve.classes.map((row) => [key === "tp" ? sumOf(row.positive) : key === "fp" ? sumOf(row.negative) : 0]);
    const averaged = core.averageThresholdMetrics(column("tp"), column("fp"), column("tn"), column("fn"), curve.average);
    return Object.fromEntries(Object.entries(averaged).map(([name, values]) => [name, values[0]]));
  }
  return core.thresholdMetrics(curve.positives, curve.negatives, 0, 0);
}

function sumOf(values) {
  let total = 0;
  for (let k = 0; k < values.length; k++) total += values[k];
  return total;
}

/** The arguments the core's curve and area functions take for a model curve (class or average). */
export function histogramArgs(curve) {
  return [curve.positiveHistograms ?? curve.positiveHistogram, curve.negativeHistograms ?? curve.negativeHistogram];
}

/** True when the curve's counts are real counts (a class, or the micro pool), not averaged rates. */
export function hasExactCounts(curve) {
  return !curve.average || curve.average === "micro";
}

// ------------------------------------------------------------------------------------------------
// Probability axes: logit (scores) and probit (DET rates)

/** Scores closer to 0 or 1 than this are drawn at its logit: float32 scores resolve ~6e-8 near 1. */
const LOGIT_EPSILON = 1e-9;

const PROBABILITY_TICKS = [
  1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1 - 1e-3,
  1 - 1e-4, 1 - 1e-5, 1 - 1e-6, 1 - 1e-7, 1 - 1e-8,
];

/** log(p / (1 − p)) with p clamped to [ε, 1 − ε]: the x position of a score on a logit axis. */
export function logit(p) {
  const clamped = Math.min(1 - LOGIT_EPSILON, Math.max(LOGIT_EPSILON, p));
  return Math.log(clamped / (1 - clamped));
}

/** 1 / (1 + e^−x): the score at logit x. */
export function sigmoid(x) {
  return 1 / (1 + Math.exp(-x));
}

/** A uPlot scale whose positions are logits of the values (custom distribution, fwd/bwd). */
export function logitScale(range) {
  return { time: false, distr: 100, fwd: logit, bwd: sigmoid, range };
}

/**
 * True when most of the curves' scores (weight of positives and negatives) lie within 0.01 of 0 or
 * of 1: a confident model, whose scores a linear score axis squeezes into its two ends.
 */
export function mostlyConfident(curves) {
  let outer = 0;
  let all = 0;
  for (const { thresholds, positiveHistogram, negativeHistogram, exact } of curves) {
    for (let k = 0; k < positiveHistogram.length; k++) {
      const weight = positiveHistogram[k] + negativeHistogram[k];
      all += weight;
      // Bin k holds scores in (t_{k−1}, t_k]; in an exact curve, the score t_k itself.
      const upper = k < thresholds.length ? thresholds[k] : Infinity;
      const lower = exact ? upper : k > 0 ? thresholds[k - 1] : -Infinity;
      if (upper <= 0.01 || lower >= 0.99) outer += weight;
    }
  }
  return all > 0 && outer / all > 0.5;
}

/**
 * The scores from the lower edge of the lowest occupied bin to the upper edge of the highest, over
 * all curves: the span of a logit axis (empty tails out to 1e-9 would squeeze the data).
 */
export function occupiedScoreRange(curves) {
  let from = Infinity;
  let to = -Infinity;
  for (const { thresholds, positiveHistogram, negativeHistogram, exact } of curves) {
    const last = thresholds.length - 1;
    for (let k = 0; k < positiveHistogram.length; k++) {
      if (!(positiveHistogram[k] > 0 || negativeHistogram[k] > 0)) continue;
      // An exact curve's bin k is the score t_k; a grid bin spans (t_{k−1}, t_k].
      from = Math.min(from, thresholds[Math.max(0, exact ? Math.min(last, k) : k - 1)]);
      to = Math.max(to, thresholds[Math.min(last, k)]);
    }
  }
  return from < to ? [from, to] : [0, 1];
}

/** Tick values for a probability axis drawn in logit (or probit) space: 0.01, 0.1, 0.5, 0.9, … */
function probabilitySplits(u, axisIdx, scaleMin, scaleMax) {
  const key = u.axes[axisIdx].scale;
  const width = Math.abs(u.valToPos(scaleMax, key) - u.valToPos(scaleMin, key));
  const inRange = PROBABILITY_TICKS.filter((p) => p >= scaleMin && p <= scaleMax);
  // Keep ticks at least 36 px apart, preferring the round ones near 0.5.
  const kept = [];
  const order = [...inRange].sort((a, b) => Math.abs(a - 0.5) - Math.abs(b - 0.5));
  for (const p of order) {
    const x = u.valToPos(p, key);
    if (kept.every((q) => Math.abs(u.valToPos(q, key) - x) >= 36) || width === 0) kept.push(p);
  }
  return kept.sort((a, b) => a - b);
}

/**
 * Axis options for a probability axis drawn in logit or probit space. `filter` keeps every split:
 * uPlot's default filter for custom scales (distr ≥ 3 with log base 10) keeps only powers of ten.
 */
export function probabilityAxis(label) {
  return { label, splits: probabilitySplits, values: probabilityValues, filter: (_u, splits) => splits };
}

/** Labels for `probabilitySplits`: "0.001", "0.5", "0.999", "1−1e-6". */
function probabilityValues(_u, splits) {
  return splits.map((p) => {
    if (p == null) return "";
    if (p > 0.999 && p < 1) return `1−${(1 - p).toExponential(0)}`;
    if (p < 1e-3 && p > 0) return p.toExponential(0);
    return String(Number(p.toPrecision(3)));
  });
}

// Coefficients of Acklam's rational approximation of the normal quantile (relative error < 1.2e-9),
// used only to place rates on a probit axis.
const PROBIT_A = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];

const PROBIT_B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];

const PROBIT_C = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];

const PROBIT_D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];

const PROBIT_TAIL = 0.02425;

/** Rates closer to 0 or 1 than this sit at the edge of a probit axis. */
const PROBIT_EPSILON = 1e-7;

const polynomial = (coefficients, x) => coefficients.reduce((sum, c) => sum * x + c, 0);

/** Φ⁻¹(p), the standard normal quantile, with p clamped to [ε, 1 − ε]: a position on a probit axis. */
export function probit(p) {
  const q = Math.min(1 - PROBIT_EPSILON, Math.max(PROBIT_EPSILON, p));
  if (q < PROBIT_TAIL || q > 1 - PROBIT_TAIL) {
    const r = Math.sqrt(-2 * Math.log(Math.min(q, 1 - q)));
    const tail = polynomial(PROBIT_C, r) / (polynomial(PROBIT_D, r) * r + 1);
    return q < 0.5 ? tail : -tail;
  }
  const r = (q - 0.5) * (q - 0.5);
  return ((q - 0.5) * polynomial(PROBIT_A, r)) / (polynomial(PROBIT_B, r) * r + 1);
}

/** Φ(x), the standard normal CDF (Zelen & Severo 26.2.17, error < 7.5e-8): probit's inverse. */
export function normalCdf(x) {
  const t = 1 / (1 + 0.2316419 * Math.abs(x));
  const density = Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
  const tail = density * polynomial([1.330274429, -1.821255978, 1.781477937, -0.356563782, 0.31938153, 0], t);
  return x >= 0 ? 1 - tail : tail;
}

/** A uPlot scale whose positions are probits of the values (the DET curve's axes). */
export function probitScale(range) {
  return { time: false, distr: 100, fwd: probit, bwd: normalCdf, range };
}

// ------------------------------------------------------------------------------------------------
// PNG export

/**
 * A PNG data URL of a chart: uPlot's canvas, the marker overlay, and the legend written below, on
 * the theme's background (uPlot's canvas is transparent).
 */
export function exportChartPng(u, overlayCanvas, theme, title, legendItems) {
  return u ? exportChartsPng([{ plot: u, overlayCanvas, title }], theme, legendItems) : "";
}

/**
 * One PNG data URL of several charts stacked top to bottom ({plot, overlayCanvas, title} each),
 * each under its title, with one legend at the bottom.
 */
export function exportChartsPng(panels, theme, legendItems) {
  const drawn = panels.filter((panel) => panel.plot);
  if (!drawn.length) return "";
  const ratio = uPlot.pxRatio;
  const lineHeight = Math.round(16 * ratio);
  const titleHeight = lineHeight + Math.round(6 * ratio);
  const legendHeight = legendItems.length * lineHeight + Math.round(6 * ratio);
  const width = Math.max(...drawn.map((panel) => panel.plot.ctx.canvas.width));
  const height = drawn.reduce((sum, panel) => sum + titleHeight + panel.plot.ctx.canvas.height, 0) + legendHeight;
  const canvas = drawn[0].plot.root.ownerDocument.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = theme.background;
  ctx.fillRect(0, 0, width, height);
  ctx.textBaseline = "middle";
  let top = 0;
  for (const { plot, overlayCanvas, title } of drawn) {
    ctx.font = `500 ${Math.round(13 * ratio)}px ${FONT_FAMILY}`;
    ctx.fillStyle = theme.text;
    ctx.fillText(title, Math.round(8 * ratio), top + titleHeight / 2);
    top += titleHeight;
    ctx.drawImage(plot.ctx.canvas, 0, top);
    if (overlayCanvas) ctx.drawImage(overlayCanvas, plot.bbox.left, top + plot.bbox.top);
    top += plot.ctx.canvas.height;
  }
  ctx.font = `${Math.round(12 * ratio)}px ${FONT_FAMILY}`;
  legendItems.forEach(({ color, text }, i) => {
    const y = top + (i + 0.5) * lineHeight + Math.round(3 * ratio);
    ctx.fillStyle = color;
    ctx.fillRect(Math.round(8 * ratio), y - ratio, Math.round(14 * ratio), Math.round(2 * ratio));
    ctx.fillStyle = theme.text;
    ctx.fillText(text, Math.round(28 * ratio), y);
  });
  return canvas.toDataURL("image/png");
}

// ------------------------------------------------------------------------------------------------
// Views of one chart

export const NO_CURVES_TEXT = "No threshold curves for the selected runs.";

/**
 * The frame of a view with one chart (ROC, precision–recall, DET, calibration, metrics vs
 * threshold, score distribution): its DOM, one uPlot chart with the marker overlay, the legend, the
 * theme and threshold of the last model, and the view object that the card holding it (layout.js)
 * calls, as it calls every view: `update(model, changedKeys)` on each state or data change,
 * `exportCsv()`, `exportPng()` and `destroy()`.
 *
 * The view supplies:
 * - `rebuild(model)`: the curves changed. It computes what is drawn, sets the message and legend and
 *   shows the data (`chart.holder.show(layoutKey, makeOptions, data)`), or `chart.clear()`. It runs
 *   when the runs, tag, class, step or theme changed or the model holds new curves; a threshold
 *   change never recomputes a curve.
 * - `paintOverlay(ctx, u)`: the markers at `chart.threshold`, repainted on every update (see
 *   `createOverlay`: the curves' canvas is left untouched).
 * - `exportCsv()`: the CSV text of what is shown.
 *
 * @returns {object} the chart: `dom`, `holder`, `theme`, `getTheme`, `threshold`, `model`,
 *   `overlay`, `legendItems`, the methods below, and `view`, what `createXView` returns.
 */
export function createChartView(container, { testid, title, pngTitle = title, rebuild, paintOverlay, exportCsv }) {
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
      exportCsv: () => exportCsv(),
      exportPng: () => exportChartPng(holder.plot, chart.overlay && chart.overlay.canvas, chart.theme, pngTitle, chart.legendItems),
      destroy() {
        holder.destroy();
        dom.root.remove();
      },
    },
  };
  return chart;
}

/**
 * The score axis of a chart whose x is the score (metrics vs threshold, score distribution), with
 * its "logit axis" toggle in the view's header: linear on [0, 1], or logit over the occupied scores
 * (`occupiedScoreRange`). Until the user picks, the axis is logit for confident models (see
 * `mostlyConfident`). `label` names the axis ("Threshold", "Score").
 */
export function createScoreAxis(chart, label) {
  let userPicked = false;
  const scoreAxis = {
    logit: false,
    /** The scores the axis spans; a range function reads it, so new data needs only setData. */
    range: [0, 1],
    /** Picks linear or logit for `curves` (unless the user did) and the span of the axis. */
    fit(curves) {
      if (!userPicked) {
        scoreAxis.logit = mostlyConfident(curves);
        toggle.checked = scoreAxis.logit;
      }
      scoreAxis.range = scoreAxis.logit ? occupiedScoreRange(curves) : [0, 1];
    },
    /** Where a score sits along the axis, in the axis' units (score or logit). */
    position: (score) => (scoreAxis.logit ? logit(score) : score),
    /** uPlot options of the x scale. */
    scale: () => (scoreAxis.logit ? logitScale(() => scoreAxis.range) : { time: false, range: [0, 1] }),
    /** uPlot options of the x axis. */
    axis: () => axis(chart.getTheme, scoreAxis.logit
      ? probabilityAxis(`${label} (logit axis)`)
      : { label, values: tickValues }),
  };
  const toggle = addToggle(chart.dom.controls, "logit axis", false, (checked) => {
    userPicked = true;
    scoreAxis.logit = checked;
    chart.rebuild();
  });
  return scoreAxis;
}

const NO_PER_RUN = { columns: [], values: () => [], legendText: (curve) => curve.run };

const NO_REFERENCES = { legend: () => [], series: () => [], data: () => [], plugins: () => [] };

/**
 * A view of one curve per selected run through its stored thresholds (ROC, precision–recall, DET):
 * each run's operating point at the current threshold, a tooltip with the hovered point's threshold
 * and counts, and a CSV row per run and stored threshold with the point and the counts.
 *
 * `spec`:
 * - `testid`, `title`, `pngTitle`: as `createChartView`.
 * - `isDefined(curve)`, `undefinedText`: runs the curve is undefined for are left out and named in
 *   the message after `undefinedText`.
 * - `points(curve)` → `{x, y}`: the T + 2 points as the core returns them (see `curveGridIndex`);
 *   `visible(x, y)`, optional: which of them the axes can show (the others are not drawn).
 * - `x`, `y`: `{name, column}`, the coordinates' names in the tooltip and their CSV columns.
 * - `plotAxes(getTheme)` → `{scales, axes}`: uPlot's options for them.
 * - `perRun`, optional: `{columns, values(curve) → numbers, legendText(curve, values)}`, numbers of
 *   each run (e.g. its AUC) in the legend and in CSV columns before `threshold`.
 * - `references`, optional: lines drawn after the curves (chance, iso-F1), as
 *   `{legend(theme, curves) → legend items, series(getTheme, curves) → uPlot series, data(curves) →
 *   their data, plugins(getTheme) → uPlot plugins}`.
 * - `operatingPoint(curve, points, i)`, optional: `[x, y]` of the marker at point i (default the
 *   point itself).
 * - `controls(chart)`, optional: called once with the chart (`dom.controls`, `model`, `rebuild()`)
 *   to add the view's own inputs to its header.
 */
export function createCurveView(container, spec) {
  const perRun = spec.perRun || NO_PER_RUN;
  const references = { ...NO_REFERENCES, ...spec.references };
  const operatingPoint = spec.operatingPoint || ((_curve, points, i) => [points.x[i], points.y[i]]);
  let curves = [];
  let series = []; // per run: the drawn {x, y, gridIndex}, and `all`: the core's T + 2 points {x, y}
  let perRunValues = [];
  const chart = createChartView(container, {
    testid: spec.testid, title: spec.title, pngTitle: spec.pngTitle, rebuild, paintOverlay, exportCsv,
  });
  if (spec.controls) spec.controls(chart);

  function toSeries(curve) {
    const all = spec.points(curve);
    const gridIndex = curveGridIndex(curve.thresholds.length);
    if (!spec.visible) return { x: all.x, y: all.y, gridIndex, all };
    const shown = { x: [], y: [], gridIndex: [], all };
    for (let i = 0; i < all.x.length; i++) {
      if (!spec.visible(all.x[i], all.y[i])) continue;
      shown.x.push(all.x[i]);
      shown.y.push(all.y[i]);
      shown.gridIndex.push(gridIndex[i]);
    }
    return shown;
  }

  function tooltip(u) {
    const hovered = hoveredCurvePoint(u, curves.length);
    if (!hovered) return null;
    const { r, i } = hovered;
    const { x, y, gridIndex } = series[r];
    const j = gridIndex[i];
    const point = `<div>${spec.x.name} ${formatNumber(x[i])} · ${spec.y.name} ${formatNumber(y[i])}</div>`;
    const counts = j >= 0 ? countsTableHtml(curves[r], j) : "<div>end point (threshold ±∞)</div>";
    return runHeaderHtml(curves[r].run, curves[r].color) + point + counts;
  }

  /** The stored threshold of the curve point nearest the pointer (the hovered one), or null. */
  function hoveredThreshold(u) {
    const hovered = hoveredCurvePoint(u, curves.length);
    if (!hovered) return null;
    const j = series[hovered.r].gridIndex[hovered.i];
    return j >= 0 ? curves[hovered.r].thresholds[j] : null;
  }

  function options(width) {
    return chart.options(width, tooltip, {
      mode: 2,
      ...spec.plotAxes(chart.getTheme),
      series: [
        {},
        ...curves.map((curve) => ({ label: curve.run, stroke: curve.color, width: 2, points: { show: false } })),
        ...references.series(chart.getTheme, curves),
      ],
      cursor: curveCursor(chart.getTheme, curves.length, { x: true, y: true, uni: 20 }),
      plugins: [...references.plugins(chart.getTheme), clickToThresholdPlugin(hoveredThreshold, chart.setThreshold)],
    });
  }

  function paintOverlay(ctx, u) {
    curves.forEach((curve, r) => {
      const i = curvePointAt(curve.thresholds, chart.threshold, curve.exact);
      if (i < 0) return;
      const [x, y] = operatingPoint(curve, series[r].all, i);
      drawMarker(ctx, u.valToPos(x, "x"), u.valToPos(y, "y"), curve.color, chart.theme);
    });
  }

  function rebuild(model) {
    const all = model.curves || [];
    const { defined, skippedRuns } = splitDefined(all, spec.isDefined);
    curves = defined;
    chart.dom.message.textContent = skippedRuns.length
      ? `${spec.undefinedText}: ${skippedRuns.join(", ")}.`
      : all.length ? "" : NO_CURVES_TEXT;
    if (!curves.length) {
      chart.clear();
      return;
    }
    series = curves.map(toSeries);
    perRunValues = curves.map((curve) => perRun.values(curve));
    chart.setLegend([
      ...curves.map((curve, r) => ({ color: curve.color, text: perRun.legendText(curve, perRunValues[r]) })),
      ...references.legend(chart.theme, curves),
    ]);
    const data = [null, ...series.map((s) => [s.x, s.y]), ...references.data(curves)];
    chart.holder.show(runsLayoutKey(curves), options, data);
  }

  function exportCsv() {
    const header = ["run", ...perRun.columns, "threshold", spec.x.column, spec.y.column, "tp", "fp", "tn", "fn"];
    // Every stored threshold, also points the axes cannot show.
    return toCsv(header, curveRows(curves, series.map((s) => s.all), (r) => perRunValues[r]));
  }

  return chart.view;
}

export { uPlot };
