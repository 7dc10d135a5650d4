/**
 * A view of one curve per selected run through its stored thresholds (`createCurveView`): ROC,
 * precision–recall and DET are each a spec of it.
 */
import { table } from "../../export.js";
import { createChartView, NO_CURVES_TEXT } from "./chart_view.js";
import { curveGridIndex, curvePointAt, curveRows, derived, splitDefined } from "./curve_data.js";
import { formatNumber } from "./format.js";
import { runsLayoutKey } from "./frame.js";
import { curveCursor, hoveredCurvePoint } from "./hover.js";
import { drawMarker } from "./overlay.js";
import { clickToThresholdPlugin } from "./threshold_input.js";
import { countsTableHtml, runHeaderHtml } from "./tooltip_html.js";

const NO_PER_RUN = { columns: [], values: () => [], legendText: (curve) => curve.run };

const NO_REFERENCES = { legend: () => [], series: () => [], data: () => [], plugins: () => [] };

/**
 * A view of one curve per selected run through its stored thresholds (ROC, precision–recall, DET):
 * each run's operating point at the current threshold, a tooltip with the hovered point's threshold
 * and counts, and a CSV row per run and stored threshold with the point and the counts.
 *
 * `spec`:
 * - `testid`, `title`, `pngTitle`: as `createChartView`.
 * - `isDefined(curve)`, `undefinedText`: runs the curve is undefined for are left out and named in
 *   the message after `undefinedText`.
 * - `points(curve)` → `{x, y}`: the T + 2 points as the core returns them (see `curveGridIndex`);
 *   `visible(x, y)`, optional: which of them the axes can show (the others are not drawn).
 * - `x`, `y`: `{name, column}`, the coordinates' names in the tooltip and their CSV columns.
 * - `plotAxes(getTheme)` → `{scales, axes}`: uPlot's options for them.
 * - `perRun`, optional: `{columns, values(curve) → numbers, legendText(curve, values), cacheKey()}`,
 *   numbers of each run (e.g. its AUC) in the legend and in CSV columns before `threshold`; they
 *   are kept per curve, and recomputed when the optional `cacheKey()` (what else they depend on,
 *   e.g. the ROC's max FPR) changes.
 * - `references`, optional: lines drawn after the curves (chance, iso-F1), as
 *   `{legend(theme, curves) → legend items, series(getTheme, curves) → uPlot series, data(curves) →
 *   their data, plugins(getTheme) → uPlot plugins}`.
 * - `operatingPoint(curve, points, i)`, optional: `[x, y]` of the marker at point i (default the
 *   point itself).
 * - `controls(chart)`, optional: called once with the chart (`dom.controls`, `model`, `rebuild()`)
 *   to add the view's own inputs to its header.
 */
export function createCurveView(container, spec) {
  const perRun = spec.perRun || NO_PER_RUN;
  const references = { ...NO_REFERENCES, ...spec.references };
  const operatingPoint = spec.operatingPoint || ((_curve, points, i) => [points.x[i], points.y[i]]);
  let curves = [];
  let series = []; // per run: the drawn {x, y, gridIndex}, and `all`: the core's T + 2 points {x, y}
  let perRunValues = [];
  const chart = createChartView(container, {
    testid: spec.testid, title: spec.title, pngTitle: spec.pngTitle, rebuild, paintOverlay, exportTable,
  });
  if (spec.controls) spec.controls(chart);

  function toSeries(curve) {
    const all = derived(curve, `${spec.testid} points`, () => spec.points(curve));
    const gridIndex = curveGridIndex(curve.thresholds.length);
    if (!spec.visible) return { x: all.x, y: all.y, gridIndex, all };
    const shown = { x: [], y: [], gridIndex: [], all };
    for (let i = 0; i < all.x.length; i++) {
      if (!spec.visible(all.x[i], all.y[i])) continue;
      shown.x.push(all.x[i]);
      shown.y.push(all.y[i]);
      shown.gridIndex.push(gridIndex[i]);
    }
    return shown;
  }

  function tooltip(u) {
    const hovered = hoveredCurvePoint(u, curves.length);
    if (!hovered) return null;
    const { r, i } = hovered;
    const { x, y, gridIndex } = series[r];
    const j = gridIndex[i];
    const point = `<div>${spec.x.name} ${formatNumber(x[i])} · ${spec.y.name} ${formatNumber(y[i])}</div>`;
    const counts = j >= 0 ? countsTableHtml(curves[r], j) : "<div>end point (threshold ±∞)</div>";
    return runHeaderHtml(curves[r].run, curves[r].color) + point + counts;
  }

  /** The stored threshold of the curve point nearest the pointer (the hovered one), or null. */
  function hoveredThreshold(u) {
    const hovered = hoveredCurvePoint(u, curves.length);
    if (!hovered) return null;
    const j = series[hovered.r].gridIndex[hovered.i];
    return j >= 0 ? curves[hovered.r].thresholds[j] : null;
  }

  function options(width) {
    return chart.options(width, tooltip, {
      mode: 2,
      ...spec.plotAxes(chart.getTheme),
      series: [
        {},
        ...curves.map((curve) => ({ label: curve.run, stroke: curve.color, width: 2, points: { show: false } })),
        ...references.series(chart.getTheme, curves),
      ],
      cursor: curveCursor(chart.getTheme, curves.length, { x: true, y: true, uni: 20 }),
      plugins: [...references.plugins(chart.getTheme), clickToThresholdPlugin(hoveredThreshold, chart.setThreshold)],
    });
  }

  function paintOverlay(ctx, u) {
    curves.forEach((curve, r) => {
      const i = curvePointAt(curve.thresholds, chart.threshold, curve.exact);
      if (i < 0) return;
      const [x, y] = operatingPoint(curve, series[r].all, i);
      drawMarker(ctx, u.valToPos(x, "x"), u.valToPos(y, "y"), curve.color, chart.theme);
    });
  }

  function rebuild(model) {
    const all = model.curves || [];
    const { defined, skippedRuns } = splitDefined(all, spec.isDefined);
    curves = defined;
    chart.dom.message.textContent = skippedRuns.length
      ? `${spec.undefinedText}: ${skippedRuns.join(", ")}.`
      : all.length ? "" : NO_CURVES_TEXT;
    if (!curves.length) {
      chart.clear();
      return;
    }
    series = curves.map(toSeries);
    const perRunKey = `${spec.testid} per run ${perRun.cacheKey ? perRun.cacheKey() : ""}`;
    perRunValues = curves.map((curve) => derived(curve, perRunKey, () => perRun.values(curve)));
    chart.setLegend([
      ...curves.map((curve, r) => ({ color: curve.color, text: perRun.legendText(curve, perRunValues[r]) })),
      ...references.legend(chart.theme, curves),
    ]);
    const data = [null, ...series.map((s) => [s.x, s.y]), ...references.data(curves)];
    chart.holder.show(runsLayoutKey(curves), options, data);
  }

  function exportTable() {
    const header = ["run", ...perRun.columns, "threshold", spec.x.column, spec.y.column, "tp", "fp", "tn", "fn"];
    // Every stored threshold, also points the axes cannot show.
    return table(header, curveRows(curves, series.map((s) => s.all), (r) => perRunValues[r]));
  }

  return chart.view;
}
