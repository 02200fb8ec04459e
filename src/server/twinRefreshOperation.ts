import { allOk, badRequest, normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { FhirResponse, FhirRouter } from '@medplum/fhir-router';
import type { Parameters, Resource } from '@medplum/fhirtypes';
import { LocalFhirClient } from '../fhir/localFhirClient';
import { refreshPatientTwin } from '../twin/refresh/refreshPatientTwin';

export interface TwinRefreshOperationDeps {
  readonly validate?: (resource: Resource) => void;
  readonly today: () => string;
  /** IANA time zone of the patient's day for UTC-only times (env TWIN_TIME_ZONE; default UTC). */
  readonly timeZone?: string;
}

/**
 * `POST [base]/Patient/{id}/$twin-refresh` (OperationDefinition Patient-twin-refresh in fhir-profiles/): recomputes
 * the patient's twin on the embedded server and answers with a Parameters resource of counts (no values), per
 * FHIR R4 operations.html#response, and one `ignored` parameter per kind of dropped input (code, reason, unit,
 * count) so a sender can see which of its codes and units the twin could not use. Unknown patient -> 404; a Consent that denies processing -> 200 with
 * status `skipped-consent`, since the request itself was valid.
 */
export function registerTwinRefreshOperation(router: FhirRouter, deps: TwinRefreshOperationDeps): void {
  router.add(
    'POST',
    ':resourceType/:id/$twin-refresh',
    async (req, repo, r): Promise<FhirResponse> => {
      if (req.params.resourceType !== 'Patient') {
        return [badRequest('$twin-refresh is defined on Patient only')];
      }
      try {
        await repo.readResource('Patient', req.params.id);
        const summary = await refreshPatientTwin(req.params.id, { ...deps, client: new LocalFhirClient(repo, r) });
        const parameters: Parameters = {
          resourceType: 'Parameters',
          parameter: [
            { name: 'status', valueCode: summary.status },
            { name: 'observationsRead', valueInteger: summary.observationsRead },
            { name: 'accepted', valueInteger: summary.accepted },
            { name: 'duplicates', valueInteger: summary.duplicates },
            { name: 'retracted', valueInteger: summary.retracted },
            { name: 'rejected', valueInteger: summary.rejected },
            { name: 'baselinesWritten', valueInteger: summary.baselinesWritten },
            { name: 'baselinesInForceWritten', valueInteger: summary.baselinesInForceWritten },
            { name: 'statesWritten', valueInteger: summary.statesWritten },
            { name: 'removed', valueInteger: summary.removed },
            ...summary.ignored.map((g) => ({
              name: 'ignored',
              part: [
                { name: 'code', valueString: g.code },
                { name: 'reason', valueString: g.reason },
                ...(g.unit === undefined ? [] : [{ name: 'unit', valueString: g.unit }]),
                { name: 'count', valueInteger: g.count },
              ],
            })),
          ],
        };
        return [allOk, parameters];
      } catch (err) {
        return [err instanceof OperationOutcomeError ? err.outcome : normalizeOperationOutcome(err)];
      }
    },
    'operation'
  );
}
