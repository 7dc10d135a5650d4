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
      tags.add(tag);
      info.set(`${run}\u0000${tag}`, entry);
    }
  }
  return { allRuns, tags: [...tags].sort(), info, problems };
}

/**
 * A state patch that makes `state` valid for the tags: a known tag (threshold curves first), runs
 * that have it (the first one if none), a class of it, a logged step (the latest by default).
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
  let runs = state.runs.filter((run) => runsWithTag.includes(run));
  if (runs.length === 0 && runsWithTag.length > 0) runs = [runsWithTag[0]];
  if (runs.join("\u0000") !== state.runs.join("\u0000")) patch.runs = runs;

  const tagInfo = mergeTagInfo(runs.map((run) => infoOf(run, tag)).filter(Boolean));
  const numClasses = tagInfo.class_names.length;
  const classValid = /^\d+$/.test(state.classKey)
    ? Number(state.classKey) < numClasses
    : numClasses > 1 && ["micro", "macro", "weighted"].includes(state.classKey);
  if (!classValid) patch.classKey = numClasses > 1 && tagInfo.kind === "confusion_matrix" ? "micro" : "0";

  const steps = tagInfo.steps;
  const latest = steps[steps.length - 1] ?? null;
  if (state.followLatest || state.step === null || !steps.includes(state.step)) {
    if (state.step !== latest) patch.step = latest;
  }
  return { patch, runsWithTag, tagInfo };
}

/** One tag's info over the selected runs: kind and classes of the first, the union of steps. */
export function mergeTagInfo(entries) {
  if (entries.length === 0) return { kind: null, class_names: [], steps: [] };
  const steps = [...new Set(entries.flatMap((entry) => entry.steps))].sort((a, b) => a - b);
  return { ...entries[0], steps, num_steps: steps.length, max_step: steps[steps.length - 1] ?? null };
}

