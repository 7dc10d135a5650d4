// The confusion-matrix view. Threshold curves: a 2×2 matrix per run at the current threshold, with
// rates. Confusion-matrix summaries: a C×C heatmap on canvas (normalisation, sorting, hover, zoom and
// pan) and the list of the largest confusions.

import * as core from "../core.js";
import { el, setIfChanged } from "../dom.js";
import { EMPTY_TABLE, table } from "../export.js";
import { PALETTE } from "../palette.js";
import { describeThreshold, formatMetric } from "../readout.js";
import { createHeatmap } from "./heatmap.js";

const NORMALIZATION_LABELS = { none: "counts", true: "by true class (recall)", pred: "by predicted class (precision)", all: "by total" };
const TOP_CONFUSIONS = 15;

function percent(value) {
  return Number.isFinite(value) ? `${(100 * value).toFixed(1)} %` : "–";
}

/**
 * Display order of the classes: by index, or by error rate 1 − recall (worst first; ties by index).
 * @returns {Int32Array} order[k] = class shown at position k
 */
export function classOrder(recall, sortBy) {
  const order = Int32Array.from(recall, (_, index) => index);
  if (sortBy === "error") order.sort((a, b) => recall[a] - recall[b] || a - b);
  return order;
}

/** `matrix` (C×C, row-major) with rows and columns permuted into `order`. */
export function permuteMatrix(matrix, size, order) {
  const out = new Float64Array(size * size);
  for (let r = 0; r < size; r++) {
    const source = order[r] * size;
    for (let c = 0; c < size; c++) out[r * size + c] = matrix[source + order[c]];
  }
  return out;
}

