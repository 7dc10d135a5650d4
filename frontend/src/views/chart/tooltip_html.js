/** The HTML of chart tooltips: run headers, and per-run tables of thresholds and counts. */
import { countAt, resolveThreshold } from "../../view_model.js";
import { hasExactCounts } from "./curve_data.js";
import { escapeHtml, formatCount, formatThreshold } from "./format.js";

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
 * the counts are class means (see view_model.js), and say so.
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
