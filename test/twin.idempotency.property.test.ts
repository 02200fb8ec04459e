/**
 * Idempotency as a property (docs/ARCHITECTURE.md: replayed events, retried bots and repeated cron runs create nothing
 * new): for ANY sequence of wearable Observations delivered through the event trigger, replaying the whole sequence
 * a second time leaves every twin resource on the server at the version it had, and the measurements unduplicated.
 */
import type { Observation, Patient } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { buildMetricObservation, conditionalCreateEntry } from '../src/ingest/importers/metricObservation';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { handleObservationEvent } from '../src/twin/refresh/eventDoor';

const METRICS = [
  { metric: 'resting-heart-rate', min: 42, max: 80 },
  { metric: 'hrv-rmssd', min: 15, max: 110 },
  { metric: 'sleep-duration', min: 4, max: 9.5 },
  { metric: 'steps', min: 1000, max: 18000 },
] as const;

const eventsArbitrary = fc.array(
  fc.record({
    metric: fc.integer({ min: 0, max: METRICS.length - 1 }),
    day: fc.integer({ min: 0, max: 40 }),
    fraction: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  { minLength: 1, maxLength: 25 }
);

function isoDay(offset: number): string {
  return new Date(Date.parse('2026-01-01T00:00:00Z') + offset * 86_400_000).toISOString().slice(0, 10);
}

/** Every twin resource on the server with its version: what a replay must leave as it is. */
async function twinVersions(client: LocalFhirClient): Promise<string[]> {
  const twin = await client.searchAll<Observation>('Observation', { identifier: `${TWIN_RESOURCE_SYSTEM}|` });
  return twin.map((o) => `${o.id}@${o.meta?.versionId}`).sort();
}

describe('twin idempotency (property)', () => {
  test('replaying any sequence of Observation events writes nothing new', async () => {
    await fc.assert(
      fc.asyncProperty(eventsArbitrary, async (events) => {
        const dir = mkdtempSync(join(tmpdir(), 'twin-idem-'));
        const store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
        try {
          const router = createEmbeddedRouter();
          const client = new LocalFhirClient(store.repo, router);
          const patient = await store.repo.createResource<Patient>({ resourceType: 'Patient' });
          const deps = { client, today: () => '2026-03-01' };
          const deliver = async (): Promise<void> => {
            for (const e of events) {
              const m = METRICS[e.metric];
              const value = Math.round((m.min + e.fraction * (m.max - m.min)) * 10) / 10;
              const obs = buildMetricObservation({
                source: 'property',
                subjectKey: 'p',
                subject: { reference: `Patient/${patient.id}` },
                metric: m.metric,
                day: isoDay(e.day),
                value,
              });
              const response = await client.transaction({
                resourceType: 'Bundle',
                type: 'transaction',
                entry: [conditionalCreateEntry(obs)],
              });
              const stored = response.entry?.[0]?.resource as Observation | undefined;
              await handleObservationEvent(stored ?? obs, deps);
            }
          };
          await deliver();
          const measurements = (await client.searchAll<Observation>('Observation', {})).length;
          const first = await twinVersions(client);
          await deliver();
          expect(await twinVersions(client)).toEqual(first);
          expect((await client.searchAll<Observation>('Observation', {})).length).toBe(measurements);
        } finally {
          store.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 8, seed: 20261202 }
    );
  });
});