function createBinaryPart(root) {
  const box = el("div");
  root.append(box);
  let rows = [];
  let signature = "";
  let parts = [];

  const makeCell = (name, correct) => {
    const count = el("div", { className: "tbm-cell-count" });
    const rate = el("div", { className: "tbm-cell-rate" });
    const cell = el("div", { className: `tbm-cell${correct ? " tbm-correct" : ""}`, dataset: { cell: name } }, [count, rate]);
    return { cell, count, rate };
  };

  // Built once per set of runs; a threshold move only rewrites the numbers.
  function build(points) {
    parts = points.map((point) => {
      const cells = { tp: makeCell("tp", true), fn: makeCell("fn", false), fp: makeCell("fp", false), tn: makeCell("tn", true) };
      const caption = el("span", { className: "tbm-muted" });
      const block = el("div", { className: "tbm-binary-run" }, [
        el("div", { className: "tbm-row" }, [
          el("span", { className: "tbm-swatch", style: { background: point.color } }),
          el("b", {}, point.run),
          caption,
        ]),
        el("div", { className: "tbm-binary", dataset: { testid: "confusion-binary", run: point.run } }, [
          el("span"),
          el("span", { className: "tbm-binary-head" }, "predicted positive"),
          el("span", { className: "tbm-binary-head" }, "predicted negative"),
          el("span", { className: "tbm-binary-side" }, "actual positive"),
          cells.tp.cell,
          cells.fn.cell,
          el("span", { className: "tbm-binary-side" }, "actual negative"),
          cells.fp.cell,
          cells.tn.cell,
        ]),
      ]);
      return { cells, caption, block };
    });
    box.replaceChildren(...parts.map((part) => part.block));
    if (points.length === 0) box.append(el("div", { className: "tbm-muted" }, "No data for the selected runs at this epoch."));
  }

  return {
    update(model) {
      const points = model.operatingPoints;
      rows = points;
      const nextSignature = JSON.stringify(points.map((point) => [point.run, point.color]));
      if (nextSignature !== signature) {
        signature = nextSignature;
        build(points);
      }
      points.forEach((point, i) => {
        const { cells, caption } = parts[i];
        const m = point.metrics;
        setIfChanged(caption, "textContent", `threshold ${describeThreshold(m.threshold, point.resolved)} · ${model.classLabel}`);
        const rates = { tp: ["TPR", m.recall], fn: ["FNR", m.fnr], fp: ["FPR", m.fpr], tn: ["TNR", m.specificity] };
        for (const [name, [label, rate]] of Object.entries(rates)) {
          const value = point.counts[name];
          setIfChanged(cells[name].cell.dataset, "value", String(value));
          setIfChanged(cells[name].count, "textContent", formatMetric(name, value));
          setIfChanged(cells[name].rate, "textContent", `${name.toUpperCase()} · ${label} ${percent(rate)}`);
        }
      });
    },
    // `threshold`: the stored threshold the counts are at (the card adds the selected one).
    exportTable() {
      return table(
        ["run", "threshold", "tp", "fp", "tn", "fn", "tpr", "fpr", "tnr", "fnr", "precision"],
        rows.map((p) => [p.run, p.resolvedThreshold, p.counts.tp, p.counts.fp, p.counts.tn, p.counts.fn,
          p.metrics.recall, p.metrics.fpr, p.metrics.specificity, p.metrics.fnr, p.metrics.precision]),
      );
    },
    exportPng() {
      const canvas = document.createElement("canvas");
      const ratio = 2;
      const height = 40 + rows.length * 110;
      canvas.width = 420 * ratio;
      canvas.height = height * ratio;
      const ctx = canvas.getContext("2d");
      ctx.scale(ratio, ratio);
      const style = getComputedStyle(root);
      ctx.fillStyle = style.getPropertyValue("--tbm-surface") || PALETTE.light.page.surface;
      ctx.fillRect(0, 0, 420, height);
      ctx.fillStyle = style.color;
      ctx.font = "13px Roboto, sans-serif";
      rows.forEach((p, i) => {
        const y = 20 + i * 110;
        ctx.fillText(`${p.run} · threshold ${describeThreshold(p.metrics.threshold, p.resolved)}`, 8, y);
        const cells = [["TP", p.counts.tp], ["FN", p.counts.fn], ["FP", p.counts.fp], ["TN", p.counts.tn]];
        cells.forEach(([name, value], k) => {
          const x = 8 + (k % 2) * 200;
          const top = y + 10 + Math.floor(k / 2) * 45;
          ctx.strokeStyle = PALETTE.light.chart.reference;
          ctx.strokeRect(x, top, 190, 40);
          ctx.fillText(`${name}  ${formatMetric("tp", value)}`, x + 10, top + 25);
        });
      });
      return canvas.toDataURL("image/png");
    },
  };
}

