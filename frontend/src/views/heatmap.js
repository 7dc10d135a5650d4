// A C×C heatmap on canvas that stays fast at 1000 classes: the cells are painted once into an
// offscreen C×C image (one pixel per cell) and scaled with drawImage on every zoom, pan or hover.
// Labels and numbers are drawn only when cells are big enough to hold them.

import { interpolateOranges, interpolateInferno } from "d3-scale-chromatic";
import { THEMES } from "./chart/theme.js";

const LUT_SIZE = 256;
const LABEL_MIN_CELL = 11; // px: class names on the axes from this cell size
const VALUE_MIN_CELL = 30; // px: numbers in the cells from this cell size
const MARGIN = { left: 96, top: 84, right: 8, bottom: 8 };

/** 256 RGB triples of a colour ramp. Dark mode ramps up from black, light mode from white. */
function colorTable(theme) {
  const interpolate = theme === "dark" ? (t) => interpolateInferno(0.08 + 0.85 * t) : (t) => interpolateOranges(0.04 + 0.96 * t);
  const table = new Uint8ClampedArray(LUT_SIZE * 3);
  const probe = document.createElement("canvas").getContext("2d");
  for (let i = 0; i < LUT_SIZE; i++) {
    probe.fillStyle = interpolate(i / (LUT_SIZE - 1));
    const hex = probe.fillStyle; // normalised to #rrggbb
    table[3 * i] = parseInt(hex.slice(1, 3), 16);
    table[3 * i + 1] = parseInt(hex.slice(3, 5), 16);
    table[3 * i + 2] = parseInt(hex.slice(5, 7), 16);
  }
  return table;
}

/** Black or white, whichever reads better on the ramp's colour at `fraction` (relative luminance). */
function readableTextOn(table, fraction) {
  const index = Math.max(0, Math.min(LUT_SIZE - 1, Math.round(fraction * (LUT_SIZE - 1)))) * 3;
  const luminance = (0.2126 * table[index] + 0.7152 * table[index + 1] + 0.0722 * table[index + 2]) / 255;
  return luminance > 0.5 ? "#000000" : "#ffffff";
}

/**
 * @param {HTMLElement} container
 * @param {{onHover(cell: {row: number, col: number}|null, event: MouseEvent): void}} callbacks
 */
