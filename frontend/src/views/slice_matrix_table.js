/**
 * Slices of a confusion-matrix tag, at the tag's logged decision (argmax, or a sigmoid's score >
 * threshold): no threshold applies. Per slice, the chosen class's rates one-vs-rest (recall = TPR,
 * FPR, FNR, precision, the share predicted as the class) and the multiclass accuracy, each with its
 * 95 % Wilson interval, and every slice's gaps to the reference slice as differences (Newcombe) and
 * ratios (Katz), as the threshold-curves slice table shows them. A macro or weighted average shows
 * the class-averaged rates with approximate intervals; micro shows accuracy alone (its recall and
 * precision are the accuracy).
 */
import { el } from "../dom.js";
import { table } from "../export.js";
import * as fairness from "../fairness.js";
import { formatMetric } from "../readout.js";
import { GAP_LABELS } from "../slices.js";
import { APPROXIMATE_INTERVALS, EXACT_INTERVALS, formatGap, interval, setText, setValue, sliceHeader } from "./slice_table.js";

/** Row labels of the rates for one class of a confusion matrix. */
const MATRIX_RATE_LABELS = {
  tpr: "recall = TPR (equal opportunity)",
  fpr: "FPR",
  fnr: "FNR",
  precision: "precision (predictive parity)",
  selection_rate: "predicted as the class (demographic parity)",
  accuracy: "accuracy, all classes (equal accuracy)",
};
const GAP_KEYS = ["difference", "difference_low", "difference_high", "ratio", "ratio_low", "ratio_high"];
const LABEL_COLUMN_PX = 250;
const SLICE_COLUMN_PX = 150;

