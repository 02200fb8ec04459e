/**
 * Issue 5 "Outputs": alarm episodes become profiled RiskAssessments (performer -> model Device, basis -> the
 * Observations), review Tasks above a threshold, written idempotently in one transaction per patient.
 */
import type { Bundle, Device, Observation, Patient, Resource, RiskAssessment, Task } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DETECTOR_OPTIONS, type DayScore } from '../src/detect/causalScorer';
import { alarmEpisodes } from '../src/detect/findings/alarmEpisodes';
import { buildDetectorDevice, detectorSha256 } from '../src/detect/findings/detectorDevice';
import { classifyEpisode, episodeDeviations } from '../src/detect/findings/episodeExplanation';
import { findingLikelihood } from '../src/detect/findings/findingLikelihood';
import { buildFinding, buildReviewTask } from '../src/detect/findings/findingResources';
import { findingsInput } from '../src/detect/findings/findingsInput';
import {
  DEFAULT_FINDINGS_OPTIONS,
  writeFindingsForPatients,
  type FindingsDeps,
} from '../src/detect/findings/findingsWriter';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { TWIN_PROFILE } from '../src/fhir/codes/twinCanonicals';
import { createValidator } from '../src/fhir/validation';
import { buildMetricObservation } from '../src/ingest/importers/metricObservation';
import { openSqliteStore, type SqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { addDays, parseDay } from '../src/calendar/calendarDay';
import { lstmFindingSource } from '../src/detect/findings/lstmFindingSource';
import { statisticalFindingSource } from '../src/detect/findings/findingSource';
import { openLstmDetector, type LstmDetector } from '../src/detect/lstm/lstmDetector';
import { MODEL_SHA256_SYSTEM } from '../src/fhir/codes/twinCanonicals';

const START = '2026-01-01';
const validator = createValidator();
const dirs: string[] = [];
const stores: SqliteStore[] = [];

afterAll(() => {
  stores.forEach((s) => s.close());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

async function emptyStore(): Promise<{ store: SqliteStore; client: LocalFhirClient; deps: FindingsDeps }> {
  const dir = mkdtempSync(join(tmpdir(), 'twin-findings-'));
  dirs.push(dir);
  const store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  stores.push(store);
  const client = new LocalFhirClient(store.repo, createEmbeddedRouter());
  return { store, client, deps: { client, validate: (r) => validator.validate(r), today: () => '2026-06-01' } };
}

/**
 * A patient with 40 quiet days of resting HR and HRV (small deterministic wobble), then `spikeDays` days of resting HR
 * `rhrRise` up and HRV down, then `afterDays` quiet days again.
 */
async function seedPatient(
  client: LocalFhirClient,
  key: string,
  spike: { days: number; rhrRise: number; hrvDrop: number },
  afterDays: number
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
  const location = created.entry?.[0]?.response?.location ?? '';
  const id = /Patient\/([^/]+)/.exec(location)?.[1] ?? '';
  const entry: Bundle['entry'] = [];
  const total = 40 + spike.days + afterDays;
  for (let d = 0; d < total; d++) {
    const inSpike = d >= 40 && d < 40 + spike.days;
    const day = addDays(START, d);
    const rhr = 60 + ((d * 7) % 5) - 2 + (inSpike ? spike.rhrRise : 0);
    const hrv = 50 + ((d * 3) % 7) - 3 - (inSpike ? spike.hrvDrop : 0);
    for (const [metric, value] of [
      ['resting-heart-rate', rhr],
      ['hrv-rmssd', hrv],
    ] as const) {
      const o = buildMetricObservation({
        source: 'test',
        subjectKey: key,
        subject: { reference: `Patient/${id}` },
        metric,
        day,
        value,
      });
      entry.push({ resource: o, request: { method: 'POST', url: 'Observation' } });
    }
  }
  await client.transaction({ resourceType: 'Bundle', type: 'transaction', entry });
  return id;
}

async function historyCount(store: SqliteStore, resources: readonly Resource[]): Promise<number> {
  let n = 0;
  for (const r of resources) {
    n += (await store.repo.readHistory(r.resourceType, r.id as string)).entry?.length ?? 0;
  }
  return n;
}

describe('alarm episodes', () => {
  const day = (d: number, alarm: boolean, score = alarm ? 5 : 0, reason = ''): DayScore => ({
    day: d,
    score,
    alarm,
    reason,
  });

  it('groups consecutive alarm days and tells closed from open episodes', () => {
    const scores = [day(1, false), day(2, true, 4.5), day(3, true, 7), day(4, false), day(5, true, 4), day(6, true, 6)];
    const episodes = alarmEpisodes(scores);
    expect(episodes.map((e) => [e.onsetDay, e.lastDay, e.open, e.peakScore, e.peakDay])).toEqual([
      [2, 3, false, 7, 3],
      [5, 6, true, 6, 6],
    ]);
  });

  it('splits a run across a long gap without data, keeps it across a short one', () => {
    expect(alarmEpisodes([day(1, true), day(3, true), day(10, true), day(11, false)]).map((e) => e.onsetDay)).toEqual([
      1, 10,
    ]);
  });

  it('reads metrics, direction and robust-SD band from the reasons, and labels the pattern', () => {
    const [episode] = alarmEpisodes([
      day(1, true, 5, 'resting-heart-rate above personal baseline'),
      day(2, true, 6, 'resting-heart-rate far above personal baseline; hrv-rmssd below personal baseline'),
      day(3, false),
    ]);
    const deviations = episodeDeviations(episode);
    expect(deviations).toEqual([
      { metric: 'resting-heart-rate', direction: 'above', far: true, sinceDay: 1, days: 2 },
      { metric: 'hrv-rmssd', direction: 'below', far: false, sinceDay: 2, days: 1 },
    ]);
    expect(classifyEpisode(deviations, 2, 14)).toBe('possible infection');
    // Heart rate up alone: not infection evidence.
    expect(classifyEpisode([deviations[0]], 2, 14)).toBe('insufficient recovery');
    expect(classifyEpisode([{ ...deviations[0], metric: 'body-temperature' }], 2, 14)).toBe('possible infection');
    expect(classifyEpisode([{ ...deviations[0], metric: 'fatigue', direction: 'below' }], 2, 14)).toBe('overreaching');
    expect(classifyEpisode([{ ...deviations[0], metric: 'steps', direction: 'below' }], 20, 14)).toBe(
      'recovery plateau'
    );
    expect(classifyEpisode([{ ...deviations[1] }], 2, 14)).toBe('insufficient recovery');
  });

  it('states a qualitative likelihood without calibration, a probability only with one', () => {
    expect(findingLikelihood(4, 4, false)).toMatchObject({ qualitative: 'low' });
    expect(findingLikelihood(6, 4, false)).toMatchObject({ qualitative: 'moderate' });
    expect(findingLikelihood(60, 4, false).qualitative).toBe('moderate'); // never "high" uncalibrated
    expect(findingLikelihood(60, 4, true).qualitative).toBe('low'); // a recorded event explains it
    expect(findingLikelihood(60, 4, false).probability).toBeUndefined();
    expect(findingLikelihood(6, 4, false).rationale).toMatch(/not a probability/);
    const calibrated = findingLikelihood(6, 4, false, { description: 'test', probability: (s) => s / 20 });
    expect(calibrated.probability).toBe(0.3);
  });
});

describe('finding resources validate against the project profiles', () => {
  const onset = parseDay('2026-02-10') as number;
  const scores: DayScore[] = [
    { day: onset, score: 7, alarm: true, reason: 'resting-heart-rate far above personal baseline' },
    { day: onset + 1, score: 5, alarm: true, reason: 'resting-heart-rate above personal baseline' },
  ];
  const [episode] = alarmEpisodes(scores);
  const basis = {
    basis: new Map([[onset, new Map([['resting-heart-rate' as const, ['obs-1']]])]]),
    twin: { states: new Map<number, string>(), baselines: [] },
  };
  const context = {
    patientId: 'p1',
    detector: 'ensemble' as const,
    deviceReference: 'Device/dev-1',
    deviceVersion: '1.0.0',
    alarmThreshold: 4,
    hysteresis: true,
    plateauDays: 14,
    maxBasis: 50,
  };

  it('model Device: sha256 identifier of the configuration, different per detector', () => {
    const device = buildDetectorDevice('ensemble', DEFAULT_DETECTOR_OPTIONS);
    expect(() => validator.validate(device)).not.toThrow();
    expect(device.meta?.profile).toEqual([TWIN_PROFILE.modelDevice]);
    expect(device.identifier?.[0]?.value).toMatch(/^[0-9a-f]{64}$/);
    expect(detectorSha256('zscore', DEFAULT_DETECTOR_OPTIONS)).not.toBe(
      detectorSha256('ensemble', DEFAULT_DETECTOR_OPTIONS)
    );
    expect(detectorSha256('ensemble', { ...DEFAULT_DETECTOR_OPTIONS, onThreshold: 5 })).not.toBe(
      detectorSha256('ensemble', DEFAULT_DETECTOR_OPTIONS)
    );
    // The profile refuses a Device without its checksum.
    expect(() => validator.validate({ ...device, identifier: [] })).toThrow();
  });

  it('RiskAssessment: anomaly-risk-assessment, open = preliminary, a note without values', () => {
    const { riskAssessment, outcome, likelihood } = buildFinding(episode, basis, context);
    expect(() => validator.validate(riskAssessment)).not.toThrow();
    expect(riskAssessment.meta?.profile).toEqual([TWIN_PROFILE.anomalyRiskAssessment]);
    expect(riskAssessment.status).toBe('preliminary');
    expect(riskAssessment.identifier?.[0]?.value).toBe('finding/p1/ensemble/2026-02-10');
    expect(riskAssessment.occurrenceDateTime).toBe('2026-02-10');
    expect(riskAssessment.basis).toEqual([{ reference: 'Observation/obs-1' }]);
    // Heart rate up alone is not infection evidence: it also rises with pain, poor sleep, strain.
    expect(outcome).toBe('insufficient recovery');
    // Not calibrated: no probabilityDecimal, a qualitative likelihood (HL7 risk-probability) and the score's meaning.
    expect(riskAssessment.prediction?.[0]?.probabilityDecimal).toBeUndefined();
    expect(riskAssessment.prediction?.[0]?.qualitativeRisk?.coding?.[0]).toEqual({
      system: 'http://terminology.hl7.org/CodeSystem/risk-probability',
      code: likelihood.qualitative,
      display: 'Moderate likelihood',
    });
    expect(riskAssessment.note?.[0]?.text).toMatch(
      /resting heart rate worse: at least 3 robust SD above the personal baseline \(lower is better; from 2026-02-10/
    );
    // The profile refuses a prediction with neither a probability nor a qualitative likelihood.
    expect(() =>
      validator.validate({
        ...riskAssessment,
        prediction: [{ outcome: { text: outcome } }],
      })
    ).toThrow();
    // The profile refuses a finding without performer.
    expect(() => validator.validate({ ...riskAssessment, performer: undefined })).toThrow();
  });

  it('review Task validates (base R4; review-task is for CarePlan proposals and does not apply)', () => {
    const task = buildReviewTask(onset, {
      patientId: 'p1',
      detector: 'ensemble',
      findingReference: 'RiskAssessment/ra-1',
      owner: 'CareTeam/ct-1',
      outcome: 'possible infection',
      likelihood: findingLikelihood(7, 4, false),
      authoredOn: '2026-02-12',
    });
    expect(() => validator.validate(task)).not.toThrow();
    expect(task).toMatchObject({
      status: 'requested',
      intent: 'order',
      for: { reference: 'Patient/p1' },
      owner: { reference: 'CareTeam/ct-1' },
      priority: 'urgent',
      authoredOn: '2026-02-12',
    });
    expect(task.description).toMatch(/possible infection, moderate likelihood \(not a calibrated probability\)/);
    expect(task.identifier?.[0]?.value).toBe('finding-review/p1/ensemble/2026-02-10');
  });
});

describe('writing findings to the embedded store', () => {
  it('reads Observations into daily series with their ids', async () => {
    const { client } = await emptyStore();
    const id = await seedPatient(client, 'a', { days: 3, rhrRise: 20, hrvDrop: 20 }, 0);
    const observations = await client.searchAll<Observation>('Observation', { subject: `Patient/${id}` });
    const input = findingsInput(id, observations);
    expect(input.series.values.size).toBe(43);
    const first = parseDay(START) as number;
    expect(input.series.values.get(first)?.get('resting-heart-rate')).toBe(58);
    expect(input.basis.get(first)?.get('hrv-rmssd')).toHaveLength(1);
  });

  it('closed and open episodes, Tasks above the threshold, and a rerun writes nothing new', async () => {
    const { store, client, deps } = await emptyStore();
    // The ensemble's CUSUM term decays one allowance a day after a large spike, so the episode needs weeks to close.
    const closed = await seedPatient(client, 'closed', { days: 5, rhrRise: 20, hrvDrop: 20 }, 30);
    const open = await seedPatient(client, 'open', { days: 5, rhrRise: 20, hrvDrop: 20 }, 0);
    const first = await writeFindingsForPatients('all', deps, DEFAULT_FINDINGS_OPTIONS);
    expect(first).toMatchObject({
      patients: 2,
      written: 2,
      failed: 0,
      episodes: 2,
      findingsWritten: 2,
      tasksCreated: 2,
    });

    const findings = await client.searchAll<RiskAssessment>('RiskAssessment', {});
    const byPatient = new Map(findings.map((r) => [r.subject?.reference, r]));
    const closedRa = byPatient.get(`Patient/${closed}`) as RiskAssessment;
    const openRa = byPatient.get(`Patient/${open}`) as RiskAssessment;
    expect(closedRa.status).toBe('final');
    expect(openRa.status).toBe('preliminary');
    expect(closedRa.occurrenceDateTime).toBe(addDays(START, 40));
    const devices = await client.searchAll<Device>('Device', {});
    expect(devices).toHaveLength(1);
    expect(closedRa.performer?.reference).toBe(`Device/${devices[0].id}`);
    const ownObservations = new Set(
      (await client.searchAll<Observation>('Observation', { subject: `Patient/${closed}` })).map(
        (o) => `Observation/${o.id}`
      )
    );
    expect(closedRa.basis?.length).toBeGreaterThan(0);
    expect(closedRa.basis?.every((b) => ownObservations.has(b.reference ?? ''))).toBe(true);
    const tasks = await client.searchAll<Task>('Task', {});
    expect(tasks.map((t) => t.focus?.reference).sort()).toEqual(
      [`RiskAssessment/${closedRa.id}`, `RiskAssessment/${openRa.id}`].sort()
    );

    const written: Resource[] = [...findings, ...tasks, ...devices];
    const versionsBefore = await historyCount(store, written);
    const second = await writeFindingsForPatients('all', deps, DEFAULT_FINDINGS_OPTIONS);
    expect(second).toMatchObject({ findingsWritten: 0, findingsUnchanged: 2, tasksCreated: 0 });
    expect(await historyCount(store, written)).toBe(versionsBefore);
    expect(await client.searchAll<RiskAssessment>('RiskAssessment', {})).toHaveLength(2);
    expect(await client.searchAll<Task>('Task', {})).toHaveLength(2);
  });

  it('a calibrated source publishes its probability, and no Task below the threshold', async () => {
    const { client, deps } = await emptyStore();
    await seedPatient(client, 'mild', { days: 5, rhrRise: 20, hrvDrop: 20 }, 10);
    const source = {
      ...statisticalFindingSource('ensemble', DEFAULT_DETECTOR_OPTIONS),
      calibration: { description: 'test calibration', probability: () => 0.2 },
    };
    const summary = await writeFindingsForPatients('all', deps, { ...DEFAULT_FINDINGS_OPTIONS, source });
    expect(summary).toMatchObject({ findingsWritten: 1, tasksCreated: 0 });
    expect(await client.searchAll<Task>('Task', {})).toHaveLength(0);
    const [ra] = await client.searchAll<RiskAssessment>('RiskAssessment', {});
    expect(ra.prediction?.[0]?.probabilityDecimal).toBe(0.2);
    expect(ra.prediction?.[0]?.rationale).toMatch(/^Calibrated probability: test calibration/);
  });

  it('a review Task nobody picked up expires after the episode ended; none is created for old episodes', async () => {
    const { client, deps } = await emptyStore();
    await seedPatient(client, 'expiry', { days: 5, rhrRise: 20, hrvDrop: 20 }, 30);
    const options = { ...DEFAULT_FINDINGS_OPTIONS, taskExpiryDays: 28 };
    const soon = await writeFindingsForPatients('all', { ...deps, today: () => '2026-03-20' }, options);
    expect(soon).toMatchObject({ findingsWritten: 1, tasksCreated: 1 });
    const later = await writeFindingsForPatients('all', { ...deps, today: () => '2026-06-01' }, options);
    expect(later).toMatchObject({ tasksCreated: 0, tasksCancelled: 1 });
    const [task] = await client.searchAll<Task>('Task', {});
    expect(task.status).toBe('cancelled');
    expect(task.statusReason?.text).toMatch(/Not picked up within 28 days after the episode ended/);
    const [ra] = await client.searchAll<RiskAssessment>('RiskAssessment', {});
    expect(ra.status).toBe('final'); // the finding stays
    // A first run long after the episode writes the finding but no Task.
    const fresh = await emptyStore();
    await seedPatient(fresh.client, 'old', { days: 5, rhrRise: 20, hrvDrop: 20 }, 30);
    expect(await writeFindingsForPatients('all', fresh.deps, options)).toMatchObject({
      findingsWritten: 1,
      tasksCreated: 0,
    });
  });

  it('withdraws a finding the data no longer produce', async () => {
    const { client, deps } = await emptyStore();
    const id = await seedPatient(client, 'retract', { days: 5, rhrRise: 20, hrvDrop: 20 }, 10);
    await writeFindingsForPatients([id], deps, DEFAULT_FINDINGS_OPTIONS);
    const observations = await client.searchAll<Observation>('Observation', { subject: `Patient/${id}` });
    const spikeDays = new Set([40, 41, 42, 43, 44].map((d) => addDays(START, d)));
    await client.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: observations
        .filter((o) => spikeDays.has(o.effectiveDateTime ?? ''))
        .map((o) => ({
          resource: { ...o, status: 'entered-in-error' },
          request: { method: 'PUT', url: `Observation/${o.id}` },
        })),
    });
    const [taskBefore] = await client.searchAll<Task>('Task', {});
    expect(taskBefore.status).toBe('requested');
    const summary = await writeFindingsForPatients([id], deps, DEFAULT_FINDINGS_OPTIONS);
    expect(summary).toMatchObject({ episodes: 0, findingsWithdrawn: 1, tasksCancelled: 1 });
    const [ra] = await client.searchAll<RiskAssessment>('RiskAssessment', {});
    expect(ra.status).toBe('entered-in-error');
    // The withdrawn finding's open review Task is cancelled, with the reason; a rerun changes nothing more.
    const [task] = await client.searchAll<Task>('Task', {});
    expect(task.status).toBe('cancelled');
    expect(task.statusReason?.text).toMatch(/withdrawn/);
    expect(await writeFindingsForPatients([id], deps, DEFAULT_FINDINGS_OPTIONS)).toMatchObject({
      findingsWithdrawn: 0,
      tasksCancelled: 0,
    });
  });
});

describe('LSTM findings (twin findings --detector lstm)', () => {
  let detector: LstmDetector;
  beforeAll(async () => {
    detector = await openLstmDetector({ workers: 1 });
  });
  afterAll(async () => {
    await detector.close();
  });

  it('names the model-card Device as performer, writes Tasks above the threshold, and a rerun writes nothing', async () => {
    const { store, client, deps } = await emptyStore();
    const id = await seedPatient(client, 'lstm', { days: 5, rhrRise: 20, hrvDrop: 20 }, 30);
    const options = { ...DEFAULT_FINDINGS_OPTIONS, source: lstmFindingSource(detector), taskRisk: 'low' as const };
    const first = await writeFindingsForPatients('all', deps, options);
    expect(first).toMatchObject({ patients: 1, written: 1, failed: 0 });
    expect(first.findingsWritten).toBeGreaterThan(0);
    expect(first.tasksCreated).toBe(first.findingsWritten);

    const [device, ...otherDevices] = await client.searchAll<Device>('Device', {});
    expect(otherDevices).toEqual([]);
    expect(device.identifier).toEqual([{ system: MODEL_SHA256_SYSTEM, value: detector.card.sha256 }]);
    expect(device.version).toEqual([{ value: detector.card.version }]);
    const findings = await client.searchAll<RiskAssessment>('RiskAssessment', {});
    expect(findings).toHaveLength(first.findingsWritten);
    const spike = findings.find((r) => (r.occurrenceDateTime ?? '') >= addDays(START, 40));
    expect(spike).toBeDefined();
    for (const ra of findings) {
      expect(ra.performer?.reference).toBe(`Device/${device.id}`);
      expect(ra.identifier?.[0]?.value).toMatch(new RegExp(`^finding/${id}/lstm/\\d{4}-\\d{2}-\\d{2}$`));
      expect(ra.method?.text).toContain('lstm detector');
      expect(ra.basis?.length).toBeGreaterThan(0);
    }
    // The LSTM's feature names become catalogue metrics in the note (hrv -> heart rate variability (RMSSD)).
    expect(spike?.note?.[0]?.text).toMatch(/resting heart rate .* above the personal baseline/);
    expect(spike?.note?.[0]?.text).toContain(`lstm detector ${detector.card.version}`);
    const tasks = await client.searchAll<Task>('Task', {});
    expect(tasks).toHaveLength(findings.length);

    const written: Resource[] = [...findings, ...tasks, device];
    const versionsBefore = await historyCount(store, written);
    const second = await writeFindingsForPatients('all', deps, options);
    expect(second).toMatchObject({ findingsWritten: 0, findingsUnchanged: findings.length, tasksCreated: 0 });
    expect(await historyCount(store, written)).toBe(versionsBefore);
    expect(await client.searchAll<RiskAssessment>('RiskAssessment', {})).toHaveLength(findings.length);
    expect(await client.searchAll<Device>('Device', {})).toHaveLength(1);

    // The statistical detector's findings live beside them: their own Device, their own identifiers, nothing withdrawn.
    const statistical = await writeFindingsForPatients('all', deps, DEFAULT_FINDINGS_OPTIONS);
    expect(statistical).toMatchObject({ findingsWithdrawn: 0 });
    expect(await client.searchAll<Device>('Device', {})).toHaveLength(2);
    const again = await writeFindingsForPatients('all', deps, options);
    expect(again).toMatchObject({ findingsWritten: 0, findingsWithdrawn: 0, tasksCreated: 0 });
  });
});
