/** How charts and tooltips write numbers, thresholds, counts and user text. */

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
