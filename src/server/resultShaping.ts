import { getDataType, tryGetDataType } from '@medplum/core';
import type { Bundle, Coding, Resource } from '@medplum/fhirtypes';

/**
 * FHIR R4 search.html#summary: a resource with elements left out carries this tag. Code and display as in the FHIR
 * ValueSet common-tags (hl7.org/fhir/valueset-common-tags), which includes SUBSETTED "subsetted" from v3-ObservationValue.
 */
export const SUBSETTED: Coding = Object.freeze({
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'SUBSETTED',
  display: 'subsetted',
});

/** What the client asked to be left out: `_summary` (true | text | data) or `_elements`. */
export type Shaping =
  | { readonly kind: 'summary'; readonly mode: 'true' | 'text' | 'data' }
  | { readonly kind: 'elements'; readonly names: readonly string[] };

/** The shaping a query asks for, or undefined for whole resources (`_summary=false`, `_summary=count` is paging). */
export function shapingOf(query: Record<string, unknown>): Shaping | undefined {
  const last = (name: string): string | undefined => {
    const v = query[name];
    return Array.isArray(v) ? String(v.at(-1)) : typeof v === 'string' ? v : undefined;
  };
  const summary = last('_summary');
  if (summary === 'true' || summary === 'text' || summary === 'data') {
    return { kind: 'summary', mode: summary };
  }
  const elements = last('_elements');
  if (elements) {
    return { kind: 'elements', names: elements.split(',').map((e) => e.trim()) };
  }
  return undefined;
}

/**
 * Applies `_summary` / `_elements` (FHIR R4 search.html#summary, search.html#elements) to a read result or to the
 * resources of a searchset, and tags each shortened resource SUBSETTED. `id`, `meta` and the elements the base
 * definition makes mandatory are always kept, so a subset is still a valid resource (search.html#elements: servers
 * SHOULD return mandatory elements). Other bundles (history, transaction responses) pass unchanged.
 */
export function shapeResult(body: Resource, shaping: Shaping): Resource {
  if (body.resourceType === 'Bundle') {
    if (body.type !== 'searchset') {
      return body;
    }
    const bundle: Bundle = {
      ...body,
      entry: body.entry?.map((e) =>
        e.resource && e.search?.mode !== 'outcome' ? { ...e, resource: shapeOne(e.resource, shaping) } : e
      ),
    };
    return bundle;
  }
  if (body.resourceType === 'OperationOutcome') {
    return body;
  }
  return shapeOne(body, shaping);
}

function shapeOne(resource: Resource, shaping: Shaping): Resource {
  const schema = tryGetDataType(resource.resourceType);
  if (!schema) {
    return resource;
  }
  const mandatory = getDataType(resource.resourceType).mandatoryProperties ?? new Set<string>();
  const keep = (key: string): boolean => {
    const name = key.startsWith('_') ? key.slice(1) : key;
    const element = elementOf(name, schema.elements);
    if (name === 'resourceType' || name === 'id' || name === 'meta' || (element && mandatory.has(element))) {
      return true;
    }
    switch (shaping.kind) {
      case 'summary':
        if (shaping.mode === 'text') {
          return name === 'text';
        }
        if (shaping.mode === 'data') {
          return name !== 'text';
        }
        return element !== undefined && (schema.summaryProperties?.has(element) ?? false);
      case 'elements':
        return element !== undefined && shaping.names.includes(element);
    }
  };
  const out: Record<string, unknown> = {};
  let dropped = false;
  for (const [key, value] of Object.entries(resource)) {
    if (keep(key)) {
      out[key] = value;
    } else {
      dropped = true;
    }
  }
  if (!dropped) {
    return resource;
  }
  const meta = (out.meta ?? {}) as NonNullable<Resource['meta']>;
  const tags = (meta.tag ?? []).filter((t) => !(t.system === SUBSETTED.system && t.code === SUBSETTED.code));
  out.meta = { ...meta, tag: [...tags, { ...SUBSETTED }] };
  return out as unknown as Resource;
}

/** The element a JSON key belongs to: `valueQuantity` -> `value` (a choice, FHIR R4 formats.html#choice). */
function elementOf(key: string, elements: Record<string, unknown>): string | undefined {
  if (Object.hasOwn(elements, key)) {
    return key;
  }
  for (let i = key.length - 1; i > 0; i--) {
    const c = key.charAt(i);
    if (c >= 'A' && c <= 'Z' && Object.hasOwn(elements, `${key.slice(0, i)}[x]`)) {
      return key.slice(0, i);
    }
  }
  return undefined;
}
