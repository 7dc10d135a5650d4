// Turns what a view exports into files the browser downloads.

/**
 * Parses CSV text into rows of fields `{text, quoted}`; quoted fields may hold commas, quotes ("")
 * and line breaks.
 */
function parseCsv(csv) {
  const rows = [];
  let row = [];
  let field = { text: "", quoted: false };
  let quoting = false;
  const endField = () => {
    row.push(field);
    field = { text: "", quoted: false };
  };
  for (let i = 0; i < csv.length; i++) {
    const char = csv[i];
    if (quoting) {
      if (char === '"' && csv[i + 1] === '"') {
        field.text += '"';
        i++;
      } else if (char === '"') {
        quoting = false;
      } else {
        field.text += char;
      }
    } else if (char === '"') {
      quoting = true;
      field.quoted = true;
    } else if (char === ",") {
      endField();
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && csv[i + 1] === "\n") i++;
      endField();
      rows.push(row);
      row = [];
    } else {
      field.text += char;
    }
  }
  if (row.length > 0 || field.text !== "" || field.quoted) {
    endField();
    rows.push(row);
  }
  // Blank lines hold one empty unquoted field: not records.
  return rows.filter((fields) => !(fields.length === 1 && fields[0].text === "" && !fields[0].quoted));
}

/** True when unquoted CSV `text` reads back as a number (or NaN, undefined), not as this text. */
function readsAsNumber(text) {
  return text === "NaN" || (text.trim() !== "" && Number.isFinite(Number(text)));
}

/**
 * CSV text (header row first) as an array of records: unquoted numbers become numbers, "NaN"
 * null; quoted fields stay text (`csvField` quotes a name such as "007", so it stays a name).
 */
export function csvToRecords(csv) {
  const rows = parseCsv(csv);
  if (rows.length === 0) return [];
  const header = rows[0].map((field) => field.text);
  return rows.slice(1).map((fields) => {
    const record = {};
    header.forEach((name, index) => {
      const { text, quoted } = fields[index] ?? { text: "", quoted: false };
      record[name] = quoted || !readsAsNumber(text) ? text : text === "NaN" ? null : Number(text);
    });
    return record;
  });
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

/** A parsed field written back as it was read (quoted fields quoted again). */
function rawField({ text, quoted }) {
  return quoted ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * CSV text with the same value in every row for each of `columns` ([name, value] pairs), placed
 * after the "run" column (or first). A column the CSV already has keeps its own values.
 */
export function withColumns(csv, columns) {
  const rows = parseCsv(csv);
  if (rows.length === 0) return csv;
  const header = rows[0].map((field) => field.text);
  const added = columns.filter(([name]) => !header.includes(name));
  const at = header.indexOf("run") + 1;
  const names = added.map(([name]) => csvField(name));
  const values = added.map(([, value]) => csvField(value));
  return rows.map((fields, r) => {
    const raw = fields.map(rawField);
    return [...raw.slice(0, at), ...(r === 0 ? names : values), ...raw.slice(at)].join(",");
  }).join("\n") + "\n";
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
