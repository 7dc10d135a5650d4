// Borrows TensorBoard's own Roboto for the plugin's iframe. The host page declares it with
// @font-face rules whose URLs are relative to the host; the iframe has another base URL, so the
// rules are copied with their URLs made absolute (same origin: allowed by font-src 'self').

const URL_PATTERN = /url\((['"]?)([^'")]+)\1\)/g;

/** The host's Roboto @font-face rules, with absolute URLs, as CSS text ("" when unavailable). */
export function hostFontFaces(win = window) {
  let hostDocument;
  try {
    hostDocument = win.parent && win.parent !== win ? win.parent.document : null;
  } catch {
    return ""; // a cross-origin host cannot be read; the system font stack applies
  }
  if (!hostDocument) return "";
  const rules = [];
  for (const sheet of hostDocument.styleSheets) {
    let cssRules;
    try {
      cssRules = sheet.cssRules;
    } catch {
      continue; // a stylesheet from another origin
    }
    const base = sheet.href || hostDocument.baseURI;
    for (const rule of cssRules) {
      // CSSRule.FONT_FACE_RULE; `instanceof` fails across the iframe boundary.
      if (rule.type !== 5 || !/roboto/i.test(rule.style.getPropertyValue("font-family"))) continue;
      rules.push(rule.cssText.replace(URL_PATTERN, (_, quote, url) => `url("${new URL(url, base).href}")`));
    }
  }
  return rules.join("\n");
}
