// The readout panel: every metric at (run, class, epoch, threshold) with 95 % Wilson intervals, and
// the buttons that move the one threshold to an optimal operating point.

import * as core from "./core.js";
import { createRestWait, el, setIfChanged } from "./dom.js";
import { fitRunName } from "./run_names.js";

/** Readout rows: metric name (data-metric), label, and what its Wilson interval counts (if any). */
export const READOUT_METRICS = [
  { name: "threshold", label: "threshold" },
  { name: "precision", label: "precision", wilson: (c) => [c.tp, c.tp + c.fp] },
  { name: "recall", label: "recall (TPR)", wilson: (c) => [c.tp, c.tp + c.fn] },
  { name: "f1", label: "F1" },
  { name: "fbeta", label: "F-β" },
  { name: "specificity", label: "specificity (TNR)", wilson: (c) => [c.tn, c.tn + c.fp] },
  { name: "fpr", label: "FPR", wilson: (c) => [c.fp, c.tn + c.fp] },
  { name: "accuracy", label: "accuracy", wilson: (c) => [c.tp + c.tn, c.tp + c.fp + c.tn + c.fn] },
  { name: "balanced_accuracy", label: "balanced accuracy" },
  { name: "mcc", label: "MCC" },
  { name: "iou", label: "IoU", wilson: (c) => [c.tp, c.tp + c.fp + c.fn] },
  { name: "tp", label: "TP" },
  { name: "fp", label: "FP" },
  { name: "tn", label: "TN" },
  { name: "fn", label: "FN" },
];
const COUNT_METRICS = new Set(["tp", "fp", "tn", "fn"]);
/**
 * How long the threshold must rest before the whole table follows it (ms): a drag rewrites the
 * numbers in view every frame, and the intervals and the columns scrolled out of view once it
 * pauses (as the slice table does).
 */
export const READOUT_REST_MS = 200;
/** Width of the metric-name column, and the least width of a run's column (px). */
const LABEL_COLUMN_PX = 118;
const RUN_COLUMN_MIN_PX = 84;
/** Room a run header's colour dot and cell padding take (px). */
const RUN_HEADER_CHROME_PX = 22;

/** A number for the table: counts as integers (weighted counts with 4 digits), rates with 4 decimals. */
export function formatMetric(name, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (COUNT_METRICS.has(name)) return Number.isInteger(value) ? String(value) : value.toPrecision(5);
  return value.toFixed(4);
}

/**
 * A threshold for people: at most 4 decimals, trailing zeros dropped ("0.5", "0.2843"); within
 * 1e-3 of 0 or 1, 3 significant digits of the distance, so that it stays off the ends
 * ("0.99999994", "1.23e-7"). The text parses back as a number (it also goes in the threshold box);
 * the store keeps the exact value.
 */
export function formatThresholdValue(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (!(value > 0 && value < 1)) return String(value);
  const distance = Math.min(value, 1 - value);
  const decimals = distance >= 1e-3 ? 4 : Math.min(20, Math.ceil(-Math.log10(distance)) + 2);
  return String(Number(value.toFixed(decimals)));
}

/**
 * What the readout's threshold row says: the threshold the user asked for and what the counts are
 * read at. Exact rows: "0.5 (exact)"; grid rows: "0.5 → stored 0.4993", or just the threshold when
 * it is a stored one; an average whose classes resolve to different stored thresholds says so.
 * `resolved` is a model operating point's (null for an argmax matrix: "–").
 */
export function describeThreshold(threshold, resolved) {
  if (!resolved || threshold === null || threshold === undefined || Number.isNaN(threshold)) return "–";
  const asked = formatThresholdValue(threshold);
  if (resolved.exact) return `${asked} (exact)`;
  const exactNote = resolved.exactClasses > 0 ? ` (${resolved.exactClasses} ${resolved.exactClasses === 1 ? "class" : "classes"} exact)` : "";
  if (Number.isNaN(resolved.stored)) return `${asked} → stored per class${exactNote}`;
  if (resolved.stored === threshold) return `${asked}${exactNote}`;
  return `${asked} → stored ${formatThresholdValue(resolved.stored)}${exactNote}`;
}