/** Creates the confusion-matrix slice tables in `container`. */
export function createSliceMatrixView(container) {
  const doc = container.ownerDocument;
  const title = el("span", { className: "tbm-chart-title" }, "Slices");
  const head = el("div", { className: "tbm-view-head tbm-chart-head" }, [title]);
  const message = el("div", { className: "tbm-chart-message", attrs: { role: "status" } });
  const note = el("div", { className: "tbm-hint", dataset: { testid: "slice-decision-note" } });
  const warning = el("div", { className: "tbm-hint tbm-slice-warning", hidden: true, attrs: { role: "note" } });
  const metricsTable = el("table", { className: "tbm-slice-table", dataset: { testid: "slice-metrics" } });
  const metricsHeading = el("h3", { className: "tbm-slice-heading", dataset: { testid: "slice-metrics-heading" } });
  const gapsHeading = el("h3", { className: "tbm-slice-heading", dataset: { testid: "slice-gaps-heading" } });
  const gapsTable = el("table", { className: "tbm-slice-table", dataset: { testid: "slice-gaps" } });
  const root = el("div", { className: "tbm-chart tbm-slice-view", dataset: { testid: "view-slices-matrix" }, attrs: { role: "region", "aria-label": "Slices" } }, [
    head,
    message,
    note,
    warning,
    metricsHeading,
    el("div", { className: "tbm-table-scroll" }, [metricsTable]),
    gapsHeading,
    el("div", { className: "tbm-table-scroll" }, [gapsTable]),
  ]);
  container.append(root);
  let rows = [];

  const header = (slices, first) => sliceHeader(slices.members, slices, first);

  /**
   * The rates shown: every rate for a class; for a macro / weighted average all but the share
   * predicted as the class (its macro average is 1 / C in every slice: each sample is predicted as
   * one class); accuracy alone for micro.
   */
  const shownRates = (slices) => {
    if (slices.classIndex !== null) return fairness.GAP_RATES;
    return slices.point.average ? fairness.GAP_RATES.filter((rate) => rate !== "selection_rate") : ["accuracy"];
  };

  function render(slices) {
    const { rates, gaps } = slices.point;
    const rateNames = shownRates(slices);
    const cell = (dataset, value, text, ci) => {
      const td = el("td", { dataset }, [doc.createTextNode(""), el("div", { className: "tbm-ci" }, [doc.createTextNode("")])]);
      setValue(td, value);
      setText(td.firstChild, text);
      setText(td.lastChild.firstChild, ci);
      return td;
    };
    metricsTable.replaceChildren(
      el("thead", {}, header(slices, "rate")),
      el("tbody", {}, [
        el("tr", {}, [el("td", {}, "samples"), ...slices.samples.map((n) => el("td", { dataset: { metric: "samples" } }, formatMetric("tp", n)))]),
        ...rateNames.map((rate) => el("tr", {}, [
          el("td", {}, MATRIX_RATE_LABELS[rate]),
          ...slices.members.map((member, s) => cell({ metric: rate, slice: member.sliceValue }, rates[rate].value[s],
            formatGap(rates[rate].value[s]), interval(rates[rate].low[s], rates[rate].high[s]))),
        ])),
      ]),
    );
    gapsTable.replaceChildren(
      el("thead", {}, header(slices, "rate: difference · ratio")),
      el("tbody", {}, rateNames.map((rate) => el("tr", {}, [
        el("td", {}, GAP_LABELS[rate]),
        ...slices.members.map((member, s) => {
          const gap = gaps[rate];
          return cell({ gap: rate, slice: member.sliceValue }, gap.difference[s],
            `${formatGap(gap.difference[s])} ${interval(gap.difference_low[s], gap.difference_high[s])}`,
            `× ${formatGap(gap.ratio[s])} ${interval(gap.ratio_low[s], gap.ratio_high[s])}`);
        }),
      ]))),
    );
    for (const part of [metricsTable, gapsTable]) part.style.width = `${LABEL_COLUMN_PX + SLICE_COLUMN_PX * slices.members.length}px`;
    // Accuracy's intervals stay Wilson / Newcombe / Katz; an average's other rates are approximate.
    const intervals = slices.point.average ? `accuracy: ${EXACT_INTERVALS}; other rates: ${APPROXIMATE_INTERVALS}` : EXACT_INTERVALS;
    rows = slices.members.map((member, s) => [
      member.sliceValue, slices.samples[s], slices.small[s], s === slices.referenceIndex, intervals,
      ...rateNames.flatMap((rate) => [rates[rate].value[s], rates[rate].low[s], rates[rate].high[s]]),
      ...rateNames.flatMap((rate) => GAP_KEYS.map((key) => gaps[rate][key][s])),
    ]);
    return rateNames;
  }

  function show(text) {
    message.textContent = text;
    for (const part of root.children) {
      if (part !== head && part !== message) part.hidden = Boolean(text);
    }
    if (!text) warning.hidden = !warning.textContent;
  }

  let rateNames = fairness.GAP_RATES;
  let inputs = [];
  return {
    update(model) {
      const { slices, tagInfo } = model;
      if (!slices) return show("Choose a slice key in the toolbar to compare slices.");
      const decision = tagInfo?.decision || "argmax";
      title.textContent = `Slices by ${slices.key} · run ${slices.run} · at the logged decision: ${decision}`;
      if (slices.loading) return show("Loading the slices’ counts…");
      if (!slices.members.length) return show(`No slice of ${slices.key} has counts at this epoch.${slices.problems.length ? ` (${slices.problems.join("; ")})` : ""}`);
      const className = slices.classIndex === null ? null : (tagInfo?.class_names?.[slices.classIndex] ?? String(slices.classIndex));
      const average = slices.point?.average;
      note.textContent = `No threshold applies: every slice was counted at the tag’s logged decision (${decision}). `
        + (className !== null ? `Rates of class “${className}” against the rest; accuracy over all classes.`
          : average ? `Rates: ${average} average over the classes where each is defined (macro recall is the balanced accuracy; the share predicted as a class averages to 1 / C, so it is left out); accuracy over all classes.`
            : "The micro average of the per-class rates is the accuracy: pick a class, or the macro or weighted average, for the other rates.");
      metricsHeading.textContent = average
        ? "Rates per slice (95 % intervals: Wilson for accuracy, approximate Wald for the averaged rates, classes taken as independent)"
        : "Rates per slice (95 % Wilson intervals)";
      gapsHeading.textContent = average
        ? "Gaps to the reference slice: difference and ratio (95 %: Newcombe / Katz for accuracy, approximate Wald / delta method for the averaged rates)"
        : "Gaps to the reference slice: difference [95 % Newcombe] and ratio [95 % Katz]";
      warning.textContent = slices.small.some(Boolean)
        ? `Fewer than ${slices.minSamples} samples in ${slices.members.filter((_, s) => slices.small[s]).map((member) => member.run).join(", ")}: their numbers are shown, with wide intervals.`
        : "";
      show("");
      // Nothing here depends on the threshold: the tables are rebuilt only when the slices, class or reference change.
      const next = [slices.members, slices.classIndex, slices.average, slices.referenceIndex];
      if (next.some((input, i) => input !== inputs[i])) {
        inputs = next;
        rateNames = render(slices);
      }
    },
    exportTable() {
      const header = ["slice", "samples", "small", "reference", "intervals",
        ...rateNames.flatMap((rate) => [rate, `${rate}_ci95_low`, `${rate}_ci95_high`]),
        ...rateNames.flatMap((rate) => GAP_KEYS.map((key) => `${rate}_${key}`))];
      return table(header, rows);
    },
    exportPng: () => null,
    destroy: () => root.remove(),
  };
}
