/**
 * Gaps over epochs: for one fairness rate, each slice's difference to the reference slice at every
 * logged epoch with the shared threshold held (95 % Newcombe interval dashed), computed in the
 * browser from the slices' counts; zero marked, the current epoch marked. Clicking moves to the
 * epoch under the pointer.
 */
import { createRestWait, el } from "../dom.js";
import { table } from "../export.js";
import * as fairness from "../fairness.js";
import { GAP_LABELS } from "../slices.js";
import { axis, tickValues } from "./chart/axes.js";
import { createChartView } from "./chart/chart_view.js";
import { escapeHtml, formatNumber } from "./chart/format.js";
import { drawVerticalLine } from "./chart/overlay.js";

/**
 * How long the threshold must rest before the gaps over epochs follow it (ms): a drag sends a
 * render every frame; the chart catches up once it pauses.
 */
export const THRESHOLD_REST_MS = 200;

/** `values` with NaN as null, which uPlot draws as a gap in the line. */
function withHoles(values) {
  return Array.from(values, (value) => (Number.isNaN(value) ? null : value));
}

/** Creates the gaps-over-epochs view in `container`. */
export function createSliceEpochsView(container) {
  const chart = createChartView(container, {
    testid: "view-slice-epochs", title: "Gaps over epochs", rebuild, paintOverlay, exportTable,
  });
  const rateSelect = el("select", { dataset: { testid: "slice-gap-rate" }, title: "The rate whose gap is drawn" },
    fairness.GAP_RATES.map((rate) => el("option", { value: rate }, GAP_LABELS[rate])));
  rateSelect.addEventListener("change", () => chart.model?.setState({ sliceGapRate: rateSelect.value }));
  chart.dom.controls.append(rateSelect);
  let overEpochs = { steps: [], slices: [] };
  let shown = [];
  let inputs = [];

  function tooltip(u) {
    const i = u.cursor.idx;
    if (i == null || !overEpochs.steps.length) return null;
    const rows = shown.map((entry) => `<tr><td><span style="color:${entry.color}">■</span> ${escapeHtml(entry.label)}</td>`
      + `<td>${formatNumber(entry.difference[i])}</td><td>[${formatNumber(entry.low[i], 3)}, ${formatNumber(entry.high[i], 3)}]</td></tr>`);
    return `<div>epoch ${overEpochs.steps[i]}</div><table>${rows.join("")}</table>`;
  }

  function rebuild(model) {
    const { slices, state } = model;
    rateSelect.value = state.sliceGapRate;
    if (!slices || slices.loading || !slices.members.length) {
      chart.dom.message.textContent = !slices ? "Choose a slice key in the toolbar." : slices.loading ? "Loading the slices’ counts…" : "No slice counts to compare here.";
      overEpochs = { steps: [], slices: [] };
      chart.clear();
      return;
    }
    overEpochs = slices.gapsOverEpochs(state.sliceGapRate);
    const reference = slices.members[slices.referenceIndex];
    shown = overEpochs.slices.filter((entry) => entry.value !== reference.sliceValue);
    chart.dom.message.textContent = shown.length
      ? `${GAP_LABELS[state.sliceGapRate]} of each slice minus ${reference.run}, ${slices.kind === "confusion_matrix"
        ? `at the logged decision (${model.tagInfo?.decision || "argmax"}; no threshold applies)` : `threshold ${state.threshold} held`}.`
      : "Only the reference slice: nothing to compare.";
    if (!shown.length) {
      chart.clear();
      return;
    }
    chart.setLegend([
      ...shown.map((entry) => ({ color: entry.color, text: entry.label })),
      { color: chart.theme.reference, text: "95 % interval", dash: true },
    ]);
    const series = [{}];
    const data = [Float64Array.from(overEpochs.steps)];
    for (const entry of shown) {
      series.push({ label: entry.label, stroke: entry.color, width: 2, points: { show: overEpochs.steps.length < 40, size: 5 } });
      series.push({ label: `${entry.label} low`, stroke: entry.color, width: 1, dash: [4, 3], points: { show: false } });
      series.push({ label: `${entry.label} high`, stroke: entry.color, width: 1, dash: [4, 3], points: { show: false } });
      // uPlot skips nulls, not NaN: an undefined gap (no denominator) is a hole, not a broken scale.
      data.push(...[entry.difference, entry.low, entry.high].map(withHoles));
    }
    series.push({ label: "no gap", stroke: () => chart.getTheme().reference, width: 1, points: { show: false } });
    data.push(new Float64Array(overEpochs.steps.length));
    const options = (width) => chart.options(width, tooltip, {
      scales: { x: { time: false }, y: { range: (_u, min, max) => [Math.min(-0.05, min), Math.max(0.05, max)] } },
      axes: [axis(chart.getTheme, { label: "Epoch", values: tickValues }), axis(chart.getTheme, { label: "Difference to the reference" })],
      series,
      cursor: { drag: { x: false, y: false } },
      hooks: {
        ready: [(u) => u.over.addEventListener("click", () => {
          const i = u.cursor.idx;
          if (i != null && overEpochs.steps[i] !== undefined) model.setState({ step: overEpochs.steps[i], followLatest: false });
        })],
      },
    });
    chart.holder.show(`${shown.map((entry) => `${entry.label}${entry.color}`).join("|")}|${state.theme}`, options, data);
  }

  function paintOverlay(ctx, u) {
    const step = chart.model?.state.step;
    if (step === null || step === undefined) return;
    drawVerticalLine(ctx, u, u.valToPos(step, "x"), chart.theme.accent, 1.5, [3, 3]);
  }

  function exportTable() {
    const header = ["slice", "step", "rate", "difference", "difference_ci95_low", "difference_ci95_high"];
    const rate = chart.model?.state.sliceGapRate ?? "";
    return table(header, shown.flatMap((entry) => overEpochs.steps.map((step, i) => [entry.label, step, rate, entry.difference[i], entry.low[i], entry.high[i]])));
  }

  // The gaps depend on the threshold, unlike the other charts: redraw the data when it (or the
  // rate, reference or slices) moves, without rebuilding the chart. A threshold drag alone waits
  // until the threshold rests (THRESHOLD_REST_MS): the chart shows every epoch at the held
  // threshold, which nobody reads mid-drag, and recomputing it costs a pass over slices × epochs
  // and a full redraw per frame. Meanwhile the view carries `data-stale`, as a card out of sight.
  const view = chart.view;
  const root = container.querySelector('[data-testid="view-slice-epochs"]');
  let built = false;
  const restWait = createRestWait(root, THRESHOLD_REST_MS, () => {
    built = true;
    chart.rebuild();
  });
  return {
    ...view,
    update(model, changedKeys) {
      const next = [model.slices?.members, model.state.threshold, model.state.sliceGapRate, model.state.sliceReference, model.state.theme, model.slices?.loading, model.state.classKey];
      const changed = next.map((input, i) => input !== inputs[i]);
      inputs = next;
      view.update(model, changedKeys);
      if (changed.some((moved, i) => moved && i !== 1) || (!built && changed[1])) {
        restWait.run();
      } else if (changed[1] && model.slices?.kind !== "confusion_matrix") {
        // Matrix slices were counted at the logged decision: the threshold does not move their gaps.
        restWait.wait();
      }
    },
    exportTable(model) {
      restWait.runIfWaiting(); // an export holds the gaps at the current threshold
      return view.exportTable(model);
    },
    destroy() {
      restWait.cancel();
      view.destroy();
    },
  };
}
