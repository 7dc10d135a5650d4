/**
 * Slices at the shared threshold: every readout metric of each slice with its 95 % Wilson interval
 * (small slices flagged), the fairness gaps of each slice to the reference slice as differences
 * (Newcombe interval) and ratios (Katz interval), and the per-slice threshold optimiser with its cost
 * in the overall objective. Tables only: the structure is rebuilt when the slices change; a threshold
 * drag rewrites the values of the cells in sight every frame, and the other cells, the threshold and
 * count rows (TP/FP/TN/FN), the gaps' ratios and every interval once the threshold rests.
 */
import * as core from "../core.js";
import { createRestWait, el, setIfChanged } from "../dom.js";
import { table } from "../export.js";
import * as fairness from "../fairness.js";
import { curveOperatingPoint } from "../view_model.js";
import { formatMetric, formatThresholdValue, READOUT_METRICS } from "../readout.js";
import { GAP_LABELS, optimiseSlices } from "../slices.js";

const MODE_LABELS = {
  single: "one threshold for all",
  per_slice: "per slice, each maximising its own objective",
  equal_opportunity: "per slice, equal opportunity (TPR within tolerance)",
  demographic_parity: "per slice, demographic parity (selection rate within tolerance)",
  equal_accuracy: "per slice, equal accuracy (within tolerance)",
};
const OBJECTIVE_LABELS = { fbeta: "F-β", accuracy: "accuracy", youden: "Youden's J (TPR − FPR)" };

/** The fairness rate (with an interval for class averages) behind each readout metric that is one. */
const AVERAGED_RATE_OF = { recall: "tpr", fpr: "fpr", precision: "precision", accuracy: "accuracy" };
const HEADINGS = {
  metrics: "Metrics per slice (95 % Wilson intervals)",
  gaps: "Gaps to the reference slice: difference [95 % Newcombe] and ratio [95 % Katz]",
  averagedMetrics: (average) => `Metrics per slice, ${average} average over classes (approximate 95 % intervals of the averaged rates: Wald, classes taken as independent)`,
  averagedGaps: "Gaps of the averaged rates to the reference slice: difference and ratio [approximate 95 %: Wald, delta method]",
};

/** What the exports' `intervals` column says of the intervals in a row. */
export const EXACT_INTERVALS = "wilson, newcombe, katz";
export const APPROXIMATE_INTERVALS = "approximate: wald of the class average, delta-method ratio";

/** Widths of the tables' label column and of each slice's column (px). */
const LABEL_COLUMN_PX = 190;
/** How long the threshold must rest before the tables' intervals and rows out of sight follow it (ms). */
export const INTERVALS_REST_MS = 200;
const SLICE_COLUMN_PX = 150;
/** Cells this close to the window (px) count as in sight: a drag writes them every frame. */
const CELL_IN_SIGHT_MARGIN = "100px 0px";
/**
 * Rows whose cells wait for the threshold to rest even in sight, as the intervals do, for nobody
 * reads them mid-drag: each slice's stored threshold (the slider shows the threshold moving) and the
 * counts behind the rates (50 texts a drag frame with 10 slices).
 */
export const ROWS_AT_REST = new Set(["threshold", "tp", "fp", "tn", "fn"]);

/** "[low, high]" to 3 decimals, "" when either is undefined. */
export function interval(low, high) {
  return Number.isNaN(low) || Number.isNaN(high) ? "" : `[${low.toFixed(3)}, ${high.toFixed(3)}]`;
}

/** A gap or rate to 4 decimals, "–" when undefined (a zero denominator). */
export function formatGap(value) {
  return Number.isNaN(value) ? "–" : value.toFixed(4);
}

/** Writes a text node only when its text changes (an unchanged write still costs a layout). */
export function setText(node, text) {
  if (node.data !== text) node.data = text;
}

/** Writes a cell's data-value only when it changes (an attribute write invalidates style). */
export function setValue(cell, value) {
  const text = String(value);
  if (cell.dataset.value !== text) cell.dataset.value = text;
}

/**
 * A slice table's header row: `first` over the label column, then one column per slice (`columns`:
 * {sliceValue, color, run}) with its colour, the reference marked and a small slice flagged.
 */
