import { FhirRouter } from '@medplum/fhir-router';
import type { FhirRouteHandler } from '@medplum/fhir-router';
import { MATCH_EVIDENCE_OPERATION, REVIEW_OPERATION } from '../../fhir/codes/twinCodes';
import { registerEvidenceOperations, type EvidenceOperationDeps } from '../evidenceOperations';
import type { OperationModule } from './operationModule';
import { publishedOperationDefinition } from './operationDefinitions';
import { internalFault } from '../../fhir/outcomes';

/**
 * `$match-evidence` (Patient) and `$review` (Task) as operation modules. Their logic stays in
 * src/server/evidenceOperations.ts; this file only takes the handlers it registers and files them in the registry.
 */
export function evidenceOperationModules(deps: EvidenceOperationDeps): OperationModule[] {
  const scratch = new FhirRouter();
  registerEvidenceOperations(scratch, deps);
  return [
    {
      name: 'match-evidence',
      resourceTypes: ['Patient'],
      levels: ['instance'],
      methods: ['POST'],
      definitionUrl: MATCH_EVIDENCE_OPERATION,
      operationDefinition: publishedOperationDefinition('Patient-match-evidence'),
      handler: registeredHandler(scratch, 'Patient/x/$match-evidence'),
    },
    {
      name: 'review',
      resourceTypes: ['Task'],
      levels: ['instance'],
      methods: ['POST'],
      definitionUrl: REVIEW_OPERATION,
      operationDefinition: publishedOperationDefinition('Task-review'),
      handler: registeredHandler(scratch, 'Task/x/$review'),
    },
  ];
}

/** The handler a registration put on `POST <path>`, with the path's resource type passed on as its router would. */
function registeredHandler(router: FhirRouter, path: string): FhirRouteHandler {
  const found = router.find('POST', path);
  if (!found) {
    throw internalFault(`No handler registered for POST ${path}`);
  }
  const [resourceType] = path.split('/');
  return (req, repo, r, options) =>
    found.handler({ ...req, params: { ...req.params, resourceType } }, repo, r, options);
}
