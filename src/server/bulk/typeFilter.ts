import type { Resource } from '@medplum/fhirtypes';

/**
 * `_typeFilter` of a Bulk Data kick-off (Bulk Data Access IG v2.0.0, export.html#_typefilter-query-parameter): each
 * value is `[type]?[FHIR search query]`; several queries for one type are joined with OR, the parameters inside one
 * query with AND, and a type without a filter is exported unfiltered.
 *
 * This server understands the two search parameters a client needs to ask for the twin alone, and no others:
 * - `_profile` (R4 search.html#profile, uri): `meta.profile` holds one of the comma-separated canonicals (a
 *   `|version` suffix on the stored canonical is ignored);
 * - `identifier` (token, R4 search.html#token): `system|value`, `system|` (any value of that system) or `value`.
 * Anything else is refused at kick-off with an OperationOutcome (export.html#query-parameters: a server unable to
 * support a parameter SHOULD return an error so the client can re-submit without it).
 *
 * The queries are plain JSON, kept with the job (its record is re-read after a restart).
 */
export interface TypeFilterQuery {
  /** `_profile` values, OR-ed; absent: not constrained. */
  readonly profiles?: readonly string[];
  /** `identifier` tokens, OR-ed; absent: not constrained. */
  readonly identifiers?: ReadonlyArray<{ readonly system?: string; readonly value?: string }>;
}

/** Resource type -> its queries (OR-ed). */
export type TypeFilters = Readonly<Record<string, readonly TypeFilterQuery[]>>;

export type ParsedTypeFilter = { readonly type: string; readonly query: TypeFilterQuery } | { readonly error: string };

const SUPPORTED = new Set(['_profile', 'identifier']);

/** One `_typeFilter` value, e.g. `Observation?_profile=https://...twin-baseline`. */
export function parseTypeFilter(value: string): ParsedTypeFilter {
  const q = value.indexOf('?');
  if (q <= 0) {
    return { error: `_typeFilter must be [type]?[search parameters]: ${value.slice(0, 60)}` };
  }
  const type = value.slice(0, q).trim();
  const params = new URLSearchParams(value.slice(q + 1));
  let profiles: string[] | undefined;
  let identifiers: Array<{ system?: string; value?: string }> | undefined;
  for (const [name, raw] of params) {
    if (!SUPPORTED.has(name)) {
      return { error: `_typeFilter supports _profile and identifier only, not ${name.slice(0, 40)}` };
    }
    const values = raw
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v.length > 0);
    if (values.length === 0) {
      return { error: `_typeFilter ${name} has no value` };
    }
    if (name === '_profile') {
      // Two `_profile` parameters in one query are AND-ed; with one profile list per query, refuse rather than guess.
      if (profiles) {
        return { error: '_typeFilter: repeat _profile as a comma-separated list or as separate _typeFilter values' };
      }
      profiles = values;
    } else {
      if (identifiers) {
        return { error: '_typeFilter: repeat identifier as a comma-separated list or as separate _typeFilter values' };
      }
      identifiers = values.map((v) => {
        const bar = v.indexOf('|');
        if (bar < 0) {
          return { value: v };
        }
        const system = v.slice(0, bar);
        const code = v.slice(bar + 1);
        return { ...(system ? { system } : {}), ...(code ? { value: code } : {}) };
      });
    }
  }
  if (!profiles && !identifiers) {
    return { error: `_typeFilter for ${type} has no search parameter` };
  }
  return { type, query: { ...(profiles ? { profiles } : {}), ...(identifiers ? { identifiers } : {}) } };
}

/** Whether `resource` passes the filters of its type (no filter for the type: it passes). */
export function passesTypeFilters(resource: Resource, filters: TypeFilters | undefined): boolean {
  const queries = filters?.[resource.resourceType];
  if (!queries || queries.length === 0) {
    return true;
  }
  return queries.some((query) => matchesQuery(resource, query));
}

function matchesQuery(resource: Resource, query: TypeFilterQuery): boolean {
  if (query.profiles) {
    const held = (resource.meta?.profile ?? []).map((p) => p.split('|')[0]);
    if (!query.profiles.some((p) => held.includes(p.split('|')[0] ?? p))) {
      return false;
    }
  }
  if (query.identifiers) {
    const held = (resource as { identifier?: Array<{ system?: string; value?: string }> }).identifier ?? [];
    const ids = Array.isArray(held) ? held : [held];
    const hit = query.identifiers.some((want) =>
      ids.some(
        (i) =>
          (want.system === undefined || i.system === want.system) &&
          (want.value === undefined || i.value === want.value)
      )
    );
    if (!hit) {
      return false;
    }
  }
  return true;
}