function createMatrixPart(root, getSetState) {
  const runSelect = el("select", { title: "Run whose matrix is shown" });
  const normalizationSelect = el("select", { title: "Normalisation", dataset: { control: "normalization" } },
    Object.entries(NORMALIZATION_LABELS).map(([value, label]) => el("option", { value }, label)));
  const sortSelect = el("select", { title: "Order of the classes", dataset: { control: "sort" } }, [
    el("option", { value: "class" }, "by class"),
    el("option", { value: "error" }, "by error rate"),
  ]);
  const resetButton = el("button", { type: "button", title: "Show the whole matrix (or double-click it)" }, "Reset zoom");
  const toolbar = el("div", { className: "tbm-heatmap-toolbar" }, [
    el("label", { className: "tbm-row" }, ["Run", runSelect]),
    el("label", { className: "tbm-row" }, ["Normalise", normalizationSelect]),
    el("label", { className: "tbm-row" }, ["Sort", sortSelect]),
    resetButton,
    el("span", { className: "tbm-muted" }, "Wheel to zoom, drag to pan"),
  ]);
  const heatmapBox = el("div", { className: "tbm-heatmap" });
  const tooltip = el("div", { className: "tbm-tooltip", hidden: true });
  const topList = el("ol");
  const topBox = el("div", { className: "tbm-top-confusions" }, [el("b", {}, "Top confusions"), topList]);
  const wrap = el("div", { className: "tbm-heatmap-wrap" }, [el("div", { style: { position: "relative" } }, [heatmapBox, tooltip]), topBox]);
  root.append(toolbar, wrap);

  let shown = null; // {entry, order, raw, normalized, size, rowSums, colSums, total, metrics}
  let perMatrix = null; // {metrics, top} of the matrix shown
  let selectedRun = null;
  let signature = "";

  const heatmap = createHeatmap(heatmapBox, {
    onHover(cell, event) {
      if (!cell || !shown) {
        tooltip.hidden = true;
        return;
      }
      const { order, raw, size, rowSums, colSums, total, entry } = shown;
      const trueClass = order[cell.row];
      const predClass = order[cell.col];
      const count = raw[trueClass * size + predClass];
      tooltip.replaceChildren(
        el("div", {}, [el("b", {}, `true ${entry.classNames[trueClass]} → predicted ${entry.classNames[predClass]}`)]),
        el("div", {}, `count ${formatMetric("tp", count)}`),
        el("div", {}, `${percent(count / rowSums[trueClass])} of true ${entry.classNames[trueClass]}`),
        el("div", {}, `${percent(count / colSums[predClass])} of predicted ${entry.classNames[predClass]}`),
        el("div", {}, `${percent(count / total)} of all`),
      );
      tooltip.hidden = false;
      const box = heatmapBox.getBoundingClientRect();
      const x = event.clientX - box.left + 14;
      const y = event.clientY - box.top + 14;
      tooltip.style.left = `${Math.min(x, box.width - tooltip.offsetWidth)}px`;
      tooltip.style.top = `${Math.min(y, box.height - tooltip.offsetHeight)}px`;
    },
  });
  resetButton.addEventListener("click", () => heatmap.resetZoom());
  runSelect.addEventListener("change", () => {
    selectedRun = runSelect.value;
    signature = "";
    if (lastModel) part.update(lastModel, new Set(["runs"]));
  });
  normalizationSelect.addEventListener("change", () => getSetState()({ normalization: normalizationSelect.value }));
  sortSelect.addEventListener("change", () => getSetState()({ sortBy: sortSelect.value }));
  let lastModel = null;

  const part = {
    update(model) {
      lastModel = model;
      const { state } = model;
      const matrices = model.matrices;
      const runs = matrices.map((entry) => entry.run);
      if (!runs.includes(selectedRun)) selectedRun = runs[0] ?? null;
      runSelect.replaceChildren(...runs.map((run) => el("option", { value: run }, run)));
      runSelect.value = selectedRun ?? "";
      runSelect.parentElement.hidden = runs.length <= 1;
      normalizationSelect.value = state.normalization;
      sortSelect.value = state.sortBy;
      const entry = matrices.find((candidate) => candidate.run === selectedRun);
      if (!entry) {
        shown = null;
        topList.replaceChildren(el("li", { className: "tbm-muted" }, "No matrix for the selected runs at this epoch."));
        heatmap.setData({ values: new Float64Array(0), size: 0, labels: [], formatValue: String, theme: state.theme, colors: themeColors(root), resetZoom: true });
        return;
      }
      // The matrix is compared by identity (the model keeps it while the step is unchanged).
      const nextSignature = [state.normalization, state.sortBy, state.theme].join("|");
      if (shown?.entry === entry && nextSignature === signature) return; // threshold moves do not touch the matrix
      const sameData = shown?.entry.matrix === entry.matrix;
      signature = nextSignature;
      const size = entry.numClasses;
      // Class metrics and top confusions depend on the matrix only, not on normalisation or order.
      if (!sameData || !shown.metrics) {
        perMatrix = { metrics: core.matrixMetrics(entry.matrix, size), top: core.topConfusions(entry.matrix, size, TOP_CONFUSIONS) };
      }
      const { metrics, top } = perMatrix;
      const order = classOrder(metrics.recall, state.sortBy);
      const normalized = core.normalizeMatrix(entry.matrix, size, state.normalization);
      const rowSums = metrics.support;
      const colSums = metrics.predicted;
      let total = 0;
      for (let i = 0; i < rowSums.length; i++) total += rowSums[i];
      shown = { entry, order, raw: entry.matrix, size, rowSums, colSums, total, normalized, metrics };
      const asCounts = state.normalization === "none";
      heatmap.setData({
        values: permuteMatrix(normalized, size, order),
        size,
        labels: Array.from(order, (index) => entry.classNames[index]),
        formatValue: asCounts ? (v) => formatMetric("tp", v) : (v) => `${(100 * v).toFixed(v >= 0.995 || v === 0 ? 0 : 1)}%`,
        theme: state.theme,
        colors: themeColors(root),
        resetZoom: !sameData,
      });
      const position = new Int32Array(size);
      order.forEach((index, k) => {
        position[index] = k;
      });
      topList.replaceChildren(
        ...Array.from(top.true, (trueClass, k) => {
          const predClass = top.pred[k];
          const item = el("li", { title: "Click to zoom to this cell", style: { cursor: "pointer" } },
            `${entry.classNames[trueClass]} → ${entry.classNames[predClass]}: ${formatMetric("tp", top.count[k])} (${percent(top.fraction_of_true[k])} of ${entry.classNames[trueClass]})`);
          item.addEventListener("click", () => heatmap.focusCell(position[trueClass], position[predClass]));
          return item;
        }),
      );
      if (top.true.length === 0) topList.append(el("li", { className: "tbm-muted" }, "No confusions: every item is on the diagonal."));
    },
    exportTable() {
      if (!shown) return EMPTY_TABLE;
      const { entry, size, normalized } = shown;
      const rows = [];
      for (let r = 0; r < size; r++) {
        rows.push([entry.run, entry.classNames[r], ...Array.from(normalized.subarray(r * size, (r + 1) * size))]);
      }
      return table(["run", "true \\ predicted", ...entry.classNames], rows);
    },
    exportPng() {
      return heatmap.canvas.toDataURL("image/png");
    },
    redraw: () => heatmap.redraw(),
  };
  return part;
}

