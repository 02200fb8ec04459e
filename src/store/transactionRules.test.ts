import { OperationOutcomeError } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, Patient } from '@medplum/fhirtypes';
import { loadBaseDefinitions } from '../fhir/definitions';
import { checkBundleRules, resolveConditionalReferences } from './transactionRules';

beforeAll(() => {
  loadBaseDefinitions();
});

const tx = (entry: BundleEntry[], type: Bundle['type'] = 'transaction'): Bundle => ({
  resourceType: 'Bundle',
  type,
  entry,
});
const U1 = 'urn:uuid:11111111-1111-4111-8111-111111111111';
const U2 = 'urn:uuid:22222222-2222-4222-8222-222222222222';

function refusal(bundle: Bundle): string | undefined {
  try {
    checkBundleRules(bundle);
    return undefined;
  } catch (err) {
    const outcome = (err as OperationOutcomeError).outcome;
    return `${outcome.issue?.[0]?.details?.text} @ ${outcome.issue?.[0]?.expression?.[0]}`;
  }
}

describe('checkBundleRules (FHIR R4 http.html#trules)', () => {
  test('accepts a transaction whose urn:uuid references name its entries', () => {
    expect(
      refusal(
        tx([
          { fullUrl: U1, resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
          {
            fullUrl: U2,
            resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: U1 } },
            request: { method: 'POST', url: 'Observation' },
          },
        ])
      )
    ).toBeUndefined();
  });

  test('refuses duplicate fullUrls, an unresolved urn:uuid, two writes to one resource', () => {
    const post = {
      resource: { resourceType: 'Patient' as const },
      request: { method: 'POST' as const, url: 'Patient' },
    };
    expect(
      refusal(
        tx([
          { fullUrl: U1, ...post },
          { fullUrl: U1, ...post },
        ])
      )
    ).toMatch(/same fullUrl @ Bundle.entry\[1\]/);
    expect(
      refusal(
        tx([
          {
            resource: { resourceType: 'Patient', link: [{ other: { reference: U2 }, type: 'seealso' }] },
            request: { method: 'POST', url: 'Patient' },
          },
        ])
      )
    ).toMatch(/names no entry .* @ Bundle.entry\[0\].resource.link\[0\].other.reference/);
    const put = {
      resource: { resourceType: 'Patient' as const, id: 'a' },
      request: { method: 'PUT' as const, url: 'Patient/a' },
    };
    expect(refusal(tx([put, put]))).toMatch(/modify the same resource/);
    // In a batch, entries are independent: the same checks do not apply.
    expect(refusal(tx([put, put], 'batch'))).toBeUndefined();
  });

  test('refuses nested Bundles, operations and types the store does not hold, in batches too', () => {
    const nested = {
      resource: { resourceType: 'Bundle' as const, type: 'transaction' as const },
      request: { method: 'POST' as const, url: '/' },
    };
    expect(refusal(tx([nested]))).toMatch(/nested/);
    expect(refusal(tx([nested], 'batch'))).toMatch(/nested/);
    expect(refusal(tx([{ request: { method: 'POST', url: 'Patient/1/$twin-refresh' } }], 'batch'))).toBeUndefined();
    expect(refusal(tx([{ request: { method: 'POST', url: '$export' } }]))).toMatch(/operation/);
    expect(
      refusal(
        tx([{ request: { method: 'POST', url: 'Binary' }, resource: { resourceType: 'Binary', contentType: 'x' } }])
      )
    ).toMatch(/does not store|does not address/);
    expect(refusal(tx([{ request: { method: 'PUT', url: 'Patient/a', ifMatch: '1' } }]))).toMatch(/ifMatch/);
  });
});

describe('resolveConditionalReferences', () => {
  test('one match becomes Type/id; none or several fail', async () => {
    const repo = new MemoryRepository();
    const org = await repo.createResource({
      resourceType: 'Organization',
      identifier: [{ system: 'urn:npi', value: '1' }],
    });
    const bundle = tx([
      {
        resource: { resourceType: 'Patient', managingOrganization: { reference: 'Organization?identifier=urn:npi|1' } },
        request: { method: 'POST', url: 'Patient' },
      },
    ]);
    const resolved = await resolveConditionalReferences(repo, bundle);
    expect((resolved.entry?.[0]?.resource as Patient).managingOrganization?.reference).toBe(`Organization/${org.id}`);
    // The input is not changed.
    expect((bundle.entry?.[0]?.resource as Patient).managingOrganization?.reference).toBe(
      'Organization?identifier=urn:npi|1'
    );

    const none = tx([
      {
        resource: { resourceType: 'Patient', managingOrganization: { reference: 'Organization?identifier=urn:npi|2' } },
        request: { method: 'POST', url: 'Patient' },
      },
    ]);
    await expect(resolveConditionalReferences(repo, none)).rejects.toThrow(/matched no resource/);
    await repo.createResource({ resourceType: 'Organization', identifier: [{ system: 'urn:npi', value: '1' }] });
    await expect(resolveConditionalReferences(repo, bundle)).rejects.toThrow(/more than one/);
  });
});
