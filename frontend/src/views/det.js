/**
 * The detection error trade-off (DET) view, shown when the user asks for it: false negative rate
 * against false positive rate on probit axes (a binormal model's ROC becomes a straight line), one
 * curve per selected run with its operating point at the current threshold.
 */
import * as core from "../core.js";
import { axis, probabilityAxis, probitScale } from "./chart/axes.js";
import { hasBothClasses, histogramArgs } from "./chart/curve_data.js";
import { createCurveView } from "./chart/curve_view.js";

/**
 * The axes span rates from 0.001 (lower when the data goes lower, down to 1e-5) to 0.999, about
 * scikit-learn's DetCurveDisplay (±3 on the probit scale).
 */
const DEFAULT_RANGE = [0.001, 0.999];
const MIN_RATE = 1e-5;

/**
 * The span of both axes for the drawn rates (`u.data`): a range function, so new data only needs
 * setData, not a new chart.
 */
function axisRange(u) {
  let low = DEFAULT_RANGE[0];
  for (const points of u.data) {
    if (!points) continue; // mode 2 has no shared x
    for (const rates of points) for (const rate of rates) low = Math.min(low, Math.max(MIN_RATE, rate));
  }
  return [low, DEFAULT_RANGE[1]];
}

/** Creates the DET view in `container`. */
export function createDetView(container) {
  return createCurveView(container, {
    testid: "view-det",
    title: "DET (probit axes)",
    pngTitle: "DET",
    isDefined: hasBothClasses,
    undefinedText: "DET is undefined without both positives and negatives",
    points(curve) {
      const { fpr, fnr } = core.detCurve(...histogramArgs(curve), curve.thresholds, curve.average);
      return { x: fpr, y: fnr };
    },
    // Rates of exactly 0 or 1 are at an infinite probit: not drawn, as scikit-learn's `det_curve`
    // drops them (the CSV keeps them).
    visible: (fpr, fnr) => fpr > 0 && fpr < 1 && fnr > 0 && fnr < 1,
    x: { name: "FPR", column: "fpr" },
    y: { name: "FNR", column: "fnr" },
    plotAxes: (getTheme) => ({
      scales: { x: probitScale(axisRange), y: probitScale(axisRange) },
      axes: [
        axis(getTheme, probabilityAxis("False positive rate")),
        axis(getTheme, { ...probabilityAxis("False negative rate"), size: 50 }),
      ],
    }),
  });
}