function themeColors(root) {
  const style = getComputedStyle(root);
  return {
    text: style.getPropertyValue("--tbm-text").trim() || PALETTE.light.page.text,
    grid: style.getPropertyValue("--tbm-grid").trim() || PALETTE.light.page.grid,
  };
}

/** Creates the confusion-matrix view in `container` (the `View` contract of view_registry.js). */
export function createConfusionView(container) {
  const title = el("span", { className: "tbm-chart-title" }, "Confusion matrix");
  const head = el("div", { className: "tbm-view-head tbm-card-header" }, [title]);
  const body = el("div");
  const root = el("div", { dataset: { testid: "view-confusion" } }, [head, body]);
  container.append(root);
  let part = null;
  let partKind = null;
  let setState = () => {};

  return {
    update(model) {
      setState = model.setState;
      const kind = model.tagInfo.kind;
      if (kind !== partKind) {
        body.replaceChildren();
        partKind = kind;
        part = kind === "confusion_matrix" ? createMatrixPart(body, () => setState) : createBinaryPart(body);
      }
      // The rule the matrix was counted with, as logged ("argmax", "score > 0.5").
      title.textContent = kind === "confusion_matrix"
        ? `Confusion matrix (${model.tagInfo.decision || "argmax"})`
        : "Confusion matrix at the threshold";
      part.update(model);
    },
    exportTable: () => part?.exportTable() ?? EMPTY_TABLE,
    exportPng: () => part?.exportPng() ?? "",
    destroy() {
      root.remove();
    },
  };
}
