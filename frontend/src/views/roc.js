/**
 * The ROC view: TPR against FPR for every selected run, the AUC with its 95 % interval in the
 * legend (AUC ± 1.96 Hanley–McNeil standard errors, clipped to [0, 1]) and, when the header's
 * max FPR is set, the standardised partial AUC up to it; the chance diagonal, and each run's
 * operating point at the current threshold.
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

/** The columns every run has in the ROC CSV, and those added while a max FPR is set. */
const AUC_COLUMNS = ["roc_auc", "roc_auc_se", "roc_auc_ci95_low", "roc_auc_ci95_high"];
const PARTIAL_COLUMNS = ["max_fpr", "partial_roc_auc"];

/**
 * The max-FPR box of the ROC card's header: empty is off, a number in (0, 1] sets the store's
 * `maxFpr` (the partial ROC-AUC up to it joins the legend and the CSV). Returns `sync(maxFpr)`,
 * which shows the store's value unless the user is typing.
 */
function addMaxFprInput(chart) {
  const doc = chart.dom.controls.ownerDocument;
  const label = doc.createElement("label");
  label.title = "Partial ROC-AUC up to this false positive rate (McClish-standardised, as scikit-learn's max_fpr); empty: off";
  const input = doc.createElement("input");
  Object.assign(input, { type: "number", min: "0", max: "1", step: "0.01", placeholder: "off" });
  input.dataset.testid = "roc-max-fpr-input";
  input.style.width = "56px";
  input.addEventListener("change", () => {
    const text = input.value.trim();
    const value = Number(text);
    const valid = text === "" || (Number.isFinite(value) && value > 0 && value <= 1);
    input.setAttribute("aria-invalid", String(!valid));
    if (valid && chart.model) chart.model.setState({ maxFpr: text === "" ? null : value });
  });
  label.append(doc.createTextNode("max FPR"), input);
  chart.dom.controls.appendChild(label);
  return (maxFpr) => {
    if (doc.activeElement !== input) input.value = maxFpr == null ? "" : String(maxFpr);
  };
}

/**
 * Creates the ROC view in `container` (the `View` contract of view_registry.js).
 */
export function createRocView(container) {
  let chart = null;
  let syncInput = () => {};
  const maxFprOf = () => (chart && chart.model ? chart.model.state.maxFpr ?? null : null);
  const view = createCurveView(container, {
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
    controls(created) {
      chart = created;
      syncInput = addMaxFprInput(created);
    },
    perRun: {
      get columns() {
        return maxFprOf() == null ? AUC_COLUMNS : [...AUC_COLUMNS, ...PARTIAL_COLUMNS];
      },
      cacheKey: () => String(maxFprOf()),
      values(curve) {
        const auc = core.rocAuc(...histogramArgs(curve), curve.average);
        // The Hanley–McNeil error needs the counts behind one curve: not defined for a mean of curves.
        const se = hasExactCounts(curve) ? core.hanleyMcneilSe(auc, curve.positives, curve.negatives) : NaN;
        const maxFpr = maxFprOf();
        const partial = maxFpr == null ? [] : [maxFpr, core.partialRocAuc(...histogramArgs(curve), maxFpr, curve.average)];
        return [auc, se, ...aucInterval(auc, se), ...partial];
      },
      // The interval as the readout shows its Wilson intervals: what "±" would leave unsaid.
      legendText: (curve, [auc, se, low, high, maxFpr, partial]) =>
        `${curve.run}  AUC ${formatNumber(auc)}${Number.isNaN(se) ? "" : ` (95 % CI ${formatNumber(low, 3)}–${formatNumber(high, 3)})`}` +
        (maxFpr === undefined ? "" : ` · pAUC to FPR ${maxFpr} ${formatNumber(partial)}`),
    },
    references: {
      legend: (theme) => [{ color: theme.reference, text: "chance", dash: true }],
      series: (getTheme) => [
        { label: "chance", stroke: () => getTheme().reference, width: 1, dash: [4, 4], points: { show: false } },
      ],
      data: () => [[[0, 1], [0, 1]]],
    },
  });
  return {
    ...view,
    update(model, changedKeys) {
      view.update(model, changedKeys);
      syncInput(model.state.maxFpr ?? null);
      if (changedKeys && changedKeys.has("maxFpr")) chart.rebuild();
    },
  };
}
