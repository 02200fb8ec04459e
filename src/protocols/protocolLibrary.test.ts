import { isResourceType, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue, PlanDefinition, PlanDefinitionAction, Resource } from '@medplum/fhirtypes';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBaseDefinitions } from '../fhir/definitions';
import { createValidator } from '../fhir/validation';
import { defaultProtocolDir, loadProtocolLibrary } from './protocolLibrary';

const DIR = defaultProtocolDir();
const BASE = 'https://recovery-twin.dev/fhir';
const INDICATION_SYSTEM = `${BASE}/CodeSystem/recovery-protocol-indication`;
const PROTOCOL_IDS = [
  'acl-reconstruction',
  'ankle-sprain',
  'hamstring-strain',
  'concussion-return-to-sport',
  'rotator-cuff-repair',
  'total-knee-replacement',
  'total-hip-replacement',
  'low-back-pain',
  'achilles-tendinopathy',
  'cardiac-rehabilitation',
  'return-to-exercise-after-viral-illness',
  'overreaching-under-recovery',
];

function jsonFiles(): string[] {
  return readdirSync(DIR)
    .filter((name) => name.endsWith('.json'))
    .sort();
}

function issuesOf(fn: () => void): OperationOutcomeIssue[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OperationOutcomeError);
    return (err as OperationOutcomeError).outcome.issue ?? [];
  }
  throw new Error('expected an OperationOutcomeError');
}

function allActions(actions: readonly PlanDefinitionAction[] | undefined): PlanDefinitionAction[] {
  return (actions ?? []).flatMap((a) => [a, ...allActions(a.action)]);
}

const library = loadProtocolLibrary();

describe('protocol library content', () => {
  test.each(jsonFiles())('%s validates against base R4', (fileName) => {
    const validator = createValidator({ profileDirs: [] });
    const resource = JSON.parse(readFileSync(join(DIR, fileName), 'utf8')) as Resource;
    expect(() => validator.validate(resource)).not.toThrow();
  });

  test('R4 has no Citation resource, so sources are relatedArtifact citations', () => {
    // Citation arrived in R5; the definitions the validator uses are R4 4.0.1.
    loadBaseDefinitions();
    expect(isResourceType('PlanDefinition')).toBe(true);
    expect(isResourceType('Citation')).toBeFalsy();
    expect(jsonFiles().filter((f) => f.startsWith('Citation-'))).toEqual([]);
  });

  test('holds the twelve protocols, each in its own file', () => {
    expect(library.planDefinitions.length).toBeGreaterThanOrEqual(12);
    expect(library.planDefinitions.map((p) => p.id)).toEqual(expect.arrayContaining(PROTOCOL_IDS));
  });

  test('ids are unique and every url is the canonical of its id', () => {
    const all = [...library.planDefinitions, ...library.activityDefinitions, ...library.codeSystems];
    const ids = all.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(all.length).toBe(jsonFiles().length);
    for (const r of all) {
      expect({ id: r.id, url: r.url }).toEqual({ id: r.id, url: `${BASE}/${r.resourceType}/${r.id ?? ''}` });
    }
  });

  test.each(PROTOCOL_IDS)('%s is a clinical protocol with phases, entry criteria and citations', (id) => {
    const plan = library.get(id) as PlanDefinition;
    expect(plan).toMatchObject({
      resourceType: 'PlanDefinition',
      version: '0.1.0',
      status: 'active',
      experimental: false,
      publisher: 'recovery-twin',
      type: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/plan-definition-type', code: 'clinical-protocol' }],
      },
    });
    expect(plan.name).toMatch(/^[A-Z][A-Za-z0-9]*$/);
    expect(plan.title && plan.description && plan.purpose && plan.usage).toBeTruthy();
    expect(plan.goal?.length).toBeGreaterThanOrEqual(1);

    // Retrieval matches on topic: the indication code of the protocol itself, and keyword texts.
    const codes = (plan.topic ?? []).flatMap((t) => t.coding ?? []);
    expect(codes).toContainEqual(expect.objectContaining({ system: INDICATION_SYSTEM, code: id }));
    expect((plan.topic ?? []).every((t) => !!t.text)).toBe(true);

    const phases = plan.action ?? [];
    expect(phases.length).toBeGreaterThanOrEqual(3);
    expect(phases.length).toBeLessThanOrEqual(6);
    for (const phase of phases) {
      expect(phase.title).toBeTruthy();
      expect(phase.description).toBeTruthy();
      const expressions = (phase.condition ?? []).map((c) => c.expression);
      expect(expressions.length).toBeGreaterThanOrEqual(1);
      for (const e of expressions) {
        expect(e).toMatchObject({ language: 'text/fhirpath' });
        expect(e?.expression?.trim()).toBeTruthy();
        expect(e?.description?.trim()).toBeTruthy();
      }
      expect(phase.action?.length).toBeGreaterThanOrEqual(1);
    }

    const goalIds = new Set((plan.goal ?? []).map((g) => g.id));
    for (const action of allActions(phases)) {
      for (const goalId of action.goalId ?? []) {
        expect(goalIds).toContain(goalId);
      }
    }

    const citations = (plan.relatedArtifact ?? []).filter((a) => a.type === 'citation');
    expect(citations.length).toBeGreaterThanOrEqual(1);
    for (const c of citations) {
      expect(c.label?.trim()).toBeTruthy();
      expect(c.citation?.trim()).toBeTruthy();
    }
  });

  test('every activity of every phase is an ActivityDefinition of the library, or says what it is', () => {
    const unresolved: string[] = [];
    for (const plan of library.planDefinitions) {
      for (const phase of plan.action ?? []) {
        for (const activity of allActions(phase.action)) {
          if (activity.definitionCanonical) {
            if (library.get(activity.definitionCanonical)?.resourceType !== 'ActivityDefinition') {
              unresolved.push(`${plan.id ?? ''}: ${activity.definitionCanonical}`);
            }
          } else if (!activity.description || !activity.type) {
            unresolved.push(`${plan.id ?? ''}: ${activity.title ?? '(untitled)'} has neither definition nor type`);
          }
        }
      }
    }
    expect(unresolved).toEqual([]);
  });

  test('every topic code is defined in the indication CodeSystem', () => {
    const codeSystem = library.codeSystems.find((cs) => cs.url === INDICATION_SYSTEM);
    const defined = new Set((codeSystem?.concept ?? []).map((c) => c.code));
    expect(defined).toEqual(new Set(PROTOCOL_IDS));
    const used = library.planDefinitions.flatMap((p) =>
      (p.topic ?? []).flatMap((t) => t.coding ?? []).filter((c) => c.system === INDICATION_SYSTEM)
    );
    expect(used.filter((c) => !defined.has(c.code ?? ''))).toEqual([]);
  });

  test('every condition variable is documented in the README', () => {
    const readme = readFileSync(join(DIR, 'README.md'), 'utf8');
    const documented = new Set([...readme.matchAll(/`(%[A-Za-z][A-Za-z0-9]*)`/g)].map((m) => m[1]));
    const used = new Set<string>();
    for (const plan of library.planDefinitions) {
      for (const action of allActions(plan.action)) {
        for (const condition of action.condition ?? []) {
          for (const m of (condition.expression?.expression ?? '').matchAll(/%[A-Za-z][A-Za-z0-9]*/g)) {
            used.add(m[0]);
          }
        }
      }
    }
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((v) => !documented.has(v)).sort()).toEqual([]);
  });

  test('no identifier the project may not invent: no DOI, PMID, SNOMED CT or LOINC anywhere', () => {
    const offending: string[] = [];
    for (const fileName of jsonFiles()) {
      const text = readFileSync(join(DIR, fileName), 'utf8');
      if (/doi|pmid|10\.\d{4}\//i.test(text) || /snomed\.info|loinc\.org/i.test(text)) {
        offending.push(fileName);
      }
    }
    expect(offending).toEqual([]);
  });
});

