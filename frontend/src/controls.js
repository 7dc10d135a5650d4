// The toolbar: runs, tag, class, epoch (slider, arrow keys, follow latest) and the one threshold
// (slider, arrow keys, typed value) that drives every view. It only reads and writes the store.

import { el } from "./dom.js";
import { formatThresholdValue } from "./readout.js";
import { fitRunName } from "./run_names.js";
import { uniqueClassName } from "./selection.js";

/** Slider resolution; the typed input accepts any value in [0, 1]. */
export const THRESHOLD_SLIDER_STEP = 0.001;
const AVERAGE_LABELS = { micro: "micro average", macro: "macro average", weighted: "weighted average" };

/** Options of the class <select> for a tag: averages first when there are several classes. */
export function classOptions(classNames) {
  const perClass = classNames.map((name, index) => ({ value: String(index), label: name || `class ${index}` }));
  if (classNames.length <= 1) return perClass;
  return [...Object.entries(AVERAGE_LABELS).map(([value, label]) => ({ value, label })), ...perClass];
}

/** The logged step nearest to `value` (steps sorted ascending, non-empty). */
export function nearestStep(steps, value) {
  let best = steps[0];
  for (const step of steps) if (Math.abs(step - value) < Math.abs(best - value)) best = step;
  return best;
}

/** The step `offset` places after `current` in `steps` (clamped to the ends). */
export function stepAfter(steps, current, offset) {
  const index = steps.indexOf(nearestStep(steps, current));
  return steps[Math.min(steps.length - 1, Math.max(0, index + offset))];
}

function clampThreshold(value) {
  return Math.min(1, Math.max(0, value));
}

/** Widest a run name may be in the run list before it is shortened (px). */
const RUN_NAME_MAX_WIDTH = 320;

/** Shows or hides a note; its test id is present only while it is shown. */
function showNote(element, testid, shown) {
  element.hidden = !shown;
  if (shown) element.dataset.testid = testid;
  else delete element.dataset.testid;
}

function isTextEntry(target) {
  return target instanceof HTMLElement && (target.matches("input, select, textarea") || target.isContentEditable);
}

/**
 * Builds the toolbar in `container`.
 * @param {HTMLElement} container
 * @param {{get: () => object, set: (patch: object) => void}} store
 * @returns {{update(state: object, context: {allRuns: string[], runsWithTag: string[],
 *   tags: string[], runColors: object, classNames: string[], steps: number[]}): void}}
 */