/** True for a run of a validation split ("…/validation", "val", "valid", "eval"). */
function isValidationRun(run) {
  return /(^|\/)(validation|valid|val|eval)$/i.test(run);
}

/** The run the optimisers work on: the user's pick while it has data, else the first validation run, else the first. */
export function optimizerRun(runs, picked) {
  if (runs.includes(picked)) return picked;
  return runs.find(isValidationRun) ?? runs[0] ?? null;
}

/** Sets a link's href if it differs (`a.href` reads back resolved, so the attribute is compared). */
function setHref(link, url) {
  if (link.getAttribute("href") !== url) link.setAttribute("href", url);
}

function formatInterval([low, high]) {
  if (!Number.isFinite(low) || !Number.isFinite(high)) return "";
  // Rounding can leave the bounds a hair outside [0, 1] ("-0.000"); the proportion cannot be.
  const clamp = (value) => Math.min(1, Math.max(0, value)).toFixed(3);
  return `[${clamp(low)}, ${clamp(high)}]`;
}

/**
 * Builds the panel in `container`. `exportUrl(params)` is the plugin's export route for a query.
 * @returns {{update(model: object, changedKeys: Set<string>): void}}
 */
export function createReadout(container, store, exportUrl) {
  const heading = el("h3", { dataset: { testid: "readout-heading" } }, "At this threshold");
  const subtitle = el("div", { className: "tbm-muted" });
  const table = el("table");
  const note = el("div", { className: "tbm-hint", attrs: { role: "status" } });
  const numberInput = (testid, key, { min, max, step, title }) => {
    const input = el("input", { type: "number", min: String(min), max: String(max), step: String(step), title, dataset: { testid } });
    input.addEventListener("change", () => {
      const value = Number(input.value);
      const valid = input.value.trim() !== "" && Number.isFinite(value) && value >= min && value <= max;
      input.setAttribute("aria-invalid", String(!valid));
      if (valid) store.set({ [key]: value });
      else note.textContent = `${input.value || "An empty value"} is not a valid ${title.toLowerCase()} (${min} to ${max}).`;
    });
    return input;
  };
  const inputs = {
    beta: numberInput("beta-input", "beta", { min: 0.01, max: 100, step: 0.1, title: "β of F-β" }),
    costRatio: numberInput("cost-ratio-input", "costRatio", { min: 0, max: 1e6, step: 0.1, title: "Cost of a FP / cost of a FN" }),
    minPrecision: numberInput("min-precision-input", "minPrecision", { min: 0, max: 1, step: 0.01, title: "Minimum precision" }),
    minRecall: numberInput("min-recall-input", "minRecall", { min: 0, max: 1, step: 0.01, title: "Minimum recall" }),
    minSpecificity: numberInput("min-specificity-input", "minSpecificity", { min: 0, max: 1, step: 0.01, title: "Minimum specificity" }),
  };
  const button = (testid, text, title) => el("button", { type: "button", title, dataset: { testid } }, text);
  const buttons = {
    fbeta: button("opt-max-fbeta", "Max F-β", "Threshold with the highest F-β"),
    youden: button("opt-max-youden", "Max Youden J", "Threshold with the highest TPR − FPR"),
    cost: button("opt-min-cost", "Min cost", "Threshold with the lowest (FN + r·FP) / n"),
    recallAtPrecision: button("opt-recall-at-precision", "Best recall, precision ≥", "Highest recall with precision at least p"),
    precisionAtRecall: button("opt-precision-at-recall", "Best precision, recall ≥", "Highest precision with recall at least r"),
    recallAtSpecificity: button("opt-recall-at-specificity", "Best recall, specificity ≥", "Highest recall (sensitivity) with specificity at least s"),
  };
  const optimizers = el("div", { className: "tbm-optimizers" }, [
    buttons.fbeta,
    el("label", { className: "tbm-row" }, ["β", inputs.beta]),
    buttons.youden,
    el("span"),
    buttons.cost,
    el("label", { className: "tbm-row" }, ["FP:FN cost", inputs.costRatio]),
    buttons.recallAtPrecision,
    el("label", { className: "tbm-row" }, ["p", inputs.minPrecision]),
    buttons.precisionAtRecall,
    el("label", { className: "tbm-row" }, ["r", inputs.minRecall]),
    buttons.recallAtSpecificity,
    el("label", { className: "tbm-row" }, ["s", inputs.minSpecificity]),
  ]);
  const runPicker = el("select", { dataset: { testid: "optimizer-run" }, title: "The run whose curve the buttons optimise" });
  let pickedRun = null;
  runPicker.addEventListener("change", () => {
    pickedRun = runPicker.value;
  });
  const optimizerBox = el("div", {}, [
    el("h3", {}, "Move the threshold to"),
    el("label", { className: "tbm-row tbm-optimizer-run" }, ["optimum of run", runPicker]),
    optimizers,
  ]);
  const matrixBox = el("div");
  // The k of the top-k line: shown when some run's matrix logged rank counts (1 … K).
  const topKPicker = el("select", { dataset: { testid: "top-k-k" }, title: "k of top-k accuracy, precision and recall" });
  topKPicker.addEventListener("change", () => {
    if (model) model.setState({ topK: Number(topKPicker.value) });
  });
  const topKBox = el("div", { dataset: { testid: "top-k" } });
  // Server-side exports of the first selected run at this epoch, computed by the Python core.
  const downloads = {
    metricsCsv: el("a", { download: "", title: "Every metric at this threshold (Python core)" }, "metrics CSV"),
    metricsJson: el("a", { download: "", title: "Every metric at this threshold (Python core)" }, "JSON"),
    countsCsv: el("a", { download: "", title: "Raw counts at every stored threshold" }, "raw counts CSV"),
  };
  const downloadBox = el("div", { className: "tbm-hint" }, [
    "Download: ", downloads.metricsCsv, " · ", downloads.metricsJson, " · ", downloads.countsCsv,
  ]);
  const tableScroll = el("div", { className: "tbm-table-scroll" }, table);
  const readoutBox = el("div", { dataset: { testid: "readout" } }, [
    heading,
    subtitle,
    tableScroll,
    matrixBox,
    topKBox,
  ]);
  container.append(
    readoutBox,
    optimizerBox,
    note,
    downloadBox,
  );

  let model = null;

  /**
   * Runs an optimiser on the picked run and moves the threshold to its answer: the exact optimum
   * (a stored threshold, so that it resolves to that operating point), shown rounded.
   */
  const optimize = (describe, find) => () => {
    const curves = model?.curves ?? [];
    const run = optimizerRun(curves.map((candidate) => candidate.run), pickedRun);
    const curve = curves.find((candidate) => candidate.run === run);
    if (!curve) {
      note.textContent = "Select a run with data at this epoch first.";
      return;
    }
    const point = find(curve, model.state);
    if (point.index < 0 || !Number.isFinite(point.threshold)) {
      note.textContent = `No threshold of run “${curve.run}” satisfies ${describe(model.state)}.`;
      return;
    }
    note.textContent = `${describe(model.state)} on run “${curve.run}”: threshold ${formatThresholdValue(point.threshold)} (value ${formatMetric("", point.value)}).`;
    store.set({ threshold: point.threshold });
  };
  const args = (curve) => [curve.positiveHistograms, curve.negativeHistograms, curve.thresholds];
  buttons.fbeta.addEventListener("click", optimize((s) => `max F-β (β = ${s.beta})`, (curve, s) => core.bestFbetaThreshold(...args(curve), s.beta, curve.average)));
  buttons.youden.addEventListener("click", optimize(() => "max Youden J", (curve) => core.bestYoudenThreshold(...args(curve), curve.average)));
  buttons.cost.addEventListener("click", optimize((s) => `min cost (FP:FN = ${s.costRatio})`, (curve, s) => core.minCostThreshold(...args(curve), s.costRatio, null, curve.average)));
  buttons.recallAtPrecision.addEventListener("click", optimize((s) => `precision ≥ ${s.minPrecision}`, (curve, s) => core.recallAtPrecision(...args(curve), s.minPrecision, curve.average)));
  buttons.precisionAtRecall.addEventListener("click", optimize((s) => `recall ≥ ${s.minRecall}`, (curve, s) => core.precisionAtRecall(...args(curve), s.minRecall, curve.average)));
  buttons.recallAtSpecificity.addEventListener("click", optimize((s) => `specificity ≥ ${s.minSpecificity}`, (curve, s) => core.sensitivityAtSpecificity(...args(curve), s.minSpecificity, curve.average)));

  // The table's structure depends on the runs and β only; moving the threshold rewrites texts in
  // place (rebuilding ~100 cells each frame showed up in the drag profile).
  let tableSignature = "";
  let valueCells = [];
  const win = container.ownerDocument.defaultView;
  // With several runs the table scrolls sideways (each run's column is at least RUN_COLUMN_MIN_PX):
  // the run headers in the scroll box's view say which columns a drag frame writes. A column
  // scrolled into view catches up at once.
  let headerCells = [];
  let columnsInView = null; // indexes of the columns in view; null (all) until the observer reports
  const columnObserver = win.IntersectionObserver
    ? new win.IntersectionObserver((entries) => {
      columnsInView ??= new Set(headerCells.keys());
      for (const entry of entries) {
        const column = headerCells.indexOf(entry.target);
        if (column < 0) continue;
        if (entry.isIntersecting) columnsInView.add(column);
        else columnsInView.delete(column);
      }
      restWait.runIfWaiting();
    }, { root: tableScroll })
    : null;
  let rowMetrics = READOUT_METRICS;
  let runNames = [];

  /** Run headers whole when they fit their column, else shortened in the middle (whole on hover). */
  function fitHeaders() {
    for (const name of table.querySelectorAll("thead [data-run]")) {
      const width = name.parentElement.clientWidth - RUN_HEADER_CHROME_PX;
      if (width > 0) fitRunName(name, name.dataset.run, runNames, width);
    }
  }
  new ResizeObserver(fitHeaders).observe(table);
  // Names measured before Roboto arrived used a fallback font's widths.
  container.ownerDocument.fonts?.ready.then(fitHeaders);

  function buildTable(points, beta, kind) {
    // An argmax matrix has no threshold: no row for one.
    rowMetrics = kind === "threshold_curves" ? READOUT_METRICS : READOUT_METRICS.filter((metric) => metric.name !== "threshold");
    runNames = points.map((point) => point.run);
    table.style.minWidth = `${LABEL_COLUMN_PX + RUN_COLUMN_MIN_PX * points.length}px`;
    headerCells = points.map((point) => el("th", {}, [
      el("span", { className: "tbm-swatch", style: { background: point.color, display: "inline-block", marginRight: "4px" } }),
      el("span", { className: "tbm-run-name", dataset: { run: point.run } }, point.run),
    ]));
    const head = el("tr", {}, [el("th", { style: { width: `${LABEL_COLUMN_PX}px` } }, "metric"), ...headerCells]);
    columnObserver?.disconnect();
    columnsInView = null;
    for (const cell of headerCells) columnObserver?.observe(cell);
    valueCells = [];
    const rows = rowMetrics.map((metric) =>
      el("tr", {}, [
        el("td", {}, metric.name === "fbeta" ? `F-β (β = ${beta})` : metric.label),
        ...points.map((point) => {
          const text = document.createTextNode("");
          const intervalText = document.createTextNode("");
          // Each line is a layout boundary (see .tbm-line in styles.css): a new number lays out
          // its own line, not the table.
          const interval = el("div", { className: "tbm-ci tbm-line", title: "95 % Wilson interval", hidden: true }, [intervalText]);
          // The threshold row's text ("0.5 → stored 0.4993 (3 classes exact)") is longer than a
          // narrow run column: it wraps within two lines rather than running into the next run's.
          const line = el("div", { className: metric.name === "threshold" ? "tbm-line tbm-line-wrap" : "tbm-line" }, [text]);
          const cell = el("td", { dataset: { metric: metric.name, run: point.run } }, [line, interval]);
          valueCells.push({ metric, cell, text, interval, intervalText });
          return cell;
        }),
      ]),
    );
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
    fitHeaders();
  }

  /**
   * Writes the table at the threshold; a drag frame (`dragFrame`) only the numbers of the columns in
   * view, leaving the intervals and the other columns to the catch-up once the threshold rests.
   * @returns {boolean} whether something was left to catch up
   */
  function renderTable(points, beta, kind, dragFrame) {
    const signature = JSON.stringify([points.map((point) => [point.run, point.color]), beta, kind]);
    if (signature !== tableSignature) {
      tableSignature = signature;
      buildTable(points, beta, kind);
      dragFrame = false;
    }
    const inView = (column) => !dragFrame || !columnsInView || columnsInView.has(column);
    // Only what changed is written: each text or attribute write dirties the table's layout, and
    // a drag moves the threshold every frame.
    let k = 0;
    for (const metric of rowMetrics) {
      for (let column = 0; column < points.length; column++, k++) {
        if (!inView(column)) continue;
        const point = points[column];
        const { cell, text, interval, intervalText } = valueCells[k];
        const value = point.metrics[metric.name];
        setIfChanged(cell.dataset, "value", String(value));
        if (metric.name === "threshold") {
          // The counts' own threshold (the user's in exact mode, else the stored one), for tests and tools.
          setIfChanged(cell.dataset, "resolved", String(point.resolvedThreshold));
          const described = describeThreshold(value, point.resolved);
          setIfChanged(text, "data", described);
          setIfChanged(cell, "title", described);
        } else {
          setIfChanged(text, "data", formatMetric(metric.name, value));
        }
        if (dragFrame) continue;
        const bounds = metric.wilson && point.hasIntervals ? core.wilsonInterval(...metric.wilson(point.counts)) : null;
        setIfChanged(intervalText, "data", bounds ? formatInterval(bounds) : "");
        setIfChanged(interval, "hidden", !bounds);
      }
    }
    return dragFrame && (points.some((point) => point.hasIntervals) || !points.every((_, column) => inView(column)));
  }

  // Writes the whole table at the threshold the last model holds, once a drag has paused.
  const restWait = createRestWait(readoutBox, READOUT_REST_MS, () => {
    if (model?.operatingPoints.length) renderTable(model.operatingPoints, model.state.beta, model.tagInfo.kind, false);
  });

  function renderRunPicker(runs) {
    const signature = JSON.stringify(runs);
    if (runPicker.dataset.signature !== signature) {
      runPicker.dataset.signature = signature;
      runPicker.replaceChildren(...runs.map((run) => el("option", { value: run, title: run }, run)));
    }
    const run = optimizerRun(runs, pickedRun);
    if (run !== null && runPicker.value !== run) runPicker.value = run;
    // One run: nothing to pick.
    setIfChanged(runPicker.parentElement, "hidden", runs.length <= 1);
  }

  return {
    update(nextModel, changedKeys) {
      model = nextModel;
      const { state } = model;
      for (const [key, input] of Object.entries(inputs)) {
        if (container.ownerDocument.activeElement !== input) setIfChanged(input, "value", String(state[key]));
      }
      const points = model.operatingPoints;
      const kind = model.tagInfo.kind;
      setIfChanged(optimizerBox, "hidden", kind !== "threshold_curves");
      renderRunPicker((model.curves ?? []).map((curve) => curve.run));
      const className = model.classLabel;
      const missing = model.runsWithoutData.length ? ` · no data at this epoch: ${model.runsWithoutData.join(", ")}` : "";
      // A confusion-matrix tag was counted at a fixed decision; say which, not "at this threshold".
      setIfChanged(heading, "textContent", kind === "threshold_curves" ? "At this threshold" : `At the logged decision: ${model.tagInfo.decision || "argmax"}`);
      const thinned = (model.curves ?? []).find((curve) => curve.axisThresholds > curve.thresholds.length);
      const thinnedNote = thinned
        ? ` · average curves at ${thinned.thresholds.length.toLocaleString("en-US")} of the classes' ${thinned.axisThresholds.toLocaleString("en-US")} thresholds`
        : "";
      setIfChanged(subtitle, "textContent", `${className} · epoch ${state.step ?? "–"}${missing}${thinnedNote}`);
      if (points.length === 0) {
        restWait.cancel();
        tableSignature = "";
        table.replaceChildren(el("tbody", {}, el("tr", {}, el("td", {}, "No data for the selected runs at this epoch."))));
      } else {
        // A threshold-only change (a drag frame) writes the numbers in view at once, and the
        // intervals and the columns scrolled out of view once the threshold rests: each changed
        // text costs layout and paint every frame. Meanwhile the readout carries `data-stale` and
        // its intervals are dimmed (styles.css); the downloads always ask the server for the
        // current threshold.
        const dragFrame = changedKeys instanceof Set && changedKeys.size === 1 && changedKeys.has("threshold");
        if (renderTable(points, state.beta, kind, dragFrame)) {
          restWait.wait();
        } else if (!dragFrame) {
          restWait.cancel();
        }
      }
      const run = points[0]?.run;
      setIfChanged(downloadBox, "hidden", !run);
      if (run) {
        const where = { run, tag: state.tag, step: state.step };
        const threshold = kind === "threshold_curves" ? state.threshold : undefined;
        // The ROC card's max FPR, when set, adds the partial ROC-AUC to the records.
        const maxFpr = kind === "threshold_curves" ? state.maxFpr ?? undefined : undefined;
        // The top-k line's k, when chosen, is the k of the records' top-k fields.
        const k = kind === "confusion_matrix" ? state.topK ?? undefined : undefined;
        setHref(downloads.metricsCsv, exportUrl({ ...where, threshold, max_fpr: maxFpr, k, format: "csv" }));
        setHref(downloads.metricsJson, exportUrl({ ...where, threshold, max_fpr: maxFpr, k, format: "json" }));
        setHref(downloads.countsCsv, exportUrl({ ...where, format: "csv", content: "counts" }));
      }
      // Confusion-matrix tags only (threshold curves have none: nothing to rewrite each frame).
      if (model.matrixScalars?.length || matrixBox.firstChild) matrixBox.replaceChildren(...(model.matrixScalars ?? []).map(({ run, color, metrics }) =>
        el("div", { className: "tbm-hint" }, [
          el("span", { className: "tbm-swatch", style: { background: color, display: "inline-block", marginRight: "4px" } }),
          `${run}: accuracy ${formatMetric("", metrics.accuracy)} · κ ${formatMetric("", metrics.kappa)} (linear ${formatMetric("", metrics.kappa_linear)}, quadratic ${formatMetric("", metrics.kappa_quadratic)}) · MCC ${formatMetric("", metrics.mcc)} · mean IoU ${formatMetric("", metrics.mean_iou)}`,
        ]),
      ));
      renderTopK(model.matrixScalars ?? []);
    },
  };

  /** "top-k accuracy (k = [k])" per run whose matrix logged ranks; hidden when none did (v1, compiled metric). */
  function renderTopK(scalars) {
    const ranked = scalars.filter((scalar) => scalar.topK);
    setIfChanged(topKBox, "hidden", ranked.length === 0);
    if (!ranked.length) {
      if (topKBox.firstChild) topKBox.replaceChildren();
      return;
    }
    const depth = Math.max(...ranked.map((scalar) => scalar.depth));
    const shownK = ranked[0].topK.k;
    const options = Array.from({ length: depth }, (_, index) => String(index + 1));
    if (topKPicker.options.length !== options.length) {
      topKPicker.replaceChildren(...options.map((value) => el("option", { value }, value)));
    }
    if (topKPicker.ownerDocument.activeElement !== topKPicker) topKPicker.value = String(shownK);
    topKBox.replaceChildren(
      el("label", { className: "tbm-hint" }, ["top-k accuracy, k = ", topKPicker]),
      ...ranked.map(({ run, color, topK: numbers }) =>
        el("div", { className: "tbm-hint", dataset: { run } }, [
          el("span", { className: "tbm-swatch", style: { background: color, display: "inline-block", marginRight: "4px" } }),
          `${run}: top-${numbers.k} accuracy ${formatMetric("", numbers.top_k_accuracy)} · top-${numbers.k} precision (macro) ${formatMetric("", numbers.top_k_precision.macro)} · recall (macro) ${formatMetric("", numbers.top_k_recall.macro)}`,
        ])),
    );
  }
}
