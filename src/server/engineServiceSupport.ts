import type { ResourceSupport } from './capabilityStatement';
import type { OperationDeclaration } from './operations/operationModule';

/**
 * What the engine service (`twin serve --fhir URL`) declares of its own: the patient data lives on the hospital's FHIR
 * server, so the types its operations are defined on (Patient, Task) are declared with their operations and no
 * interaction, and only the OperationDefinitions it publishes are readable here (their canonical URLs resolve on this
 * server). Everything else is refused by the interaction and resource-type gates, naming where the data is.
 */
export function engineServiceSupports(
  store: readonly ResourceSupport[],
  operations: readonly OperationDeclaration[]
): ResourceSupport[] {
  const operationTypes = new Set(operations.flatMap((op) => op.resourceTypes));
  const out: ResourceSupport[] = [];
  for (const support of store) {
    if (support.type === 'OperationDefinition') {
      out.push({
        type: support.type,
        interactions: support.interactions.filter((i) => i === 'read' || i === 'vread' || i === 'search-type'),
        searchParams: support.searchParams.filter((p) => ['_id', 'url', 'name', 'code'].includes(p.name)),
      });
    } else if (operationTypes.has(support.type)) {
      out.push({ type: support.type, interactions: [], searchParams: [] });
    }
  }
  return out;
}
