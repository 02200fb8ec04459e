/**
 * The follow-up jobs on the embedded store: a recovery plateau under an active plan produces, for a person, a
 * reschedule proposal naming a real free Slot of the physiotherapist's Schedule (not the busy one, not a past one),
 * plus the load and nutrition Tasks, each with its Provenance; a rerun (a restart) writes nothing; stale data
 * produces one contact Task per gap.
 */
import type { Appointment, CarePlan, Provenance, Schedule, Slot, Task } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDays } from '../calendar/observationDay';
import { LocalFhirClient } from '../fhir/localFhirClient';
import { buildMetricObservation } from '../ingest/importers/metricObservation';
import { openSqliteStore, type SqliteStore } from '../store/sqliteStore';
import { createEmbeddedRouter } from '../store/transactionBundle';
import { refreshPatientTwin } from '../twin/refresh/refreshPatientTwin';
import { DEFAULT_AUTOMATION_CONFIG, type AutomationConfig } from './automationConfig';
import { AUTOMATION_TASK_SYSTEM } from './automatedTask';
import { plateauStart, runPlanFollowUp } from './planFollowUp';

jest.setTimeout(120_000);

const TODAY = '2026-03-10';
const NOW = `${TODAY}T08:00:00Z`;
const config: AutomationConfig = { ...DEFAULT_AUTOMATION_CONFIG, taskOwner: 'Practitioner/care-coordinator' };

let dir: string;
let store: SqliteStore;
let client: LocalFhirClient;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twin-automation-'));
  store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  client = new LocalFhirClient(store.repo, createEmbeddedRouter());
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Daily wearable values for `days` days up to `last`; `wobble` is the day-to-day variation around a steady level. */
async function measurements(
  patientId: string,
  last: string,
  days: number,
  wobble: (i: number) => number
): Promise<void> {
  const entry = [];
  for (let i = 0; i < days; i++) {
    const day = addDays(last, -(days - 1 - i));
    for (const [metric, value] of [
      ['resting-heart-rate', 55 + wobble(i)],
      ['hrv-rmssd', 60 - wobble(i)],
      ['sleep-duration', 7.5 + wobble(i) / 10],
    ] as const) {
      const o = buildMetricObservation({
        source: 'test',
        subjectKey: patientId,
        subject: { reference: `Patient/${patientId}` },
        metric,
        day,
        value,
      });
      entry.push({ resource: o, request: { method: 'POST' as const, url: 'Observation' } });
    }
  }
  await client.transaction({ resourceType: 'Bundle', type: 'transaction', entry });
}

async function scenario(): Promise<{ freeSlot: Slot; busySlot: Slot; pastSlot: Slot; appointment: Appointment }> {
  await store.repo.updateResource({ resourceType: 'Patient', id: 'p1' });
  await store.repo.updateResource({ resourceType: 'Practitioner', id: 'physio1', name: [{ family: 'Physio' }] });
  await store.repo.updateResource<CarePlan>({
    resourceType: 'CarePlan',
    id: 'plan1',
    status: 'active',
    intent: 'plan',
    subject: { reference: 'Patient/p1' },
  });
  const schedule = await store.repo.createResource<Schedule>({
    resourceType: 'Schedule',
    active: true,
    actor: [{ reference: 'Practitioner/physio1' }],
  });
  const slot = (start: string, status: Slot['status']): Promise<Slot> =>
    store.repo.createResource<Slot>({
      resourceType: 'Slot',
      schedule: { reference: `Schedule/${schedule.id}` },
      status,
      start,
      end: start.replace(':00:00Z', ':45:00Z'),
    });
  const pastSlot = await slot('2026-03-09T09:00:00Z', 'free');
  const busySlot = await slot('2026-03-11T09:00:00Z', 'busy');
  const freeSlot = await slot('2026-03-12T14:00:00Z', 'free');
  await slot('2026-03-20T14:00:00Z', 'free'); // later than the earliest free one
  const appointment = await store.repo.createResource<Appointment>({
    resourceType: 'Appointment',
    status: 'booked',
    description: 'Physiotherapy session',
    start: '2026-03-18T10:00:00Z',
    end: '2026-03-18T10:45:00Z',
    participant: [
      { actor: { reference: 'Patient/p1' }, status: 'accepted' },
      { actor: { reference: 'Practitioner/physio1' }, status: 'accepted' },
    ],
  });
  return { freeSlot, busySlot, pastSlot, appointment };
}

