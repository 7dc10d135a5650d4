/**
 * Score distributions of positives and negatives, one pair per selected run, with the threshold as
 * a line the user drags (it sets the one threshold every view follows).
 *
 * The stored bins are the threshold grid, which is very fine near 0 and 1 (down to 1e-8 wide) and
 * coarse in between, so raw per-bin fractions would draw tall spikes wherever bins are wide. We
 * show a density: fine bins are merged into display bins about 1/60 of the x axis wide (their
 * edges are stored thresholds, so merging is exact), and each display bin's fraction of the class
 * is divided by its width in axis units. On the default score axis that is density per unit score;
 * with "logit axis" on it is density per unit logit, which spreads the scores of confident models
 * that pile up within 1e-6 of 0 or 1 and would otherwise fill a single bar at each end.
 */
import * as core from "../core.js";
import { toCsv } from "../export.js";
import {
  addToggle, axis, changedAny, CHART_HEIGHT, createOverlay, createPlotHolder, createViewRoot,
  drawVerticalLine, exportChartPng, formatCount, formatNumber, formatThreshold, hasExactCounts, logit,
  logitScale, mostlyConfident, occupiedScoreRange, probabilityAxis, REBUILD_KEYS, renderLegend, runsLayoutKey,
  runsTableHtml, themeOf, THEMES, thresholdDragPlugin, tickValues, tooltipPlugin, uPlot,
} from "./chart_common.js";

const DISPLAY_BINS = 60;

/** Hex colour #rrggbb → rgba() with `alpha`, for the translucent fills. */
function withAlpha(hex, alpha) {
  const value = Number.parseInt(hex.slice(1, 7), 16);
  return `rgba(${(value >> 16) & 255}, ${(value >> 8) & 255}, ${value & 255}, ${alpha})`;
}

/**
 * Display bins for one run: consecutive fine bins merged until each spans ≥ 1/DISPLAY_BINS of the
 * axis [from, to] (in `position` units); fine bins outside it are left out. Fine bins of zero width
 * (the outer bins clipped to [0, 1], holding scores ≤ 0 or > 1) have no density and are reported
 * apart.
 *
 * @returns {{edges: number[], positive: number[], negative: number[], outside: {positive, negative}}}
 *   `edges` has one more entry than the densities.
 */
export function displayBins(distribution, position, [from, to]) {
  const { lower, upper, positive, negative } = distribution;
  const target = (position(to) - position(from)) / DISPLAY_BINS;
  const edges = [];
  const positiveDensity = [];
  const negativeDensity = [];
  const outside = { positive: 0, negative: 0 };
  let binStart = null;
  let positiveMass = 0;
  let negativeMass = 0;
  const close = (edge) => {
    const width = position(edge) - position(binStart);
    positiveDensity.push(width > 0 ? positiveMass / width : 0);
    negativeDensity.push(width > 0 ? negativeMass / width : 0);
    edges.push(edge);
    positiveMass = 0;
    negativeMass = 0;
    binStart = edge;
  };
  for (let k = 0; k < lower.length; k++) {
    const p = Number.isNaN(positive[k]) ? 0 : positive[k];
    const n = Number.isNaN(negative[k]) ? 0 : negative[k];
    if (!(upper[k] > lower[k])) {
      outside.positive += p;
      outside.negative += n;
      continue;
    }
    if (lower[k] < from || upper[k] > to) continue;
    if (binStart === null) {
      binStart = lower[k];
      edges.push(binStart);
    }
    positiveMass += p;
    negativeMass += n;
    if (position(upper[k]) - position(binStart) >= target) close(upper[k]);
  }
  if (binStart !== null && binStart < to) close(to);
  return { edges, positive: positiveDensity, negative: negativeDensity, outside };
}

