import type { Observation, Patient } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { percentile } from './percentile';
import { generateCohort } from '../src/cohort/generateCohort';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { handleObservationEvent } from '../src/twin/refresh/eventDoor';
import { addDays } from '../src/calendar/observationDay';
import { SUBJECT_KEY_SYSTEM } from '../src/ingest/importers/metricObservation';
import { refreshPatients } from '../src/twin/refresh/refreshRunner';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';

export interface EventLatencyFigures {
  readonly events: number;
  readonly p50: number;
  readonly p95: number;
  readonly storeOnlyP50: number;
  readonly storeOnlyP95: number;
}

/**
 * Event latency (docs/ARCHITECTURE.md, performance goals): one new resting-heart-rate Observation, written to the embedded store (durable,
 * fsync on commit), then handled by the event door until the patient's updated twin is committed. The reference in
 * the same run is the store write alone.
 */
export async function measureEventLatency(patients = 20, days = 120, events = 300): Promise<EventLatencyFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'twin-event-bench-'));
  const store = await openSqliteStore(dir);
  try {
    const client = new LocalFhirClient(store.repo, createEmbeddedRouter());
    // As `twin serve` wires it: the store validates every twin write against the profiles, the engine does not
    // validate a second time in-process (it does before writing to another server).
    const deps = { client, today: (): string => '2026-12-31' };
    const start = '2026-01-01';
    for (const p of generateCohort({ patients, days, seed: 3, startDate: start })) {
      await client.transaction(p.bundle);
    }
    await refreshPatients(client, 'all', deps);
    const ids = (await client.searchAll<Patient>('Patient', {})).map((p) => ({
      id: p.id as string,
      key: p.identifier?.find((i) => i.system === SUBJECT_KEY_SYSTEM)?.value ?? '',
    }));
    const total: number[] = [];
    const storeOnly: number[] = [];
    for (let i = 0; i < events; i++) {
      const patient = ids[i % ids.length];
      const day = addDays(start, days + Math.floor(i / ids.length));
      const obs: Observation = {
        resourceType: 'Observation',
        status: 'final',
        identifier: [{ system: 'urn:bench:event', value: `${patient.key}/${day}` }],
        category: [
          { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] },
        ],
        code: {
          coding: [{ system: 'https://recovery-twin.dev/fhir/CodeSystem/recovery-metric', code: 'resting-heart-rate' }],
        },
        subject: { reference: `Patient/${patient.id}` },
        effectiveDateTime: day,
        valueQuantity: { value: 55 + (i % 9), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      };
      const t0 = performance.now();
      const created = await store.repo.createResource(obs);
      const t1 = performance.now();
      const result = await handleObservationEvent(created, deps);
      const t2 = performance.now();
      if (result.status !== 'applied') {
        throw new Error(`event not applied: ${result.status}`);
      }
      storeOnly.push(t1 - t0);
      total.push(t2 - t0);
    }
    total.sort((a, b) => a - b);
    storeOnly.sort((a, b) => a - b);
    return {
      events,
      p50: percentile(total, 0.5),
      p95: percentile(total, 0.95),
      storeOnlyP50: percentile(storeOnly, 0.5),
      storeOnlyP95: percentile(storeOnly, 0.95),
    };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
