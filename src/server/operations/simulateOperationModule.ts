import { FhirRouter } from '@medplum/fhir-router';
import { SIMULATE_OPERATION } from '../../fhir/codes/twinCodes';
import { registerSimulateOperation, type SimulateOperationDeps } from '../simulateOperation';
import type { OperationModule } from './operationModule';
import { publishedOperationDefinition } from './operationDefinitions';
import { internalFault } from '../../fhir/outcomes';

/**
 * `$simulate` (Patient) as an operation module. Its logic stays in src/server/simulateOperation.ts; this file takes
 * the handler that registration puts on a router and files it in the registry.
 */
export function simulateOperationModule(deps: SimulateOperationDeps): OperationModule {
  const scratch = new FhirRouter();
  registerSimulateOperation(scratch, deps);
  const found = scratch.find('POST', 'Patient/x/$simulate');
  if (!found) {
    throw internalFault('registerSimulateOperation registered no POST [type]/[id]/$simulate');
  }
  return {
    name: 'simulate',
    resourceTypes: ['Patient'],
    levels: ['instance'],
    methods: ['POST'],
    definitionUrl: SIMULATE_OPERATION,
    operationDefinition: publishedOperationDefinition('Patient-simulate'),
    handler: (req, repo, router, options) =>
      found.handler({ ...req, params: { ...req.params, resourceType: 'Patient' } }, repo, router, options),
  };
}
