import type { FhirRouteHandler } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import { httpStatusOf } from '../../fhir/outcomes';
import type { EngineEventKind, EngineMetrics } from '../../ops/engineMetrics';

/**
 * An operation handler that counts what it did: a success with the outcome its answer names (the `status` parameter
 * of a Parameters answer, else 'ok'), a request the engine refused (4xx) as 'rejected', an engine failure (5xx, or a
 * throw) as 'error' and in the error counter. The answer itself is untouched.
 */
export function countedHandler(
  metrics: EngineMetrics | undefined,
  kind: EngineEventKind,
  handler: FhirRouteHandler
): FhirRouteHandler {
  if (!metrics) {
    return handler;
  }
  return async (...args) => {
    let response: Awaited<ReturnType<FhirRouteHandler>>;
    try {
      response = await handler(...args);
    } catch (err) {
      metrics.error(kind);
      metrics.eventProcessed(kind, 'error');
      throw err;
    }
    const status = httpStatusOf(response[0]);
    if (status >= 500) {
      metrics.error(kind);
      metrics.eventProcessed(kind, 'error');
    } else if (status >= 400) {
      metrics.eventProcessed(kind, 'rejected');
    } else {
      metrics.eventProcessed(kind, statusParameter(response[1]) ?? 'ok');
    }
    return response;
  };
}

/** The `status` code of a Parameters answer (a bounded code such as refreshed | skipped-consent), if any. */
function statusParameter(resource: Resource | undefined): string | undefined {
  if (resource?.resourceType !== 'Parameters') {
    return undefined;
  }
  return resource.parameter?.find((p) => p.name === 'status')?.valueCode;
}
