// One engine instance for `npm run bench -- queue`: a worker process on the shared Redis queue. Each event job runs
// the event door's computation for its patient (computeTwin over the patient's Observations from the event's day
// minus the 28-day baseline window, states from that day on), in memory: the FHIR store is left out so that the
// figure is the queue and the engine's computation, not a store shared by every process.
import type { Observation } from '@medplum/fhirtypes';
import { addDays } from '../src/calendar/observationDay';
import { generateCohort } from '../src/cohort/generateCohort';
import { createRedisEngineQueue } from '../src/queue/redisEngineQueue';
import { computeTwin } from '../src/twin/computeTwin';

async function main(): Promise<void> {
  const [url, prefix] = process.argv.slice(2);
  const byPatient = new Map<string, Observation[]>();
  for (const p of generateCohort({ patients: 25, days: 90, seed: 7, startDate: '2026-01-01' })) {
    const patientRef = p.bundle.entry?.find((e) => e.resource?.resourceType === 'Patient')?.fullUrl ?? '';
    byPatient.set(
      p.subjectKey,
      (p.bundle.entry ?? []).flatMap((e) =>
        e.resource?.resourceType === 'Observation'
          ? [{ ...e.resource, subject: { reference: patientRef.replace('urn:uuid:', 'Patient/') } }]
          : []
      )
    );
  }
  const queue = await createRedisEngineQueue({
    redisUrl: url,
    prefix,
    concurrency: 1,
    process: async (job) => {
      if (job.kind !== 'event') return;
      const day = String(job.payload);
      const from = addDays(day, -28);
      const observations = (byPatient.get(job.patientId) ?? []).filter(
        (o) => (o.effectiveDateTime ?? '').slice(0, 10) >= from
      );
      computeTwin({ patientId: job.patientId, observations, emitStates: { from: day, to: addDays(day, 28) } });
    },
  });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    setTimeout(() => process.exit(0), 2000).unref();
    void queue.close().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
