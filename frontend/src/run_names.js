// Run names that tell runs apart at any width: whole whenever they fit, else shortened in the middle
// of the part they share with other runs ("multic…/validation"), so the part that differs stays
// visible; the whole name is in the element's title (shown on hover).

const SEPARATOR = /^[/\\_.\-: ]$/;
const ELLIPSIS = "…";
const segmenter = typeof Intl !== "undefined" && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

/**
 * The characters of `text` as the reader sees them (grapheme clusters: an emoji with its modifiers,
 * a letter with its accents), so that shortening never splits one.
 */
export function graphemes(text) {
  return segmenter ? Array.from(segmenter.segment(text), (part) => part.segment) : Array.from(text);
}

/** Length of the longest common prefix of the character arrays `a` and `b`. */
function commonPrefix(a, b) {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

/** Length of the longest common suffix of the character arrays `a` and `b`. */
function commonSuffix(a, b) {
  let k = 0;
  while (k < a.length && k < b.length && a[a.length - 1 - k] === b[b.length - 1 - k]) k++;
  return k;
}

/**
 * [start, end): the part of `name` that tells it apart from the other `names`, in `graphemes`.
 * The prefix and suffix it shares with its most similar other name are cut at separators
 * (/ \ _ . - : space), so "multiclass/train" vs "multiclass/validation" gives "train" and
 * "validation", not "rain" and "validatio". A name alone (or equal to every other) is all
 * difference: [0, length).
 */
export function differingSpan(name, names) {
  const chars = graphemes(name);
  let prefix = 0;
  let suffix = 0;
  for (const other of names) {
    if (other === name) continue;
    const otherChars = graphemes(other);
    prefix = Math.max(prefix, commonPrefix(chars, otherChars));
    suffix = Math.max(suffix, commonSuffix(chars, otherChars));
  }
  // Back to the last separator inside the shared prefix (it stays with the prefix) …
  while (prefix > 0 && !SEPARATOR.test(chars[prefix - 1])) prefix--;
  // … and forward to the first separator inside the shared suffix.
  while (suffix > 0 && !SEPARATOR.test(chars[chars.length - suffix])) suffix--;
  const start = prefix;
  const end = Math.max(start, chars.length - suffix);
  return start < end ? [start, end] : [0, chars.length];
}

/** Characters `chars` with `removed` of their middle replaced by "…", keeping the first and last. */
function elideMiddle(chars, removed) {
  if (removed <= 0) return chars.join("");
  const kept = chars.length - removed;
  const head = Math.ceil(kept / 2);
  return `${chars.slice(0, head).join("")}${ELLIPSIS}${chars.slice(chars.length - (kept - head)).join("")}`;
}

/**
 * `name` with `removed` characters left out, from the shared prefix first (keeping its first
 * character and the separator before the differing part), then the shared suffix (keeping its
 * separator and last character), and only then from the middle of the differing part `span`.
 * `removed` beyond what can go is clamped (see `maxRemovable`).
 */
export function shortenedName(name, span, removed) {
  const [start, end] = span;
  const chars = graphemes(name);
  const text = (from, to) => chars.slice(from, to).join("");
  const prefixRoom = Math.max(0, start - 2);
  const suffixRoom = Math.max(0, chars.length - end - 2);
  const fromPrefix = Math.min(removed, prefixRoom);
  const fromSuffix = Math.min(removed - fromPrefix, suffixRoom);
  const fromSpan = Math.min(removed - fromPrefix - fromSuffix, Math.max(0, end - start - 2));
  const prefix = fromPrefix > 0 ? `${text(0, start - 1 - fromPrefix)}${ELLIPSIS}${text(start - 1, start)}` : text(0, start);
  const suffix = fromSuffix > 0 ? `${text(end, end + 1)}${ELLIPSIS}${text(end + 1 + fromSuffix)}` : text(end);
  return `${prefix}${elideMiddle(chars.slice(start, end), fromSpan)}${suffix}`;
}

/** How many characters `shortenedName` can leave out of `name` at most. */
export function maxRemovable(name, span) {
  const [start, end] = span;
  return Math.max(0, start - 2) + Math.max(0, graphemes(name).length - end - 2) + Math.max(0, end - start - 2);
}

/**
 * `name` as shown in `maxWidth` (in the units of `measure(text)`): whole when it fits, else the
 * longest `shortenedName` that fits (the shortest one when none does). `names` are the other run
 * names shown next to it, whose shared parts are shortened first.
 */
export function fitName(name, names, maxWidth, measure) {
  if (measure(name) <= maxWidth) return name;
  const span = differingSpan(name, names);
  let low = 1;
  let high = maxRemovable(name, span);
  if (high < 1) return name;
  // Fewest characters removed that fit: widths shrink as more characters go.
  while (low < high) {
    const mid = (low + high) >> 1;
    if (measure(shortenedName(name, span, mid)) <= maxWidth) high = mid;
    else low = mid + 1;
  }
  return shortenedName(name, span, low);
}

let measuringContext = null;

/** A text-width function for the font `element` is drawn with (CSS px). */
export function textMeasure(element) {
  measuringContext ??= element.ownerDocument.createElement("canvas").getContext("2d");
  const style = element.ownerDocument.defaultView.getComputedStyle(element);
  const font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  return (text) => {
    measuringContext.font = font;
    return measuringContext.measureText(text).width;
  };
}

/**
 * Writes run name `run` into `element`, fitted to `maxWidth` CSS px (see `fitName`; `names`: the
 * runs shown beside it), with `title` (by default the whole name) shown on hover.
 */
export function fitRunName(element, run, names, maxWidth, title = run) {
  element.textContent = fitName(run, names, Math.max(0, maxWidth), textMeasure(element));
  element.title = title;
}
