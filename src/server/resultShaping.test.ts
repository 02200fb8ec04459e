import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { loadBaseDefinitions } from '../fhir/definitions';
import { shapeResult, shapingOf } from './resultShaping';

beforeAll(() => {
  loadBaseDefinitions();
});

const patient: Patient = {
  resourceType: 'Patient',
  id: 'p',
  meta: { versionId: '1' },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' },
  name: [{ family: 'F' }],
  birthDate: '1970-01-01',
  photo: [{ contentType: 'image/png' }],
};

describe('_summary and _elements', () => {
  test('_summary=true keeps summary elements, id and meta, and tags SUBSETTED', () => {
    const shaped = shapeResult(patient, { kind: 'summary', mode: 'true' }) as Patient;
    expect(Object.keys(shaped).sort()).toEqual(['birthDate', 'id', 'meta', 'name', 'resourceType']);
    expect(shaped.meta?.tag?.map((t) => t.code)).toEqual(['SUBSETTED']);
  });

  test('_summary=text and data', () => {
    expect(Object.keys(shapeResult(patient, { kind: 'summary', mode: 'text' })).sort()).toEqual([
      'id',
      'meta',
      'resourceType',
      'text',
    ]);
    expect(shapeResult(patient, { kind: 'summary', mode: 'data' })).not.toHaveProperty('text');
  });

  test('_elements keeps the named elements, choice types by their element name', () => {
    const obs: Observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      valueQuantity: { value: 1 },
    };
    const shaped = shapeResult(obs, { kind: 'elements', names: ['value'] }) as Observation;
    expect(shaped.valueQuantity).toEqual({ value: 1 });
    // status and code are mandatory (1..1) and stay.
    expect(shaped.status).toBe('final');
    expect(shaped.code).toEqual({ text: 'x' });
  });

  test('nothing dropped, nothing tagged; searchsets are shaped entry by entry; history is not', () => {
    const small: Patient = { resourceType: 'Patient', id: 'p', name: [{ family: 'F' }] };
    expect(shapeResult(small, { kind: 'summary', mode: 'true' })).toBe(small);
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [{ resource: patient, search: { mode: 'match' } }],
    };
    const shaped = shapeResult(bundle, { kind: 'elements', names: ['name'] }) as Bundle<Patient>;
    expect(shaped.entry?.[0]?.resource?.birthDate).toBeUndefined();
    const history: Bundle = { ...bundle, type: 'history' };
    expect(shapeResult(history, { kind: 'elements', names: ['name'] })).toBe(history);
  });

  test('shapingOf reads the last value; count and false are not shaping', () => {
    expect(shapingOf({ _summary: ['text', 'true'] })).toEqual({ kind: 'summary', mode: 'true' });
    expect(shapingOf({ _summary: 'count' })).toBeUndefined();
    expect(shapingOf({ _summary: 'false' })).toBeUndefined();
    expect(shapingOf({ _elements: 'name, birthDate' })).toEqual({ kind: 'elements', names: ['name', 'birthDate'] });
  });
});
