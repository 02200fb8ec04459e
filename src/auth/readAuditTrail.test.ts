import type { AuditEvent, Bundle, Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '@medplum/core';
import type { FhirClient } from '../fhir/fhirClient';
import { AUDIT_COUNT_EXTENSION, ReadAuditTrail } from './readAuditTrail';

/** A store of AuditEvents by id whose transactions can be made to fail. */
function fakeClient(): FhirClient & { stored: Map<string, AuditEvent>; failNext: number; transactions: number } {
  const stored = new Map<string, AuditEvent>();
  const client = {
    stored,
    failNext: 0,
    transactions: 0,
    read: <T extends Resource>(type: string, id: string): Promise<T> => {
      const found = type === 'AuditEvent' ? stored.get(id) : undefined;
      return found
        ? Promise.resolve(found as unknown as T)
        : Promise.reject(new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: [] }));
    },
    searchAll: () => Promise.resolve([]),
    transaction: (bundle: Bundle): Promise<Bundle> => {
      client.transactions += 1;
      if (client.failNext > 0) {
        client.failNext -= 1;
        return Promise.reject(new Error('store refused'));
      }
      for (const e of bundle.entry ?? []) {
        stored.set(e.resource?.id ?? '', e.resource as AuditEvent);
      }
      return Promise.resolve({ resourceType: 'Bundle', type: 'transaction-response' });
    },
  };
  return client;
}

const countOf = (e: AuditEvent | undefined): number =>
  e?.extension?.find((x) => x.url === AUDIT_COUNT_EXTENSION)?.valueInteger ?? 0;

describe('ReadAuditTrail', () => {
  const read = { fhirUser: 'Practitioner/p1', clientId: 'app', patient: 'a', interaction: 'read' as const };

  test('batches reads into one AuditEvent per key and one transaction per flush; an empty flush writes nothing', async () => {
    const client = fakeClient();
    const lines: string[] = [];
    const trail = new ReadAuditTrail(
      { client, now: () => new Date('2026-03-01T10:00:00Z'), log: (l) => lines.push(l) },
      { flushEveryMs: 0 }
    );
    for (let i = 0; i < 100; i++) {
      trail.record(read);
    }
    trail.record({ ...read, patient: 'b' });
    await trail.flush();
    await trail.flush();
    expect(client.transactions).toBe(1);
    expect([...client.stored.values()].map(countOf).sort((x, y) => x - y)).toEqual([1, 100]);
  });

  test('a failed flush keeps the reads; the next one writes them once, added to what is stored', async () => {
    const client = fakeClient();
    const lines: string[] = [];
    const trail = new ReadAuditTrail(
      { client, now: () => new Date('2026-03-01T10:00:00Z'), log: (l) => lines.push(l) },
      { flushEveryMs: 0 }
    );
    trail.record(read);
    await trail.flush();
    trail.record(read);
    trail.record(read);
    client.failNext = 1;
    await trail.flush();
    expect(trail.pendingKeys).toBe(1);
    // The log line says how many records, never whose.
    expect(lines).toEqual(['audit trail: flush of 1 record(s) failed (Error); kept for the next flush']);
    trail.record(read);
    await trail.close();
    expect([...client.stored.values()].map(countOf)).toEqual([4]);
    expect(trail.pendingKeys).toBe(0);
  });

  test('bounded: beyond maxPendingKeys new keys are counted as dropped, known keys still counted', () => {
    const client = fakeClient();
    const trail = new ReadAuditTrail(
      { client, now: () => new Date('2026-03-01T10:00:00Z') },
      { flushEveryMs: 0, flushAtKeys: 1000, maxPendingKeys: 2 }
    );
    trail.record({ ...read, patient: 'a' });
    trail.record({ ...read, patient: 'b' });
    trail.record({ ...read, patient: 'c' });
    trail.record({ ...read, patient: 'a' });
    expect(trail.pendingKeys).toBe(2);
    expect(trail.dropped).toBe(1);
  });
});
