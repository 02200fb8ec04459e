/**
 * A small RFC 4180 CSV reader that keeps line numbers, so a malformed row can be reported as "line 17".
 * Handles quoted fields with commas, doubled quotes and line breaks inside quotes; CRLF or LF.
 */
export interface CsvRow {
  /** 1-based physical line on which the record starts (the header is line 1). */
  readonly line: number;
  /** Values by header name. */
  readonly values: Readonly<Record<string, string>>;
  /** Number of fields actually present (to detect short or long rows). */
  readonly fieldCount: number;
}

export interface CsvTable {
  readonly header: readonly string[];
  readonly rows: readonly CsvRow[];
}

export function parseCsv(text: string): CsvTable {
  const records = splitRecords(text.startsWith('\ufeff') ? text.slice(1) : text);
  const first = records[0];
  if (!first) {
    return { header: [], rows: [] };
  }
  const header = first.fields.map((h) => h.trim());
  const rows: CsvRow[] = [];
  for (const record of records.slice(1)) {
    if (record.fields.length === 1 && record.fields[0]?.trim() === '') {
      continue; // blank line
    }
    const values: Record<string, string> = {};
    header.forEach((name, i) => {
      values[name] = record.fields[i] ?? '';
    });
    rows.push({ line: record.line, values, fieldCount: record.fields.length });
  }
  return { header, rows };
}

interface RawRecord {
  line: number;
  fields: string[];
}

function splitRecords(text: string): RawRecord[] {
  const records: RawRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let recordLine = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          inQuotes = false;
        }
      } else {
        if (ch === '\n') {
          line++;
        }
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field.length === 0) {
      inQuotes = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') {
        i++;
      }
      fields.push(field);
      records.push({ line: recordLine, fields });
      fields = [];
      field = '';
      line++;
      recordLine = line;
    } else {
      field += ch;
    }
  }
  if (field.length > 0 || fields.length > 0) {
    fields.push(field);
    records.push({ line: recordLine, fields });
  }
  return records;
}
