import { invalidInput } from '../fhir/outcomes';
/**
 * Bounds on the work one request may ask of the embedded server. Each is refused with a 4xx OperationOutcome that
 * names the limit, so a client knows what to change; none is silent truncation.
 */
export interface ServerLimits {
  /** Entries in one batch or transaction Bundle (FHIR R4 http.html#transaction leaves size limits to the server). */
  readonly maxBundleEntries: number;
  /** Nesting depth of a JSON body. FHIR resources nest far less; deeper input is a malformed or hostile body. */
  readonly maxJsonDepth: number;
  /** Values in one search parameter (`code=a,b,c`) plus repeats of it. */
  readonly maxSearchValues: number;
  /** Largest `_count` honoured; above it the page is capped (search.html#count lets the server choose). */
  readonly maxCount: number;
  /** Largest `_offset` accepted. */
  readonly maxOffset: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  maxBundleEntries: 10_000,
  maxJsonDepth: 100,
  maxSearchValues: 100,
  maxCount: 1000,
  maxOffset: 1_000_000,
});

/** Reads the limits from the environment (`TWIN_MAX_BUNDLE_ENTRIES`), falling back to the defaults. */
export function serverLimitsFromEnv(env: NodeJS.ProcessEnv): Partial<ServerLimits> {
  const entries = env.TWIN_MAX_BUNDLE_ENTRIES;
  if (entries === undefined || entries === '') {
    return {};
  }
  const n = Number(entries);
  if (!Number.isInteger(n) || n < 1) {
    throw invalidInput(`TWIN_MAX_BUNDLE_ENTRIES must be a positive integer, got "${entries}"`);
  }
  return { maxBundleEntries: n };
}
