import type { PlanDefinition } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProtocolLibrary } from '../protocols/protocolLibrary';
import { LocalFhirClient } from '../fhir/localFhirClient';
import { openSqliteStore } from '../store/sqliteStore';
import { createEmbeddedRouter } from '../store/transactionBundle';
import { loadProtocolDefinitions } from './protocolDefinitions';

test('the protocol library is put on the server once; a restart writes nothing; a new version is a new server version', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-defs-'));
  const store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  try {
    const client = new LocalFhirClient(store.repo, createEmbeddedRouter());
    const library = loadProtocolLibrary();
    const first = await loadProtocolDefinitions(client, library);
    const total = library.planDefinitions.length + library.activityDefinitions.length + library.codeSystems.length;
    expect(first.written).toHaveLength(total);
    const again = await loadProtocolDefinitions(client, library);
    expect(again).toEqual({ written: [], unchanged: total });
    const acl = await store.repo.readResource<PlanDefinition>('PlanDefinition', 'acl-reconstruction');
    expect(acl.url).toBe('https://recovery-twin.dev/fhir/PlanDefinition/acl-reconstruction');
    const bumped = {
      ...library,
      planDefinitions: library.planDefinitions.map((p) =>
        p.id === 'acl-reconstruction' ? { ...p, version: '0.2.0' } : p
      ),
    };
    expect((await loadProtocolDefinitions(client, bumped)).written).toEqual(['PlanDefinition/acl-reconstruction']);
    expect((await store.repo.readHistory('PlanDefinition', 'acl-reconstruction')).entry).toHaveLength(2);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
