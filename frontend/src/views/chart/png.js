/** PNG export of charts: uPlot's canvas, the marker overlay and the legend, on the theme's background. */
import uPlot from "uplot";
import { FONT_FAMILY } from "./theme.js";

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
