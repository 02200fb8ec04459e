import { OperationOutcomeError } from '@medplum/core';
import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import type { FhirClient } from './fhirClient';
import { invalidInput } from './outcomes';
import { validatingClient } from './validatingClient';

/** A client that records what reaches it. */
function recordingClient(): { client: FhirClient; sent: Bundle[] } {
  const sent: Bundle[] = [];
  return {
    sent,
    client: {
      read: <T extends Resource>(resourceType: T['resourceType'] & ResourceType, id: string) =>
        Promise.resolve({ resourceType, id } as T),
      searchAll: () => Promise.resolve([]),
      transaction: (bundle) => {
        sent.push(bundle);
        return Promise.resolve({ resourceType: 'Bundle', type: 'transaction-response' });
      },
    },
  };
}

const noNegativeValues = (resource: Resource): void => {
  if (resource.resourceType === 'Observation' && (resource.valueQuantity?.value ?? 0) < 0) {
    throw invalidInput('value must not be negative', 'Observation.valueQuantity.value');
  }
};

describe('validatingClient', () => {
  test('valid entries are sent as they are', async () => {
    const { client, sent } = recordingClient();
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Observation', status: 'final', code: {}, valueQuantity: { value: 3 } } },
        { request: { method: 'DELETE', url: 'Observation?identifier=a|b' } },
      ],
    };
    await validatingClient(client, noNegativeValues).transaction(bundle);
    expect(sent).toEqual([bundle]);
  });

  test('every invalid entry is reported at once, with its place in the Bundle, and nothing is sent', async () => {
    const { client, sent } = recordingClient();
    const bad = { resourceType: 'Observation', status: 'final', code: {}, valueQuantity: { value: -1 } } as const;
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { ...bad } }, { resource: { resourceType: 'Patient' } }, { resource: { ...bad } }],
    };
    const error = await validatingClient(client, noNegativeValues)
      .transaction(bundle)
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OperationOutcomeError);
    expect((error as OperationOutcomeError).outcome.issue.map((i) => i.expression?.[0])).toEqual([
      'Bundle.entry[0].resource.Observation.valueQuantity.value',
      'Bundle.entry[2].resource.Observation.valueQuantity.value',
    ]);
    expect(sent).toEqual([]);
  });

  test('a reference to another entry by urn:uuid is checked in the Type/id shape the server will give it', async () => {
    const { client, sent } = recordingClient();
    const seen: string[] = [];
    const literalOnly = (resource: Resource): void => {
      if (resource.resourceType === 'Task') {
        seen.push(resource.focus?.reference ?? '');
        if (!/^CarePlan\/[A-Za-z0-9.-]+$/.test(resource.focus?.reference ?? '')) {
          throw invalidInput('focus must be a literal CarePlan reference', 'Task.focus');
        }
      }
    };
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:7f4e1c1a-0000-4000-8000-000000000001',
          resource: {
            resourceType: 'CarePlan',
            status: 'draft',
            intent: 'proposal',
            subject: { reference: 'Patient/p' },
          },
        },
        {
          resource: {
            resourceType: 'Task',
            status: 'requested',
            intent: 'order',
            focus: { reference: 'urn:uuid:7f4e1c1a-0000-4000-8000-000000000001' },
          },
        },
      ],
    };
    await validatingClient(client, literalOnly).transaction(bundle);
    expect(seen).toEqual(['CarePlan/pending-entry-0']);
    // What is sent is untouched: the server does the rewriting.
    expect(sent[0].entry?.[1].resource).toMatchObject({
      focus: { reference: 'urn:uuid:7f4e1c1a-0000-4000-8000-000000000001' },
    });
  });
});
