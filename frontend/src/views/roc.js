/**
 * The ROC view: TPR against FPR for every selected run, the AUC with its 95 % interval in the
 * legend (AUC ± 1.96 Hanley–McNeil standard errors, clipped to [0, 1]), the chance diagonal, and
 * each run's operating point at the current threshold.
 */
import * as core from "../core.js";
import { unitAxes } from "./chart/axes.js";
import { hasBothClasses, hasExactCounts, histogramArgs } from "./chart/curve_data.js";
import { createCurveView } from "./chart/curve_view.js";
import { formatNumber } from "./chart/format.js";

/** The two-sided 95 % quantile of the standard normal distribution. */
const Z_95 = 1.959963984540054;

/** [low, high]: the normal-approximation 95 % interval auc ± 1.96·se, clipped to [0, 1]. */
export function aucInterval(auc, se) {
  return [Math.max(0, auc - Z_95 * se), Math.min(1, auc + Z_95 * se)];
}

/**
 * Creates the ROC view in `container` (the `View` contract of layout.js).
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
      columns: ["roc_auc", "roc_auc_se", "roc_auc_ci95_low", "roc_auc_ci95_high"],
      values(curve) {
        const auc = core.rocAuc(...histogramArgs(curve), curve.average);
        // The Hanley–McNeil error needs the counts behind one curve: not defined for a mean of curves.
        const se = hasExactCounts(curve) ? core.hanleyMcneilSe(auc, curve.positives, curve.negatives) : NaN;
        return [auc, se, ...aucInterval(auc, se)];
      },
      // The interval as the readout shows its Wilson intervals: what "±" would leave unsaid.
      legendText: (curve, [auc, se, low, high]) =>
        `${curve.run}  AUC ${formatNumber(auc)}${Number.isNaN(se) ? "" : ` (95 % CI ${formatNumber(low, 3)}–${formatNumber(high, 3)})`}`,
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
