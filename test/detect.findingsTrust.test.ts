/**
 * Issue 11, "Findings that respect what the record already says": deviations that start at a recorded condition,
 * procedure or device change are attributed (or suppressed, and counted), outcome labels follow the evidence,
 * sustained shifts stay open as "new normal?", wording says better or worse, basis leads with the peak, the daily
 * states and the baseline in force.
 */
import type { Bundle, Condition, Patient, RiskAssessment, Task } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDays, parseDay } from '../src/calendar/calendarDay';
import type { DayScore } from '../src/detect/causalScorer';
import { alarmEpisodes } from '../src/detect/findings/alarmEpisodes';
import { attributeEpisode, deviceChanges } from '../src/detect/findings/episodeAttribution';
import { episodeDeviations } from '../src/detect/findings/episodeExplanation';
import { buildFinding } from '../src/detect/findings/findingResources';
import {
  DEFAULT_FINDINGS_OPTIONS,
  wantsReviewTask,
  writeFindingsForPatients,
  type FindingsDeps,
} from '../src/detect/findings/findingsWriter';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import type { MetricName } from '../src/fhir/metricCatalogue';
import { createValidator } from '../src/fhir/validation';
import { buildMetricObservation } from '../src/ingest/importers/metricObservation';
import { openSqliteStore, type SqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';

const START = '2026-01-01';
const validator = createValidator();
const dirs: string[] = [];
const stores: SqliteStore[] = [];

afterAll(() => {
  stores.forEach((s) => s.close());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

async function emptyStore(): Promise<{ client: LocalFhirClient; deps: FindingsDeps }> {
  const dir = mkdtempSync(join(tmpdir(), 'twin-trust-'));
  dirs.push(dir);
  const store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  stores.push(store);
  const client = new LocalFhirClient(store.repo, createEmbeddedRouter());
  return { client, deps: { client, validate: (r) => validator.validate(r), today: () => '2026-06-01' } };
}

type Signal = (d: number) => number | undefined;

/** A patient with 90 days of the given daily signals (day index from START), and optional device per day. */
async function seed(
  client: LocalFhirClient,
  key: string,
  signals: Partial<Record<MetricName, Signal>>,
  device: (d: number) => string | undefined = () => undefined,
  days = 90
): Promise<string> {
  const created = await client.transaction({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        resource: { resourceType: 'Patient', active: true } satisfies Patient,
        request: { method: 'POST', url: 'Patient' },
      },
    ],
  });
  const id = /Patient\/([^/]+)/.exec(created.entry?.[0]?.response?.location ?? '')?.[1] ?? '';
  const entry: Bundle['entry'] = [];
  for (let d = 0; d < days; d++) {
    for (const [metric, f] of Object.entries(signals) as [MetricName, Signal][]) {
      const value = f(d);
      if (value === undefined) {
        continue;
      }
      const o = buildMetricObservation({
        source: 'test',
        subjectKey: key,
        subject: { reference: `Patient/${id}` },
        metric,
        day: addDays(START, d),
        value,
        deviceDisplay: device(d),
      });
      entry.push({ resource: o, request: { method: 'POST', url: 'Observation' } });
    }
  }
  await client.transaction({ resourceType: 'Bundle', type: 'transaction', entry });
  return id;
}

const wobble = (d: number, period: number, amplitude: number): number =>
  (((d * 7) % period) / (period - 1) - 0.5) * amplitude;

/** An ankle sprain on day 60: steps down, pain up, resting HR up and HRV down (pain and stress), no fever. */
function sprainSignals(withFever: boolean): Partial<Record<MetricName, Signal>> {
  const after = (d: number): boolean => d >= 60;
  return {
    'resting-heart-rate': (d) => 58 + wobble(d, 5, 3) + (after(d) ? 7 : 0),
    'hrv-rmssd': (d) => 55 + wobble(d, 7, 6) - (after(d) ? 15 : 0),
    steps: (d) => Math.round(9000 + wobble(d, 6, 1500) - (after(d) ? 6000 : 0)),
    'pain-severity': (d) => (after(d) ? 6 : 1 + (d % 2)),
    ...(withFever ? { 'body-temperature': (d: number) => 36.6 + wobble(d, 4, 0.3) + (after(d) ? 1.4 : 0) } : {}),
  };
}

async function recordSprain(client: LocalFhirClient, patientId: string): Promise<void> {
  const condition: Condition = {
    resourceType: 'Condition',
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
    },
    // Text only: the test needs no clinical code.
    code: { text: 'Sprain of ankle' },
    subject: { reference: `Patient/${patientId}` },
    onsetDateTime: addDays(START, 60),
  };
  await client.transaction({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [{ resource: condition, request: { method: 'POST', url: 'Condition' } }],
  });
}

