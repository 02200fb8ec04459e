import { OperationOutcomeError } from '@medplum/core';
import type { ActivityDefinition, CodeSystem, OperationOutcomeIssue, PlanDefinition } from '@medplum/fhirtypes';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { packageRoot } from '../fhir/packageRoot';

/** A definitional resource the library holds. */
export type ProtocolLibraryResource = PlanDefinition | ActivityDefinition | CodeSystem;

/** The recovery protocol library: PlanDefinitions (protocols), the ActivityDefinitions they use, their CodeSystem. */
export interface ProtocolLibrary {
  /** The folder it was read from. */
  dir: string;
  /** Sorted by id. */
  planDefinitions: PlanDefinition[];
  /** Sorted by id. */
  activityDefinitions: ActivityDefinition[];
  /** The project CodeSystems shipped with the library (the protocol indications), sorted by id. */
  codeSystems: CodeSystem[];
  /**
   * A protocol or activity template by id (`acl-reconstruction`), relative reference (`PlanDefinition/acl-reconstruction`)
   * or canonical (`https://recovery-twin.dev/fhir/PlanDefinition/acl-reconstruction`, optionally `|0.1.0`).
   * A canonical pinned to a version the library does not hold resolves to nothing (FHIR R4 references.html#canonical).
   */
  get(idOrCanonical: string): PlanDefinition | ActivityDefinition | undefined;
}

/** The library shipped with the package: `fhir-profiles/protocols/` beside package.json. */
export function defaultProtocolDir(): string {
  return join(packageRoot(), 'fhir-profiles', 'protocols');
}

const LIBRARY_TYPES = ['PlanDefinition', 'ActivityDefinition', 'CodeSystem'] as const;
type LibraryType = (typeof LIBRARY_TYPES)[number];

/**
 * Reads every `<ResourceType>-<id>.json` in `dir` (not recursive; README and other files are ignored).
 *
 * Structure only: FHIR validation of the content is the job of test/protocols.library.test.ts, which runs the project
 * validator over every file, so loading stays cheap enough for a bot cold start.
 *
 * @throws OperationOutcomeError listing every problem at once, each naming its file: unreadable or invalid JSON, a
 *   resource type the library does not hold, a file name that does not match `<resourceType>-<id>.json`, a duplicate
 *   id or url.
 */
export function loadProtocolLibrary(dir: string = defaultProtocolDir()): ProtocolLibrary {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new OperationOutcomeError({
      resourceType: 'OperationOutcome',
      issue: [issue(dir, 'protocol library folder does not exist')],
    });
  }

  const issues: OperationOutcomeIssue[] = [];
  const resources: ProtocolLibraryResource[] = [];
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort();
  for (const name of files) {
    const file = join(dir, name);
    const resource = readLibraryResource(file, issues);
    if (resource) {
      resources.push(resource);
    }
  }

  const byId = new Map<string, PlanDefinition | ActivityDefinition>();
  const byUrl = new Map<string, PlanDefinition | ActivityDefinition>();
  const seenIds = new Map<string, string>();
  const seenUrls = new Map<string, string>();
  for (const resource of resources) {
    const label = `${resource.resourceType}/${resource.id ?? ''}`;
    const id = resource.id ?? '';
    const clashId = seenIds.get(id);
    if (clashId) {
      issues.push(issue(label, `id ${id} is also used by ${clashId}`, `${resource.resourceType}.id`));
    }
    seenIds.set(id, label);
    if (resource.url) {
      const clashUrl = seenUrls.get(resource.url);
      if (clashUrl) {
        issues.push(issue(label, `url ${resource.url} is also used by ${clashUrl}`, `${resource.resourceType}.url`));
      }
      seenUrls.set(resource.url, label);
    }
    if (resource.resourceType !== 'CodeSystem') {
      byId.set(id, resource);
      if (resource.url) {
        byUrl.set(resource.url, resource);
      }
    }
  }
  if (issues.length > 0) {
    throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
  }

  const byIdOrder = (a: { id?: string }, b: { id?: string }): number => (a.id ?? '').localeCompare(b.id ?? '');
  const planDefinitions = resources.filter((r): r is PlanDefinition => r.resourceType === 'PlanDefinition');
  const activityDefinitions = resources.filter((r): r is ActivityDefinition => r.resourceType === 'ActivityDefinition');
  const codeSystems = resources.filter((r): r is CodeSystem => r.resourceType === 'CodeSystem');

  return {
    dir,
    planDefinitions: planDefinitions.sort(byIdOrder),
    activityDefinitions: activityDefinitions.sort(byIdOrder),
    codeSystems: codeSystems.sort(byIdOrder),
    get: (idOrCanonical) => lookUp(idOrCanonical, byId, byUrl),
  };
}

function lookUp(
  key: string,
  byId: ReadonlyMap<string, PlanDefinition | ActivityDefinition>,
  byUrl: ReadonlyMap<string, PlanDefinition | ActivityDefinition>
): PlanDefinition | ActivityDefinition | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(key)) {
    // A canonical may pin a version after `|` (FHIR R4 references.html#canonical).
    const [url, version] = key.split('|', 2);
    const found = byUrl.get(url);
    return found && (version === undefined || version === found.version) ? found : undefined;
  }
  const slash = key.indexOf('/');
  if (slash >= 0) {
    const found = byId.get(key.slice(slash + 1));
    return found?.resourceType === key.slice(0, slash) ? found : undefined;
  }
  return byId.get(key);
}

function readLibraryResource(file: string, issues: OperationOutcomeIssue[]): ProtocolLibraryResource | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    issues.push(issue(file, `not readable as JSON (${(err as Error).message})`));
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !('resourceType' in parsed)) {
    issues.push(issue(file, 'not a FHIR resource (no resourceType)'));
    return undefined;
  }
  const resourceType = parsed.resourceType;
  if (!isLibraryType(resourceType)) {
    issues.push(issue(file, `resourceType ${JSON.stringify(resourceType)} does not belong in the protocol library`));
    return undefined;
  }
  const resource = parsed as ProtocolLibraryResource;
  const expected = `${resourceType}-${resource.id ?? ''}.json`;
  if (!resource.id || basename(file) !== expected) {
    issues.push(issue(file, `file name must be ${resourceType}-<id>.json (id ${resource.id ?? 'missing'})`));
    return undefined;
  }
  return resource;
}

function isLibraryType(value: unknown): value is LibraryType {
  return typeof value === 'string' && (LIBRARY_TYPES as readonly string[]).includes(value);
}

function issue(source: string, text: string, expression?: string): OperationOutcomeIssue {
  return {
    severity: 'error',
    code: 'invalid',
    details: { text: `${source}: ${text}` },
    ...(expression ? { expression: [expression] } : {}),
  };
}
