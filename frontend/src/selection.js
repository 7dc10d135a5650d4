// Which runs, tags, classes and steps exist, and how the stored selection is repaired to fit them.

/** Run colours (TensorBoard's palette), assigned by run name order so they never change. */
export const RUN_PALETTE = ["#ff7043", "#0077bb", "#cc3311", "#33bbee", "#ee3377", "#009988", "#7e57c2", "#8d6e63", "#c0ca33", "#5c6bc0"];

/**
 * Run name → colour. Runs get palette colours in name order; runs already coloured (`previous`)
 * keep theirs when new runs appear while training, and new runs take the least used colours.
 */
export function assignRunColors(allRuns, previous = {}) {
  const colors = {};
  const uses = new Map(RUN_PALETTE.map((color) => [color, 0]));
  for (const run of allRuns) {
    if (previous[run]) {
      colors[run] = previous[run];
      uses.set(previous[run], (uses.get(previous[run]) ?? 0) + 1);
    }
  }
  for (const run of allRuns) {
    if (colors[run]) continue;
    const least = Math.min(...uses.values());
    const color = RUN_PALETTE.find((candidate) => uses.get(candidate) === least);
    colors[run] = color;
    uses.set(color, least + 1);
  }
  return colors;
}

/**
 * Digests the tags route: sorted runs, tags, per-(run, tag) info, and messages for the entries in
 * error (not shown) and those with a warning (shown without their damaged or unsampled steps).
 * Slice tags (entries with `slice`) keep their info but are not listed in `tags`.
 * @returns {{allRuns: string[], tags: string[], info: Map<string, object>, problems: string[]}}
 */
export function indexTags(tagsJson) {
  const allRuns = Object.keys(tagsJson).sort();
  const tags = new Set();
  const info = new Map();
  const problems = [];
  for (const run of allRuns) {
    for (const [tag, entry] of Object.entries(tagsJson[run])) {
      if (entry.error) {
        problems.push(`Run “${run}”, tag “${tag}” cannot be shown: ${entry.error}`);
        continue;
      }
      if (entry.warning) problems.push(`Run “${run}”, tag “${tag}”: ${entry.warning}`);
      info.set(`${run}\u0000${tag}`, entry);
      // A slice's tag is shown through its parent's slice selector, not as a tag of its own.
      if (!entry.slice) tags.add(tag);
    }
  }
  return { allRuns, tags: [...tags].sort(), info, problems };
}

/** Run names of a held-out split (…/validation, …_val, eval, test): preferred when the tab picks runs itself. */
const HELD_OUT_RUN = /(^|[/\\_.\- ])(validation|valid|val|eval|evaluation|test)$/i;

/** The runs selected when the user has not chosen any yet: the first held-out split, else the first run. */
export function defaultRuns(runsWithTag) {
  const heldOut = runsWithTag.find((run) => HELD_OUT_RUN.test(run));
  return heldOut ? [heldOut] : runsWithTag.slice(0, 1);
}

const AVERAGES = ["micro", "macro", "weighted"];

/** "class “dog”" or "micro average", for notes about the class selection. */
function describeClassKey(classKey, classNames) {
  if (AVERAGES.includes(classKey)) return `${classKey} average`;
  const name = classNames[Number(classKey)];
  return name === undefined || name === "" ? `class ${classKey}` : `class “${name}”`;
}

/**
 * The name of class `classKey` in `classNames` when it names that class alone, else null (an
 * average, or a name that several classes share: those are kept by index).
 */
export function uniqueClassName(classNames, classKey) {
  if (!/^\d+$/.test(classKey)) return null;
  const name = classNames[Number(classKey)];
  return name !== undefined && classNames.indexOf(name) === classNames.lastIndexOf(name) ? name : null;
}

/** The class key shown when the wanted one does not exist in a tag: the micro average, or the only class. */
function fallbackClassKey(numClasses) {
  return numClasses > 1 ? "micro" : "0";
}

/**
 * The class key to show for `tag`'s `classNames`, given the user's choice (`state.classKey`, and
 * `state.className`, the chosen class's name): the class is found by name, because index 0 is
 * "benign" on one tag and "malignant" on another, and an index alone would silently change what
 * TP means. A name the tag lacks, an average of a one-class tag, or an index past its classes
 * shows the fallback with a note that says so. The choice itself is kept, so going back to a tag
 * that has the class shows it again.
 * @returns {{classKey: string, note: string}}
 */