/** Creates the score-distribution view in `container`. */
export function createDistributionView(container) {
  const dom = createViewRoot(container, "view-distribution", "Score distribution");
  const holder = createPlotHolder(dom.plot);
  let theme = THEMES.light;
  let curves = [];
  let bins = [];
  let legendItems = [];
  let threshold = 0.5;
  let overlay = null;
  let model = null;
  let logitAxis = false;
  let range = [0, 1];
  const getTheme = () => theme;
  const position = (score) => (logitAxis ? logit(score) : score);

  // Until the user picks, the axis is logit for confident models (see `mostlyConfident`).
  let userPickedAxis = false;
  const logitToggle = addToggle(dom.controls, "logit axis", false, (checked) => {
    userPickedAxis = true;
    logitAxis = checked;
    if (model) {
      rebuild(model);
      drawThreshold();
    }
  });

  function tooltip(u) {
    const idx = u.cursor.idx;
    if (idx == null) return null;
    const score = u.posToVal(u.cursor.left, "x");
    const bin = (r) => {
      const { edges } = bins[r];
      let b = 0;
      while (b < edges.length - 2 && edges[b + 1] < score) b++;
      return b;
    };
    const binRange = (r) => {
      const b = bin(r);
      return `${formatThreshold(bins[r].edges[b])} – ${formatThreshold(bins[r].edges[b + 1])}`;
    };
    // Counts if the threshold were moved here (at the stored threshold nearest to the pointer).
    const j = curves.map((curve) => core.thresholdIndex(curve.thresholds, score));
    const rows = [
      ["score bin", binRange],
      [`positives / ${logitAxis ? "logit" : "score"}`, (r) => formatNumber(bins[r].positive[bin(r)], 3)],
      [`negatives / ${logitAxis ? "logit" : "score"}`, (r) => formatNumber(bins[r].negative[bin(r)], 3)],
      ["threshold", (r) => formatThreshold(curves[r].thresholds[j[r]])],
      ...["tp", "fp", "tn", "fn"].map((key) => [key.toUpperCase(), (r) => formatCount(curves[r][key][j[r]])]),
    ];
    return `<div>score ${formatThreshold(score)}</div>${runsTableHtml(curves, rows)}`;
  }

  function options(width) {
    overlay = createOverlay();
    const stepped = uPlot.paths.stepped({ align: 1 });
    return {
      width,
      height: CHART_HEIGHT,
      legend: { show: false },
      padding: [8, 16, 0, 0],
      scales: {
        // Range functions read the current range, so new data only needs setData.
        x: logitAxis ? logitScale(() => range) : { time: false, range: [0, 1] },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] },
      },
      axes: [
        axis(getTheme, logitAxis
          ? probabilityAxis("Score (logit axis)")
          : { label: "Score", values: tickValues }),
        axis(getTheme, { label: logitAxis ? "Density per unit logit" : "Density per unit score", values: tickValues, size: 44 }),
      ],
      series: [
        { label: "score" },
        ...curves.flatMap((curve) => [
          {
            label: `${curve.run} positives`, stroke: curve.color, width: 1.5, paths: stepped,
            fill: withAlpha(curve.color, 0.18), points: { show: false },
          },
          {
            label: `${curve.run} negatives`, stroke: curve.color, width: 1.5, dash: [5, 3], paths: stepped,
            fill: withAlpha(curve.color, 0.05), points: { show: false },
          },
        ]),
      ],
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      plugins: [
        overlay.plugin,
        tooltipPlugin(tooltip, getTheme),
        thresholdDragPlugin(() => curves[0] && curves[0].thresholds, (t) => model.setState({ threshold: t })),
      ],
    };
  }

  function drawThreshold() {
    if (!overlay) return;
    overlay.draw((ctx, u) => {
      const x = u.valToPos(threshold, "x");
      drawVerticalLine(ctx, u, x, theme.accent, 2);
      // A grip, so the line reads as draggable.
      ctx.fillStyle = theme.accent;
      ctx.fillRect(x - 4, 0, 8, 10);
    });
  }

  function rebuild(nextModel) {
    curves = nextModel.curves || [];
    if (!userPickedAxis) {
      logitAxis = mostlyConfident(curves);
      logitToggle.checked = logitAxis;
    }
    if (!curves.length) {
      dom.message.textContent = "No threshold curves for the selected runs.";
      holder.clear();
      overlay = null;
      legendItems = [];
      renderLegend(dom.legend, legendItems);
      return;
    }
    const distributions = curves.map((curve) =>
      core.scoreDistribution(curve.positiveHistogram, curve.negativeHistogram, curve.thresholds),
    );
    range = logitAxis ? occupiedScoreRange(curves) : [0, 1];
    bins = distributions.map((distribution) => displayBins(distribution, position, range));
    const notes = [];
    curves.forEach((curve, r) => {
      const { positive, negative } = bins[r].outside;
      if (positive > 0 || negative > 0) {
        notes.push(`${curve.run}: ${formatNumber(positive * 100, 2)} % of positives and ${formatNumber(negative * 100, 2)} % of negatives score outside (0, 1]`);
      }
    });
    // An average has no scores of its own: the classes' one-vs-rest scores are pooled.
    if (curves.some((curve) => curve.average)) notes.unshift("Scores of all classes pooled (one-vs-rest)");
    dom.message.textContent = notes.join("; ");
    // Counts in the legend only where they are counts (a class or the micro pool, not class means).
    const count = (curve, value) => (hasExactCounts(curve) ? ` (${formatCount(value)})` : "");
    legendItems = [
      ...curves.map((curve) => ({ color: curve.color, text: `${curve.run} positives${count(curve, curve.positives)}` })),
      ...curves.map((curve) => ({
        color: curve.color, text: `${curve.run} negatives${count(curve, curve.negatives)}`, dash: [5, 3],
      })),
    ];
    renderLegend(dom.legend, legendItems);
    // Each table repeats the last density at the right edge so the last step is drawn to its end.
    const tables = bins.map(({ edges, positive, negative }) => [
      edges,
      [...positive, positive[positive.length - 1]],
      [...negative, negative[negative.length - 1]],
    ]);
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    holder.show(`${logitAxis}|${runsLayoutKey(curves)}`, options, data);
  }

  return {
    update(nextModel, changedKeys) {
      model = nextModel;
      theme = themeOf(model.state);
      threshold = model.state.threshold;
      if (changedAny(changedKeys, REBUILD_KEYS) || model.curves !== holder.source) {
        holder.source = model.curves;
        rebuild(model);
      }
      drawThreshold();
    },
    exportCsv() {
      // The stored bins themselves (exact, no merging): what the densities are drawn from.
      const header = ["run", "bin_lower", "bin_upper", "positives", "negatives", "positive_fraction", "negative_fraction"];
      const rows = [];
      for (const curve of curves) {
        const { lower, upper, positive, negative } = core.scoreDistribution(
          curve.positiveHistogram, curve.negativeHistogram, curve.thresholds,
        );
        for (let k = 0; k < lower.length; k++) {
          rows.push([curve.run, lower[k], upper[k], curve.positiveHistogram[k], curve.negativeHistogram[k], positive[k], negative[k]]);
        }
      }
      return toCsv(header, rows);
    },
    exportPng() {
      return exportChartPng(holder.plot, overlay && overlay.canvas, theme, "Score distribution", legendItems);
    },
    destroy() {
      holder.destroy();
      dom.root.remove();
    },
  };
}
