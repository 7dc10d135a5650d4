// The palette is the one source of the tab's colours: the stylesheet's custom properties and the
// charts' canvas colours must both come from it.
import assert from "node:assert/strict";
import test from "node:test";
import { FONT_FAMILY, PALETTE, paletteCss } from "../src/palette.js";
import { THEMES, themeOf } from "../src/views/chart/theme.js";

test("paletteCss declares every page colour of both themes, light on :root and dark on data-theme", () => {
  const css = paletteCss();
  const [light, dark] = css.split(':root[data-theme="dark"]');
  assert.match(light, /--tbm-accent-soft: rgba\(245, 124, 0, 0\.14\);/);
  assert.match(light, new RegExp(`--tbm-font: ${FONT_FAMILY.replace(/[()]/g, "\\$&")};`));
  for (const [theme, block] of [["light", light], ["dark", dark]]) {
    for (const [key, value] of Object.entries(PALETTE[theme].page)) {
      const name = `--tbm-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      assert.ok(block.includes(`${name}: ${value};`), `${theme} lacks ${name}: ${value}`);
    }
  }
  assert.match(light, /color-scheme: light;/);
  assert.match(dark, /color-scheme: dark;/);
});

test("chart themes take the shared colours from the palette", () => {
  for (const theme of ["light", "dark"]) {
    const { page, chart } = PALETTE[theme];
    assert.equal(THEMES[theme].accent, page.accent);
    assert.equal(THEMES[theme].background, page.surface);
    assert.equal(THEMES[theme].markerRing, page.surface);
    assert.equal(THEMES[theme].text, page.textMuted);
    assert.equal(THEMES[theme].grid, page.grid);
    assert.equal(THEMES[theme].tooltipBorder, chart.tooltipBorder);
  }
  assert.equal(THEMES.light.background, "#ffffff");
  assert.equal(THEMES.dark.background, "#3a3a3a");
  assert.equal(themeOf({ theme: "dark" }), THEMES.dark);
  assert.equal(themeOf({ theme: "sepia" }), THEMES.light);
});
