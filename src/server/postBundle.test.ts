import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { loadBaseDefinitions } from '../fhir/definitions';
import { postBundle } from './postBundle';

const seed: Bundle = {
  resourceType: 'Bundle',
  type: 'transaction',
  entry: [
    {
      fullUrl: 'urn:uuid:4b1d9a3e-2f0c-4d5e-9a6b-1c2d3e4f5a6b',
      request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:test:sid|p-1' },
      resource: { resourceType: 'Patient', identifier: [{ system: 'urn:test:sid', value: 'p-1' }] },
    },
  ],
};

describe('postBundle', () => {
  beforeAll(() => loadBaseDefinitions());

  test('applies a transaction of conditional creates once, however often it is posted', async () => {
    const repo = new MemoryRepository();
    const router = new FhirRouter();
    const first = await postBundle(router, repo, structuredClone(seed));
    expect(first.type).toBe('transaction-response');
    await postBundle(router, repo, structuredClone(seed));
    const found = await repo.searchResources<Patient>({ resourceType: 'Patient' });
    expect(found).toHaveLength(1);
  });

  test('throws the outcome when the Bundle is refused', async () => {
    const bad = { resourceType: 'Bundle', type: 'collection' } as Bundle;
    await expect(postBundle(new FhirRouter(), new MemoryRepository(), bad)).rejects.toThrow(/bundle type/i);
  });
});
