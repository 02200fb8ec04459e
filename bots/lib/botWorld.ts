// The world a bot runs in, built once per cold start: the Medplum project's FHIR API as the engine's FhirClient
// (every write checked against the project's profiles, which Medplum does not know), the clock, and the bot's
// secrets. Bots are doors: they assemble this and call the engine's stages, nothing more.
import type { BotEvent, MedplumClient } from '@medplum/core';
import type { FhirClient } from '../../src/fhir/fhirClient';
import { MedplumFhirClient } from '../../src/fhir/medplumFhirClient';
import { validatingClient } from '../../src/fhir/validatingClient';
import { createValidator, type ResourceValidator } from '../../src/fhir/validation';

export interface BotWorld {
  readonly client: FhirClient;
  /** Today, YYYY-MM-DD (UTC), for consent periods and windows. */
  readonly today: () => string;
  /** Now, an ISO instant. */
  readonly now: () => string;
  /** A bot secret's value (Medplum Project.secret, passed as event.secrets), or undefined. */
  secret(name: string): string | undefined;
}

let validator: ResourceValidator | undefined;

/** The profiles are loaded once per bot container (a cold start): from disk under tests, embedded in a bundle. */
export function botWorld(medplum: MedplumClient, event: BotEvent, clock: () => Date = () => new Date()): BotWorld {
  validator ??= createValidator();
  const v = validator;
  return {
    client: validatingClient(new MedplumFhirClient(medplum), (r) => v.validate(r)),
    today: () => clock().toISOString().slice(0, 10),
    now: () => clock().toISOString(),
    secret: (name) => {
      const s = event.secrets?.[name];
      return s?.valueString ?? (s?.valueInteger !== undefined ? String(s.valueInteger) : undefined);
    },
  };
}
