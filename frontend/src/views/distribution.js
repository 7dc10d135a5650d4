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
 *
 * An exact curve (format v2: its thresholds are the distinct scores, bin k holds the items scoring
 * t_k) has no bins of its own: its scores are summed into DISPLAY_BINS equal bins of the axis. They
 * are for display; the readout's numbers stay exact.
 */
import uPlot from "uplot";
import * as core from "../core.js";
import { table } from "../export.js";
import { axis, createScoreAxis, sigmoid, tickValues } from "./chart/axes.js";
import { createChartView, NO_CURVES_TEXT } from "./chart/chart_view.js";
import { derived, hasExactCounts } from "./chart/curve_data.js";
import { formatCount, formatNumber, formatThreshold } from "./chart/format.js";
import { runsLayoutKey } from "./chart/frame.js";
import { drawVerticalLine } from "./chart/overlay.js";
import { thresholdDragPlugin } from "./chart/threshold_input.js";
import { countRows, runsTableHtml, thresholdIndices, thresholdRow } from "./chart/tooltip_html.js";

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

/**
 * Display bins for one exact run: DISPLAY_BINS bins of equal width in `position` units over
 * [from, to], with edges back in scores by `score` (the inverse of `position`); the fraction at
 * score t_k goes to the bin (e_b, e_{b+1}] holding it (the first bin also holds `from`). Scores
 * outside [from, to] are reported apart. Same result shape as `displayBins`.
 * @param {ArrayLike<number>} scores the distinct scores, increasing
 * @param {ArrayLike<number>} positive fraction of the positives' weight at each score (NaN: none)
 * @param {ArrayLike<number>} negative likewise for the negatives
 */
export function exactDisplayBins(scores, positive, negative, position, score, [from, to]) {
  const start = position(from);
  const width = (position(to) - start) / DISPLAY_BINS;
  const edges = Array.from({ length: DISPLAY_BINS + 1 }, (_, b) => (b === 0 ? from : b === DISPLAY_BINS ? to : score(start + b * width)));
  const positiveDensity = new Array(DISPLAY_BINS).fill(0);
  const negativeDensity = new Array(DISPLAY_BINS).fill(0);
  const outside = { positive: 0, negative: 0 };
  for (let k = 0; k < scores.length; k++) {
    const p = Number.isNaN(positive[k]) ? 0 : positive[k];
    const n = Number.isNaN(negative[k]) ? 0 : negative[k];
    if (p === 0 && n === 0) continue;
    if (scores[k] < from || scores[k] > to || !(width > 0)) {
      outside.positive += p;
      outside.negative += n;
      continue;
    }
    const b = Math.min(DISPLAY_BINS - 1, Math.max(0, Math.ceil((position(scores[k]) - start) / width) - 1));
    positiveDensity[b] += p / width;
    negativeDensity[b] += n / width;
  }
  return { edges, positive: positiveDensity, negative: negativeDensity, outside };
}

