// Turns what a view exports into files the browser downloads.

/**
 * The rows a view exports, with their header: what the card turns into CSV (`tableToCsv`) and
 * JSON (`tableToRecords`), each from the same rows, so neither is parsed back from the other.
 *
 * @param {string[]} header column names
 * @param {Array<Array<string|number|null>>} rows one array of values per row, in header order
 * @returns {{header: string[], rows: Array<Array<string|number|null>>}}
 */
export function table(header, rows) {
  return { header, rows };
}

/** A table with nothing to export (a CSV of it is empty, its JSON `[]`). */
export const EMPTY_TABLE = table([], []);

/** True when unquoted CSV `text` reads back as a number (or NaN, undefined), not as this text. */
function readsAsNumber(text) {
  return text === "NaN" || (text.trim() !== "" && Number.isFinite(Number(text)));
}

/**
 * One CSV field: numbers as they are; text quoted when it holds a comma, quote or line break, or
 * would read back as a number ("007", "1e3", "NaN"), so that names survive a round trip.
 */
export function csvField(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  const text = String(value);
  return /[",\n\r]/.test(text) || readsAsNumber(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Rows of values as CSV text, header first. */
export function toCsv(header, rows) {
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
}

/** A table as CSV text, header first ("" for a table without columns). */
export function tableToCsv({ header, rows }) {
  return header.length ? toCsv(header, rows) : "";
}

/**
 * A value as a JSON record holds it: finite numbers as numbers, NaN as null, a missing value as
 * "", and everything else (names, also "007", ±Infinity) as text, as the CSV of the same row
 * reads (`csvField` quotes text that looks like a number, so it stays text).
 */
function recordValue(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isNaN(value) ? null : Number.isFinite(value) ? value : String(value);
  return String(value);
}

/** A table as an array of records, one object per row keyed by the header. */
export function tableToRecords({ header, rows }) {
  const names = header.map(String);
  return rows.map((values) => {
    const record = {};
    names.forEach((name, index) => {
      record[name] = recordValue(values[index]);
    });
    return record;
  });
}

/**
 * The table with the same value in every row for each of `columns` ([name, value] pairs), placed
 * after the "run" column (or first). A column the table already has keeps its own values.
 */
export function withColumns({ header, rows }, columns) {
  if (header.length === 0) return table(header, rows);
  const added = columns.filter(([name]) => !header.includes(name));
  const at = header.indexOf("run") + 1;
  const names = added.map(([name]) => name);
  const values = added.map(([, value]) => value);
  const insert = (row, extra) => [...row.slice(0, at), ...extra, ...row.slice(at)];
  return table(insert(header, names), rows.map((row) => insert(row, values)));
}

// File names are kept well under the 255 bytes most file systems allow per name.
const MAX_FILE_NAME_PART = 60;
const MAX_FILE_NAME_STEM = 150;

/**
 * A file name safe on every OS, from parts like ["val", "roc", "step 3"]: ASCII letters, digits,
 * ".", "_" and "-" only, each part at most MAX_FILE_NAME_PART characters and the whole name
 * bounded. The longest parts (usually run names) are cut first, so short ones such as the class,
 * the step and the threshold stay whole.
 */
export function exportFileName(parts, extension) {
  const cleaned = parts
    .filter((part) => part !== null && part !== undefined && part !== "")
    .map((part) => String(part).replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, MAX_FILE_NAME_PART).replace(/^_+|_+$/g, ""))
    .filter((part) => part !== "");
  let excess = cleaned.join("_").length - MAX_FILE_NAME_STEM;
  while (excess > 0) {
    const longest = cleaned.reduce((best, part, index) => (part.length > cleaned[best].length ? index : best), 0);
    cleaned[longest] = cleaned[longest].slice(0, -1);
    excess--;
  }
  const stem = cleaned.filter((part) => part !== "").join("_");
  return `${stem || "tb_metrics"}.${extension}`;
}

// Chromium drops a frame's 11th download request within one second (a throttle against abuse; see
// crbug CL 1132485). Quick successive exports are spaced so that none is lost.
const DOWNLOADS_PER_WINDOW = 10;
const DOWNLOAD_WINDOW_MS = 1000;
const recentDownloads = [];

function nextDownloadDelay(now) {
  while (recentDownloads.length && now - recentDownloads[0] >= DOWNLOAD_WINDOW_MS) recentDownloads.shift();
  if (recentDownloads.length < DOWNLOADS_PER_WINDOW) return 0;
  return recentDownloads[0] + DOWNLOAD_WINDOW_MS - now + 5;
}

/**
 * Makes the browser save `content` (string, Blob or data: URL string) as `fileName`.
 * @returns {Promise<void>} resolved once the download was requested
 */
export async function downloadFile(content, fileName, mimeType, doc = document) {
  let delay = nextDownloadDelay(performance.now());
  while (delay > 0) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = nextDownloadDelay(performance.now());
  }
  recentDownloads.push(performance.now());
  const isDataUrl = typeof content === "string" && content.startsWith("data:");
  const url = isDataUrl
    ? content
    : URL.createObjectURL(content instanceof Blob ? content : new Blob([content], { type: mimeType }));
  const anchor = doc.createElement("a");
  anchor.href = url;
  anchor.download = fileName;
  anchor.style.display = "none";
  doc.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  if (!isDataUrl) setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