describe('loadProtocolLibrary', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'protocols-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('looks a resource up by id, relative reference and canonical (with or without version)', () => {
    const url = `${BASE}/PlanDefinition/low-back-pain`;
    expect(library.get('low-back-pain')?.url).toBe(url);
    expect(library.get('PlanDefinition/low-back-pain')?.url).toBe(url);
    expect(library.get('ActivityDefinition/low-back-pain')).toBeUndefined();
    expect(library.get(url)?.id).toBe('low-back-pain');
    expect(library.get(`${url}|0.1.0`)?.id).toBe('low-back-pain');
    expect(library.get(`${url}|9.9.9`)).toBeUndefined();
    expect(library.get('no-such-protocol')).toBeUndefined();
  });

  test('names the file that is not JSON, and every other broken file, in one error', () => {
    copyFileSync(join(DIR, 'PlanDefinition-ankle-sprain.json'), join(dir, 'PlanDefinition-ankle-sprain.json'));
    writeFileSync(join(dir, 'PlanDefinition-broken.json'), '{ "resourceType": "PlanDefinition", ');
    writeFileSync(join(dir, 'Patient-x.json'), JSON.stringify({ resourceType: 'Patient', id: 'x' }));
    writeFileSync(
      join(dir, 'PlanDefinition-wrong-name.json'),
      JSON.stringify({ resourceType: 'PlanDefinition', id: 'other', status: 'active' })
    );
    const texts = issuesOf(() => loadProtocolLibrary(dir)).map((i) => i.details?.text ?? '');
    expect(texts).toHaveLength(3);
    expect(texts).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/PlanDefinition-broken\.json: not readable as JSON/),
        expect.stringMatching(/Patient-x\.json: resourceType "Patient" does not belong/),
        expect.stringMatching(/PlanDefinition-wrong-name\.json: file name must be/),
      ])
    );
  });

  test('rejects two files with the same url', () => {
    const plan = JSON.parse(readFileSync(join(DIR, 'PlanDefinition-ankle-sprain.json'), 'utf8')) as PlanDefinition;
    writeFileSync(join(dir, 'PlanDefinition-a.json'), JSON.stringify({ ...plan, id: 'a' }));
    writeFileSync(join(dir, 'PlanDefinition-b.json'), JSON.stringify({ ...plan, id: 'b' }));
    const texts = issuesOf(() => loadProtocolLibrary(dir)).map((i) => i.details?.text ?? '');
    expect(texts).toEqual([expect.stringMatching(/PlanDefinition\/b: url .* is also used by PlanDefinition\/a/)]);
  });

  test('a missing folder is an error, not an empty library', () => {
    const texts = issuesOf(() => loadProtocolLibrary(join(dir, 'nope'))).map((i) => i.details?.text ?? '');
    expect(texts).toEqual([expect.stringMatching(/does not exist/)]);
  });
});
