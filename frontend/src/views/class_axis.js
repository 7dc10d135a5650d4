/**
 * A category axis with one tick per class (IoU bars): every class labelled while there is room for
 * a line of text per class; names turned upright when they are wider than their slot, shortened in
 * the middle past MAX_UPRIGHT_LABEL_PX; with more classes than lines fit, every k-th class.
 */
import uPlot from "uplot";
import { fitName } from "../run_names.js";
import { axis } from "./chart/axes.js";
import { AXIS_FONT } from "./chart/theme.js";

/** Least room (px) one label needs across the axis: a line of 12 px text. */
export const LABEL_LINE_PX = 14;
/** Longest upright label (px); longer class names are shortened in the middle. */
export const MAX_UPRIGHT_LABEL_PX = 80;
const LABEL_GAP_PX = 6;

/**
 * How to label `classNames` along an axis `plotWidth` px wide, one slot per class:
 * `{every, rotate, labels, size}`: label every `every`-th class, rotated by `rotate` degrees (0, or
 * 90 for upright text), with `labels[c]` the text of class c ("" when not labelled), and `size` the
 * px the labels need below the axis. `measure(text)` gives a text's width in px.
 */
export function classTickLayout(classNames, plotWidth, measure) {
  const count = Math.max(1, classNames.length);
  const slot = plotWidth / count;
  const names = classNames.map((name, index) => (name === "" ? String(index) : name));
  const widest = Math.max(0, ...names.map(measure));
  if (widest + LABEL_GAP_PX <= slot) {
    return { every: 1, rotate: 0, labels: names, size: LABEL_LINE_PX + LABEL_GAP_PX };
  }
  const every = slot >= LABEL_LINE_PX ? 1 : Math.ceil(LABEL_LINE_PX / slot);
  const labels = names.map((name, index) => (index % every === 0 ? fitName(name, names, MAX_UPRIGHT_LABEL_PX, measure) : ""));
  const longest = Math.max(0, ...labels.map(measure));
  return { every, rotate: 90, labels, size: Math.ceil(longest) + LABEL_GAP_PX };
}

let measuringContext = null;

/** Width in px of `text` in the axes' font. */
function measureAxisText(doc, text) {
  measuringContext ??= doc.createElement("canvas").getContext("2d");
  measuringContext.font = AXIS_FONT;
  return measuringContext.measureText(text).width;
}

/**
 * uPlot options of a bottom axis with a tick per class (x = class index) labelled by
 * `classTickLayout` for the plot's current width; `onLabels(labels)` is told the texts drawn.
 */
export function classAxis(getTheme, label, classNames, onLabels = () => {}) {
  let layout = null;
  const layoutFor = (u) => {
    const width = u.bbox.width / uPlot.pxRatio;
    if (!layout || layout.width !== width) {
      layout = { width, ...classTickLayout(classNames, width, (text) => measureAxisText(u.root.ownerDocument, text)) };
      onLabels(layout.labels.filter((text, index) => index % layout.every === 0 && text !== ""));
    }
    return layout;
  };
  return axis(getTheme, {
    label,
    splits: (u) => classNames.map((_, index) => index).filter((index) => index % layoutFor(u).every === 0),
    values: (u, splits) => splits.map((index) => layoutFor(u).labels[index] ?? ""),
    filter: (_u, splits) => splits,
    rotate: (u) => layoutFor(u).rotate,
    size: (u) => (layout ? layout.size : LABEL_LINE_PX + LABEL_GAP_PX) + 4,
    space: 1,
  });
}
