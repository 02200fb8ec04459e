import type { Observation } from '@medplum/fhirtypes';
import { handleObservationEvent } from '../twin/refresh/eventDoor';
import type { FhirClient } from '../fhir/fhirClient';
import { invalidInput } from '../fhir/outcomes';
import { counted, NO_METRICS, type EngineMetrics } from '../ops/engineMetrics';
import type { EngineJob, EngineJobProcessor } from './engineJob';

/**
 * What a queue worker does with an event job: an Observation event goes through the twin's event door (the same code
 * a Medplum bot and `$twin-refresh` run). Scheduled jobs are run by the queue itself from its schedule list.
 */
export function engineProcessor(world: {
  readonly client: FhirClient;
  readonly today: () => string;
  /** Counts each event by outcome and its lag from the Observation's lastUpdated; none: not counted. */
  readonly metrics?: EngineMetrics;
}): EngineJobProcessor {
  const metrics = world.metrics ?? NO_METRICS;
  return async (job: EngineJob) => {
    if (job.kind !== 'event') {
      throw invalidInput(`No scheduled job named ${job.name} on this instance`);
    }
    const payload = job.payload as Observation | undefined;
    if (payload?.resourceType !== 'Observation') {
      throw invalidInput('An event job carries the Observation it is about');
    }
    metrics.observationSeen(payload.meta?.lastUpdated);
    return counted(
      metrics,
      'queue-event',
      () => handleObservationEvent(payload, world),
      (result) => result.status
    );
  };
}
