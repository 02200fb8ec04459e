import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { OperationDefinition, Parameters, ParametersParameter } from '@medplum/fhirtypes';

/**
 * The input Parameters of an operation request (FHIR R4 operations.html#request), checked against its
 * OperationDefinition: no body means no parameters; a body must be a Parameters resource; every parameter must be an
 * `in` parameter the definition names, within its cardinality. Anything else is the client's error (400), refused
 * before the operation runs.
 */
export function operationInput(body: unknown, definition: OperationDefinition): ParametersParameter[] {
  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
    throw new OperationOutcomeError(badRequest('The request body must be a Parameters resource'));
  }
  const resource = (body ?? {}) as Partial<Parameters> & Record<string, unknown>;
  // No body, or an empty JSON object (the JSON parser's reading of a POST without content), carries no parameters.
  const empty = Object.keys(resource).length === 0;
  if (!empty && resource.resourceType !== 'Parameters') {
    throw new OperationOutcomeError(badRequest(`$${definition.code} takes a Parameters resource as its body`));
  }
  const given = resource.parameter ?? [];
  if (!Array.isArray(given)) {
    throw new OperationOutcomeError(badRequest('Parameters.parameter must be an array', 'Parameters.parameter'));
  }
  const inputs = (definition.parameter ?? []).filter((p) => p.use === 'in');
  const counts = new Map<string, number>();
  given.forEach((parameter: unknown, i) => {
    const name = (parameter as { name?: unknown } | null)?.name;
    const declared = typeof name === 'string' ? inputs.find((p) => p.name === name) : undefined;
    if (!declared) {
      throw new OperationOutcomeError(
        badRequest(`$${definition.code} has no input parameter of that name`, `Parameters.parameter[${i}].name`)
      );
    }
    counts.set(declared.name, (counts.get(declared.name) ?? 0) + 1);
  });
  for (const input of inputs) {
    const n = counts.get(input.name) ?? 0;
    const max = input.max === '*' ? Infinity : Number(input.max);
    if (n < input.min || n > max) {
      throw new OperationOutcomeError(
        badRequest(`$${definition.code}: parameter ${input.name} expected ${input.min}..${input.max}, got ${n}`)
      );
    }
  }
  return given;
}
