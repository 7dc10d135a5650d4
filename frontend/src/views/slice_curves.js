/**
 * ROC, precision–recall and metrics-vs-threshold of the slices of one run, overlaid: the run views
 * themselves, handed the slices' curves (one per slice, its colour from the slice palette and the
 * slice's "key=value" as its name in the legend, tooltip and the CSV's `run` column).
 */
import { createPrView } from "./pr.js";
import { createRocView } from "./roc.js";
import { createThresholdView } from "./threshold.js";

const NO_SLICES = [];

/** The model a run view draws the slices from: `curves` are the slices' (stable while they are). */
export function sliceCurvesModel(model) {
  return { ...model, curves: model.slices?.curves ?? NO_SLICES };
}

function sliceView(createRunView, runTestid, id, title) {
  return (container) => {
    const view = createRunView(container);
    const root = container.querySelector(`[data-testid="${runTestid}"]`);
    root.dataset.testid = `view-${id}`;
    root.setAttribute("aria-label", title);
    root.querySelector(".tbm-chart-title").textContent = title;
    return {
      update: (model, changedKeys) => view.update(sliceCurvesModel(model), changedKeys),
      exportTable: (model) => view.exportTable(sliceCurvesModel(model)),
      exportPng: () => view.exportPng(),
      destroy: () => view.destroy(),
    };
  };
}

export const createSliceRocView = sliceView(createRocView, "view-roc", "slice-roc", "ROC by slice");
export const createSlicePrView = sliceView(createPrView, "view-pr", "slice-pr", "Precision–recall by slice");
export const createSliceThresholdView = sliceView(createThresholdView, "view-threshold", "slice-threshold", "Metrics vs threshold by slice");
