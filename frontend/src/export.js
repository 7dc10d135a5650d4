// Turns what a view exports into files the browser downloads.

/** Splits one CSV line, honouring double-quoted fields ("a,b" and "" escapes). */
function splitCsvLine(line) {
  const fields = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') {
        quoted = false;
      } else {
        field += char;
      }
    } else if (char === '"') {
      quoted = true;
    } else if (char === ",") {
      fields.push(field);
      field = "";
    } else {
      field += char;
    }
  }
  fields.push(field);
  return fields;
}

/** CSV text (header row first) as an array of records; numeric fields become numbers. */
export function csvToRecords(csv) {
  const lines = csv.split(/\r?\n/).filter((line) => line.length > 0);
  if (lines.length === 0) return [];
  const header = splitCsvLine(lines[0]);
  return lines.slice(1).map((line) => {
    const values = splitCsvLine(line);
    const record = {};
    header.forEach((name, index) => {
      const text = values[index] ?? "";
      const number = Number(text);
      record[name] = text !== "" && Number.isFinite(number) ? number : text === "NaN" ? null : text;
    });
    return record;
  });
}

/** One CSV field, quoted when it holds a comma, quote or newline. */
export function csvField(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Rows of values as CSV text, header first. */
export function toCsv(header, rows) {
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
}

/** A file name safe on every OS, from parts like ["val", "roc", "step 3"]. */
export function exportFileName(parts, extension) {
  const stem = parts
    .filter((part) => part !== null && part !== undefined && part !== "")
    .map((part) => String(part).replace(/[^A-Za-z0-9._-]+/g, "_"))
    .join("_");
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