export function reconcileClass(state, classNames, tag) {
  const numClasses = classNames.length;
  const { classKey, className } = state;
  if (AVERAGES.includes(classKey)) {
    if (numClasses > 1) return { classKey, note: "" };
    const shown = fallbackClassKey(numClasses);
    return { classKey: shown, note: `Tag “${tag}” has one class, so no ${classKey} average: showing ${describeClassKey(shown, classNames)}.` };
  }
  if (className !== null && className !== undefined) {
    // The chosen index still names the class (names may repeat): keep it.
    if (classNames[Number(classKey)] === className) return { classKey, note: "" };
    const index = classNames.indexOf(className);
    if (index >= 0) return { classKey: String(index), note: "" };
    const shown = fallbackClassKey(numClasses);
    return {
      classKey: shown,
      note: `Class “${className}” is not in tag “${tag}” of the selected runs; showing ${describeClassKey(shown, classNames)}.`,
    };
  }
  if (/^\d+$/.test(classKey) && Number(classKey) < numClasses) return { classKey, note: "" };
  const shown = fallbackClassKey(numClasses);
  return { classKey: shown, note: `Tag “${tag}” has no class ${classKey}; showing ${describeClassKey(shown, classNames)}.` };
}

/**
 * A state patch that makes `state` valid for the tags: a known tag (threshold curves first), runs
 * that have it, a logged step (the latest while following, or when the chosen one is gone); and
 * the class key to show (`reconcileClass`: the user's class choice is not patched).
 *
 * Runs: `state.runs === null` means none chosen yet, which selects `defaultRuns`; so does a choice
 * of runs none of which has the tag. An empty choice stays empty (the user unticked every run).
 * @returns {{patch: object, runsWithTag: string[], tagInfo: object, classKey: string, classNote: string}}
 */
export function reconcileState(state, index) {
  const patch = {};
  const infoOf = (run, tag) => index.info.get(`${run}\u0000${tag}`);
  let tag = state.tag;
  if (!index.tags.includes(tag)) {
    const kindOf = (candidate) => index.allRuns.map((run) => infoOf(run, candidate)).find(Boolean)?.kind;
    tag = index.tags.find((candidate) => kindOf(candidate) === "threshold_curves") ?? index.tags[0] ?? null;
    patch.tag = tag;
  }
  const runsWithTag = index.allRuns.filter((run) => infoOf(run, tag));
  const chosen = state.runs ?? [];
  let runs = chosen.filter((run) => runsWithTag.includes(run));
  if (runs.length === 0 && (state.runs === null || chosen.length > 0)) runs = defaultRuns(runsWithTag);
  if (state.runs === null || runs.join("\u0000") !== chosen.join("\u0000")) patch.runs = runs;

  const tagInfo = mergeTagInfo(runs.map((run) => infoOf(run, tag)).filter(Boolean));
  if (runs.length === 0) return { patch, runsWithTag, tagInfo, classKey: state.classKey, classNote: "" };
  const { classKey, note: classNote } = reconcileClass(state, tagInfo.class_names, tag);
  const name = uniqueClassName(tagInfo.class_names, classKey);
  // A class shown by index (the default, an old URL) is from now on kept by its name.
  if ((state.className === null || state.className === undefined) && classKey === state.classKey && name !== null) {
    patch.className = name;
  }

  const steps = tagInfo.steps;
  const latest = steps[steps.length - 1] ?? null;
  if (state.followLatest || state.step === null || !steps.includes(state.step)) {
    if (state.step !== latest) patch.step = latest;
  }
  return { patch, runsWithTag, tagInfo, classKey, classNote };
}

/** One tag's info over the selected runs: kind and classes of the first, the union of steps. */
export function mergeTagInfo(entries) {
  if (entries.length === 0) return { kind: null, class_names: [], steps: [] };
  const steps = [...new Set(entries.flatMap((entry) => entry.steps))].sort((a, b) => a - b);
  return { ...entries[0], steps, num_steps: steps.length, max_step: steps[steps.length - 1] ?? null };
}

