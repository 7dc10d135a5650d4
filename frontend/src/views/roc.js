/**
 * The ROC view: TPR against FPR for every selected run, AUC ± its Hanley–McNeil standard error in
 * the legend, the chance diagonal, and each run's operating point at the current threshold.
 */
import * as core from "../core.js";
import {
  createCurveView, formatNumber, hasBothClasses, hasExactCounts, histogramArgs, unitAxes,
} from "./chart_common.js";

/**
 * Creates the ROC view in `container`; returns the object every view returns to the card that holds
 * it (layout.js): `update(model, changedKeys)`, `exportCsv()`, `exportPng()`, `destroy()`.
 */
export function createRocView(container) {
  return createCurveView(container, {
    testid: "view-roc",
    title: "ROC",
    isDefined: hasBothClasses,
    undefinedText: "ROC is undefined without both positives and negatives",
    points(curve) {
      const { fpr, tpr } = core.rocCurve(...histogramArgs(curve), curve.thresholds, curve.average);
      return { x: fpr, y: tpr };
    },
    x: { name: "FPR", column: "fpr" },
    y: { name: "TPR", column: "tpr" },
    plotAxes: (getTheme) => unitAxes(getTheme, "False positive rate", "True positive rate"),
    perRun: {
      columns: ["roc_auc", "roc_auc_se"],
      values(curve) {
        const auc = core.rocAuc(...histogramArgs(curve), curve.average);
        // The Hanley–McNeil error needs the counts behind one curve: not defined for a mean of curves.
        const se = hasExactCounts(curve) ? core.hanleyMcneilSe(auc, curve.positives, curve.negatives) : NaN;
        return [auc, se];
      },
      legendText: (curve, [auc, se]) =>
        `${curve.run}  AUC ${formatNumber(auc)}${Number.isNaN(se) ? "" : ` ± ${formatNumber(se)}`}`,
    },
    references: {
      legend: (theme) => [{ color: theme.reference, text: "chance", dash: true }],
      series: (getTheme) => [
        { label: "chance", stroke: () => getTheme().reference, width: 1, dash: [4, 4], points: { show: false } },
      ],
      data: () => [[[0, 1], [0, 1]]],
    },
  });
}
