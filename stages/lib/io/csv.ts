// The one CSV parser of the stages (csv-parse, RFC 4180: quoted fields may hold commas, quotes and
// line breaks), and the field quoting of the CSV files stages write. Errors name the file and line.
import { parse, type Options } from 'csv-parse/sync';

const OPTIONS: Options = {
  bom: true,
  // Rows are checked by the readers, which know which columns they need.
  relax_column_count: true,
  skip_empty_lines: true,
  // Any of the three line endings, even mixed in one file, as the hand-written parsers accepted.
  record_delimiter: ['\r\n', '\n', '\r'],
};

/** Rows of fields; blank lines are skipped. `file` names the text in errors. */
export function parseCsvRows(text: string, file = 'CSV'): string[][] {
  try {
    return parse(text, OPTIONS);
  } catch (error) {
    const line = (error as { lines?: unknown }).lines;
    const where = typeof line === 'number' ? `${file}:${line}` : file;
    throw new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Rows as header → value records, header names and values trimmed; lines with nothing but blanks are skipped. */
export function parseCsv(text: string, file = 'CSV'): Array<Record<string, string>> {
  const rows = parseCsvRows(text, file);
  const header = (rows.shift() ?? []).map((h) => h.trim());
  return rows
    .filter((r) => r.length > 1 || (r[0] ?? '').trim() !== '')
    .map((r) => Object.fromEntries(header.map((h, i) => [h, (r[i] ?? '').trim()])));
}

/** One field as written: quoted when it holds a comma, quote or line break. */
export function csvField(value: string | number): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
