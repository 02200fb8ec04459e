import type { CapabilityStatementInput } from './capabilityStatement';
import { buildCapabilityStatement } from './capabilityStatement';

const input: CapabilityStatementInput = {
  baseUrl: 'http://localhost:8080/fhir/R4',
  software: { name: 'recovery-twin', version: '1.2.3' },
  resources: [
    {
      type: 'Observation',
      interactions: ['read', 'search-type'],
      searchParams: [
        { name: 'patient', type: 'reference', definition: 'http://hl7.org/fhir/SearchParameter/clinical-patient' },
        { name: 'date', type: 'date', documentation: 'effective[x]' },
      ],
      conditionalCreate: true,
    },
  ],
  systemInteractions: ['transaction'],
  formats: ['application/fhir+json'],
  clock: () => new Date('2024-06-30T12:00:00Z'),
};

describe('buildCapabilityStatement', () => {
  test('states the fixed facts of this server', () => {
    const statement = buildCapabilityStatement(input);
    expect(statement).toMatchObject({
      resourceType: 'CapabilityStatement',
      status: 'active',
      kind: 'instance',
      fhirVersion: '4.0.1',
      date: '2024-06-30T12:00:00.000Z',
      software: { name: 'recovery-twin', version: '1.2.3' },
      implementation: { url: 'http://localhost:8080/fhir/R4' },
      format: ['application/fhir+json'],
    });
  });

  test('lists exactly the declared resources, interactions and search parameters, nothing else', () => {
    const statement = buildCapabilityStatement(input);
    expect(statement.rest).toEqual([
      {
        mode: 'server',
        interaction: [{ code: 'transaction' }],
        resource: [
          {
            type: 'Observation',
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            conditionalCreate: true,
            searchParam: [
              {
                name: 'patient',
                type: 'reference',
                definition: 'http://hl7.org/fhir/SearchParameter/clinical-patient',
              },
              { name: 'date', type: 'date', documentation: 'effective[x]' },
            ],
          },
        ],
      },
    ]);
    expect(statement.patchFormat).toBeUndefined();
  });

  test('omits system interactions when there are none, and adds patch formats when given', () => {
    const statement = buildCapabilityStatement({
      ...input,
      systemInteractions: [],
      patchFormats: ['application/json-patch+json'],
    });
    expect(statement.rest?.[0]?.interaction).toBeUndefined();
    expect(statement.patchFormat).toEqual(['application/json-patch+json']);
  });

  test('refuses a resource type listed twice', () => {
    expect(() => buildCapabilityStatement({ ...input, resources: [...input.resources, ...input.resources] })).toThrow(
      /listed twice/
    );
  });
});
