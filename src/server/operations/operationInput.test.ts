import type { OperationDefinition } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '@medplum/core';
import { operationInput } from './operationInput';

const definition: OperationDefinition = {
  resourceType: 'OperationDefinition',
  name: 'Review',
  status: 'active',
  kind: 'operation',
  code: 'review',
  system: false,
  type: false,
  instance: true,
  parameter: [
    { name: 'decision', use: 'in', min: 1, max: '1', type: 'code' },
    { name: 'note', use: 'in', min: 0, max: '*', type: 'string' },
    { name: 'taskStatus', use: 'out', min: 1, max: '1', type: 'code' },
  ],
};

function refusal(body: unknown): string {
  try {
    operationInput(body, definition);
  } catch (err) {
    return (err as OperationOutcomeError).outcome.issue?.[0]?.details?.text ?? '';
  }
  return 'accepted';
}

describe('operationInput', () => {
  test('returns the declared in-parameters', () => {
    const body = { resourceType: 'Parameters', parameter: [{ name: 'decision', valueCode: 'accept' }] };
    expect(operationInput(body, definition)).toEqual(body.parameter);
  });

  test('no body or an empty JSON object means no parameters (then cardinality applies)', () => {
    expect(refusal(undefined)).toMatch(/decision expected 1..1, got 0/);
    expect(refusal({})).toMatch(/decision expected 1..1, got 0/);
  });

  test('refuses another resource, unknown or output parameters, and too many values', () => {
    expect(refusal({ resourceType: 'Patient' })).toMatch(/takes a Parameters resource/);
    expect(refusal([])).toMatch(/must be a Parameters resource/);
    expect(refusal({ resourceType: 'Parameters', parameter: [{ name: 'taskStatus', valueCode: 'x' }] })).toMatch(
      /no input parameter/
    );
    expect(
      refusal({
        resourceType: 'Parameters',
        parameter: [
          { name: 'decision', valueCode: 'a' },
          { name: 'decision', valueCode: 'b' },
        ],
      })
    ).toMatch(/expected 1..1, got 2/);
    expect(refusal({ resourceType: 'Parameters', parameter: 'x' })).toMatch(/must be an array/);
  });
});
