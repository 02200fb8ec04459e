/**
 * Bulk Data export files of an encrypted store are sealed at rest (README "Encryption at rest and in transit"): the
 * bytes on disk hold no resource, the download endpoint serves plain NDJSON, and the manifest is unchanged.
 */
import type { Bundle, BundleEntry, Observation, Patient } from '@medplum/fhirtypes';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BulkExportManifest } from '../src/fhir/bulk/bulkManifest';
import { startServer, type OpenRepository, type RunningServer } from '../src/cli/serveCommand';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';

const KEY = randomBytes(32);
const OBSERVATIONS = 400; // well over one 64 KiB chunk of NDJSON

const encryptedStore: OpenRepository = async (dataDir, { baseUrl }) => {
  const store = await openSqliteStore(dataDir, { baseUrl, key: KEY });
  return {
    repo: store.repo,
    close: () => store.close(),
    supports: store.supports,
    router: createEmbeddedRouter(),
    systemInteractions: ['transaction', 'batch'],
    ...(store.exportFiles ? { exportFiles: store.exportFiles } : {}),
  };
};

describe('Bulk Data export of an encrypted store', () => {
  let dataDir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'twin-bulk-crypt-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      seed: false,
      openRepository: encryptedStore,
      log: () => undefined,
      bulkExport: {},
    });
    const patientUrl = `urn:uuid:${crypto.randomUUID()}`;
    const entry: BundleEntry[] = [
      {
        fullUrl: patientUrl,
        resource: { resourceType: 'Patient', name: [{ family: 'Quixote', given: ['Zebulon'] }] } satisfies Patient,
        request: { method: 'POST', url: 'Patient' },
      },
    ];
    for (let k = 0; k < OBSERVATIONS; k++) {
      const obs: Observation = {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
        subject: { reference: patientUrl },
        effectiveDateTime: new Date(Date.UTC(2026, 0, 1) + k * 3_600_000).toISOString(),
        valueQuantity: { value: 60 + (k % 40), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      };
      entry.push({ resource: obs, request: { method: 'POST', url: 'Observation' } });
    }
    const response = await fetch(server.baseUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry } satisfies Bundle),
    });
    expect(response.status).toBe(200);
  });

  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('files on disk are sealed; the download serves the NDJSON; the manifest is the usual one', async () => {
    const kick = await fetch(`${server.baseUrl}/Patient/$export`, {
      headers: { Accept: 'application/fhir+json', Prefer: 'respond-async' },
    });
    expect(kick.status).toBe(202);
    const statusUrl = kick.headers.get('Content-Location') ?? '';
    let manifest: BulkExportManifest | undefined;
    while (!manifest) {
      const status = await fetch(statusUrl);
      if (status.status === 200) {
        manifest = (await status.json()) as BulkExportManifest;
      } else {
        expect(status.status).toBe(202);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    expect(manifest.output.map((o) => [o.type, o.count])).toEqual([
      ['Patient', 1],
      ['Observation', OBSERVATIONS],
    ]);

    const jobId = /\/([0-9a-f-]{36})$/.exec(statusUrl)?.[1] ?? '';
    const jobDir = join(dataDir, 'bulk', jobId);
    for (const file of readdirSync(jobDir).filter((f) => f.endsWith('.ndjson'))) {
      const raw = readFileSync(join(jobDir, file));
      expect(raw.subarray(0, 8).toString('ascii')).toBe('RTWINENC');
      for (const marker of ['"resourceType"', 'Zebulon', 'Quixote', '8867-4', 'Patient/']) {
        expect({ file, marker, found: raw.includes(Buffer.from(marker)) }).toEqual({ file, marker, found: false });
      }
      expect(statSync(join(jobDir, file)).mode & 0o077).toBe(0);
    }

    // The store's own file is the owner's only too.
    expect(statSync(join(dataDir, 'fhir.sqlite')).mode & 0o077).toBe(0);

    const observations = await fetch(manifest.output[1].url);
    expect(observations.status).toBe(200);
    expect(observations.headers.get('Content-Type')).toMatch(/^application\/fhir\+ndjson/);
    const lines = (await observations.text()).trim().split('\n');
    expect(lines).toHaveLength(OBSERVATIONS);
    expect(new Set(lines.map((l) => (JSON.parse(l) as Observation).resourceType))).toEqual(new Set(['Observation']));
    const patients = await (await fetch(manifest.output[0].url)).text();
    expect((JSON.parse(patients.trim()) as Patient).name?.[0]?.family).toBe('Quixote');
  });
});
