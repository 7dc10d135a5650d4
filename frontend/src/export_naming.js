// What a view's export says it holds: the run, tag, step, class or average and threshold (or, for a
// confusion-matrix tag, its logged decision), as columns of every row and parts of the file name.

const AVERAGES = ["micro", "macro", "weighted"];

/** "step3", or "steps0-29" for an export over every logged step. */
function stepPart(spec, state, tagInfo) {
  if (!spec.allSteps) return state.step === null || state.step === undefined ? "" : `step${state.step}`;
  const steps = tagInfo.steps ?? [];
  return steps.length ? `steps${steps[0]}-${steps[steps.length - 1]}` : "";
}

/**
 * The context of an export of view `spec` ({id, allSteps?}) of `model` (its state holds the class
 * key shown):
 * - `columns`: [name, value] pairs for every row: tag, step (unless the view exports every step),
 *   and for threshold curves class, average (micro / macro / weighted, or "" for a class, whose
 *   name then is in `class`; an average's `class` repeats its name, as the Python export does) and
 *   selected_threshold (the tab's threshold: rows of curves list each stored `threshold` besides);
 *   for a confusion matrix its decision rule instead of a class and a threshold.
 * - `fileParts`: tag, view, runs, "class3-cat" or "macro-average", the step and "t0.5" (or the
 *   decision), so that exports of class 3 and of the macro average never share a file name.
 * - slice views (`spec.slices`) add the run whose slices they show, the slice key and the reference
 *   slice as columns, and "slices-<key>" to the file name.
 */
export function exportContext(model, spec) {
  const { state, tagInfo } = model;
  const columns = [["tag", state.tag]];
  if (!spec.allSteps) columns.push(["step", state.step]);
  const fileParts = [state.tag, spec.id, ...state.runs];
  if (tagInfo.kind === "threshold_curves") {
    const average = AVERAGES.includes(state.classKey) ? state.classKey : "";
    const name = average || (tagInfo.class_names[Number(state.classKey)] ?? state.classKey);
    columns.push(["class", name], ["average", average], ["selected_threshold", state.threshold]);
    fileParts.push(average ? `${average}-average` : `class${state.classKey}-${name}`, stepPart(spec, state, tagInfo), `t${state.threshold}`);
  } else {
    const decision = tagInfo.decision || "argmax";
    if (spec.slices && model.slices) {
      // A matrix's slice rates are of one class (or, for an average, accuracy alone): say which.
      const average = AVERAGES.includes(state.classKey) ? state.classKey : "";
      columns.push(["class", average || (tagInfo.class_names[Number(state.classKey)] ?? state.classKey)], ["average", average]);
      fileParts.push(average ? `${average}-average` : `class${state.classKey}`);
    }
    columns.push(["decision", decision]);
    fileParts.push(stepPart(spec, state, tagInfo), decision);
  }
  if (spec.slices && model.slices) {
    // Slice views: rows name their slice (in `slice`, or the curves' `run` column) of this run and key.
    columns.push(["slices_of_run", model.slices.run], ["slice_key", model.slices.key], ["reference_slice", model.slices.values[model.slices.referenceIndex] ?? ""]);
    fileParts.push(`slices-${model.slices.key}`);
  }
  return { columns, fileParts };
}
