import type { Bundle, Observation, Resource, ResourceType, Task } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhirClient';
import { writeBack } from './writeBack';
import { append, createOnce, remove, upsert, versionedUpdate } from './writePlan';

const ID = {
  system: 'https://recovery-twin.dev/fhir/NamingSystem/twin-resource',
  value: 'baseline/p1/resting-heart-rate',
};

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
        return Promise.resolve({
          resourceType: 'Bundle',
          type: 'transaction-response',
          entry: (bundle.entry ?? []).map((_, i) => ({ response: { status: '200', location: `X/${i}/_history/1` } })),
        });
      },
    },
  };
}

const observation = (value: number): Observation => ({
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'baseline' },
  valueQuantity: { value },
  identifier: [ID],
});

describe('writeBack', () => {
  test('an upsert whose content the server holds is not sent; a plan with nothing left sends no transaction', async () => {
    const { client, sent } = recordingClient();
    const onServer = { ...observation(52), id: 'abc', meta: { versionId: '3', lastUpdated: '2026-01-01T00:00:00Z' } };
    const result = await writeBack(client, { writes: [upsert(observation(52), ID, onServer)] });
    expect(result).toEqual({ sent: [], unchanged: 1, responses: [] });
    expect(sent).toEqual([]);
  });

  test('one transaction, each write conditional on its identifier', async () => {
    const { client, sent } = recordingClient();
    const task: Task = { resourceType: 'Task', status: 'requested', intent: 'order' };
    const result = await writeBack(client, {
      writes: [
        upsert(observation(53), ID, observation(52)),
        createOnce(task, { system: ID.system, value: 'review/p1' }, 'urn:uuid:00000000-0000-4000-8000-000000000001'),
        append({
          resourceType: 'Provenance',
          target: [{ reference: 'Task/1' }],
          recorded: '2026-01-01T00:00:00Z',
          agent: [],
        }),
        remove('Observation', { system: ID.system, value: 'state/p1/2026-01-02' }),
      ],
    });
    expect(sent).toHaveLength(1);
    expect(sent[0].type).toBe('transaction');
    expect(sent[0].entry?.map((e) => e.request)).toEqual([
      { method: 'PUT', url: `Observation?identifier=${encodeURIComponent(`${ID.system}|${ID.value}`)}` },
      { method: 'POST', url: 'Task', ifNoneExist: `identifier=${encodeURIComponent(`${ID.system}|review/p1`)}` },
      { method: 'POST', url: 'Provenance' },
      { method: 'DELETE', url: `Observation?identifier=${encodeURIComponent(`${ID.system}|state/p1/2026-01-02`)}` },
    ]);
    expect(sent[0].entry?.[1].fullUrl).toBe('urn:uuid:00000000-0000-4000-8000-000000000001');
    expect(result.unchanged).toBe(0);
    expect(result.responses).toHaveLength(4);
  });

  test('server-assigned meta does not make content differ, but the engine-set security labels do', async () => {
    const { client, sent } = recordingClient();
    const labelled = { ...observation(52), meta: { security: [{ code: 'AIAST' }] } };
    await writeBack(client, { writes: [upsert(labelled, ID, observation(52))] });
    expect(sent).toHaveLength(1);
  });

  test('a versioned update is a PUT by id with If-Match on the version read', async () => {
    const { client, sent } = recordingClient();
    const task: Task & { id: string } = { resourceType: 'Task', id: 't1', status: 'cancelled', intent: 'order' };
    await writeBack(client, { writes: [versionedUpdate(task, '4'), versionedUpdate({ ...task, id: 't2' })] });
    expect(sent[0].entry?.map((e) => e.request)).toEqual([
      { method: 'PUT', url: 'Task/t1', ifMatch: 'W/"4"' },
      { method: 'PUT', url: 'Task/t2' },
    ]);
  });
});
