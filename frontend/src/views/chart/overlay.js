/**
 * Markers that follow the threshold, on a second canvas over uPlot's plotting area.
 *
 * Why an overlay canvas: a threshold change must repaint every view within one frame. The curves do
 * not depend on the threshold, so they stay on uPlot's canvas untouched; only the few
 * operating-point markers, drawn on a second canvas inside uPlot's `.u-over`, are cleared and drawn
 * again (microseconds, independent of the number of thresholds).
 */
import uPlot from "uplot";

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
