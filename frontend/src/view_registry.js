// Which views a tag shows, and the card around each view with its export buttons.

import { createCalibrationView } from "./views/calibration.js";
import { createConfusionView } from "./views/confusion.js";
import { createDetView } from "./views/det.js";
import { createDistributionView } from "./views/distribution.js";
import { createEpochsView } from "./views/epochs.js";
import { createIouView } from "./views/iou.js";
import { createPrView } from "./views/pr.js";
import { createRocView } from "./views/roc.js";
import { createSliceEpochsView } from "./views/slice_epochs.js";
import { createSliceMatrixView } from "./views/slice_matrix_table.js";
import { createSlicePrView, createSliceRocView, createSliceThresholdView } from "./views/slice_curves.js";
import { createSliceTableView } from "./views/slice_table.js";
import { createThresholdView } from "./views/threshold.js";
import { el, setIfChanged } from "./dom.js";
import { downloadFile, exportFileName, tableToCsv, tableToRecords, withColumns } from "./export.js";
import { exportContext } from "./export_naming.js";

/**
 * The view contract, which every view keeps and only this module relies on. A view module exports
 * `createXView(container)`: it draws into `container` an element carrying `data-testid="view-<id>"`
 * and returns a {@link View}. A view never fetches and holds no state of its own that another view
 * needs; it reads everything from the view model (view_model.js) it is given.
 *
 * @typedef {object} View
 * @property {(model: object, changedKeys?: Set<string>) => void} update called on every state or
 *   data change with the view model and the state keys that changed (absent: everything); while
 *   its card is out of sight, once it catches up, with the latest model and every key changed
 *   meanwhile (`createDeferredUpdates`). Work
 *   that does not depend on the threshold (curves, averages, sorted matrices) is redone only when
 *   a key other than `threshold` changed or the model holds new curves; a threshold change only
 *   repaints the markers.
 * @property {(model: object) => {header: string[], rows: Array<Array<string|number|null>>}} exportTable
 *   the rows of what is shown (`table(header, rows)` of export.js); the card adds the run, tag,
 *   step, class and threshold columns and writes the same rows as CSV or as JSON records.
 * @property {() => (string | Promise<string>)} exportPng a PNG data URL of what is drawn ("" if nothing).
 * @property {() => void} destroy removes the view's DOM and stops its observers.
 */

const CURVES = "threshold_curves";
const MATRIX = "confusion_matrix";

/**
 * Every view: its id (data-testid "view-<id>"), factory, the tag kinds it serves, full width for
 * some, and whether it shows every logged step (its exports then name no single step).
 */
export const VIEW_SPECS = [
  // With a slice key chosen, first: the slices of one run compared (a table view has no PNG).
  { id: "slices", create: createSliceTableView, kinds: [CURVES], optional: "sliceKey", wideFor: [CURVES], slices: true, noPng: true },
  { id: "slices-matrix", create: createSliceMatrixView, kinds: [MATRIX], optional: "sliceKey", wideFor: [MATRIX], slices: true, noPng: true },
  { id: "slice-roc", create: createSliceRocView, kinds: [CURVES], optional: "sliceKey", slices: true },
  { id: "slice-pr", create: createSlicePrView, kinds: [CURVES], optional: "sliceKey", slices: true },
  { id: "slice-threshold", create: createSliceThresholdView, kinds: [CURVES], optional: "sliceKey", slices: true },
  { id: "slice-epochs", create: createSliceEpochsView, kinds: [CURVES, MATRIX], optional: "sliceKey", slices: true, allSteps: true },
  { id: "roc", create: createRocView, kinds: [CURVES] },
  { id: "pr", create: createPrView, kinds: [CURVES] },
  { id: "threshold", create: createThresholdView, kinds: [CURVES] },
  { id: "distribution", create: createDistributionView, kinds: [CURVES] },
  { id: "calibration", create: createCalibrationView, kinds: [CURVES] },
  { id: "det", create: createDetView, kinds: [CURVES], optional: "showDet" },
  { id: "confusion", create: createConfusionView, kinds: [CURVES, MATRIX], wideFor: [MATRIX] },
  { id: "iou", create: createIouView, kinds: [CURVES, MATRIX] },
  { id: "epochs", create: createEpochsView, kinds: [CURVES, MATRIX], allSteps: true },
];

/** The view specs to show for a tag kind and state (DET only when asked for). */
export function viewsFor(kind, state) {
  return VIEW_SPECS.filter((spec) => spec.kinds.includes(kind) && (!spec.optional || state[spec.optional]));
}

/**
 * How long the view model must rest before a card out of sight catches up (ms). A threshold drag
 * sends a render every frame, so views below the fold wait until it pauses; scrolling one into
 * sight (or exporting it) brings it up to date at once.
 */
export const OFFSCREEN_CATCH_UP_MS = 300;
/** Cards this close to the viewport (px) count as in sight, so they are current before they show. */
const IN_SIGHT_MARGIN = "300px 0px";

/**
 * Defers a card's updates while it is out of sight. `apply(model, changedKeys)` draws; `update`
 * draws at once when the card is in sight, or has never drawn and does not lie below the fold, else
 * keeps the latest model and the union of the changed keys (null: everything) and marks the card
 * `data-stale` until it catches up: when it comes into sight, after OFFSCREEN_CATCH_UP_MS without a
 * render, or on `flush()`. Only what is on screen is laid out and painted per frame, whatever the
 * number of views, and when the tab opens (or a new tag kind brings new views) the views in sight
 * draw first: the first data shows without waiting for the charts below the fold.
 * @param {HTMLElement} card the element whose visibility decides (observed until `stop()`)
 * @param {(model: object, changedKeys: Set<string>|null) => void} apply
 * @returns {{update(model: object, changedKeys: Set<string>|null): void, flush(): void, stop(): void}}
 */
