/** Setting the threshold from a chart: dragging on a score axis, clicking a curve point. */
import * as core from "../../core.js";

/** Coalesces calls into one per animation frame (drags fire many events per frame). */
function perFrame(fn) {
  let pending = null;
  let lastArgs = null;
  return (...args) => {
    lastArgs = args;
    if (pending != null) return;
    pending = requestAnimationFrame(() => {
      pending = null;
      fn(...lastArgs);
    });
  };
}

/**
 * Lets the user drag the threshold on a chart whose x scale is the score: pressing anywhere in the
 * plotting area and moving sets the threshold to the score at the pointer, snapped to the nearest
 * stored threshold on a grid (the counts exist only there; an exact curve has counts at any score).
 * `getCurve()` gives the curve that decides ({thresholds, exact}); `setThreshold(t)` applies it.
 * Returns a uPlot plugin.
 */
export function thresholdDragPlugin(getCurve, setThreshold) {
  return {
    hooks: {
      init: (u) => {
        const over = u.over;
        over.style.cursor = "ew-resize";
        const apply = perFrame((clientX) => {
          const curve = getCurve();
          if (!curve || !curve.thresholds.length) return;
          const left = clientX - over.getBoundingClientRect().left;
          const value = Math.min(1, Math.max(0, u.posToVal(left, "x")));
          setThreshold(curve.exact ? value : curve.thresholds[core.thresholdIndex(curve.thresholds, value)]);
        });
        const onMove = (event) => apply(event.clientX);
        const onUp = () => {
          over.ownerDocument.removeEventListener("mousemove", onMove);
          over.ownerDocument.removeEventListener("mouseup", onUp);
        };
        over.addEventListener("mousedown", (event) => {
          if (event.button !== 0) return;
          event.preventDefault();
          apply(event.clientX);
          over.ownerDocument.addEventListener("mousemove", onMove);
          over.ownerDocument.addEventListener("mouseup", onUp);
        });
      },
    },
  };
}

/** A press and release closer than this (px) is a click, not a drag (which zooms). */
const CLICK_SLOP_PX = 4;

/**
 * Lets a click on a curve chart (ROC, precision–recall, DET) move the threshold to the point the
 * click is nearest to, as a press on the metrics-vs-threshold chart does. `pointThreshold(u)` is
 * the stored threshold of the hovered point (null: none near, or an end point); a drag still zooms.
 * Returns a uPlot plugin.
 */
export function clickToThresholdPlugin(pointThreshold, setThreshold) {
  return {
    hooks: {
      init: (u) => {
        let press = null;
        u.over.addEventListener("mousedown", (event) => {
          press = event.button === 0 ? { x: event.clientX, y: event.clientY } : null;
        });
        u.over.addEventListener("click", (event) => {
          if (!press || Math.hypot(event.clientX - press.x, event.clientY - press.y) > CLICK_SLOP_PX) return;
          const threshold = pointThreshold(u);
          if (threshold !== null) setThreshold(threshold);
        });
      },
    },
  };
}
