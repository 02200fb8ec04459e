import { allOk, badRequest, businessRule, conflict, gone, notFound, OperationOutcomeError } from '@medplum/core';
import { httpStatusOf, internalFault, invalidInput, notFoundError, notSupported, refusedByRule } from './outcomes';

describe('outcomes', () => {
  test('each helper is an OperationOutcomeError whose status follows its issue code', () => {
    const cases: [OperationOutcomeError, number, string][] = [
      [invalidInput('bad day', 'day'), 400, 'invalid'],
      [refusedByRule('a rejected proposal cannot be approved'), 422, 'business-rule'],
      [notFoundError('no such Task'), 404, 'not-found'],
      [notSupported('chained search'), 400, 'not-supported'],
      [internalFault('model file missing'), 500, 'exception'],
    ];
    for (const [err, status, code] of cases) {
      expect(err).toBeInstanceOf(OperationOutcomeError);
      expect(err.outcome.id).toBeUndefined();
      expect(err.outcome.issue[0].code).toBe(code);
      expect(httpStatusOf(err.outcome)).toBe(status);
    }
    expect(invalidInput('bad day', 'day').outcome.issue[0].expression).toEqual(['day']);
  });

  test("Medplum's well-known outcomes keep their status", () => {
    expect(httpStatusOf(allOk)).toBe(200);
    expect(httpStatusOf(notFound)).toBe(404);
    expect(httpStatusOf(gone)).toBe(410);
    expect(httpStatusOf(conflict('x'))).toBe(409);
    expect(httpStatusOf(badRequest('x'))).toBe(400);
    expect(httpStatusOf(businessRule('k', 'm'))).toBe(422);
  });

  test('a hand-built outcome without an id gets the status of its issue code, not 400 for everything', () => {
    expect(
      httpStatusOf({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'business-rule' }] })
    ).toBe(422);
    expect(httpStatusOf({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'throttled' }] })).toBe(
      429
    );
    expect(
      httpStatusOf({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] })
    ).toBe(200);
  });
});
