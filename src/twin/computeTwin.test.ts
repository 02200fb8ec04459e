import type { Condition, Observation, Procedure } from '@medplum/fhirtypes';
import { generateCohort } from '../cohort/generateCohort';
import { createPrng } from '../cohort/prng';
import { affectedDays, firstDayNeeded } from './affectedDays';
import { computeTwin, type TwinResult } from './computeTwin';
import { injuryPeriods } from './injuryPeriods';
import { componentValue, dailyObservations, dayOf, obs, PATIENT } from '../../test/twin.fixtures';

/** A cohort patient's Observations with server-style ids and a Patient/{id} subject. */
function cohortObservations(days = 60, index = 0): Observation[] {
  const cohort = generateCohort({ patients: index + 1, days, seed: 11, startDate: '2026-01-05' });
  let patient;
  for (const p of cohort) {
    patient = p;
  }
  return (patient?.bundle.entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is Observation => r?.resourceType === 'Observation')
    .map((o, i) => ({ ...o, id: `obs-${i}`, subject: { reference: `Patient/${PATIENT}` } }));
}

/** Real-world mess on top of clean data: replays, versions, retractions, cross-id duplicates, garbage. */
function messy(clean: Observation[]): Observation[] {
  const out = [...clean];
  for (let i = 0; i < 20; i++) {
    out.push(structuredClone(clean[i * 7]));
  }
  for (let i = 0; i < 10; i++) {
    const original = clean[i * 11 + 3];
    original.meta = { ...original.meta, versionId: '1', lastUpdated: '2026-04-01T00:00:00Z' };
    const amended = structuredClone(original);
    amended.status = 'amended';
    amended.meta = { versionId: '2', lastUpdated: '2026-04-02T00:00:00Z' };
    amended.valueQuantity = { ...amended.valueQuantity, value: (amended.valueQuantity?.value ?? 0) * 0.9 };
    out.push(amended);
  }
  for (let i = 0; i < 5; i++) {
    out.push({ ...structuredClone(clean[i * 13 + 5]), status: 'entered-in-error' });
  }
  for (let i = 0; i < 5; i++) {
    out.push({ ...structuredClone(clean[i * 17 + 2]), id: `copy-${i}` });
  }
  const bad = obs({ metric: 'resting-heart-rate', value: 999, id: 'bad-1' });
  const noSubject = obs({ metric: 'steps', value: 5000, id: 'bad-2' });
  delete noSubject.subject;
  const unknownCode = obs({ metric: 'heart-rate', value: 60, id: 'bad-3' });
  unknownCode.code = { coding: [{ system: 'http://loinc.org', code: '85354-9' }] };
  const otherPatient = obs({ metric: 'steps', value: 5000, id: 'bad-4' });
  otherPatient.subject = { reference: 'Patient/someone-else' };
  out.push(bad, noSubject, unknownCode, otherPatient, { resourceType: 'Basic' } as unknown as Observation);
  return out;
}

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const prng = createPrng(seed, 'shuffle');
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(prng.next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const twin = (observations: readonly Observation[], extra = {}): TwinResult =>
  computeTwin({ patientId: PATIENT, observations, ...extra });

describe('computeTwin', () => {
  const input = messy(cohortObservations());
  const reference = twin(input);

  test('counts every input exactly once and lists rejections without values', () => {
    const { counts } = reference;
    expect(counts.accepted + counts.duplicates + counts.retracted + counts.rejected).toBe(input.length);
    expect(counts.retracted).toBe(10); // five identities, each seen twice (original + entered-in-error copy)
    expect(counts.duplicates).toBe(20 + 10 + 5);
    expect(counts.rejected).toBe(5);
    expect(reference.rejected.map((r) => r.reason)).toEqual(
      expect.arrayContaining([
        'code is not a catalogue metric',
        'missing subject',
        'subject is a different patient',
        'not an Observation',
      ])
    );
    expect(JSON.stringify(reference.rejected)).not.toContain('999');
    expect(reference.states.length).toBeGreaterThan(50);
  });

  test('any arrival order gives byte-identical output', () => {
    const expected = JSON.stringify(reference);
    for (let seed = 1; seed <= 25; seed++) {
      expect(JSON.stringify(twin(shuffle(input, seed)))).toBe(expected);
    }
  });

  test('replaying the input gives the same twin; only the duplicate count grows', () => {
    const replayed = twin([...input, ...shuffle(input, 99)]);
    expect(JSON.stringify(replayed.baselines)).toBe(JSON.stringify(reference.baselines));
    expect(JSON.stringify(replayed.states)).toBe(JSON.stringify(reference.states));
    expect(replayed.counts.accepted).toBe(reference.counts.accepted);
  });

  test('a retraction removes the measurement; an amendment replaces it', () => {
    const base = dailyObservations('resting-heart-rate', 0, 20, 55, 1);
    const target = base[19];
    const withOutlier = [...base.slice(0, 19), { ...target, valueQuantity: { ...target.valueQuantity, value: 90 } }];
    const stateOfLastDay = (r: TwinResult): number | undefined =>
      r.states.find((s) => s.effectiveDateTime === dayOf(19))?.valueQuantity?.value;
    expect(stateOfLastDay(twin(withOutlier))).toBeLessThan(-3);
    const retracted = twin([...withOutlier, { ...target, status: 'entered-in-error' }]);
    expect(retracted.states.find((s) => s.effectiveDateTime === dayOf(19))).toBeUndefined();
    const amended = twin([
      ...withOutlier.map((o) => (o.id === target.id ? { ...o, meta: { versionId: '1' } } : o)),
      { ...target, status: 'amended', meta: { versionId: '2' } },
    ]);
    expect(Math.abs(stateOfLastDay(amended) ?? 99)).toBeLessThan(2);
  });

  test('an illness-like rise gives a positive resting-HR deviation and a negative recovery index', () => {
    const observations = [
      ...dailyObservations('resting-heart-rate', 0, 30, 55, 1.5),
      ...dailyObservations('hrv-rmssd', 0, 30, 60, 5),
      ...dailyObservations('resting-heart-rate', 30, 3, 63, 0.5),
      ...dailyObservations('hrv-rmssd', 30, 3, 42, 2),
    ];
    const result = twin(observations);
    for (const day of [30, 31, 32]) {
      const state = result.states.find((s) => s.effectiveDateTime === dayOf(day));
      expect(componentValue(state!, 'resting-heart-rate')).toBeGreaterThan(2);
      expect(componentValue(state!, 'hrv-rmssd')).toBeLessThan(-1);
      expect(state?.valueQuantity?.value).toBeLessThan(-1);
      expect(componentValue(state!, 'data-completeness')).toBe(100);
    }
    const ordinary = result.states.find((s) => s.effectiveDateTime === dayOf(25));
    expect(Math.abs(ordinary?.valueQuantity?.value ?? 99)).toBeLessThan(1.5);
  });

  test('completeness counts metrics with a baseline that have no value today', () => {
    const result = twin([
      ...dailyObservations('resting-heart-rate', 0, 20, 55, 1),
      ...dailyObservations('hrv-rmssd', 0, 19, 60, 5),
    ]);
    const lastDay = result.states.find((s) => s.effectiveDateTime === dayOf(19));
    expect(componentValue(lastDay!, 'data-completeness')).toBe(50);
  });

  test('incremental: recomputing only the affected days from a bounded read gives the same states', () => {
    const clean = cohortObservations(90, 1);
    const full = twin(clean);
    const day = '2026-02-20';
    const W = 28;
    const range = affectedDays(day, W);
    const readFrom = firstDayNeeded(range, W);
    const window = clean.filter((o) => {
      const d = (o.effectiveDateTime ?? '').slice(0, 10);
      return d >= readFrom && d <= range.to;
    });
    const partial = twin(window, { emitStates: range });
    const inRange = full.states.filter((s) => s.effectiveDateTime! >= range.from && s.effectiveDateTime! <= range.to);
    expect(partial.states.length).toBe(inRange.length);
    expect(partial.states.length).toBeGreaterThan(20);
    expect(JSON.stringify(partial.states)).toBe(JSON.stringify(inRange));
    // The weekly baselines in force renewed inside the range are the same too (retrievable for any day).
    const monday = (o: { identifier?: { value?: string }[] }): string => o.identifier?.[0].value?.split('/')[3] ?? '';
    const weeks = (list: typeof full.baselinesInForce): string[] =>
      list.filter((b) => monday(b) > range.from && monday(b) <= range.to).map((b) => JSON.stringify(b));
    expect(weeks(partial.baselinesInForce).length).toBeGreaterThan(10);
    expect(weeks(partial.baselinesInForce)).toEqual(weeks(full.baselinesInForce));
  });

  test('rejects malformed options as a 400', () => {
    expect(() => twin([], { asOf: 'yesterday' })).not.toThrow(); // no data: nothing to compute, asOf unused
    expect(() => twin(dailyObservations('steps', 0, 2, 5000, 100), { asOf: 'yesterday' })).toThrow(/asOf/);
    expect(() => computeTwin({ patientId: PATIENT, observations: [] }, { windowDays: 0 })).toThrow(/windowDays/);
  });
});

describe('injuryPeriods', () => {
  const subject = { reference: `Patient/${PATIENT}` };
  test('a Condition onset and a Procedure give post-injury periods; refuted and not-done ones do not', () => {
    const conditions: Condition[] = [
      { resourceType: 'Condition', subject, onsetDateTime: '2026-03-10' },
      {
        resourceType: 'Condition',
        subject,
        onsetDateTime: '2026-03-01T22:00:00-05:00',
        abatementDateTime: '2026-03-05',
      },
      {
        resourceType: 'Condition',
        subject,
        onsetDateTime: '2026-01-01',
        verificationStatus: { coding: [{ code: 'refuted' }] },
      },
    ];
    const procedures: Procedure[] = [
      { resourceType: 'Procedure', subject, status: 'completed', performedDateTime: '2026-04-01T09:00:00Z' },
      { resourceType: 'Procedure', subject, status: 'not-done', performedDateTime: '2026-05-01' },
    ];
    expect(injuryPeriods(conditions, procedures, { postInjuryDays: 14 })).toEqual([
      { start: '2026-03-02', end: '2026-03-05', reason: 'post-injury' },
      { start: '2026-03-10', end: '2026-03-23', reason: 'post-injury' },
      { start: '2026-04-01', end: '2026-04-14', reason: 'post-injury' },
    ]);
  });
});