/** Creates the score-distribution view in `container`. */
export function createDistributionView(container) {
  const chart = createChartView(container, {
    testid: "view-distribution", title: "Score distribution", rebuild, paintOverlay, exportTable,
  });
  const scoreAxis = createScoreAxis(chart, "Score");
  let curves = [];
  let bins = [];

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
    const unit = scoreAxis.logit ? "logit" : "score";
    // Counts if the threshold were moved here (at the stored threshold nearest to the pointer).
    const j = thresholdIndices(curves, score);
    const rows = [
      ["score bin", binRange],
      [`positives / ${unit}`, (r) => formatNumber(bins[r].positive[bin(r)], 3)],
      [`negatives / ${unit}`, (r) => formatNumber(bins[r].negative[bin(r)], 3)],
      thresholdRow(curves, j, score),
      ...countRows(curves, j),
    ];
    return `<div>score ${formatThreshold(score)}</div>${runsTableHtml(curves, rows)}`;
  }

  function options(width) {
    const stepped = uPlot.paths.stepped({ align: 1 });
    return chart.options(width, tooltip, {
      scales: {
        x: scoreAxis.scale(),
        // The range function reads the data, so new data only needs setData.
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] },
      },
      axes: [
        scoreAxis.axis(),
        axis(chart.getTheme, {
          label: scoreAxis.logit ? "Density per unit logit" : "Density per unit score", values: tickValues, size: 44,
        }),
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
      plugins: [thresholdDragPlugin(() => curves[0], chart.setThreshold)],
    });
  }

  function paintOverlay(ctx, u) {
    const x = u.valToPos(chart.threshold, "x");
    drawVerticalLine(ctx, u, x, chart.theme.accent, 2);
    // A grip, so the line reads as draggable.
    ctx.fillStyle = chart.theme.accent;
    ctx.fillRect(x - 4, 0, 8, 10);
  }

  function rebuild(model) {
    curves = model.curves || [];
    scoreAxis.fit(curves);
    if (!curves.length) {
      chart.dom.message.textContent = NO_CURVES_TEXT;
      chart.clear();
      return;
    }
    const distributions = curves.map((curve) => derived(curve, "score distribution", () =>
      core.scoreDistribution(curve.positiveHistogram, curve.negativeHistogram, curve.thresholds),
    ));
    const score = (position) => (scoreAxis.logit ? sigmoid(position) : position);
    bins = distributions.map((distribution, r) => (curves[r].exact
      ? exactDisplayBins(curves[r].thresholds, distribution.positive, distribution.negative, scoreAxis.position, score, scoreAxis.range)
      : displayBins(distribution, scoreAxis.position, scoreAxis.range)));
    const notes = [];
    curves.forEach((curve, r) => {
      const { positive, negative } = bins[r].outside;
      if (positive > 0 || negative > 0) {
        const range = curve.exact ? `[${formatThreshold(scoreAxis.range[0])}, ${formatThreshold(scoreAxis.range[1])}]` : "(0, 1]";
        notes.push(`${curve.run}: ${formatNumber(positive * 100, 2)} % of positives and ${formatNumber(negative * 100, 2)} % of negatives score outside ${range}`);
      }
    });
    // An average has no scores of its own: the classes' one-vs-rest scores are pooled.
    if (curves.some((curve) => curve.average)) notes.unshift("Scores of all classes pooled (one-vs-rest)");
    chart.dom.message.textContent = notes.join("; ");
    // Counts in the legend only where they are counts (a class or the micro pool, not class means).
    const count = (curve, value) => (hasExactCounts(curve) ? ` (${formatCount(value)})` : "");
    chart.setLegend([
      ...curves.map((curve) => ({ color: curve.color, text: `${curve.run} positives${count(curve, curve.positives)}` })),
      ...curves.map((curve) => ({
        color: curve.color, text: `${curve.run} negatives${count(curve, curve.negatives)}`, dash: [5, 3],
      })),
    ]);
    // Each table repeats the last density at the right edge so the last step is drawn to its end.
    const tables = bins.map(({ edges, positive, negative }) => [
      edges,
      [...positive, positive[positive.length - 1]],
      [...negative, negative[negative.length - 1]],
    ]);
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    chart.holder.show(`${scoreAxis.logit}|${runsLayoutKey(curves)}`, options, data);
  }

  function exportTable() {
    // The stored bins themselves (exact, no merging): what the densities are drawn from. An exact
    // curve's bin is one score (lower = upper), its empty bin above the highest score left out.
    const header = ["run", "bin_lower", "bin_upper", "positives", "negatives", "positive_fraction", "negative_fraction"];
    const rows = [];
    for (const curve of curves) {
      const { lower, upper, positive, negative } = core.scoreDistribution(
        curve.positiveHistogram, curve.negativeHistogram, curve.thresholds,
      );
      const count = curve.exact ? curve.thresholds.length : lower.length;
      for (let k = 0; k < count; k++) {
        const [from, to] = curve.exact ? [curve.thresholds[k], curve.thresholds[k]] : [lower[k], upper[k]];
        rows.push([curve.run, from, to, curve.positiveHistogram[k], curve.negativeHistogram[k], positive[k], negative[k]]);
      }
    }
    return table(header, rows);
  }

  return chart.view;
}
