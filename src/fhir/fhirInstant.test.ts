import { parseFhirInstant } from './fhirInstant';

describe('parseFhirInstant', () => {
  test('reads R4 instants with a zone', () => {
    expect(parseFhirInstant('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(parseFhirInstant('2024-01-01T01:00:00.5+01:00')).toBe(Date.UTC(2024, 0, 1, 0, 0, 0, 500));
  });

  test.each([
    '2024-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01',
    '2024-01-01T00:00:00',
    'x',
  ])('refuses %s', (value) => {
    expect(parseFhirInstant(value)).toBeUndefined();
  });
});
