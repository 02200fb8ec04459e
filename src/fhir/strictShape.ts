import { getDataType, isPrimitiveType, isResourceType, tryGetDataType } from '@medplum/core';
import type { InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

/** FHIR R4 datatypes.html#id: "Any combination of upper- or lower-case ASCII letters, numerals, '-' and '.', 1-64". */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** Deeper than any resource nests; beyond it the walk stops with an issue instead of overflowing the stack. */
const MAX_DEPTH = 100;

/**
 * Property names every plain object inherits. Medplum looks elements up with `schema.elements[key]`, which finds these
 * on Object.prototype, so they passed as known elements; `__proto__` is an own key after JSON.parse.
 */
const INHERITED_NAMES: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), '__proto__']);

function issue(expression: string, text: string): OperationOutcomeIssue {
  return { severity: 'error', code: 'structure', details: { text }, expression: [expression] };
}

/**
 * The rules of FHIR R4 JSON that @medplum/core's validator lets through, checked over the whole resource (contained
 * resources and Bundle entries included), every issue collected with its path:
 * - a complex-typed element holds a JSON object (`"name": [1]` is not a HumanName) and a primitive no object;
 * - at most one type of a choice element is present (`valueQuantity` and `valueString` together, formats.html#choice);
 * - `constructor`, `__proto__`, `toString` and the other names of Object.prototype are unknown elements, not
 *   inherited members of the schema object (other unknown properties Medplum reports itself);
 * - resource ids follow datatypes.html#id (no `a;b`, `*`, spaces, quotes, control or bidi characters, <= 64).
 */
export function strictShapeIssues(resource: unknown): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource)) {
    return [issue('$this', 'A resource is a JSON object')];
  }
  const type = (resource as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string' || !isResourceType(type)) {
    return [issue('resourceType', 'Unknown resource type')];
  }
  walkResource(resource as Record<string, unknown>, type, type, 0, issues);
  return issues;
}

function walkResource(
  value: Record<string, unknown>,
  type: string,
  path: string,
  depth: number,
  issues: OperationOutcomeIssue[]
): void {
  const id = value.id;
  if (id !== undefined && (typeof id !== 'string' || !FHIR_ID.test(id))) {
    issues.push(issue(`${path}.id`, 'A resource id is 1-64 characters of A-Z, a-z, 0-9, "-" and "."'));
  }
  walkObject(value, getDataType(type), path, depth, issues);
}

function walkObject(
  value: Record<string, unknown>,
  schema: InternalTypeSchema,
  path: string,
  depth: number,
  issues: OperationOutcomeIssue[]
): void {
  if (depth > MAX_DEPTH) {
    issues.push(issue(path, 'Nested too deeply'));
    return;
  }
  const choices = new Map<string, string>();
  for (const key of Object.keys(value)) {
    if (key === 'resourceType' && depth === 0) {
      continue;
    }
    if (key === 'resourceType' && (schema.kind === 'resource' || isResourceType(schema.name))) {
      continue;
    }
    const primitiveExtension = key.startsWith('_');
    const name = primitiveExtension ? key.slice(1) : key;
    const at = `${path}.${key}`;
    if (value[key] === undefined) {
      continue; // absent in JSON (an object built in code may carry `key: undefined`)
    }
    if (INHERITED_NAMES.has(key) || INHERITED_NAMES.has(name)) {
      issues.push(issue(at, `Unknown element "${key}"`));
      continue;
    }
    const match = elementFor(name, schema);
    if (!match) {
      continue; // Medplum reports the unknown element
    }
    if (match.choice) {
      const other = choices.get(match.element);
      if (other !== undefined && other !== name) {
        issues.push(issue(at, `Only one type of ${match.element}[x] may be present (also ${other})`));
      }
      choices.set(match.element, name);
    }
    const child = value[key];
    if (primitiveExtension) {
      // `_birthDate` carries id/extension of a primitive (json.html#primitive); Medplum checks its content.
      continue;
    }
    const items: unknown[] = Array.isArray(child) ? child : [child];
    items.forEach((item, i) => {
      checkValue(item, match.type, Array.isArray(child) ? `${at}[${i}]` : at, depth, issues);
    });
  }
}

function checkValue(item: unknown, type: string, path: string, depth: number, issues: OperationOutcomeIssue[]): void {
  // Nulls and primitives' JSON types are Medplum's to report; FHIRPath system types (Extension.url) are primitives.
  if (item === null || item === undefined || isPrimitiveType(type) || type.startsWith('http://')) {
    return;
  }
  const isResource = type === 'Resource' || type === 'DomainResource';
  const schema = isResource ? undefined : tryGetDataType(type);
  if (!isResource && !schema) {
    return;
  }
  if (typeof item !== 'object' || Array.isArray(item)) {
    issues.push(issue(path, `Expected a ${type} (a JSON object)`));
    return;
  }
  const object = item as Record<string, unknown>;
  if (isResource) {
    const inner = object.resourceType;
    if (typeof inner !== 'string' || !isResourceType(inner)) {
      issues.push(issue(`${path}.resourceType`, 'Unknown resource type'));
      return;
    }
    walkResource(object, inner, path, depth + 1, issues);
    return;
  }
  if (schema) {
    walkObject(object, schema, path, depth + 1, issues);
  }
}

interface ElementMatch {
  /** Element name without `[x]`. */
  readonly element: string;
  readonly schemaKey: string;
  readonly type: string;
  readonly choice: boolean;
}

/** The element a JSON property belongs to, by own-property lookup only: `valueQuantity` -> `value[x]` as Quantity. */
function elementFor(name: string, schema: InternalTypeSchema): ElementMatch | undefined {
  const elements = schema.elements;
  if (Object.hasOwn(elements, name) && !name.endsWith('[x]')) {
    const types = elements[name].type ?? [];
    // An element with one type (or a reference to several target types) names it in type[0].
    return { element: name, schemaKey: name, type: types[0]?.code ?? 'Element', choice: false };
  }
  for (let i = name.length - 1; i > 0; i--) {
    const c = name.charAt(i);
    if (c < 'A' || c > 'Z') {
      continue;
    }
    const base = name.slice(0, i);
    const key = `${base}[x]`;
    if (!Object.hasOwn(elements, key)) {
      continue;
    }
    const suffix = name.slice(i);
    const type = (elements[key].type ?? []).find((t) => t.code.charAt(0).toUpperCase() + t.code.slice(1) === suffix);
    return type ? { element: base, schemaKey: key, type: type.code, choice: true } : undefined;
  }
  return undefined;
}
