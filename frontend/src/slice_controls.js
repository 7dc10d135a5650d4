// The slice selector beside the run selector: which key's slices to compare (or none), the
// reference slice the gaps are measured from, and, when several selected runs have slices, whose
// slices are compared. Hidden when the tag has no slices.

import { el, setIfChanged } from "./dom.js";

/**
 * Builds the slice selector in `container`.
 * @returns {{element: HTMLElement, update(state: object, context: {slices: Object<string, string[]>, run: string|null, runs: string[]}): void}}
 */
export function createSliceControls(container, store) {
  const keySelect = el("select", { dataset: { testid: "slice-key" }, title: "Compare the slices of this key" });
  const referenceSelect = el("select", { dataset: { testid: "slice-reference" }, title: "The slice the gaps are measured from" });
  const note = el("div", { className: "tbm-hint", dataset: { testid: "slice-note" } });
  const runSelect = el("select", { dataset: { testid: "slice-run" }, title: "The run whose slices are compared" });
  const runControl = el("label", { className: "tbm-row", hidden: true }, ["of run ", runSelect]);
  const referenceControl = el("label", { className: "tbm-row" }, ["reference ", referenceSelect]);
  const root = el("div", { className: "tbm-control tbm-slice-control", dataset: { testid: "slice-select" }, hidden: true }, [
    el("span", { className: "tbm-label" }, "Slices"),
    el("div", { className: "tbm-row" }, [keySelect, referenceControl]),
    runControl,
    note,
  ]);
  container.append(root);
  keySelect.addEventListener("change", () => store.set({ sliceKey: keySelect.value || null }));
  referenceSelect.addEventListener("change", () => store.set({ sliceReference: referenceSelect.value }));
  runSelect.addEventListener("change", () => store.set({ sliceRun: runSelect.value }));

  let signature = "";
  return {
    element: root,
    update(state, { slices, run, runs = [] }) {
      const keys = Object.keys(slices);
      // Called on every drag frame: an unchanged `hidden`, `title` or text rewritten still
      // invalidates style or layout, so each is written only when it changes.
      setIfChanged(root, "hidden", keys.length === 0);
      if (root.hidden) return;
      const next = JSON.stringify([slices, run]);
      if (next !== signature) {
        signature = next;
        keySelect.replaceChildren(
          el("option", { value: "" }, "none"),
          ...keys.map((key) => el("option", { value: key }, `${key} (${slices[key].length})`)),
        );
      }
      setIfChanged(keySelect, "value", state.sliceKey ?? "");
      const values = state.sliceKey ? slices[state.sliceKey] ?? [] : [];
      setIfChanged(referenceControl, "hidden", values.length === 0);
      if (referenceSelect.dataset.key !== `${state.sliceKey}\u0000${values.join("\u0000")}`) {
        referenceSelect.dataset.key = `${state.sliceKey}\u0000${values.join("\u0000")}`;
        referenceSelect.replaceChildren(...values.map((value) => el("option", { value }, value)));
      }
      setIfChanged(referenceSelect, "value", state.sliceReference ?? values[0] ?? "");
      // Several selected runs with slices: one picker, its runs named whole in the options and title.
      setIfChanged(runControl, "hidden", !state.sliceKey || runs.length < 2);
      if (runSelect.dataset.runs !== runs.join("\u0000")) {
        runSelect.dataset.runs = runs.join("\u0000");
        runSelect.replaceChildren(...runs.map((name) => el("option", { value: name, title: name }, name)));
      }
      setIfChanged(runSelect, "value", run ?? "");
      setIfChanged(runSelect, "title", `The run whose slices are compared: ${run}`);
      // textContent replaces the text node, the same text or not: a layout of the toolbar.
      setIfChanged(note, "textContent", state.sliceKey
        ? `slices of run ${run}${runs.length > 1 ? ` (${runs.length} selected runs have slices: pick one above)` : ""}`
        : "");
    },
  };
}
