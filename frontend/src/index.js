// The module TensorBoard loads in the plugin's iframe: `import("./index.js").then(m => m.render())`.

import uplotCss from "uplot/dist/uPlot.min.css";
import { createApp } from "./app.js";
import { createDataClient } from "./data.js";
import { hostFontFaces } from "./fonts.js";
import { paletteCss } from "./palette.js";
import styles from "./styles.css";

function injectStyles(doc) {
  // TensorBoard's CSP allows inline styles ('unsafe-inline' in style-src), so no stylesheet route.
  const style = doc.createElement("style");
  style.textContent = `${hostFontFaces(window)}\n${uplotCss}\n${paletteCss()}\n${styles}`;
  doc.head.appendChild(style);
}

/** Draws the Threshold metrics tab into the iframe's document. */
export function render() {
  const doc = document;
  // The tag list is the first thing the tab waits for: ask for it before building the page.
  const client = createDataClient();
  client.prefetchTags();
  injectStyles(doc);
  const root = doc.createElement("div");
  root.className = "tbm";
  doc.body.appendChild(root);
  createApp(root, { client, win: window }).start();
}
