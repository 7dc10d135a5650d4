/**
 * The TensorBoard look of the charts: fonts, and the canvas colours of both themes, taken from the
 * tab's one palette (`palette.js`).
 */
import { FONT_FAMILY, PALETTE } from "../../palette.js";

export { FONT_FAMILY };

export const AXIS_FONT = `12px ${FONT_FAMILY}`;

export const LABEL_FONT = `13px ${FONT_FAMILY}`;

/**
 * Canvas colours of one theme, as TensorBoard's scalar charts use them: the page's accent, surface
 * (the chart background and the ring around markers), muted text and grid, plus the chart-only ones.
 */
function chartTheme({ page, chart }) {
  return {
    accent: page.accent,
    background: page.surface,
    text: page.textMuted,
    grid: page.grid,
    markerRing: page.surface,
    ...chart,
  };
}

/** The charts' colours, light and dark. */
export const THEMES = {
  light: chartTheme(PALETTE.light),
  dark: chartTheme(PALETTE.dark),
};

/** The theme object for a store state (`theme` is "light" or "dark"; anything else is light). */
export function themeOf(state) {
  return THEMES[state && state.theme] || THEMES.light;
}
