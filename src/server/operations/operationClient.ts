import type { FhirRepository, FhirRouter } from '@medplum/fhir-router';
import type { FhirClient } from '../../fhir/fhirClient';
import { LocalFhirClient } from '../../fhir/localFhirClient';

/**
 * Where an operation reads and writes the patient's data: by default the server's own store, in-process; on the
 * engine service (`twin serve --fhir URL`) the hospital's FHIR server, through the engine's SMART Backend Services
 * client. The handlers take the client from here and never touch the repository themselves, so one operation module
 * serves both.
 */
export type OperationClient = (repo: FhirRepository, router: FhirRouter) => FhirClient;

export const inProcessClient: OperationClient = (repo, router) => new LocalFhirClient(repo, router);
