import { Operator } from '@medplum/core';
import type { Filter, SearchRequest } from '@medplum/core';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import { internalFault } from '../../fhir/outcomes';

/** The export window on `meta.lastUpdated`: (after, upTo], in epoch milliseconds. */
export interface LastUpdatedWindow {
  /** `_since`: only resources updated strictly later (export.html#query-parameters: "later than the supplied time"). */
  readonly after?: number;
  /** `transactionTime`: resources updated up to and including it (export.html#response---complete-status). */
  readonly upTo?: number;
}

/**
 * Every resource matching `base` inside `window`, a page at a time, in `meta.lastUpdated` order.
 *
 * Pages are keyed on the last `lastUpdated` seen (plus the ids already seen at exactly that instant), not on an
 * offset: an export runs while clients keep writing, and an update moves a resource out of the window
 * (its new lastUpdated is after transactionTime). With offsets that would shift every later resource down by one
 * and silently skip one of them; with a key nothing unchanged is skipped. The updated resource itself is left to the
 * next incremental export (its lastUpdated is after this one's transactionTime).
 */
export async function* lastUpdatedPages<T extends Resource>(
  repo: FhirRepository,
  base: SearchRequest<T>,
  window: LastUpdatedWindow,
  pageSize: number
): AsyncGenerator<T[]> {
  const windowFilters: Filter[] = [];
  if (window.after !== undefined) {
    windowFilters.push(lastUpdated(Operator.GREATER_THAN, window.after));
  }
  if (window.upTo !== undefined) {
    windowFilters.push(lastUpdated(Operator.LESS_THAN_OR_EQUALS, window.upTo));
  }
  let cursor: number | undefined;
  let seenAtCursor: string[] = [];
  for (;;) {
    const filters = [...(base.filters ?? []), ...windowFilters];
    if (cursor !== undefined) {
      filters.push(lastUpdated(Operator.GREATER_THAN_OR_EQUALS, cursor));
      if (seenAtCursor.length > 0) {
        filters.push({ code: '_id', operator: Operator.NOT, value: seenAtCursor.join(',') });
      }
    }
    const bundle = await repo.search<T>({
      ...base,
      filters,
      sortRules: [{ code: '_lastUpdated' }],
      count: pageSize,
      offset: 0,
    });
    const page = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
    if (page.length === 0) {
      return;
    }
    yield page;
    for (const resource of page) {
      const at = Date.parse(resource.meta?.lastUpdated ?? '');
      if (Number.isNaN(at)) {
        throw internalFault('A stored resource has no meta.lastUpdated');
      }
      if (at !== cursor) {
        cursor = at;
        seenAtCursor = [];
      }
      seenAtCursor.push(resource.id);
    }
    if (page.length < pageSize) {
      return;
    }
  }
}

function lastUpdated(operator: Operator, ms: number): Filter {
  // Milliseconds spelled out, so the store reads an exact instant and not a one-second range.
  return { code: '_lastUpdated', operator, value: new Date(ms).toISOString() };
}