export function createControls(container, store) {
  const runList = el("fieldset", { className: "tbm-runs", dataset: { testid: "run-select" } });
  const tagSelect = el("select", { dataset: { testid: "tag-select" }, title: "Summary tag" });
  const classSelect = el("select", { dataset: { testid: "class-select" }, title: "Class or average" });
  const epochSlider = el("input", {
    type: "range",
    className: "tbm-slider",
    dataset: { testid: "epoch-slider" },
    title: "Epoch (← → keys)",
    min: "0",
    max: "0",
    step: "1",
  });
  const epochValue = el("span", { className: "tbm-epoch-value", dataset: { testid: "epoch-value" } });
  const followLatest = el("input", { type: "checkbox", dataset: { testid: "follow-latest" } });
  const thresholdSlider = el("input", {
    type: "range",
    className: "tbm-slider",
    dataset: { testid: "threshold-slider" },
    title: "Threshold: a score above it counts as positive",
    min: "0",
    max: "1",
    step: String(THRESHOLD_SLIDER_STEP),
  });
  const thresholdInput = el("input", {
    type: "number",
    className: "tbm-threshold-input",
    dataset: { testid: "threshold-input" },
    title: "Type a threshold in [0, 1]",
    min: "0",
    max: "1",
    step: "any",
  });
  const classNote = el("div", { className: "tbm-hint tbm-class-note", hidden: true, attrs: { role: "status" } });
  const classControl = el("div", { className: "tbm-control" }, [
    el("label", { className: "tbm-control" }, [el("span", { className: "tbm-label" }, "Class"), classSelect]),
    classNote,
  ]);
  const thresholdLabel = el("span", { className: "tbm-label" });
  const thresholdNote = el("div", { className: "tbm-hint", dataset: { testid: "threshold-note" } });

  container.append(
    el("div", { className: "tbm-control" }, [el("span", { className: "tbm-label" }, "Runs"), runList]),
    el("label", { className: "tbm-control" }, [el("span", { className: "tbm-label" }, "Tag"), tagSelect]),
    classControl,
    el("div", { className: "tbm-control" }, [
      el("span", { className: "tbm-label" }, "Epoch"),
      el("div", { className: "tbm-row" }, [epochSlider, epochValue]),
      el("label", { className: "tbm-row" }, [followLatest, "Follow latest"]),
    ]),
    el("div", { className: "tbm-control" }, [
      thresholdLabel,
      // Each in a box of its own fixed size (.tbm-fixed-box, styles.css): a relayout boundary, so a
      // drag frame's new slider position and typed-box value lay out their box alone, not the page.
      el("div", { className: "tbm-row" }, [
        el("div", {}, el("div", { className: "tbm-fixed-box tbm-slider-box" }, thresholdSlider)),
        el("div", {}, el("div", { className: "tbm-fixed-box tbm-threshold-box" }, thresholdInput)),
      ]),
      thresholdNote,
    ]),
  );

  let steps = [];
  let runsWithTag = [];
  let classNames = [];
  let lastContext = null;
  let lastStep = null;
  let lastFollow = null;

  // As in TensorBoard's run selector: the box adds or removes a run, a click on its name shows it alone.
  runList.addEventListener("change", () => {
    const checked = [...runList.querySelectorAll("input:checked")].map((input) => input.value);
    // Keep the order of the list, so the first selected run (the one the optimisers use) is stable.
    store.set({ runs: runsWithTag.filter((run) => checked.includes(run)) });
  });
  runList.addEventListener("click", (event) => {
    const name = event.target instanceof Element ? event.target.closest("[data-run-name]") : null;
    if (name) store.set({ runs: [name.dataset.runName] });
  });
  tagSelect.addEventListener("change", () => store.set({ tag: tagSelect.value }));
  classSelect.addEventListener("change", () => {
    const classKey = classSelect.value;
    // The class is remembered by name (other tags may order classes differently), unless its name
    // is not unique in this tag: then by index.
    store.set({ classKey, className: uniqueClassName(classNames, classKey) });
  });

  const setStep = (step) => {
    if (steps.length === 0) return;
    // At the latest epoch the view moves on with training; at an earlier one it stays there.
    store.set({ step, followLatest: step === steps[steps.length - 1] });
  };
  epochSlider.addEventListener("input", () => setStep(nearestStep(steps, Number(epochSlider.value))));
  // Logged steps may be sparse (every 5th epoch): arrow keys go to the neighbouring logged step.
  epochSlider.addEventListener("keydown", (event) => {
    const offset = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[event.key];
    if (offset === undefined || steps.length === 0) return;
    event.preventDefault();
    setStep(stepAfter(steps, store.get().step, offset));
  });
  followLatest.addEventListener("change", () => {
    const patch = { followLatest: followLatest.checked };
    if (followLatest.checked && steps.length > 0) patch.step = steps[steps.length - 1];
    store.set(patch);
  });

  thresholdSlider.addEventListener("input", () => store.set({ threshold: Number(thresholdSlider.value) }));
  // Arrow keys: fine steps of 0.001; with Shift, 0.01.
  thresholdSlider.addEventListener("keydown", (event) => {
    const direction = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[event.key];
    if (direction === undefined) return;
    event.preventDefault();
    const size = event.shiftKey ? 0.01 : THRESHOLD_SLIDER_STEP;
    const next = Math.round((store.get().threshold + direction * size) / size) * size;
    store.set({ threshold: clampThreshold(Number(next.toFixed(6))) });
  });
  const applyTypedThreshold = (final) => {
    const text = thresholdInput.value.trim();
    const value = Number(text);
    const valid = text !== "" && Number.isFinite(value) && value >= 0 && value <= 1;
    thresholdInput.setAttribute("aria-invalid", String(!valid && final));
    thresholdInput.title = valid || !final ? "Type a threshold in [0, 1]" : `${text || "empty"} is not in [0, 1]`;
    if (valid) store.set({ threshold: value });
  };
  thresholdInput.addEventListener("input", () => applyTypedThreshold(false));
  thresholdInput.addEventListener("change", () => applyTypedThreshold(true));

  // Global ← → move through epochs when no input has the focus.
  const doc = container.ownerDocument;
  const onKey = (event) => {
    if (isTextEntry(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    const offset = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (offset === undefined || steps.length === 0) return;
    event.preventDefault();
    setStep(stepAfter(steps, store.get().step, offset));
  };
  doc.addEventListener("keydown", onKey);
  // Names measured before Roboto arrived used a fallback font's widths.
  doc.fonts?.ready.then(() => fitRunNames());

  function renderRuns(allRuns, runColors, selected) {
    const signature = JSON.stringify([runsWithTag, allRuns.map((run) => runColors[run])]);
    if (runList.dataset.signature !== signature) {
      runList.dataset.signature = signature;
      runList.replaceChildren(
        ...runsWithTag.map((run) => {
          const name = el("button", { type: "button", className: "tbm-run-label", dataset: { runName: run } });
          return el("div", { className: "tbm-run" }, [
            el("input", { type: "checkbox", value: run, title: `Add or remove ${run}`, attrs: { "aria-label": run } }),
            el("span", { className: "tbm-swatch", style: { background: runColors[run] } }),
            name,
          ]);
        }),
      );
      if (runsWithTag.length === 0) runList.append(el("span", { className: "tbm-muted" }, "No run has this tag."));
      fitRunNames();
    }
    for (const input of runList.querySelectorAll("input")) input.checked = selected.includes(input.value);
  }

  /** Run names whole when they fit the list's width, else shortened in the middle. */
  function fitRunNames() {
    const buttons = [...runList.querySelectorAll("[data-run-name]")];
    const names = buttons.map((button) => button.dataset.runName);
    for (const button of buttons) {
      const run = button.dataset.runName;
      fitRunName(button, run, names, RUN_NAME_MAX_WIDTH, `${run} (click to show this run alone)`);
    }
  }

  function renderSelect(select, options, value) {
    const signature = JSON.stringify(options);
    if (select.dataset.signature !== signature) {
      select.dataset.signature = signature;
      select.replaceChildren(...options.map(({ value: v, label }) => el("option", { value: v }, label)));
    }
    if (select.value !== value) select.value = value;
  }

  return {
    update(state, context) {
      // The lists are rebuilt only when the selection changed (a new context object), not while
      // the threshold is dragged.
      if (context !== lastContext || state.step !== lastStep || state.followLatest !== lastFollow) {
        lastContext = context;
        lastStep = state.step;
        lastFollow = state.followLatest;
        steps = context.steps;
        runsWithTag = context.runsWithTag;
        classNames = context.classNames;
        renderRuns(context.allRuns, context.runColors, state.runs);
        renderSelect(tagSelect, context.tags.map((tag) => ({ value: tag, label: tag })), state.tag ?? "");
        renderSelect(classSelect, classOptions(context.classNames), context.classKey);
        classNote.textContent = context.classNote;
        showNote(classNote, "class-note", context.classNote !== "");
        // An argmax matrix (or one at a fixed score cut) does not move with the threshold.
        const thresholdActs = context.kind !== "confusion_matrix";
        thresholdSlider.disabled = !thresholdActs;
        thresholdInput.disabled = !thresholdActs;
        thresholdLabel.textContent = thresholdActs ? "Threshold (score > t is positive)" : "Threshold (not used by this tag)";
        thresholdNote.textContent = thresholdActs ? "" : `A confusion-matrix tag was counted at a fixed decision: ${context.decision || "argmax"}.`;
        thresholdNote.hidden = thresholdActs;
        epochSlider.min = String(steps[0] ?? 0);
        epochSlider.max = String(steps[steps.length - 1] ?? 0);
        epochSlider.disabled = steps.length <= 1;
        if (state.step !== null) epochSlider.value = String(state.step);
        epochValue.textContent = state.step === null ? "–" : String(state.step);
        epochValue.title = steps.length ? `Logged steps: ${steps[0]}…${steps[steps.length - 1]} (${steps.length})` : "";
        followLatest.checked = state.followLatest;
      }

      if (Number(thresholdSlider.value) !== state.threshold) thresholdSlider.value = String(state.threshold);
      // Do not rewrite the box while the user types in it ("0." must stay "0."). It shows the
      // threshold rounded (an optimum is kept exact in the store, not as 0.2842610478401184).
      const shown = formatThresholdValue(state.threshold);
      if (doc.activeElement !== thresholdInput && thresholdInput.value !== shown) {
        thresholdInput.value = shown;
        if (thresholdInput.getAttribute("aria-invalid") !== "false") thresholdInput.setAttribute("aria-invalid", "false");
      }
    },
  };
}
