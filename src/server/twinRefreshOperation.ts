import type { FhirRouter } from '@medplum/fhir-router';
import { registerOperations } from './operations/operationModule';
import { twinRefreshOperation, type TwinRefreshOperationDeps } from './operations/twinRefreshOperation';

export type { TwinRefreshOperationDeps } from './operations/twinRefreshOperation';

/**
 * Registers `$twin-refresh` alone on a router, for callers that assemble their own server (tests, the engine service).
 * The embedded server takes it from the operation registry (src/server/operations/registry.ts).
 */
export function registerTwinRefreshOperation(router: FhirRouter, deps: TwinRefreshOperationDeps): void {
  registerOperations(router, [twinRefreshOperation(deps)]);
}
