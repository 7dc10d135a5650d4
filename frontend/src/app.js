// The tab's shell: loads the tag list, keeps the store valid for it, fetches counts for the
// selection, builds the model and hands it to the controls, the readout and every view.

import { createControls } from "./controls.js";
import { el, setIfChanged } from "./dom.js";
import { createViewCard, viewsFor } from "./view_registry.js";
import { createPoller, listenToHostReload } from "./live.js";
import { createModelBuilder } from "./view_model.js";
import { createReadout } from "./readout.js";
import { assignRunColors, indexTags, reconcileState } from "./selection.js";
import { createSliceControls } from "./slice_controls.js";
import { createSliceModelBuilder, sliceRun, sliceRuns, sliceTagName, tagSlices } from "./slices.js";
import { DEFAULT_STATE, createStore, persistState, restoreState } from "./state.js";
import { applyTheme, readHostTheme, watchHostTheme } from "./theme.js";

const DATA_KEYS = ["runs", "tag", "step", "classKey", "className"];
/** State keys that change what views draw but never which runs, tag, class or step are valid. */
const VIEW_ONLY_KEYS = new Set([
  "threshold", "beta", "costRatio", "minPrecision", "minRecall", "minSpecificity", "normalization", "sortBy", "showDet", "maxFpr", "topK", "theme",
  "sliceReference", "sliceGapRate", "sliceMode", "sliceObjective", "sliceTolerance",
]);

/**
 * The name of the performance mark set when the readout and every view in sight have drawn the
 * current state (views out of sight catch up later: `createDeferredUpdates` in view_registry.js).
 */
export const RENDER_MARK = "tbm-render";

const LOGGING_SNIPPET = `import keras
import tb_metrics_plugin as tbm

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
              metrics=["accuracy", tbm.ThresholdCurves(), tbm.ConfusionMatrix()])
model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=10,
          callbacks=[keras.callbacks.TensorBoard("logs/run1"),
                     tbm.MetricsCallback("logs/run1", class_names=["cat", "dog", "bird"])])`;

/**
 * Shows or hides a state element. Its test id is present only while it is shown, so a query for
 * "whichever of readout / empty state / error is showing" never lands on a hidden one.
 */
function showIf(element, testid, shown) {
  // Rewriting an unchanged `hidden` still invalidates style, and this runs on every drag frame.
  setIfChanged(element, "hidden", !shown);
  if (shown) element.dataset.testid = testid;
  else delete element.dataset.testid;
}

/**
 * Mounts the tab in `root`.
 * @param {HTMLElement} root
 * @param {{client: ReturnType<import("./data.js").createDataClient>, win?: Window}} options
 */