export function sliceHeader(columns, slices, first, firstStyle = {}) {
  return el("tr", {}, [
    el("th", { style: firstStyle }, first),
    ...columns.map((column, s) => el("th", { dataset: { slice: column.sliceValue } }, [
      el("span", { className: "tbm-swatch", style: { background: column.color, display: "inline-block", marginRight: "4px" } }),
      column.run,
      s === slices.referenceIndex ? el("span", { className: "tbm-muted" }, " (reference)") : "",
      slices.small[s] ? el("span", { className: "tbm-slice-small", title: `fewer than ${slices.minSamples} samples: wide intervals` }, " ⚠") : "",
    ])),
  ]);
}

/** The readout's Wilson interval of `metric` at one slice's counts, or [NaN, NaN]. */
function wilsonOf(metric, counts) {
  if (!metric.wilson) return [NaN, NaN];
  const [successes, trials] = metric.wilson(counts);
  return core.wilsonInterval(successes, trials);
}

/**
 * A metric's 95 % interval in slice `s`: Wilson for a class or the micro average; for a macro or
 * weighted average, the approximate interval of the averaged fairness rate it is, else none.
 */
function metricInterval(slices, metric, point, s) {
  if (point.hasIntervals) return wilsonOf(metric, point.counts);
  const rate = AVERAGED_RATE_OF[metric.name];
  if (!slices.point.average || !rate) return [NaN, NaN];
  return [slices.point.rates[rate].low[s], slices.point.rates[rate].high[s]];
}