export function createHeatmap(container, { onHover }) {
  const canvas = document.createElement("canvas");
  container.append(canvas);
  const image = document.createElement("canvas");
  let values = null; // Float64Array C*C, already normalised, in display order
  let size = 0;
  let maxValue = 0;
  let labels = [];
  let formatValue = String;
  let theme = "light";
  let colors = { text: THEMES.light.text, grid: THEMES.light.grid, background: THEMES.light.background };
  // The visible window in cell units: columns [x0, x0 + span), rows [y0, y0 + span).
  let view = { x0: 0, y0: 0, span: 1 };
  let drag = null;
  let table = new Uint8ClampedArray(LUT_SIZE * 3);

  function plotBox() {
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    const side = Math.max(10, Math.min(width - MARGIN.left - MARGIN.right, height - MARGIN.top - MARGIN.bottom));
    return { left: MARGIN.left, top: MARGIN.top, side, cell: side / view.span };
  }

  function paintImage() {
    image.width = size;
    image.height = size;
    if (size === 0) return;
    const ctx = image.getContext("2d");
    const pixels = ctx.createImageData(size, size);
    table = colorTable(theme);
    const scale = maxValue > 0 ? (LUT_SIZE - 1) / maxValue : 0;
    for (let i = 0; i < size * size; i++) {
      const index = Math.max(0, Math.min(LUT_SIZE - 1, Math.round(values[i] * scale))) * 3;
      pixels.data[4 * i] = table[index];
      pixels.data[4 * i + 1] = table[index + 1];
      pixels.data[4 * i + 2] = table[index + 2];
      pixels.data[4 * i + 3] = 255;
    }
    ctx.putImageData(pixels, 0, 0);
  }

  function draw() {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (size === 0) return;
    const { left, top, side, cell } = plotBox();
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, side, side);
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(image, 0, 0, size, size, left - view.x0 * cell, top - view.y0 * cell, size * cell, size * cell);
    const first = { col: Math.max(0, Math.floor(view.x0)), row: Math.max(0, Math.floor(view.y0)) };
    const last = { col: Math.min(size, Math.ceil(view.x0 + view.span)), row: Math.min(size, Math.ceil(view.y0 + view.span)) };
    if (cell >= 4) {
      ctx.strokeStyle = colors.grid;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let k = first.col; k <= last.col; k++) {
        const x = Math.round(left + (k - view.x0) * cell) + 0.5;
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + side);
      }
      for (let k = first.row; k <= last.row; k++) {
        const y = Math.round(top + (k - view.y0) * cell) + 0.5;
        ctx.moveTo(left, y);
        ctx.lineTo(left + side, y);
      }
      ctx.stroke();
    }
    if (cell >= VALUE_MIN_CELL) {
      const fontSize = Math.min(13, Math.floor(cell / 3.2));
      ctx.font = `${fontSize}px Roboto, sans-serif`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      for (let row = first.row; row < last.row; row++) {
        const y = top + (row - view.y0 + 0.5) * cell;
        // Only whole numbers: a number cut at the edge ("46" showing as "6") reads as another one,
        // right next to the row labels.
        if (y - fontSize / 2 < top || y + fontSize / 2 > top + side) continue;
        for (let col = first.col; col < last.col; col++) {
          const value = values[row * size + col];
          const text = formatValue(value);
          const x = left + (col - view.x0 + 0.5) * cell;
          const halfWidth = ctx.measureText(text).width / 2;
          if (x - halfWidth < left || x + halfWidth > left + side) continue;
          ctx.fillStyle = readableTextOn(table, maxValue > 0 ? value / maxValue : 0);
          ctx.fillText(text, x, y);
        }
      }
    }
    // Where the plotting area is and which cells it shows, in CSS px and cell units.
    canvas.dataset.plot = `${left} ${top} ${side}`;
    canvas.dataset.window = `${view.x0} ${view.y0} ${view.span}`;
    ctx.restore();
    // Axis labels, outside the clip.
    ctx.fillStyle = colors.text;
    ctx.font = "11px Roboto, sans-serif";
    if (cell >= LABEL_MIN_CELL) {
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (let row = first.row; row < last.row; row++) {
        const y = top + (row - view.y0 + 0.5) * cell;
        if (y >= top && y <= top + side) ctx.fillText(truncate(ctx, labels[row], MARGIN.left - 8), left - 4, y);
      }
      for (let col = first.col; col < last.col; col++) {
        const x = left + (col - view.x0 + 0.5) * cell;
        if (x < left || x > left + side) continue;
        ctx.save();
        ctx.translate(x, top - 4);
        ctx.rotate(-Math.PI / 3);
        ctx.textAlign = "left";
        ctx.fillText(truncate(ctx, labels[col], MARGIN.top - 14), 0, 0);
        ctx.restore();
      }
    } else {
      ctx.textAlign = "left";
      ctx.textBaseline = "alphabetic";
      ctx.fillText(`classes ${first.row}–${last.row - 1} × ${first.col}–${last.col - 1} (zoom to read names)`, left, top - 8);
    }
    ctx.font = "500 12px Roboto, sans-serif";
    ctx.textAlign = "center";
    ctx.fillText("predicted class →", left + side / 2, 14);
    ctx.save();
    ctx.translate(12, top + side / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText("true class →", 0, 0);
    ctx.restore();
  }

  function truncate(ctx, text, width) {
    if (ctx.measureText(text).width <= width) return text;
    let end = text.length;
    while (end > 1 && ctx.measureText(`${text.slice(0, end)}…`).width > width) end--;
    return `${text.slice(0, end)}…`;
  }

  function cellAt(event) {
    const rect = canvas.getBoundingClientRect();
    const { left, top, side, cell } = plotBox();
    const x = event.clientX - rect.left - left;
    const y = event.clientY - rect.top - top;
    if (x < 0 || y < 0 || x >= side || y >= side) return null;
    const col = Math.floor(view.x0 + x / cell);
    const row = Math.floor(view.y0 + y / cell);
    return row >= 0 && col >= 0 && row < size && col < size ? { row, col } : null;
  }

  function clampView() {
    view.span = Math.min(size, Math.max(Math.min(size, 3), view.span));
    view.x0 = Math.min(size - view.span, Math.max(0, view.x0));
    view.y0 = Math.min(size - view.span, Math.max(0, view.y0));
  }

  const frame = { pending: false };
  function requestDraw() {
    if (frame.pending) return;
    frame.pending = true;
    requestAnimationFrame(() => {
      frame.pending = false;
      draw();
    });
  }

  canvas.addEventListener("wheel", (event) => {
    if (size === 0) return;
    event.preventDefault();
    const rect = canvas.getBoundingClientRect();
    const { left, top, cell } = plotBox();
    const anchorX = view.x0 + (event.clientX - rect.left - left) / cell;
    const anchorY = view.y0 + (event.clientY - rect.top - top) / cell;
    const factor = Math.exp(event.deltaY * 0.0015);
    const span = Math.min(size, Math.max(Math.min(size, 3), view.span * factor));
    view.x0 = anchorX - ((anchorX - view.x0) * span) / view.span;
    view.y0 = anchorY - ((anchorY - view.y0) * span) / view.span;
    view.span = span;
    clampView();
    requestDraw();
    // The cell under the pointer changed when the view did (zooming out is clamped at the edges).
    onHover(cellAt(event), event);
  }, { passive: false });
  canvas.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY, x0: view.x0, y0: view.y0 };
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (drag) {
      const { cell } = plotBox();
      view.x0 = drag.x0 - (event.clientX - drag.x) / cell;
      view.y0 = drag.y0 - (event.clientY - drag.y) / cell;
      clampView();
      requestDraw();
      onHover(null, event);
      return;
    }
    onHover(cellAt(event), event);
  });
  const endDrag = () => {
    drag = null;
  };
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);
  canvas.addEventListener("pointerleave", (event) => onHover(null, event));
  canvas.addEventListener("dblclick", () => {
    view = { x0: 0, y0: 0, span: size };
    requestDraw();
  });

  return {
    canvas,
    /**
     * @param {{values: Float64Array, size: number, labels: string[], formatValue: (v: number) => string,
     *          theme: string, colors: object, resetZoom: boolean}} data
     */
    setData(data) {
      const sizeChanged = data.size !== size;
      ({ values, size, labels, formatValue, colors } = data);
      theme = data.theme;
      maxValue = 0;
      for (let i = 0; i < values.length; i++) if (values[i] > maxValue) maxValue = values[i];
      if (sizeChanged || data.resetZoom) view = { x0: 0, y0: 0, span: size };
      clampView();
      paintImage();
      draw();
    },
    /** Zooms so that the cell (row, col) is in the middle of a window of about 12 cells. */
    focusCell(row, col) {
      view.span = Math.min(size, 12);
      view.x0 = col + 0.5 - view.span / 2;
      view.y0 = row + 0.5 - view.span / 2;
      clampView();
      draw();
    },
    resetZoom() {
      view = { x0: 0, y0: 0, span: size };
      draw();
    },
    redraw: draw,
  };
}
