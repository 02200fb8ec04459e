import { validateResource } from '@medplum/core';
import type { Condition, Observation, Procedure } from '@medplum/fhirtypes';
import { loadBaseDefinitions } from '../src/fhir/definitions';
import { generateCohort } from '../src/cohort/generateCohort';
import { METRIC_NAMES, METRICS, type MetricName } from '../src/fhir/metricCatalogue';
import { UCUM_SYSTEM } from '../src/fhir/ucum';
import { addDays } from '../src/calendar/calendarDay';
import { computeTwin } from '../src/twin/computeTwin';
import { injuryPeriods } from '../src/twin/injuryPeriods';
import { TWIN_CONCEPT_SYSTEM, TWIN_PROFILE, TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';

/**
 * Property-style: for every patient of a generated cohort (athletes, injured athletes, post-surgery patients, with
 * gaps and device changes), every baseline and state the twin produces has exactly the shape of notes/twin-model.md.
 */
const PID = 'cohort-patient';
/** Jest's asymmetric matcher, typed so it can sit inside expected objects without leaking `any`. */
const anyNumber: unknown = expect.any(Number);
const anyString: unknown = expect.any(String);

function metricOfCoding(coding: Observation['code']['coding']): MetricName | undefined {
  return METRIC_NAMES.find((m) => JSON.stringify(METRICS[m].codings) === JSON.stringify(coding));
}

function expectUnitless(q: Observation['valueQuantity']): void {
  expect(q).toEqual({ value: anyNumber, unit: '1', system: UCUM_SYSTEM, code: '1' });
  expect(Number.isFinite(q?.value)).toBe(true);
}

function checkBaseline(o: Observation): void {
  expect(Object.keys(o)).toEqual([
    'resourceType',
    'meta',
    'identifier',
    'status',
    'category',
    'code',
    'subject',
    'effectivePeriod',
    'valueQuantity',
    'method',
    'referenceRange',
    'component',
  ]);
  expect(o.meta).toEqual({ profile: [TWIN_PROFILE.baseline] });
  const metric = metricOfCoding(o.code.coding);
  expect(metric).toBeDefined();
  const def = METRICS[metric!];
  expect(o.identifier).toEqual([{ system: TWIN_RESOURCE_SYSTEM, value: `baseline/${PID}/${metric}` }]);
  expect(o.status).toBe('final');
  expect(o.category).toEqual([
    { coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'twin-baseline', display: 'Twin personal baseline' }] },
  ]);
  expect(o.code.text).toBe(def.display);
  expect(o.subject).toEqual({ reference: `Patient/${PID}` });
  expect(o.effectivePeriod?.start).toBe(addDays(o.effectivePeriod!.end!, -28));
  const quantity = { unit: anyString, system: UCUM_SYSTEM, code: def.unit };
  expect(o.valueQuantity).toEqual({ value: anyNumber, ...quantity });
  expect(o.method).toEqual({ coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'robust-median-mad' }] });
  const [range] = o.referenceRange ?? [];
  expect(o.referenceRange).toHaveLength(1);
  expect(range).toEqual({
    low: { value: anyNumber, ...quantity },
    high: { value: anyNumber, ...quantity },
    text: 'personal normal band: centre ± 2 robust SD',
  });
  const centre = o.valueQuantity!.value!;
  expect(range.low!.value!).toBeLessThan(centre);
  expect(range.high!.value!).toBeGreaterThan(centre);
  const codes = o.component?.map((c) => [c.code.coding?.[0].system, c.code.coding?.[0].code]);
  expect(codes).toEqual([
    [TWIN_CONCEPT_SYSTEM, 'baseline-spread'],
    [TWIN_CONCEPT_SYSTEM, 'baseline-sample-count'],
    [TWIN_CONCEPT_SYSTEM, 'baseline-window-days'],
    [TWIN_CONCEPT_SYSTEM, 'baseline-prior-weight'],
  ]);
  const [spread, n, window, weight] = o.component!;
  expect(spread.valueQuantity).toEqual({ value: anyNumber, ...quantity });
  expect(spread.valueQuantity!.value!).toBeGreaterThan(0);
  // The band is centre ± 2 spread, up to the rounding of each figure.
  const tolerance = 3 * 10 ** -Math.min(3, def.decimals + 1);
  expect(Math.abs(range.high!.value! - range.low!.value! - 4 * spread.valueQuantity!.value!)).toBeLessThanOrEqual(
    tolerance * 5
  );
  expect(Number.isInteger(n.valueInteger)).toBe(true);
  expect(n.valueInteger).toBeGreaterThanOrEqual(0);
  expect(n.valueInteger).toBeLessThanOrEqual(28);
  expect(window.valueInteger).toBe(28);
  expectUnitless(weight.valueQuantity);
  expect(weight.valueQuantity!.value!).toBeGreaterThanOrEqual(0);
  expect(weight.valueQuantity!.value!).toBeLessThanOrEqual(1);
}

