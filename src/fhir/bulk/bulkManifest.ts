import { invalidInput } from '../outcomes';
/**
 * The complete-status manifest of a Bulk Data export (Bulk Data Access IG v2.0.0, export.html#response---complete-status).
 * Shared by the embedded server, which writes it, and the client, which reads it.
 */

/** Content type of output files: export.html#response---success-2 ("SHALL be application/fhir+ndjson"). */
export const FHIR_NDJSON_CONTENT_TYPE = 'application/fhir+ndjson';

/** One generated file: export.html#response---complete-status, `output` (type, url, optional count). */
export interface BulkExportFileItem {
  readonly type: string;
  readonly url: string;
  readonly count?: number;
}

export interface BulkExportManifest {
  /** The server's time when the query ran; the next incremental export passes it as `_since`. */
  readonly transactionTime: string;
  /** The full URL of the kick-off request (without the parameters of a POST). */
  readonly request: string;
  readonly requiresAccessToken: boolean;
  readonly output: readonly BulkExportFileItem[];
  readonly error: readonly BulkExportFileItem[];
  readonly deleted?: readonly BulkExportFileItem[];
  /** export.html#response---complete-status `extension`: server-specific information, keyed by a URL. */
  readonly extension?: Readonly<Record<string, unknown>>;
}

/** Checks the required fields of a manifest read from the wire; throws with the first field that is wrong. */
export function parseBulkExportManifest(value: unknown): BulkExportManifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidInput('Bulk export manifest is not a JSON object');
  }
  const m = value as Record<string, unknown>;
  if (typeof m.transactionTime !== 'string' || Number.isNaN(Date.parse(m.transactionTime))) {
    throw invalidInput('Bulk export manifest has no valid transactionTime');
  }
  if (typeof m.request !== 'string') {
    throw invalidInput('Bulk export manifest has no request');
  }
  if (typeof m.requiresAccessToken !== 'boolean') {
    throw invalidInput('Bulk export manifest has no requiresAccessToken');
  }
  return {
    transactionTime: m.transactionTime,
    request: m.request,
    requiresAccessToken: m.requiresAccessToken,
    output: fileItems(m.output, 'output'),
    error: m.error === undefined ? [] : fileItems(m.error, 'error'),
    ...(m.deleted === undefined ? {} : { deleted: fileItems(m.deleted, 'deleted') }),
  };
}

function fileItems(value: unknown, field: string): BulkExportFileItem[] {
  if (!Array.isArray(value)) {
    throw invalidInput(`Bulk export manifest field ${field} is not an array`);
  }
  return value.map((item: unknown, i) => {
    const o = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    if (typeof o.type !== 'string' || typeof o.url !== 'string') {
      throw invalidInput(`Bulk export manifest ${field}[${i}] needs a type and a url`);
    }
    return { type: o.type, url: o.url, ...(typeof o.count === 'number' ? { count: o.count } : {}) };
  });
}
