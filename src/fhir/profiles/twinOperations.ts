import type { OperationDefinition } from '@medplum/fhirtypes';
import { TWIN_REFRESH_OPERATION } from './twinCanonicals';
import { CONFORMANCE_VERSION, PUBLISHER } from './twinTerminology';

/**
 * `POST [base]/Patient/{id}/$twin-refresh` (FHIR R4 operationdefinition.html): recomputes one patient's twin
 * (baselines and daily recovery states) from the Observations on the server and writes it back. No input parameter;
 * the output is the transaction-response Bundle of the resources written (`return`: a single Resource output is the
 * response body, R4 operations.html#response).
 */
export function twinRefreshOperation(): OperationDefinition {
  return {
    resourceType: 'OperationDefinition',
    id: 'Patient-twin-refresh',
    url: TWIN_REFRESH_OPERATION,
    version: CONFORMANCE_VERSION,
    name: 'TwinRefresh',
    title: "Refresh a patient's recovery twin",
    status: 'active',
    kind: 'operation',
    experimental: false,
    publisher: PUBLISHER,
    description:
      "Recomputes the patient's personal baselines and daily recovery states from the Observations on this server " +
      'and writes them as profiled Observations (twin-baseline, twin-recovery-state) by conditional update in one ' +
      'transaction. Idempotent: the same Observations give the same twin, however often it runs. A patient whose ' +
      'active Consent denies this processing is skipped.',
    affectsState: true,
    code: 'twin-refresh',
    resource: ['Patient'],
    system: false,
    type: false,
    instance: true,
    parameter: [
      {
        name: 'return',
        use: 'out',
        min: 1,
        max: '1',
        type: 'Bundle',
        documentation: 'The transaction-response Bundle of the twin resources written (one entry per resource).',
      },
    ],
  };
}
