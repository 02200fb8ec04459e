import { loadBaseDefinitions } from './definitions';
import { FHIR_ID, strictShapeIssues } from './strictShape';

beforeAll(() => {
  loadBaseDefinitions();
});

const paths = (resource: unknown): string[] => strictShapeIssues(resource).flatMap((i) => i.expression ?? []);

describe('strictShapeIssues: the JSON rules Medplum lets through', () => {
  test('a complex element holding a primitive is refused, with its path', () => {
    expect(paths({ resourceType: 'Patient', name: [1] })).toEqual(['Patient.name[0]']);
    expect(paths({ resourceType: 'Patient', contact: [{ name: 'x' }] })).toEqual(['Patient.contact[0].name']);
  });

  test('two types of one choice element are refused; one is fine', () => {
    const obs = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1 } };
    expect(paths(obs)).toEqual([]);
    expect(paths({ ...obs, valueString: 'a' })).toEqual(['Observation.valueString']);
    // A key present with the value undefined is absent in JSON.
    expect(paths({ ...obs, valueString: undefined })).toEqual([]);
  });

  test('names of Object.prototype are unknown elements, at any depth', () => {
    expect(paths(JSON.parse('{"resourceType":"Patient","__proto__":{"a":1}}'))).toEqual(['Patient.__proto__']);
    expect(paths({ resourceType: 'Patient', constructor: 1 })).toEqual(['Patient.constructor']);
    expect(paths({ resourceType: 'Patient', name: [{ toString: 'x' }] })).toEqual(['Patient.name[0].toString']);
  });

  test('resource ids follow datatypes.html#id, contained ones too', () => {
    for (const bad of ['a;b', '*', 'a b', 'a\r\nb', 'a"b', 'a\u202eb', 'a'.repeat(65), '']) {
      expect(FHIR_ID.test(bad)).toBe(false);
    }
    expect(FHIR_ID.test('A-z.0')).toBe(true);
    expect(paths({ resourceType: 'Patient', id: 'a;b' })).toEqual(['Patient.id']);
    expect(paths({ resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'a b' }] })).toEqual([
      'Patient.contained[0].id',
    ]);
  });

  test('nested resources in a Bundle are walked with their own type', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'Patient', name: [1] } }],
    };
    expect(paths(bundle)).toEqual(['Bundle.entry[0].resource.name[0]']);
  });
});