function checkState(o: Observation): void {
  expect(Object.keys(o)).toEqual([
    'resourceType',
    'meta',
    'identifier',
    'status',
    'category',
    'code',
    'subject',
    'effectiveDateTime',
    'valueQuantity',
    'component',
  ]);
  expect(o.meta).toEqual({ profile: [TWIN_PROFILE.recoveryState] });
  expect(o.effectiveDateTime).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  expect(o.identifier).toEqual([{ system: TWIN_RESOURCE_SYSTEM, value: `state/${PID}/${o.effectiveDateTime}` }]);
  expect(o.status).toBe('final');
  expect(o.category).toEqual([{ coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'twin-recovery-state' }] }]);
  expect(o.code).toEqual({
    coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'recovery-index', display: 'Recovery index' }],
  });
  expect(o.subject).toEqual({ reference: `Patient/${PID}` });
  expectUnitless(o.valueQuantity);
  expect(Math.abs(o.valueQuantity!.value!)).toBeLessThanOrEqual(4);
  const components = o.component ?? [];
  expect(components.length).toBeGreaterThanOrEqual(2);
  const completeness = components[components.length - 1];
  expect(completeness.code.coding).toEqual([
    { system: TWIN_CONCEPT_SYSTEM, code: 'data-completeness', display: 'Data completeness' },
  ]);
  expect(completeness.valueQuantity).toEqual({ value: anyNumber, unit: '%', system: UCUM_SYSTEM, code: '%' });
  expect(completeness.valueQuantity!.value!).toBeGreaterThan(0);
  expect(completeness.valueQuantity!.value!).toBeLessThanOrEqual(100);
  const metrics = components.slice(0, -1).map((c) => {
    expectUnitless(c.valueQuantity);
    return metricOfCoding(c.code.coding);
  });
  expect(metrics.every((m) => m !== undefined)).toBe(true);
  expect(metrics).toEqual([...metrics].sort());
  expect(new Set(metrics).size).toBe(metrics.length);
}

test('every baseline and state of generated cohort patients has the twin-model.md shape', () => {
  let baselines = 0;
  let states = 0;
  const sample: Observation[] = [];
  for (const patient of generateCohort({ patients: 8, days: 120, seed: 2026, startDate: '2026-01-01' })) {
    const resources = (patient.bundle.entry ?? []).map((e) => e.resource);
    const observations = resources.filter((r): r is Observation => r?.resourceType === 'Observation');
    const result = computeTwin({
      patientId: PID,
      observations,
      excludedPeriods: injuryPeriods(
        resources.filter((r): r is Condition => r?.resourceType === 'Condition'),
        resources.filter((r): r is Procedure => r?.resourceType === 'Procedure')
      ),
    });
    expect(result.counts.rejected).toBe(0);
    expect(result.counts.accepted).toBe(observations.length);
    result.baselines.forEach(checkBaseline);
    result.states.forEach(checkState);
    const ids = [...result.baselines, ...result.states].map((o) => o.identifier?.[0].value);
    expect(new Set(ids).size).toBe(ids.length);
    const days = result.states.map((s) => s.effectiveDateTime!);
    expect(days).toEqual([...days].sort());
    // The generator writes every metric it simulates with at least some data: a baseline for each.
    expect(result.baselines.length).toBe(new Set(observations.map((o) => o.code.coding?.[0].code)).size);
    sample.push(...result.baselines.slice(0, 2), ...result.states.slice(-2));
    baselines += result.baselines.length;
    states += result.states.length;
  }
  expect(baselines).toBeGreaterThan(50);
  expect(sample.length).toBeGreaterThan(10);
  // Base R4 validation (structure, cardinalities, invariants such as obs-6/obs-7); the twin profiles themselves are
  // checked by the profile tests once fhir-profiles/ holds them, so meta.profile is left out here.
  loadBaseDefinitions();
  for (const o of sample) {
    expect(() => validateResource({ ...o, meta: undefined })).not.toThrow();
  }
  expect(states).toBeGreaterThan(800);
});