export function createDeferredUpdates(card, apply) {
  const win = card.ownerDocument.defaultView;
  let inSight = true; // until the observer first reports (a first draw asks `belowFold` instead)
  let drawn = false;
  let pending = null; // {model, changedKeys}
  let timer = null;
  // Before its first report the observer cannot tell; the cards above this one have drawn (cards
  // update in page order), so its place on the page is already the one it will have.
  const belowFold = () => card.getBoundingClientRect().top >= win.innerHeight;
  const flush = () => {
    if (timer !== null) win.clearTimeout(timer);
    timer = null;
    if (!pending) return;
    const { model, changedKeys } = pending;
    pending = null;
    delete card.dataset.stale;
    drawn = true;
    apply(model, changedKeys);
  };
  const observer = win.IntersectionObserver
    ? new win.IntersectionObserver((entries) => {
      const entry = entries[entries.length - 1];
      inSight = entry.isIntersecting;
      // Out of sight, the browser may skip the card's layout and paint (`content-visibility`, see
      // .tbm-out-of-sight): each canvas in the page costs every frame, drawn on or not. The card
      // keeps its last size meanwhile, so nothing around it moves.
      if (!inSight) card.style.containIntrinsicSize = `${entry.boundingClientRect.width}px ${entry.boundingClientRect.height}px`;
      card.classList.toggle("tbm-out-of-sight", !inSight);
      if (inSight) flush();
    }, { rootMargin: IN_SIGHT_MARGIN })
    : null;
  observer?.observe(card);
  return {
    update(model, changedKeys) {
      if (!observer || (drawn ? inSight : !belowFold())) {
        pending = null;
        drawn = true;
        apply(model, changedKeys);
        return;
      }
      const keys = !pending ? changedKeys : pending.changedKeys && changedKeys ? new Set([...pending.changedKeys, ...changedKeys]) : null;
      pending = { model, changedKeys: keys ? new Set(keys) : null };
      setIfChanged(card.dataset, "stale", "true"); // once per drag: each write restyles the card
      if (timer !== null) win.clearTimeout(timer);
      timer = win.setTimeout(flush, OFFSCREEN_CATCH_UP_MS);
    },
    flush,
    stop() {
      if (timer !== null) win.clearTimeout(timer);
      observer?.disconnect();
    },
  };
}

async function pngBlobOrUrl(result) {
  const value = await result;
  if (!value) throw new Error("this view has nothing drawn to export yet");
  return value;
}

/**
 * A card holding one view, with CSV / JSON / PNG export buttons placed inside the view's own root
 * (the element carrying data-testid="view-<id>").
 * @param {() => object|null} getModel the model currently shown
 * @param {(message: string) => void} onError
 */
export function createViewCard(parent, spec, kind, getModel, onError) {
  const body = el("div", { className: "tbm-card-body" });
  const card = el("section", { className: "tbm-card", dataset: { view: spec.id } }, [body]);
  if (spec.wideFor?.includes(kind)) card.classList.add("tbm-wide");
  parent.append(card);
  const view = spec.create(body);
  const viewRoot = body.querySelector(`[data-testid="view-${spec.id}"]`) ?? body;

  const fileName = (model, extension) => exportFileName(exportContext(model, spec).fileParts, extension);
  // Every row says what it holds: run, tag, step, class or average, threshold (or decision).
  const tableOf = (model) => withColumns(view.exportTable(model), exportContext(model, spec).columns);
  const guarded = (action) => async () => {
    deferred.flush(); // an export holds what the latest model shows, also when the view is out of sight
    const model = getModel();
    if (!model) return;
    try {
      await action(model);
    } catch (error) {
      onError(`Export of the ${spec.id} view failed: ${error.message}`);
    }
  };
  const buttons = {
    csv: guarded((model) => downloadFile(tableToCsv(tableOf(model)), fileName(model, "csv"), "text/csv")),
    json: guarded((model) => downloadFile(JSON.stringify(tableToRecords(tableOf(model)), null, 1), fileName(model, "json"), "application/json")),
    png: guarded(async (model) => downloadFile(await pngBlobOrUrl(view.exportPng()), fileName(model, "png"), "image/png")),
  };
  if (spec.noPng) delete buttons.png;
  const actions = el(
    "span",
    { className: "tbm-card-actions" },
    Object.entries(buttons).map(([format, onclick]) =>
      el("button", { type: "button", onclick, title: `Download this view as ${format.toUpperCase()}`, dataset: { export: format } }, format.toUpperCase()),
    ),
  );
  // Chart views have a header row (title, legend, their own toggles): the buttons go at its end.
  const head = viewRoot.querySelector(".tbm-chart-head, .tbm-view-head");
  if (head) head.append(actions);
  else viewRoot.prepend(actions);

  const failure = el("div", { className: "tbm-view-error", hidden: true });
  card.append(failure);
  const deferred = createDeferredUpdates(card, (model, changedKeys) => {
    // One broken view must not blank the others: its error is shown in its own card.
    try {
      view.update(model, changedKeys);
      setIfChanged(failure, "hidden", true);
    } catch (error) {
      failure.hidden = false;
      failure.textContent = `This view could not draw: ${error.message}`;
    }
  });
  return {
    update: deferred.update,
    destroy() {
      deferred.stop();
      view.destroy();
      card.remove();
    },
  };
}