async function findingsOf(client: LocalFhirClient, patientId: string): Promise<RiskAssessment[]> {
  return (await client.searchAll<RiskAssessment>('RiskAssessment', { subject: `Patient/${patientId}` })).filter(
    (r) => r.status !== 'entered-in-error'
  );
}

const outcomes = (findings: readonly RiskAssessment[]): string[] =>
  findings.map((r) => r.prediction?.[0]?.outcome?.text ?? '');

describe('known events in the record', () => {
  it('an ankle sprain on day 60 gets no "possible infection" finding: it is attributed to the sprain', async () => {
    const { client, deps } = await emptyStore();
    const id = await seed(client, 'sprain', sprainSignals(false));
    await recordSprain(client, id);
    const summary = await writeFindingsForPatients([id], deps, DEFAULT_FINDINGS_OPTIONS);
    const findings = await findingsOf(client, id);
    expect(findings.length).toBeGreaterThan(0);
    expect(outcomes(findings)).not.toContain('possible infection');
    const atSprain = findings.find((r) => r.occurrenceDateTime && r.occurrenceDateTime >= addDays(START, 58));
    expect(atSprain?.prediction?.[0]?.outcome?.text).toBe('change after a recorded condition or procedure');
    const note = atSprain?.note?.[0]?.text ?? '';
    expect(note).toMatch(/recorded condition "Sprain of ankle" \(onset 2026-03-02\) and is attributed to it/);
    expect(note).toMatch(/fits an injury or operation \((daily steps|pain)( and (daily steps|pain))? worse\)/);
    expect(atSprain?.prediction?.[0]?.qualitativeRisk?.coding?.[0]?.code).toBe('low');
    expect(summary).toMatchObject({ findingsAttributed: 1, tasksCreated: 0 });
    expect(await client.searchAll<Task>('Task', {})).toHaveLength(0);
  });

  it('the same data without the recorded sprain read as a possible infection (heart rate up, HRV down)', async () => {
    const { client, deps } = await emptyStore();
    const id = await seed(client, 'no-record', sprainSignals(false));
    await writeFindingsForPatients([id], deps, DEFAULT_FINDINGS_OPTIONS);
    expect(outcomes(await findingsOf(client, id))).toContain('possible infection');
  });

  it('a fever at the sprain keeps "possible infection": the label follows the evidence', async () => {
    const { client, deps } = await emptyStore();
    const id = await seed(client, 'fever', sprainSignals(true));
    await recordSprain(client, id);
    await writeFindingsForPatients([id], deps, DEFAULT_FINDINGS_OPTIONS);
    const findings = await findingsOf(client, id);
    expect(outcomes(findings)).toContain('possible infection');
    const note = findings.find((r) => r.prediction?.[0]?.outcome?.text === 'possible infection')?.note?.[0]?.text;
    expect(note).toMatch(/body temperature worse/);
    expect(note).toMatch(/Sprain of ankle.*but with signs of infection/);
  });

  it('a level shift that starts with a new device is suppressed and counted, not written', async () => {
    const { client, deps } = await emptyStore();
    const id = await seed(
      client,
      'device',
      { 'resting-heart-rate': (d) => 58 + wobble(d, 5, 3) + (d >= 50 ? 9 : 0) },
      (d) => (d >= 50 ? 'Watch B' : 'Watch A')
    );
    const summary = await writeFindingsForPatients([id], deps, DEFAULT_FINDINGS_OPTIONS);
    expect(summary).toMatchObject({ findingsSuppressed: 1, findingsWritten: 0 });
    expect(await findingsOf(client, id)).toHaveLength(0);
    // Without the device change the same shift is a finding.
    const other = await seed(client, 'same-device', {
      'resting-heart-rate': (d) => 58 + wobble(d, 5, 3) + (d >= 50 ? 9 : 0),
    });
    expect(await writeFindingsForPatients([other], deps, DEFAULT_FINDINGS_OPTIONS)).toMatchObject({
      findingsSuppressed: 0,
      findingsWritten: 1,
      tasksCreated: 1,
    });
    // ...a sustained change, open, that asks a clinician "new normal?" through its review Task.
    const [shift] = await findingsOf(client, other);
    expect(shift.status).toBe('preliminary');
    expect(shift.prediction?.[0]?.outcome?.text).toBe('sustained change (new normal?)');
    const [task] = await client.searchAll<Task>('Task', { subject: `Patient/${other}` });
    expect(task.description).toMatch(/sustained change \(new normal\?\)/);
  });

  it('device changes are the days a metric first comes from a source it never came from', () => {
    const sources = new Map([
      [1, new Map<MetricName, string[]>([['steps', ['a']]])],
      [2, new Map<MetricName, string[]>([['steps', ['a']]])],
      [3, new Map<MetricName, string[]>([['steps', ['b']]])],
      [4, new Map<MetricName, string[]>([['steps', ['a', 'b']]])],
    ]);
    expect(deviceChanges(sources)).toEqual([{ kind: 'device-change', day: 3, text: 'new source', metric: 'steps' }]);
  });
});

