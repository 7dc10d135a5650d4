// Follows TensorBoard's dark mode live. The host does not tell plugins; it toggles `dark-mode` on
// its own <body>, which our same-origin iframe can read and observe.

/** "dark" when the host page is in dark mode, else "light". */
export function readHostTheme(win = window) {
  const hostBody = hostDocumentBody(win);
  return hostBody?.classList.contains("dark-mode") ? "dark" : "light";
}

function hostDocumentBody(win) {
  try {
    return win.parent && win.parent !== win ? win.parent.document.body : null;
  } catch {
    return null; // cross-origin host (should not happen in TensorBoard): stay light
  }
}

/**
 * Calls `onTheme("light" | "dark")` now and whenever the host's <body> class changes.
 * @returns {() => void} stops watching
 */
export function watchHostTheme(onTheme, win = window) {
  onTheme(readHostTheme(win));
  const hostBody = hostDocumentBody(win);
  if (!hostBody) return () => {};
  const observer = new win.MutationObserver(() => onTheme(readHostTheme(win)));
  observer.observe(hostBody, { attributes: true, attributeFilter: ["class"] });
  return () => observer.disconnect();
}

/** Sets the palette (CSS custom properties keyed on :root[data-theme]). */
export function applyTheme(theme, doc = document) {
  doc.documentElement.dataset.theme = theme;
}
