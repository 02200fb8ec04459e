import { allOk, badRequest, normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { FhirResponse } from '@medplum/fhir-router';
import type { Parameters, Resource } from '@medplum/fhirtypes';
import { TWIN_REFRESH_OPERATION } from '../../fhir/codes/twinCodes';
import { inProcessClient, type OperationClient } from './operationClient';
import { refreshPatientTwin } from '../../twin/refresh/refreshPatientTwin';
import type { EngineMetrics } from '../../ops/engineMetrics';
import { countedHandler } from './countedOperation';
import type { OperationModule } from './operationModule';
import { operationInput } from './operationInput';
import { publishedOperationDefinition } from './operationDefinitions';
import { withdrawPatient } from '../../withdrawal/withdrawPatient';

export interface TwinRefreshOperationDeps {
  readonly validate?: (resource: Resource) => void;
  readonly today: () => string;
  /** The instant a withdrawal is recorded (default: the system clock). */
  readonly now?: () => string;
  /** IANA time zone of the patient's day for UTC-only times (env TWIN_TIME_ZONE; default UTC). */
  readonly timeZone?: string;
  /** Where the patient's data is (default: this server's store). */
  readonly clientOf?: OperationClient;
  /** Counts each call by outcome (src/ops/engineMetrics.ts); none: not counted. */
  readonly metrics?: EngineMetrics;
}

/**
 * `POST [base]/Patient/{id}/$twin-refresh` (OperationDefinition Patient-twin-refresh in fhir-profiles/): recomputes
 * the patient's twin on the embedded server and answers with a Parameters resource of counts (no values), per
 * FHIR R4 operations.html#response, and one `ignored` parameter per kind of dropped input (code, reason, unit, count) so a
 * sender can see which of its codes and units the twin could not use. A body that is not an empty Parameters -> 400;
 * unknown patient -> 404; a Consent that denies processing -> 200 with status `skipped-consent`, since the request
 * itself was valid.
 */
const nowIso = (): string => new Date().toISOString();

export function twinRefreshOperation(deps: TwinRefreshOperationDeps): OperationModule {
  const operationDefinition = publishedOperationDefinition('Patient-twin-refresh');
  return {
    name: 'twin-refresh',
    resourceTypes: ['Patient'],
    levels: ['instance'],
    methods: ['POST'],
    definitionUrl: TWIN_REFRESH_OPERATION,
    operationDefinition,
    handler: countedHandler(deps.metrics, 'twin-refresh', async (req, repo, router): Promise<FhirResponse> => {
      if (req.params.resourceType !== undefined && req.params.resourceType !== 'Patient') {
        return [badRequest('$twin-refresh is defined on Patient only')];
      }
      try {
        operationInput(req.body, operationDefinition);
        const client = (deps.clientOf ?? inProcessClient)(repo, router);
        await client.read('Patient', req.params.id);
        const summary = await refreshPatientTwin(req.params.id, { ...deps, client });
        if (summary.status === 'skipped-consent') {
          // The Consent denies processing: withdraw what the engine derived for the patient (issue 17), idempotent.
          await withdrawPatient(req.params.id, { client, today: deps.today, now: deps.now ?? nowIso });
        }
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
    }),
  };
}
