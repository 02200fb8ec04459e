/**
 * Issue 11 "Done when": `twin refresh` on a patient whose wearable data uses only standard LOINC codes, in the
 * encodings HealthKit / Health Connect bridges and HL7 implementation guides send (unit texts, minutes of sleep,
 * pedometer samples, local offsets), produces baselines for all of them; dropped data is reported per code; the twin's
 * own Observations never answer a search for a measurement; the baseline in force on a past day can be fetched.
 */
import type { Observation, Parameters, Patient } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerRefreshCommand } from '../src/cli/refreshCommand';
import { startServer } from '../src/cli/serveCommand';
import { HttpFhirClient } from '../src/fhir/httpFhirClient';
import { createValidator } from '../src/fhir/validation';
import { addDays } from '../src/calendar/calendarDay';
import { METRICS } from '../src/fhir/metricCatalogue';
import { registerTwinRefreshOperation } from '../src/server/twinRefreshOperation';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { refreshPatients } from '../src/twin/refresh/refreshRunner';
import { TWIN_CONCEPT_SYSTEM, TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const FIRST = '2026-02-01';
const DAYS = 40;
const validator = createValidator();

/** Deterministic wobble in [-1, 1]. */
const wobble = (i: number): number => Math.sin(i * 12.9898) * 0.999;

interface Reading {
  code: string;
  display: string;
  value: number;
  unit?: string;
  ucum?: string;
  time: string;
}

/**
 * 40 days of wearable data as bridges send it: mornings in Tokyo (+09:00, the previous UTC day) for resting HR and
 * HRV, evenings in New York (-05:00, the next UTC day) for steps, sleep in minutes, SpO2 as 59408-5.
 */
function wearableReadings(): Reading[] {
  const out: Reading[] = [];
  for (let d = 0; d < DAYS; d++) {
    const day = addDays(FIRST, d);
    out.push(
      {
        code: '40443-4',
        display: 'Heart rate --resting',
        value: 58 + Math.round(2 * wobble(d)),
        unit: 'beats/minute',
        time: `${day}T07:00:00+09:00`,
      },
      {
        code: '80404-7',
        display: 'R-R interval.standard deviation (Heart rate variability)',
        value: Math.round(10 * (45 + 6 * wobble(d + 100))) / 10,
        unit: 'ms',
        ucum: 'ms',
        time: `${day}T07:05:00+09:00`,
      },
      {
        code: '93832-4',
        display: 'Sleep duration',
        value: 420 + Math.round(30 * wobble(d + 200)),
        unit: 'min',
        ucum: 'min',
        time: `${day}T06:30:00+09:00`,
      },
      {
        code: '41950-7',
        display: 'Number of steps in 24 hour Measured',
        value: 8000 + Math.round(1500 * wobble(d + 300)),
        unit: '/d',
        ucum: '/d',
        time: day,
      },
      {
        code: '59408-5',
        display: 'Oxygen saturation in Arterial blood by Pulse oximetry',
        value: 97 + Math.round(wobble(d + 400)),
        unit: '%',
        ucum: '%',
        time: `${day}T07:10:00+09:00`,
      }
    );
    // A pedometer that reports samples (55423-8) in the evening, New York time: summed into that local day.
    for (const [hour, steps] of [
      [18, 1200],
      [20, 800 + Math.round(200 * wobble(d + 500))],
    ] as const) {
      out.push({
        code: '55423-8',
        display: 'Number of steps in unspecified time Pedometer',
        value: steps,
        unit: 'steps',
        time: `${day}T${hour}:00:00-05:00`,
      });
    }
  }
  return out;
}

function observation(patientRef: string, r: Reading, i: number): Observation {
  return {
    resourceType: 'Observation',
    identifier: [{ system: 'urn:example:bridge', value: `reading-${i}` }],
    status: 'final',
    code: { coding: [{ system: LOINC, code: r.code, display: r.display }] },
    subject: { reference: patientRef },
    effectiveDateTime: r.time,
    device: { display: r.code === '55423-8' ? 'phone pedometer' : 'watch' },
    valueQuantity: r.ucum
      ? { value: r.value, unit: r.unit, system: UCUM, code: r.ucum }
      : { value: r.value, unit: r.unit },
  };
}

describe('a patient whose wearable data uses only LOINC codes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-standard-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('refresh gives a baseline for every metric, reports what it dropped, and answers no measurement search', async () => {
    const running = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      seed: false,
      log: () => undefined,
      openRepository: async (dataDir, { baseUrl }) => {
        const store = await openSqliteStore(dataDir, { baseUrl, durability: 'normal' });
        const router = createEmbeddedRouter();
        registerTwinRefreshOperation(router, { validate: (r) => validator.validate(r), today: () => '2026-03-20' });
        return {
          repo: store.repo,
          close: () => store.close(),
          supports: store.supports,
          router,
          systemInteractions: ['transaction', 'batch'],
        };
      },
    });
    try {
      const client = new HttpFhirClient({ baseUrl: running.baseUrl });
      await client.transaction({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            resource: { resourceType: 'Patient', name: [{ family: 'Standard' }] },
            request: { method: 'POST', url: 'Patient' },
          },
        ],
      });
      const [patient] = await client.searchAll<Patient>('Patient', {});
      const ref = `Patient/${patient.id}`;
      const readings = wearableReadings();
      const junk: Observation[] = [
        // A blood pressure (not a twin metric) and a resting HR in a unit text nobody can read.
        {
          ...observation(
            ref,
            {
              code: '8480-6',
              display: 'Systolic blood pressure',
              value: 120,
              unit: 'mm[Hg]',
              ucum: 'mm[Hg]',
              time: `${FIRST}T08:00:00Z`,
            },
            9001
          ),
        },
        {
          ...observation(
            ref,
            { code: '40443-4', display: 'Heart rate --resting', value: 60, unit: 'pulses', time: `${FIRST}T08:00:00Z` },
            9002
          ),
        },
        {
          ...observation(
            ref,
            { code: '40443-4', display: 'Heart rate --resting', value: 61, unit: 'pulses', time: `${FIRST}T09:00:00Z` },
            9003
          ),
        },
      ];
      await client.transaction({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [...readings.map((r, i) => observation(ref, r, i)), ...junk].map((resource) => ({
          resource,
          request: { method: 'POST', url: 'Observation' },
        })),
      });

      const res = await fetch(`${running.baseUrl}/Patient/${patient.id}/$twin-refresh`, {
        method: 'POST',
        headers: { accept: 'application/fhir+json' },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Parameters;
      const count = (name: string): number | undefined => body.parameter?.find((p) => p.name === name)?.valueInteger;
      expect(count('observationsRead')).toBe(readings.length + junk.length);
      expect(count('rejected')).toBe(3);
      expect(count('accepted')).toBe(readings.length);
      // Dropped data, per code, reason and unit: not one anonymous count.
      const ignored = body.parameter
        ?.filter((p) => p.name === 'ignored')
        .map((p) => Object.fromEntries((p.part ?? []).map((q) => [q.name, q.valueString ?? q.valueInteger])));
      expect(ignored).toEqual([
        { code: `${LOINC}|40443-4`, reason: 'resting-heart-rate: unknown unit', unit: 'pulses', count: 2 },
        { code: `${LOINC}|8480-6`, reason: 'code is not a catalogue metric', count: 1 },
      ]);

      const twin = await client.searchAll<Observation>('Observation', {
        subject: ref,
        identifier: `${TWIN_RESOURCE_SYSTEM}|`,
      });
      const current = (metric: string): Observation | undefined =>
        twin.find((o) => o.identifier?.[0].value === `baseline/${patient.id}/${metric}`);
      for (const metric of [
        'resting-heart-rate',
        'hrv-sdnn',
        'sleep-duration',
        'steps',
        'oxygen-saturation',
      ] as const) {
        const b = current(metric);
        expect({ metric, centre: b?.valueQuantity?.value !== undefined }).toEqual({ metric, centre: true });
        const [range] = b?.referenceRange ?? [];
        expect(range.low!.value!).toBeGreaterThanOrEqual(METRICS[metric].min);
        expect(range.high!.value!).toBeLessThanOrEqual(METRICS[metric].max);
      }
      expect(current('sleep-duration')?.valueQuantity).toMatchObject({ code: 'h' });
      expect(current('sleep-duration')?.valueQuantity?.value).toBeCloseTo(7, 0);
      // Two sources of steps (a daily total and pedometer samples summed per local day) are averaged, not added.
      const steps = current('steps')?.valueQuantity?.value ?? 0;
      expect(steps).toBeGreaterThan(4000);
      expect(steps).toBeLessThan(9000);
      const spo2 = current('oxygen-saturation');
      expect(spo2?.component?.[0].valueCodeableConcept?.coding?.[0]).toMatchObject({ system: LOINC, code: '59408-5' });

      // The patient's days are the local days: 40 days of data are 40 states at most (not 42), the last on day 40.
      const states = twin.filter((o) => o.identifier?.[0].value?.startsWith('state/'));
      expect(states.length).toBeLessThanOrEqual(DAYS);
      expect(
        states
          .map((s) => s.effectiveDateTime)
          .sort()
          .at(-1)
      ).toBe(addDays(FIRST, DAYS - 1));

      // A measurement search returns the patient's latest reading, never a twin baseline or state.
      const searches: Record<string, string>[] = [
        { code: `${LOINC}|40443-4` },
        { 'combo-code': `${LOINC}|40443-4` },
        { 'component-code': `${LOINC}|40443-4` },
      ];
      for (const search of searches) {
        const found = await client.searchAll<Observation>('Observation', { subject: ref, ...search });
        expect(found.some((o) => o.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM))).toBe(false);
      }
      const latest = await client.searchAll<Observation>('Observation', {
        subject: ref,
        code: `${LOINC}|40443-4`,
        _sort: '-date',
        _count: '1',
      });
      expect(latest[0].identifier?.[0].system).toBe('urn:example:bridge');

      // The baseline in force on a past day (Saturday 21 February): the one renewed on Monday 16 February, found by
      // its identifier and named in that day's state; its band is the one the day's value was judged against.
      const day = addDays(FIRST, 20);
      const monday = '2026-02-16';
      const [inForce] = await client.searchAll<Observation>('Observation', {
        identifier: `${TWIN_RESOURCE_SYSTEM}|baseline/${patient.id}/resting-heart-rate/${monday}`,
      });
      expect(inForce.code.coding?.[0]).toMatchObject({ system: TWIN_CONCEPT_SYSTEM, code: 'personal-baseline' });
      // The window actually used: the days with data before that Monday (1 to 15 February).
      expect(inForce.effectivePeriod).toEqual({ start: FIRST, end: addDays(monday, -1) });
      expect(inForce.component?.find((c) => c.code.coding?.[0].code === 'baseline-sample-count')?.valueInteger).toBe(
        15
      );
      const currentRhr = twin.find((o) => o.identifier?.[0].value === `baseline/${patient.id}/resting-heart-rate`);
      expect(currentRhr?.derivedFrom?.length).toBeGreaterThanOrEqual(20);
      expect(currentRhr?.derivedFrom?.[0]).toMatchObject({
        type: 'Observation',
        identifier: { system: 'urn:example:bridge' },
      });
      const stateOfDay = states.find((s) => s.effectiveDateTime === day);
      expect(stateOfDay?.derivedFrom).toEqual(
        expect.arrayContaining([
          { type: 'Observation', identifier: { system: TWIN_RESOURCE_SYSTEM, value: inForce.identifier?.[0].value } },
        ])
      );
      // `twin refresh` says the same on its output: one line per kind of dropped input, and the JSON summary.
      const logged: string[] = [];
      const errors: string[] = [];
      const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
        errors.push(String(chunk));
        return true;
      });
      try {
        const program = new Command('twin').exitOverride();
        registerRefreshCommand(program, {
          openRepository: () => Promise.reject(new Error('not used with --fhir')),
          version: 'test',
          env: {},
          log: (line) => logged.push(line),
        });
        await program.parseAsync(['refresh', '--patient', patient.id as string, '--fhir', running.baseUrl], {
          from: 'user',
        });
      } finally {
        stderr.mockRestore();
      }
      expect(errors).toEqual(
        expect.arrayContaining([
          `twin refresh: ignored 2 x ${LOINC}|40443-4 [unit pulses]: resting-heart-rate: unknown unit\n`,
          `twin refresh: ignored 1 x ${LOINC}|8480-6: code is not a catalogue metric\n`,
        ])
      );
      expect((JSON.parse(logged[0]) as { ignored: unknown[] }).ignored).toEqual([
        { code: `${LOINC}|40443-4`, reason: 'resting-heart-rate: unknown unit', unit: 'pulses', count: 2 },
        { code: `${LOINC}|8480-6`, reason: 'code is not a catalogue metric', count: 1 },
      ]);

      // ...and it is still there, unchanged, after more data arrive and the twin is refreshed again.
      const later = observation(
        ref,
        { ...readings[0], value: 90, time: `${addDays(FIRST, DAYS)}T07:00:00+09:00` },
        9100
      );
      await client.transaction({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: later, request: { method: 'POST', url: 'Observation' } }],
      });
      const summary = await refreshPatients(client, [patient.id as string], {
        validate: (r) => validator.validate(r),
        today: () => '2026-03-20',
      });
      expect(summary.ignored.map((g) => g.count)).toEqual([2, 1]);
      const [stillInForce] = await client.searchAll<Observation>('Observation', {
        identifier: `${TWIN_RESOURCE_SYSTEM}|baseline/${patient.id}/resting-heart-rate/${monday}`,
      });
      expect(stillInForce.meta?.versionId).toBe(inForce.meta?.versionId);
    } finally {
      await running.close();
    }
  }, 120_000);
});
