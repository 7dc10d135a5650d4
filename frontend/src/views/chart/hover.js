/**
 * Hovering a chart: the tooltip plugin, and for mode-2 charts (per-series x) the point nearest to
 * the mouse, drawn as a hollow ring.
 */

/**
 * A hover tooltip as a uPlot plugin. `content(u)` returns an HTML string for the current cursor
 * (u.cursor.left/top/idx/idxs) or null to hide it. The box is kept inside the plotting area.
 */
export function tooltipPlugin(content, getTheme) {
  let box = null;
  const hide = () => {
    if (box) box.style.display = "none";
  };
  return {
    hooks: {
      init: (u) => {
        box = u.root.ownerDocument.createElement("div");
        box.className = "tbm-chart-tooltip";
        u.over.appendChild(box);
        u.over.addEventListener("mouseleave", hide);
      },
      setCursor: (u) => {
        const { left, top } = u.cursor;
        const html = left == null || left < 0 ? null : content(u);
        if (!html) {
          hide();
          return;
        }
        const theme = getTheme();
        box.innerHTML = html;
        box.style.background = theme.tooltipBackground;
        box.style.color = theme.tooltipText;
        box.style.borderColor = theme.tooltipBorder;
        box.style.display = "block";
        const plotWidth = u.over.clientWidth;
        const plotHeight = u.over.clientHeight;
        const { offsetWidth: width, offsetHeight: height } = box;
        const x = left + 12 + width > plotWidth ? Math.max(0, left - 12 - width) : left + 12;
        const y = top + 12 + height > plotHeight ? Math.max(0, top - 12 - height) : top + 12;
        box.style.left = `${x}px`;
        box.style.top = `${y}px`;
      },
    },
  };
}

/**
 * `cursor.dataIdx` for uPlot's mode 2 (per-series x and y): the index of the point of series
 * `seriesIdx` nearest to the mouse in screen pixels, or null beyond `maxDistance` pixels or for
 * series that `hoverable(seriesIdx)` rejects (reference lines).
 */
export function nearestPointDataIdx(hoverable, maxDistance = 40) {
  return (u, seriesIdx) => {
    if (seriesIdx === 0 || !hoverable(seriesIdx) || !u.series[seriesIdx].show) return null;
    const { left, top } = u.cursor;
    if (left == null || left < 0) return null;
    const [xs, ys] = u.data[seriesIdx];
    const series = u.series[seriesIdx];
    const [xKey, yKey] = [series.facets[0].scale, series.facets[1].scale];
    let best = null;
    let bestDistance = maxDistance * maxDistance;
    for (let i = 0; i < xs.length; i++) {
      if (xs[i] == null || ys[i] == null) continue;
      const dx = u.valToPos(xs[i], xKey) - left;
      const dy = u.valToPos(ys[i], yKey) - top;
      const distance = dx * dx + dy * dy;
      if (distance < bestDistance) {
        bestDistance = distance;
        best = i;
      }
    }
    return best;
  };
}

/** Of the series with a hovered point (mode 2), the one whose point is nearest to the mouse. */
export function closestHoveredSeries(u) {
  const { left, top, idxs } = u.cursor;
  let best = null;
  let bestDistance = Infinity;
  for (let s = 1; s < u.series.length; s++) {
    const i = idxs && idxs[s];
    if (i == null) continue;
    const [xs, ys] = u.data[s];
    const [xKey, yKey] = [u.series[s].facets[0].scale, u.series[s].facets[1].scale];
    const dx = u.valToPos(xs[i], xKey) - left;
    const dy = u.valToPos(ys[i], yKey) - top;
    if (dx * dx + dy * dy < bestDistance) {
      bestDistance = dx * dx + dy * dy;
      best = s;
    }
  }
  return best;
}

/**
 * The hovered point of a mode-2 chart whose first `numCurves` series are the runs' curves (the
 * rest are reference lines): `{r, i}`, point i of run r's data, or null when none is near.
 */
export function hoveredCurvePoint(u, numCurves) {
  const s = closestHoveredSeries(u);
  if (s == null || s > numCurves) return null;
  return { r: s - 1, i: u.cursor.idxs[s] };
}

/**
 * uPlot cursor options of a mode-2 chart whose first `numCurves` series are curves to hover: the
 * nearest point, drawn as a hollow ring; `drag` as uPlot's `cursor.drag` (zooming).
 */
export function curveCursor(getTheme, numCurves, drag) {
  return { dataIdx: nearestPointDataIdx((s) => s <= numCurves), points: hoverPoints(getTheme), drag };
}

/** Formats a rate or score for display (4 significant decimals; "–" for NaN/null). */

/** uPlot cursor points for hover: hollow rings, so they are not mistaken for operating points. */
export function hoverPoints(getTheme) {
  return {
    size: 9,
    width: 2,
    fill: () => getTheme().background,
    stroke: (u, s) => u.series[s].stroke(u, s),
  };
}
