import { classifyRequest } from './fhirAccessGuard';

describe('classifying a request under the FHIR base (what the scopes must grant)', () => {
  test.each([
    ['GET', '/Observation/o1', { kind: 'instance', type: 'Observation', id: 'o1', permission: 'r', history: false }],
    [
      'GET',
      '/Observation/o1/_history/2',
      { kind: 'instance', type: 'Observation', id: 'o1', permission: 'r', history: true },
    ],
    ['PUT', '/CarePlan/c1', { kind: 'instance', type: 'CarePlan', id: 'c1', permission: 'u', history: false }],
    ['DELETE', '/Task/t1', { kind: 'instance', type: 'Task', id: 't1', permission: 'd', history: false }],
    ['GET', '/Observation', { kind: 'type', type: 'Observation', permission: 's', conditional: false }],
    ['POST', '/Observation/_search', { kind: 'type', type: 'Observation', permission: 's', conditional: false }],
    ['POST', '/Observation', { kind: 'type', type: 'Observation', permission: 'c', conditional: false }],
    ['PUT', '/Observation', { kind: 'type', type: 'Observation', permission: 'u', conditional: true }],
    ['POST', '/', { kind: 'system', what: 'batch' }],
    ['POST', '/Task/t1/$review', { kind: 'operation', name: 'review', type: 'Task', id: 't1' }],
    ['GET', '/Patient/$export', { kind: 'bulk' }],
    ['GET', '/$export-status/job1', { kind: 'bulk', job: 'job1' }],
    ['GET', '/$export-file/job1/Patient.ndjson', { kind: 'bulk', job: 'job1' }],
  ] as const)('%s %s', (method, path, expected) => {
    expect(classifyRequest(method, path, [])).toEqual(expected);
  });

  test('what it cannot classify is undefined (the guard then asks for full access)', () => {
    expect(classifyRequest('GET', '/Observation/o1/whatever', [])).toBeUndefined();
    expect(classifyRequest('GET', '/lowercase', [])).toBeUndefined();
  });
});
