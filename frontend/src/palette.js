/**
 * The tab's font and colours, light and dark (TensorBoard's own palettes and its orange accent): the
 * one source of both. The stylesheet's custom properties (`--tbm-font`, `--tbm-accent`, …) are
 * generated from them by `paletteCss`; the charts' canvas colours (views/chart/theme.js) take the
 * shared ones from `PALETTE[theme].page` as well and add `PALETTE[theme].chart`, colours only
 * canvases use.
 */

/** TensorBoard's font stack. */
export const FONT_FAMILY = "Roboto, 'Helvetica Neue', Arial, sans-serif";

export const PALETTE = {
  light: {
    page: {
      accent: "#f57c00",
      accentSoft: "rgba(245, 124, 0, 0.14)",
      bg: "#f5f5f5",
      surface: "#ffffff",
      text: "#212121",
      textMuted: "#616161",
      border: "#e0e0e0",
      grid: "rgba(0, 0, 0, 0.08)",
      error: "#c62828",
      errorBg: "#fdecea",
      codeBg: "#f1f3f4",
    },
    chart: {
      axis: "#9e9e9e",
      reference: "#9e9e9e",
      faint: "rgba(0, 0, 0, 0.22)",
      tooltipBackground: "rgba(255, 255, 255, 0.96)",
      tooltipText: "#212121",
      tooltipBorder: "#e0e0e0",
    },
  },
  dark: {
    page: {
      accent: "#ef8a2c",
      accentSoft: "rgba(239, 138, 44, 0.2)",
      bg: "#303030",
      surface: "#3a3a3a",
      text: "#e8e8e8",
      textMuted: "#a8a8a8",
      border: "#555555",
      grid: "rgba(255, 255, 255, 0.12)",
      error: "#ff8a80",
      errorBg: "#4a2a2a",
      codeBg: "#262626",
    },
    chart: {
      axis: "#757575",
      reference: "#9e9e9e",
      faint: "rgba(255, 255, 255, 0.28)",
      tooltipBackground: "rgba(48, 48, 48, 0.96)",
      tooltipText: "#eeeeee",
      tooltipBorder: "#616161",
    },
  },
};

/** `accentSoft` → `--tbm-accent-soft`. */
function customPropertyName(key) {
  return `--tbm-${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

function declarations(colors) {
  return Object.entries(colors).map(([key, value]) => `  ${customPropertyName(key)}: ${value};`).join("\n");
}

/**
 * The stylesheet's font and colour custom properties: `:root` holds the font and the light palette,
 * `:root[data-theme="dark"]` the dark one (theme.js `applyTheme` sets the attribute), each with its
 * `color-scheme`.
 */
export function paletteCss(palette = PALETTE) {
  return (
    `:root {\n  --tbm-font: ${FONT_FAMILY};\n${declarations(palette.light.page)}\n  color-scheme: light;\n}\n` +
    `:root[data-theme="dark"] {\n${declarations(palette.dark.page)}\n  color-scheme: dark;\n}\n`
  );
}