/** Creates the slice tables in `container`. */
export function createSliceTableView(container) {
  const doc = container.ownerDocument;
  const win = doc.defaultView;
  const title = el("span", { className: "tbm-chart-title" }, "Slices");
  const head = el("div", { className: "tbm-view-head tbm-chart-head" }, [title]);
  const message = el("div", { className: "tbm-chart-message", attrs: { role: "status" } });
  const warning = el("div", { className: "tbm-hint tbm-slice-warning", hidden: true, attrs: { role: "note" } });
  const metricsTable = el("table", { className: "tbm-slice-table", dataset: { testid: "slice-metrics" } });
  const metricsHeading = el("h3", { className: "tbm-slice-heading", dataset: { testid: "slice-metrics-heading" } }, HEADINGS.metrics);
  const gapsHeading = el("h3", { className: "tbm-slice-heading", dataset: { testid: "slice-gaps-heading" } }, HEADINGS.gaps);
  const gapsTable = el("table", { className: "tbm-slice-table", dataset: { testid: "slice-gaps" } });
  const modeSelect = el("select", { dataset: { testid: "slice-mode" }, title: "How the slices' thresholds are chosen" },
    Object.entries(MODE_LABELS).map(([value, label]) => el("option", { value }, label)));
  const objectiveSelect = el("select", { dataset: { testid: "slice-objective" }, title: "The overall objective maximised" },
    Object.entries(OBJECTIVE_LABELS).map(([value, label]) => el("option", { value }, label)));
  const toleranceInput = el("input", {
    type: "number", min: "0", max: "1", step: "0.01", className: "tbm-threshold-input",
    dataset: { testid: "slice-tolerance" }, title: "Largest allowed gap (max − min) of the constrained rate",
  });
  const optimiserSummary = el("div", { className: "tbm-slice-optimiser-summary", dataset: { testid: "slice-optimiser-summary" } });
  const optimiserTable = el("table", { className: "tbm-slice-table", dataset: { testid: "slice-optimiser" } });
  const metricsScroll = el("div", { className: "tbm-table-scroll" }, [metricsTable]);
  const gapsScroll = el("div", { className: "tbm-table-scroll" }, [gapsTable]);
  const useSingle = el("button", { type: "button", dataset: { testid: "slice-use-single" }, title: "Move the shared threshold to the best single threshold" }, "Use the single threshold");
  const root = el("div", { className: "tbm-chart tbm-slice-view", dataset: { testid: "view-slices" }, attrs: { role: "region", "aria-label": "Slices" } }, [
    head,
    message,
    warning,
    metricsHeading,
    metricsScroll,
    gapsHeading,
    gapsScroll,
    el("h3", { className: "tbm-slice-heading" }, "Per-slice thresholds"),
    el("div", { className: "tbm-row tbm-slice-optimiser-controls" }, [
      el("label", { className: "tbm-row" }, ["mode ", modeSelect]),
      el("label", { className: "tbm-row" }, ["objective ", objectiveSelect]),
      el("label", { className: "tbm-row" }, ["tolerance ", toleranceInput]),
    ]),
    optimiserSummary,
    el("div", { className: "tbm-table-scroll" }, [optimiserTable]),
    useSingle,
  ]);
  container.append(root);

  let model = null;
  let structure = "";
  // Every value cell of the metrics and gaps tables: {cell, value(shown), write(shown, withIntervals),
  // atRest (its text waits for the threshold to rest even in sight), row and column (see `inSight`),
  // stale, writtenValue}.
  let valueCells = [];
  let shown = null; // {slices, points}: what the cells were last written from (and the exports hold)
  let optimiserResult = null;
  let optimiserInputs = [];
  let optimiserError = "";

  // Which cells are in sight. With 10 slices the tables are taller than the window and wider than
  // their card (scrolled sideways): a drag frame writes the cells in sight, the others wait
  // (`data-stale`) until the threshold rests or they come into sight, as cards out of sight do.
  // A cell is in sight when its row is near the window (the rows observed against the window, which
  // clips them vertically) and its column in its table's scroll box (the header cells observed
  // against the box, sideways): ~50 targets instead of ~270 cells, whose intersections the browser
  // would compute every frame.
  const lineOf = new Map(); // row or column header → {inSight, records}
  function onSight(entries) {
    const changed = new Set();
    for (const entry of entries) {
      const line = lineOf.get(entry.target);
      if (!line) continue;
      line.inSight = entry.isIntersecting;
      for (const record of line.records) changed.add(record);
    }
    for (const record of changed) {
      if (inSight(record) && record.stale && !record.atRest && shown) writeCell(record, false);
    }
  }
  /** A cell is in sight when both its row and its column are. */
  const inSight = (record) => record.row.inSight && record.column.inSight;
  const Observer = win.IntersectionObserver;
  const observers = Observer
    ? [new Observer(onSight, { rootMargin: CELL_IN_SIGHT_MARGIN }), new Observer(onSight, { root: metricsScroll }), new Observer(onSight, { root: gapsScroll })]
    : [];
  const [rowObserver, metricsColumnObserver, gapsColumnObserver] = observers;

  /** The row or column `element` stands for, observed by `observer`, in sight until it first reports. */
  function lineFor(element, observer) {
    let line = lineOf.get(element);
    if (!line) {
      line = { inSight: true, records: [] };
      lineOf.set(element, line);
      observer?.observe(element);
    }
    return line;
  }

  modeSelect.addEventListener("change", () => model?.setState({ sliceMode: modeSelect.value }));
  objectiveSelect.addEventListener("change", () => model?.setState({ sliceObjective: objectiveSelect.value }));
  toleranceInput.addEventListener("change", () => {
    const value = Number(toleranceInput.value);
    if (toleranceInput.value !== "" && value >= 0 && value <= 1) model?.setState({ sliceTolerance: value });
    else toleranceInput.value = String(model?.state.sliceTolerance ?? "");
  });
  useSingle.addEventListener("click", () => {
    if (optimiserResult && !Number.isNaN(optimiserResult.single.threshold)) model?.setState({ threshold: optimiserResult.single.threshold });
  });

  const header = (slices, first) => sliceHeader(slices.curves, slices, first, { width: `${LABEL_COLUMN_PX}px` });

  /** Keeps a cell's record, in sight until the observers first report (the first write covers every cell). */
  function track(record) {
    record.atRest = Boolean(record.atRest);
    record.stale = false;
    valueCells.push(record);
    return record.cell;
  }

  /** Follows each value cell's row and column (`buildTables`, once the tables are in the document). */
  function observeCells() {
    for (const record of valueCells) {
      const table = record.cell.closest("table");
      record.row = lineFor(record.cell.parentElement, rowObserver);
      record.column = lineFor(table.tHead.rows[0].cells[record.cell.cellIndex], table === metricsTable ? metricsColumnObserver : gapsColumnObserver);
      record.row.records.push(record);
      record.column.records.push(record);
    }
  }

  /** A metric's cell in slice `s`: its value, and its interval on a second line. */
  function metricCell(metric, curve, s) {
    const text = doc.createTextNode("");
    const ci = doc.createTextNode("");
    return track({
      // The value on a line of its own, a relayout boundary (.tbm-line in styles.css): a drag frame's
      // new number lays out that line alone, not the table.
      cell: el("td", { dataset: { metric: metric.name, slice: curve.sliceValue } }, [el("div", { className: "tbm-line" }, [text]), el("div", { className: "tbm-ci tbm-interval" }, [ci])]),
      atRest: ROWS_AT_REST.has(metric.name),
      value: ({ points }) => points[s].metrics[metric.name],
      write({ slices, points }, withIntervals) {
        const point = points[s];
        setText(text, metric.name === "threshold" ? formatThresholdValue(point.resolvedThreshold) : formatMetric(metric.name, point.metrics[metric.name]));
        if (withIntervals) setText(ci, interval(...metricInterval(slices, metric, point, s)));
      },
    });
  }

  /**
   * A rate's gap cell in slice `s`: the difference, then the ratio on a second line, each with its
   * interval. A drag writes the difference; the ratio follows with the intervals once it rests.
   */
  function gapCell(rate, curve, s) {
    const [difference, differenceCi, ratio, ratioCi] = [0, 1, 2, 3].map(() => doc.createTextNode(""));
    return track({
      // The difference's line is a relayout boundary, as a metric's value (see metricCell).
      cell: el("td", { dataset: { gap: rate, slice: curve.sliceValue } }, [
        el("div", { className: "tbm-line" }, [difference, " ", el("span", { className: "tbm-interval" }, [differenceCi])]),
        el("div", { className: "tbm-ci" }, [el("span", { className: "tbm-gap-ratio" }, [ratio]), " ", el("span", { className: "tbm-interval" }, [ratioCi])]),
      ]),
      value: ({ slices }) => slices.point.gaps[rate].difference[s],
      write({ slices }, withIntervals) {
        const gap = slices.point.gaps[rate];
        setText(difference, formatGap(gap.difference[s]));
        if (!withIntervals) return;
        setText(ratio, `× ${formatGap(gap.ratio[s])}`);
        setText(differenceCi, interval(gap.difference_low[s], gap.difference_high[s]));
        setText(ratioCi, interval(gap.ratio_low[s], gap.ratio_high[s]));
      },
    });
  }

  function buildTables(slices, beta) {
    for (const observer of observers) observer.disconnect();
    lineOf.clear();
    valueCells = [];
    const sampleRow = el("tr", {}, [el("td", {}, "samples"), ...slices.samples.map((n) => el("td", { dataset: { metric: "samples" } }, formatMetric("tp", n)))]);
    const metricRows = READOUT_METRICS.map((metric) => el("tr", ROWS_AT_REST.has(metric.name) ? { className: "tbm-slice-at-rest" } : {}, [
      el("td", {}, metric.name === "fbeta" ? `F-β (β = ${beta})` : metric.label),
      ...slices.curves.map((curve, s) => metricCell(metric, curve, s)),
    ]));
    metricsTable.replaceChildren(el("thead", {}, header(slices, "metric")), el("tbody", {}, [sampleRow, ...metricRows]));
    // Fixed column widths: a threshold drag rewrites ~200 cells, which must not re-measure the table.
    for (const table of [metricsTable, gapsTable]) table.style.width = `${LABEL_COLUMN_PX + SLICE_COLUMN_PX * slices.curves.length}px`;
    const gapRows = fairness.GAP_RATES.map((rate) => el("tr", {}, [
      el("td", {}, GAP_LABELS[rate]),
      ...slices.curves.map((curve, s) => gapCell(rate, curve, s)),
    ]));
    gapsTable.replaceChildren(el("thead", {}, header(slices, "rate: difference · ratio")), el("tbody", {}, gapRows));
    observeCells();
  }

  /** Writes a cell's texts at the threshold last shown, its intervals (and a gap's ratio) only when `withIntervals`. */
  function writeCell(record, withIntervals) {
    record.write(shown, withIntervals);
    if (!record.stale) return;
    record.stale = false;
    delete record.cell.dataset.stale;
  }

  /**
   * Writes the tables at the threshold: every cell's data-value, and the texts of every cell, or in a
   * drag frame (`dragFrame`) the values of the cells in sight outside the rows at rest only, without
   * intervals (see `update`).
   */
  function writeTables(slices, state, dragFrame) {
    shown = { slices, points: slices.curves.map((curve) => curveOperatingPoint(curve, state.threshold, state.beta)) };
    for (const record of valueCells) {
      // Every cell's value stays readable in the DOM: an attribute no style depends on costs no layout.
      // setAttribute, not `dataset`: ~250 writes a drag frame, each through dataset's name mapping.
      const value = String(record.value(shown));
      if (record.writtenValue !== value) record.cell.setAttribute("data-value", record.writtenValue = value);
      if (!dragFrame || (inSight(record) && !record.atRest)) {
        writeCell(record, !dragFrame);
      } else if (!record.stale) {
        record.stale = true;
        record.cell.dataset.stale = "true";
      }
    }
  }

  /** The export's rows: each slice's values, intervals and gaps at the threshold last shown. */
  function exportRows() {
    if (!shown) return [];
    const { slices, points } = shown;
    const { gaps } = slices.point;
    const intervals = slices.point.average ? APPROXIMATE_INTERVALS : EXACT_INTERVALS;
    return slices.curves.map((curve, s) => [
      curve.sliceValue, slices.samples[s], slices.small[s], s === slices.referenceIndex, intervals, points[s].resolvedThreshold,
      ...READOUT_METRICS.filter((metric) => metric.name !== "threshold").flatMap((metric) => {
        const [low, high] = metricInterval(slices, metric, points[s], s);
        return [points[s].metrics[metric.name], low, high];
      }),
      ...fairness.GAP_RATES.flatMap((rate) => ["difference", "difference_low", "difference_high", "ratio", "ratio_low", "ratio_high"].map((key) => gaps[rate][key][s])),
    ]);
  }

  function runOptimiser(slices, state) {
    optimiserError = "";
    optimiserResult = null;
    try {
      optimiserResult = optimiseSlices(slices.curves, state.sliceMode, state.sliceObjective, state.sliceTolerance, state.beta);
    } catch (error) {
      optimiserError = error.message;
    }
  }

  function renderOptimiser(slices, state) {
    const objective = state.sliceObjective === "fbeta" ? `F-β (β = ${state.beta})` : OBJECTIVE_LABELS[state.sliceObjective];
    if (optimiserError) {
      optimiserSummary.textContent = `The optimiser cannot run here: ${optimiserError}.`;
      optimiserTable.replaceChildren();
      return;
    }
    const result = optimiserResult;
    if (!result.feasible) {
      optimiserSummary.textContent = `No per-slice thresholds keep the ${GAP_LABELS[fairness.CONSTRAINED_RATES[state.sliceMode]]} within ${state.sliceTolerance}: raise the tolerance.`;
      optimiserTable.replaceChildren();
      return;
    }
    const cost = result.cost;
    optimiserSummary.textContent = `Overall ${objective}: ${formatGap(result.value)} (one threshold for all: ${formatGap(result.single.value)} at ${formatThresholdValue(result.single.threshold)}; `
      + `cost of this mode ${formatGap(cost)}${cost < 0 ? ", a gain" : ""}).`
      + (result.searched < result.union ? ` Searched ${result.searched} of the slices’ ${result.union} thresholds.` : "");
    const constrained = fairness.CONSTRAINED_RATES[state.sliceMode];
    optimiserTable.replaceChildren(
      el("thead", {}, el("tr", {}, [el("th", {}, "slice"), el("th", {}, "threshold"), ...(constrained ? [el("th", {}, GAP_LABELS[constrained])] : [])])),
      el("tbody", {}, slices.curves.map((curve, s) => el("tr", {}, [
        el("td", {}, curve.run),
        el("td", { dataset: { sliceThreshold: curve.sliceValue, value: String(result.thresholds[s]) } }, Number.isNaN(result.thresholds[s]) ? "– (empty)" : formatThresholdValue(result.thresholds[s])),
        ...(constrained ? [el("td", {}, formatGap(result.rates[s]))] : []),
      ]))),
    );
  }

  // Writes the intervals and the cells out of sight at the threshold the last model holds, once a drag has paused.
  const restWait = createRestWait(root, INTERVALS_REST_MS, () => {
    if (model?.slices?.point && !model.slices.loading) writeTables(model.slices, model.state, false);
  });

  function show(text) {
    if (text) restWait.cancel();
    setIfChanged(message, "textContent", text);
    // The warning is shown only when it has a text: set once, not shown and hidden again every frame.
    for (const part of root.children) {
      if (part !== head && part !== message && part !== warning) setIfChanged(part, "hidden", Boolean(text));
    }
    setIfChanged(warning, "hidden", Boolean(text) || !warning.textContent);
  }

  return {
    update(nextModel, changedKeys) {
      model = nextModel;
      const { slices, state } = model;
      // A drag calls this every frame: unchanged writes are skipped, each would dirty style or layout.
      setIfChanged(modeSelect, "value", state.sliceMode);
      setIfChanged(objectiveSelect, "value", state.sliceObjective);
      if (doc.activeElement !== toleranceInput) setIfChanged(toleranceInput, "value", String(state.sliceTolerance));
      if (!slices) return show("Choose a slice key in the toolbar to compare slices.");
      setIfChanged(title, "textContent", `Slices by ${slices.key} · run ${slices.run}`);
      if (slices.loading) return show("Loading the slices’ counts…");
      if (!slices.curves.length) return show(`No slice of ${slices.key} has counts at this epoch.${slices.problems.length ? ` (${slices.problems.join("; ")})` : ""}`);
      const smallNames = slices.curves.filter((_, s) => slices.small[s]).map((curve) => curve.run);
      setIfChanged(warning, "textContent", smallNames.length
        ? `Fewer than ${slices.minSamples} samples in ${smallNames.join(", ")}: their numbers are shown, with wide intervals.`
        : "");
      show("");
      const average = slices.point.average;
      setText(metricsHeading.firstChild, average ? HEADINGS.averagedMetrics(average) : HEADINGS.metrics);
      setText(gapsHeading.firstChild, average ? HEADINGS.averagedGaps : HEADINGS.gaps);
      const signature = JSON.stringify([slices.curves.map((curve) => curve.run), slices.referenceIndex, slices.small, state.beta]);
      const signatureChanged = signature !== structure;
      if (signatureChanged) {
        structure = signature;
        buildTables(slices, state.beta);
      }
      // A threshold-only change (a drag frame) writes the values of the cells in sight at once, the
      // ~270 interval texts, the gaps' ratios, the rows at rest and the cells out of sight once the
      // threshold rests: laying out changed texts is most of a drag frame here. Meanwhile the view
      // carries `data-stale` and the intervals, ratios and rows at rest are dimmed (styles.css).
      const dragFrame = changedKeys instanceof Set && changedKeys.size === 1 && changedKeys.has("threshold") && !signatureChanged;
      writeTables(slices, state, dragFrame);
      if (dragFrame) restWait.wait();
      else restWait.cancel();
      // The optimiser does not depend on the threshold: it runs when its inputs change, not on a drag.
      const inputs = [slices.curves, state.sliceMode, state.sliceObjective, state.sliceTolerance, state.beta];
      if (inputs.some((input, i) => input !== optimiserInputs[i])) {
        optimiserInputs = inputs;
        runOptimiser(slices, state);
        renderOptimiser(slices, state);
      }
    },
    exportTable() {
      const header = ["slice", "samples", "small", "reference", "intervals", "resolved_threshold",
        ...READOUT_METRICS.filter((metric) => metric.name !== "threshold").flatMap((metric) => [metric.name, `${metric.name}_ci95_low`, `${metric.name}_ci95_high`]),
        ...fairness.GAP_RATES.flatMap((rate) => ["difference", "difference_low", "difference_high", "ratio", "ratio_low", "ratio_high"].map((key) => `${rate}_${key}`))];
      return table(header, exportRows());
    },
    exportPng: () => null,
    destroy: () => {
      restWait.cancel();
      for (const observer of observers) observer.disconnect();
      root.remove();
    },
  };
}