export function createApp(root, { client, win = window }) {
  const store = createStore({ ...DEFAULT_STATE, ...restoreState(win), theme: readHostTheme(win) });
  const modelBuilder = createModelBuilder();

  const errorText = el("span");
  const retryButton = el("button", { type: "button", onclick: () => { tagsSignature = ""; refreshTags(); } }, "Retry");
  const errorBar = el("div", { className: "tbm-error", hidden: true, attrs: { role: "alert" } }, [
    errorText,
    retryButton,
  ]);
  const loading = el("div", { className: "tbm-loading", dataset: { testid: "loading" } }, "Loading…");
  const emptyState = el("div", { className: "tbm-empty", hidden: true }, [
    el("h2", {}, "No threshold metrics logged yet"),
    el("p", {}, [
      "None of the runs in this log directory has a summary written by ",
      el("code", {}, "tb_metrics_plugin"),
      ". Log raw counts every epoch with the Keras callback:",
    ]),
    el("pre", {}, LOGGING_SNIPPET),
    el("p", { className: "tbm-muted" }, [
      "Without Keras: ",
      el("code", {}, "tb_metrics_plugin.summary.threshold_curves_pb(name, labels, scores)"),
      " with ",
      el("code", {}, "tb_metrics_plugin.SummaryWriter(logdir)"),
      ". This page checks for new data on its own and when TensorBoard reloads.",
    ]),
  ]);
  // The user unticked every run: say so rather than tick one again behind their back.
  const noRunState = el("div", { className: "tbm-empty tbm-no-run", hidden: true }, [
    el("h2", {}, "Select a run"),
    el("p", {}, "Tick a run in the Runs list above, or click its name to show it alone."),
  ]);
  const controlsBox = el("div", { className: "tbm-controls" });
  const detToggle = el("input", { type: "checkbox", onchange: () => store.set({ showDet: detToggle.checked }) });
  const detControl = el("div", { className: "tbm-control" }, [
    el("span", { className: "tbm-label" }, "Extra views"),
    el("label", { className: "tbm-row" }, [detToggle, "DET curve"]),
  ]);
  const readoutBox = el("aside", { className: "tbm-readout" });
  const viewsBox = el("div", { className: "tbm-views" });
  const main = el("div", { className: "tbm-main" }, [readoutBox, viewsBox]);
  const content = el("div", { hidden: true }, [controlsBox, noRunState, main]);
  root.append(errorBar, loading, emptyState, content);

  const controls = createControls(controlsBox, store);
  // The slice selector sits beside the run selector (the toolbar's first control).
  const sliceControls = createSliceControls(controlsBox, store);
  controlsBox.firstElementChild.after(sliceControls.element);
  controlsBox.append(detControl);
  const readout = createReadout(readoutBox, store, client.exportUrl);

  let tagIndex = null;
  let tagsSignature = "";
  let runColors = {};
  let reconciled = null;
  let cards = [];
  let layoutSignature = "";
  let loaded = { tag: null, counts: new Map(), summaries: {} };
  let model = null;
  let loadToken = 0;
  let pendingRequests = 0;
  let pendingKeys = new Set();
  let frame = null;
  const sliceBuilder = createSliceModelBuilder();
  // The slices shown: their run, their tag's info and every step's counts of each slice (null while loading).
  let sliceData = { signature: "", run: null, tagInfo: null, counts: null };
  let sliceToken = 0;
  const problems = { tags: [], data: [] };

  function showProblems() {
    const messages = [...problems.tags, ...problems.data];
    showIf(errorBar, "error", messages.length > 0);
    errorText.textContent = messages.join(" · ");
  }

  function setLoading(delta) {
    pendingRequests += delta;
    loading.hidden = pendingRequests === 0;
    loading.classList.toggle("tbm-overlay-loading", tagIndex !== null);
  }

  /**
   * Loads the tag list; `quiet` (polling) shows no loading indicator.
   * @returns {Promise<boolean>} whether it changed (new runs, tags or epochs)
   */
  async function refreshTags({ quiet = false } = {}) {
    if (!quiet) setLoading(1);
    let tagsJson;
    try {
      tagsJson = await client.tags();
    } catch (error) {
      problems.tags = [error.message];
      showProblems();
      return false;
    } finally {
      if (!quiet) setLoading(-1);
    }
    const signature = JSON.stringify(tagsJson);
    if (signature === tagsSignature) {
      // Nothing new; a poll that failed before may have left its message up.
      problems.tags = tagIndex.problems;
      showProblems();
      return false;
    }
    tagsSignature = signature;
    tagIndex = indexTags(tagsJson);
    reconciled = null; // the lists changed: repair the selection against them
    problems.tags = tagIndex.problems;
    showProblems();
    runColors = assignRunColors(tagIndex.allRuns, runColors);
    const empty = tagIndex.tags.length === 0;
    showIf(emptyState, "empty-state", empty);
    content.hidden = empty;
    if (!empty) applyState(store.get(), new Set(DATA_KEYS));
    return true;
  }

  let controlsContext = null;

  /** Reacts to a state change: repair it, refetch if the selection changed, redraw. */
  function applyState(state, changedKeys) {
    if (!tagIndex) return;
    // Moving the threshold (or another view-only key) cannot invalidate the selection: skip the
    // repair and the toolbar's lists, which matter when dragging at 60 frames a second.
    const selectionChanged = !reconciled || [...changedKeys].some((key) => !VIEW_ONLY_KEYS.has(key));
    if (selectionChanged) {
      reconciled = reconcileState(state, tagIndex);
      if (Object.keys(reconciled.patch).length > 0) {
        store.set(reconciled.patch); // re-enters with the repaired state
        return;
      }
      controlsContext = {
        allRuns: tagIndex.allRuns,
        runsWithTag: reconciled.runsWithTag,
        tags: tagIndex.tags,
        runColors,
        classNames: reconciled.tagInfo.class_names,
        classKey: reconciled.classKey,
        classNote: reconciled.classNote,
        steps: reconciled.tagInfo.steps,
        kind: reconciled.tagInfo.kind,
        decision: reconciled.tagInfo.decision,
      };
    }
    if (!checkSlices(state)) return;
    if (changedKeys.has("theme")) applyTheme(state.theme, root.ownerDocument);
    controls.update(state, controlsContext);
    detToggle.checked = state.showDet;
    setIfChanged(detControl, "hidden", reconciled.tagInfo.kind !== "threshold_curves");
    const noRun = state.runs.length === 0;
    showIf(noRunState, "no-run-selected", noRun);
    main.hidden = noRun;
    if (noRun) return;
    for (const key of changedKeys) pendingKeys.add(key);
    if (DATA_KEYS.some((key) => changedKeys.has(key))) {
      loadData(state);
    } else {
      scheduleRender();
    }
  }

  const infoOf = (run, tag) => tagIndex.info.get(`${run}\u0000${tag}`);

  /**
   * Keeps the slice selection valid for the tag (a key it has, a reference among its values), shows
   * the slice selector, and loads the slices' counts when their run, tag, key or epochs change.
   * @returns {boolean} false when it repaired the state (the store re-enters applyState)
   */
  function checkSlices(state) {
    const run = state.runs ? sliceRun(state.runs, state.tag, infoOf, state.sliceRun) : null;
    const slices = run ? tagSlices(infoOf(run, state.tag)) : {};
    const values = state.sliceKey ? slices[state.sliceKey] : null;
    if (state.sliceKey && !values) {
      store.set({ sliceKey: null });
      return false;
    }
    if (values && !values.includes(state.sliceReference)) {
      store.set({ sliceReference: values[0] });
      return false;
    }
    sliceControls.update(state, { slices, run, runs: state.runs ? sliceRuns(state.runs, state.tag, infoOf) : [] });
    const lastSteps = values ? values.map((value) => infoOf(run, sliceTagName(state.tag, state.sliceKey, value))?.max_step ?? -1) : [];
    const signature = values ? JSON.stringify([run, state.tag, state.sliceKey, values, lastSteps]) : "";
    if (signature !== sliceData.signature) loadSlices(signature, run, state, values, lastSteps);
    return true;
  }

  async function loadSlices(signature, run, state, values, lastSteps) {
    const token = ++sliceToken;
    sliceBuilder.clear();
    sliceData = { signature, run, tagInfo: run ? infoOf(run, state.tag) : null, counts: null };
    if (!values) return;
    setLoading(1);
    const results = await Promise.allSettled(
      values.map((value, s) => client.allCounts(run, sliceTagName(state.tag, state.sliceKey, value), lastSteps[s])),
    );
    setLoading(-1);
    if (token !== sliceToken) return;
    const counts = new Map();
    const messages = [];
    results.forEach((result, s) => {
      if (result.status === "fulfilled") counts.set(values[s], result.value);
      else messages.push(`Slice ${state.sliceKey}=${values[s]} of run “${run}”: ${result.reason.message}`);
    });
    problems.data = [...problems.data.filter((message) => !message.startsWith("Slice ")), ...messages];
    showProblems();
    sliceData = { ...sliceData, counts };
    pendingKeys.add("sliceKey");
    scheduleRender();
  }

  async function loadData(state) {
    const token = ++loadToken;
    const { tag, step } = state;
    const runs = state.runs;
    const infoOf = (run) => tagIndex.info.get(`${run}\u0000${tag}`);
    setLoading(1);
    const countsJobs = runs.map((run) =>
      infoOf(run)?.steps.includes(step) ? client.counts(run, tag, step) : Promise.resolve(null),
    );
    const countsLoaded = Promise.allSettled(countsJobs);
    // The summaries are asked for once the counts are in: the server computes them from every step,
    // and asked at the same time they would hold up the counts (the server's Python threads share one
    // core's worth of interpreter) and so the first drawing.
    const summariesLoaded = countsLoaded.then(() =>
      Promise.allSettled(runs.map((run) => client.summary(run, tag, infoOf(run)?.max_step ?? -1))),
    );
    const messages = { counts: [], summaries: [] };
    const showMessages = () => {
      problems.data = [...messages.counts, ...messages.summaries];
      showProblems();
    };
    // The counts draw every view but "over epochs": they are shown as soon as they arrive, without
    // waiting for the summaries (which the server computes from every step, slower on a first visit).
    const countsResults = await countsLoaded;
    if (token !== loadToken) {
      setLoading(-1);
      return; // a newer selection is loading
    }
    const counts = new Map();
    runs.forEach((run, i) => {
      const countsResult = countsResults[i];
      if (countsResult.status === "fulfilled") {
        if (countsResult.value) counts.set(run, countsResult.value);
      } else {
        messages.counts.push(`Run “${run}”: ${countsResult.reason.message}`);
      }
    });
    showMessages();
    // Until the summaries arrive, the last ones of this tag (they do not depend on the epoch).
    loaded = { tag, counts, summaries: loaded.tag === tag ? loaded.summaries : {} };
    for (const key of DATA_KEYS) pendingKeys.add(key);
    scheduleRender();
    const summaryResults = await summariesLoaded;
    setLoading(-1);
    if (token !== loadToken) return;
    const summaries = {};
    runs.forEach((run, i) => {
      const summaryResult = summaryResults[i];
      if (summaryResult.status === "fulfilled") summaries[run] = summaryResult.value;
      else messages.summaries.push(`Run “${run}” over epochs: ${summaryResult.reason.message}`);
    });
    showMessages();
    loaded = { tag, counts, summaries };
    for (const key of DATA_KEYS) pendingKeys.add(key);
    scheduleRender();
  }

  function scheduleRender() {
    if (frame !== null) return;
    frame = win.requestAnimationFrame(() => {
      frame = null;
      renderViews();
    });
  }

  function renderViews() {
    if (!reconciled || store.get().runs.length === 0) return;
    const state = shownState(store.get());
    const changedKeys = pendingKeys;
    pendingKeys = new Set();
    const kind = reconciled.tagInfo.kind;
    const specs = viewsFor(kind, state);
    const signature = `${kind}|${specs.map((spec) => spec.id).join(",")}`;
    if (signature !== layoutSignature) {
      for (const card of cards) card.destroy();
      layoutSignature = signature;
      cards = specs.map((spec) => createViewCard(viewsBox, spec, kind, () => model, reportViewError));
      for (const key of Object.keys(state)) changedKeys.add(key); // new views draw everything
    }
    model = modelBuilder.build({
      state,
      tagInfo: reconciled.tagInfo,
      runColors,
      counts: loaded.counts,
      summaries: loaded.summaries,
      setState: (patch) => store.set(patch),
    });
    model.slices = sliceBuilder.build({ state, run: sliceData.run, tagInfo: sliceData.tagInfo, sliceCounts: sliceData.counts });
    readout.update(model, changedKeys);
    for (const card of cards) card.update(model, changedKeys);
    // Each finished render is a performance mark (only the latest kept, so a long drag does not
    // fill the buffer): benchmarks and tests time input → views drawn with a PerformanceObserver.
    win.performance?.clearMarks?.(RENDER_MARK);
    win.performance?.mark?.(RENDER_MARK);
  }

  /** The state the views draw: the user's choices with the class key shown for this tag. */
  function shownState(state) {
    return state.classKey === reconciled.classKey ? state : { ...state, classKey: reconciled.classKey };
  }

  function reportViewError(message) {
    problems.data = [...problems.data, message];
    showProblems();
  }

  store.subscribe(applyState);
  persistState(store, win);
  watchHostTheme((theme) => store.set({ theme }), win);
  applyTheme(store.get().theme, root.ownerDocument);

  return {
    async start() {
      // Canvas text drawn before Roboto arrived used a fallback font: redraw once it is there.
      root.ownerDocument.fonts?.ready.then(() => {
        if (!reconciled) return;
        pendingKeys.add("theme");
        scheduleRender();
      });
      await refreshTags();
      // New epochs and runs appear on their own, as in TensorBoard's dashboards; an empty log
      // directory fills in once training starts.
      const poller = createPoller(() => refreshTags({ quiet: true }), win);
      poller.start();
      listenToHostReload(win, () => poller.refreshNow());
    },
  };
}