describe('episodes and their wording', () => {
  const onset = parseDay('2026-03-01') as number;
  const context = {
    patientId: 'p1',
    detector: 'ensemble' as const,
    deviceReference: 'Device/dev-1',
    deviceVersion: '1.1.0',
    alarmThreshold: 4,
    hysteresis: true,
    plateauDays: 14,
    maxBasis: 100,
  };
  const noEvidence = { basis: new Map(), twin: { states: new Map<number, string>(), baselines: [] } };
  const day = (d: number, alarm: boolean, extra: Partial<DayScore> = {}): DayScore => ({
    day: onset + d,
    score: alarm ? 5 : 0.5,
    alarm,
    reason: alarm ? 'resting-heart-rate far above personal baseline' : '',
    ...extra,
  });

  it('an episode cut at the limit while still deviated stays open as "new normal?", never "back towards baseline"', () => {
    const scores = [
      ...Array.from({ length: 21 }, (_, d) => day(d, true)),
      ...Array.from({ length: 10 }, (_, d) => day(21 + d, false, { shiftSince: onset })),
    ];
    const [episode] = alarmEpisodes(scores);
    expect(episode).toMatchObject({ shift: 'pending', open: true });
    const { riskAssessment, outcome } = buildFinding(episode, noEvidence, context);
    expect(riskAssessment.status).toBe('preliminary');
    expect(outcome).toBe('sustained change (new normal?)');
    const note = riskAssessment.note?.[0]?.text ?? '';
    expect(note).not.toMatch(/back towards baseline/);
    expect(note).toMatch(/New normal\? For a clinician to confirm/);
  });

  it('a shift that comes back within the earlier baseline closes and says when', () => {
    const scores = [
      ...Array.from({ length: 21 }, (_, d) => day(d, true)),
      ...Array.from({ length: 5 }, (_, d) => day(21 + d, false, { shiftSince: onset })),
      day(26, false),
    ];
    const [episode] = alarmEpisodes(scores);
    expect(episode).toMatchObject({ shift: 'resolved', open: false, shiftEndDay: onset + 26 });
    expect(buildFinding(episode, noEvidence, context).riskAssessment.note?.[0]?.text).toMatch(
      /back within the earlier baseline on 2026-03-27/
    );
  });

  it('a detector without shift marks (LSTM) cut at the limit is not reported as recovered either', () => {
    const [episode] = alarmEpisodes([...Array.from({ length: 21 }, (_, d) => day(d, true)), day(21, false)]);
    expect(episode.shift).toBe('pending');
  });

  it('says better or worse on the metric scale: fatigue below baseline where 5 is best is worse', () => {
    const [episode] = alarmEpisodes([day(0, true, { reason: 'fatigue far below personal baseline' }), day(1, false)]);
    const note = buildFinding(episode, noEvidence, context).riskAssessment.note?.[0]?.text ?? '';
    expect(note).toMatch(/fatigue score worse: at least 3 robust SD below the personal baseline \(higher is better/);
  });

  it('basis leads with the peak day, the daily states and the baseline in force, whatever the cap', () => {
    const scores = Array.from({ length: 30 }, (_, d) =>
      day(d, true, { score: d === 17 ? 9 : 5, reason: 'resting-heart-rate above personal baseline' })
    );
    const [episode] = alarmEpisodes([...scores, day(30, false)]);
    const basis = new Map(
      scores.map((s) => [
        s.day,
        new Map<MetricName, string[]>([
          ['resting-heart-rate', [`rhr-${s.day - onset}`]],
          ['steps', [`st-${s.day - onset}`]],
        ]),
      ])
    );
    const twin = {
      states: new Map([
        [onset, 'state-0'],
        [onset + 17, 'state-17'],
      ]),
      baselines: [
        { metric: 'resting-heart-rate' as const, id: 'base-old', asOf: onset - 30 },
        { metric: 'resting-heart-rate' as const, id: 'base-in-force', asOf: onset - 1 },
        { metric: 'resting-heart-rate' as const, id: 'base-later', asOf: onset + 40 },
      ],
    };
    const refs = buildFinding(episode, { basis, twin }, { ...context, maxBasis: 5 }).riskAssessment.basis?.map(
      (r) => r.reference
    );
    expect(refs).toEqual([
      'Observation/rhr-17',
      'Observation/state-17',
      'Observation/state-0',
      'Observation/base-in-force',
      'Observation/rhr-0',
    ]);
  });

  it('attribution windows: a condition two days after the onset counts, one ten days before does not', () => {
    const [episode] = alarmEpisodes([day(0, true), day(1, false)]);
    const deviations = episodeDeviations(episode);
    const condition = (offset: number) => ({ kind: 'condition' as const, day: onset + offset, text: 'x' });
    expect(attributeEpisode(episode, deviations, [condition(2)])?.action).toBe('attributed');
    expect(attributeEpisode(episode, deviations, [condition(-10)])).toBeUndefined();
  });
});

describe('which findings get a review Task', () => {
  const low = { qualitative: 'low' as const, rationale: '', sentence: '' };
  const options = { taskThreshold: 0.5, taskRisk: 'moderate' as const };

  it('a pending shift read as a possible infection asks a clinician even at low likelihood (its note asks them)', () => {
    expect(wantsReviewTask('possible infection', 'pending', low, options)).toBe(true);
    expect(wantsReviewTask('sustained change (new normal?)', 'pending', low, options)).toBe(true);
  });

  it('a low-likelihood episode that ended, or a shift the record explains, follows its likelihood', () => {
    expect(wantsReviewTask('possible infection', 'none', low, options)).toBe(false);
    expect(wantsReviewTask('change after a recorded condition or procedure', 'pending', low, options)).toBe(false);
    expect(wantsReviewTask('overreaching', 'none', { ...low, qualitative: 'moderate' }, options)).toBe(true);
  });
});
