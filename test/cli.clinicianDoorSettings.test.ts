import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import type { Practitioner } from '@medplum/fhirtypes';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clinicianDoorFromSettings, type DoorSettings } from '../src/cli/clinicianDoorFromSettings';
import { loadBaseDefinitions } from '../src/fhir/definitions';

describe('twin serve: the door from its settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-door-settings-'));
  const base: DoorSettings = { auth: 'local', allowedOrigins: [], frameAncestors: [] };
  const context = (host: string, repo = new MemoryRepository()) => ({
    origin: `http://${host}:8080`,
    host,
    dataDir: dir,
    repo,
    router: new FhirRouter(),
    log: () => undefined,
  });

  beforeAll(() => loadBaseDefinitions());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('open mode is refused off loopback, and says it is open on loopback', async () => {
    await expect(clinicianDoorFromSettings({ ...base, auth: 'open' }, context('0.0.0.0'))).rejects.toThrow(/loopback/);
    const door = await clinicianDoorFromSettings({ ...base, auth: 'open' }, context('127.0.0.1'));
    expect(door.startupLines.join('\n')).toMatch(/WARNING: the FHIR API is OPEN/);
  });

  test('external mode needs an issuer and its JWKS', async () => {
    await expect(clinicianDoorFromSettings({ ...base, auth: 'external' }, context('127.0.0.1'))).rejects.toThrow(
      /issuer/
    );
  });

  test('local mode keeps its key in the data directory and creates one demo practitioner, once', async () => {
    const repo = new MemoryRepository();
    const door = await clinicianDoorFromSettings(base, context('127.0.0.1', repo));
    await clinicianDoorFromSettings(base, context('127.0.0.1', repo));
    expect(existsSync(join(dir, 'auth', 'signing-key.json'))).toBe(true);
    expect(await repo.searchResources<Practitioner>({ resourceType: 'Practitioner' })).toHaveLength(1);
    expect(door.startupLines.join('\n')).toContain('/auth/launcher');
    // JSON for writes, the access guard, the read audit trail.
    expect(door.door.fhirGuard?.length).toBe(3);
    await door.close();
  });

  test('backend clients must name their keys and scopes', async () => {
    await expect(
      clinicianDoorFromSettings({ ...base, backendClients: '[{"clientId":"bot"}]' }, context('127.0.0.1'))
    ).rejects.toThrow(/jwks/);
  });
});
