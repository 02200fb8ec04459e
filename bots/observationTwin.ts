// Medplum bot: keeps the recovery twin current as Observations arrive.
//
// Deploy it with the Medplum CLI and trigger it with a Subscription on `Observation` (create and update); the bot
// runs the engine's event door (src/twin/refresh/eventDoor.ts) against the project's own FHIR API, so the twin
// lives beside the data and nothing leaves the Medplum project. The twin's own writes come back through the same
// Subscription and are ignored by the door, so there is no loop.
import type { BotEvent, MedplumClient } from '@medplum/core';
import type { Observation } from '@medplum/fhirtypes';
import { MedplumFhirClient } from '../src/fhir/medplumFhirClient';
import { validatingClient } from '../src/fhir/validatingClient';
import { createValidator, type ResourceValidator } from '../src/fhir/validation';
import { handleObservationEvent, type EventResult } from '../src/twin/refresh/eventDoor';

let validator: ResourceValidator | undefined;

export async function handler(medplum: MedplumClient, event: BotEvent<Observation>): Promise<EventResult> {
  if (event.input?.resourceType !== 'Observation') {
    return { status: 'ignored', reason: 'not an Observation' };
  }
  // Medplum does not know the project's profiles: check every twin resource against them before it is sent.
  validator ??= createValidator();
  const v = validator;
  return handleObservationEvent(event.input, {
    client: validatingClient(new MedplumFhirClient(medplum), (r) => v.validate(r)),
    today: () => new Date().toISOString().slice(0, 10),
  });
}