const tasks = (): Promise<Task[]> => client.searchAll<Task>('Task', { identifier: `${AUTOMATION_TASK_SYSTEM}|` });
const world = { now: (): string => NOW, today: (): string => TODAY };

test('plateau: a reschedule proposal naming the earliest real free Slot, load and nutrition Tasks, Provenance; a rerun writes nothing', async () => {
  const { freeSlot, appointment } = await scenario();
  // A steady series: the recovery index stays flat for the last two weeks.
  await measurements('p1', TODAY, 40, (i) => (i % 2 === 0 ? 0.2 : -0.2));
  await refreshPatientTwin('p1', { client, today: () => TODAY });
  const summary = await runPlanFollowUp({ ...world, client }, config);
  expect(summary).toMatchObject({
    patientsWithActivePlan: 1,
    plateau: { created: 3 },
    plateauWithoutFreeSlot: 0,
    failedPatients: 0,
  });
  const created = await tasks();
  const reschedule = created.find((t) => t.identifier?.[0]?.value?.endsWith('/reschedule-physiotherapy'));
  expect(reschedule).toMatchObject({
    status: 'requested',
    intent: 'proposal',
    focus: { reference: `Appointment/${appointment.id}` },
    owner: { reference: 'Practitioner/physio1' },
    input: [{ valueReference: { reference: `Slot/${freeSlot.id}` } }],
  });
  expect(reschedule?.description).toContain('2026-03-12T14:00:00Z');
  // The Slot it names exists and is free.
  const named = await client.read<Slot>('Slot', freeSlot.id as string);
  expect(named.status).toBe('free');
  expect(created.map((t) => t.code?.text).sort()).toEqual([
    'Ask the nutritionist to review',
    'Reschedule the physiotherapy session',
    'Review the load prescription',
  ]);
  const provenance = await client.searchAll<Provenance>('Provenance', {});
  expect(provenance.map((p) => p.target[0].reference).sort()).toEqual(created.map((t) => `Task/${t.id}`).sort());

  // A restart runs the job again: nothing new, not even a Provenance.
  const again = await runPlanFollowUp({ ...world, client }, config);
  expect(again.plateau).toEqual({ created: 0, exists: 0, open: 1 });
  expect(await tasks()).toHaveLength(3);
  expect(await client.searchAll('Provenance', {})).toHaveLength(3);
});

test('no plateau while the index moves; stale data -> one contact Task per gap', async () => {
  await scenario();
  // Recovering: a steady climb, then nothing for the last five days.
  await measurements('p1', addDays(TODAY, -5), 40, (i) => -i * 0.5);
  await refreshPatientTwin('p1', { client, today: () => TODAY });
  const summary = await runPlanFollowUp({ ...world, client }, config);
  expect(summary.plateau.created).toBe(0);
  expect(summary.staleData.created).toBe(1);
  const [task] = await tasks();
  expect(task.identifier?.[0]?.value).toBe(`stale-data/p1/${addDays(TODAY, -5)}`);
  expect(task.owner).toEqual({ reference: 'Practitioner/care-coordinator' });
  expect((await runPlanFollowUp({ ...world, client }, config)).staleData).toEqual({ created: 0, exists: 0, open: 1 });
  expect(await tasks()).toHaveLength(1);
});

test('plateauStart: flat within tolerance over enough days, else nothing', () => {
  const flat = new Map(Array.from({ length: 14 }, (_, i) => [addDays(TODAY, -i), 0.1 + (i % 2) * 0.1] as const));
  const settings = { days: 14, minDays: 10, tolerance: 0.25 };
  expect(plateauStart(flat, TODAY, settings)).toBe(addDays(TODAY, -13));
  flat.set(addDays(TODAY, -3), 0.6);
  expect(plateauStart(flat, TODAY, settings)).toBeUndefined();
  const sparse = new Map([...flat.entries()].slice(0, 5));
  expect(plateauStart(sparse, TODAY, settings)).toBeUndefined();
});
