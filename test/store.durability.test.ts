/**
 * Durability of the embedded server: SIGKILL the real `twin serve` process while clients are writing transactions,
 * restart it on the same data directory, and check that every acknowledged transaction is there in full and no
 * transaction is there in part. Repeated over several kills on one data directory.
 */
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const OBS_PER_TX = 9;

interface Server {
  child: ChildProcess;
  baseUrl: string;
}

async function startServer(dataDir: string): Promise<Server> {
  // One process (node with tsx's loader), so SIGKILL hits the server itself, not a wrapper around it.
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--no-seed',
      '--auth',
      'open',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
    }
  );
  let out = '';
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /FHIR R4 base:\s+(\S+)/.exec(out);
      if (m && out.includes('Ready.')) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`server exited (${code}):\n${out}`)));
  });
  return { child, baseUrl };
}

function transaction(k: number): Bundle {
  const patientUrl = `urn:uuid:00000000-0000-4000-8000-${String(k).padStart(12, '0')}`;
  const entry: BundleEntry[] = [
    {
      fullUrl: patientUrl,
      resource: { resourceType: 'Patient', identifier: [{ system: `urn:durability:tx:${k}`, value: 'patient' }] },
      request: { method: 'POST', url: 'Patient' },
    },
  ];
  for (let j = 0; j < OBS_PER_TX; j++) {
    entry.push({
      resource: {
        resourceType: 'Observation',
        status: 'final',
        identifier: [{ system: `urn:durability:tx:${k}`, value: `obs-${j}` }],
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: patientUrl },
        effectiveDateTime: new Date(Date.UTC(2026, 0, 1) + j * 3_600_000).toISOString(),
        valueQuantity: { value: 60 + j, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      },
      request: { method: 'POST', url: 'Observation' },
    });
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

/** Sends transactions from `writers` concurrent clients until the server dies; returns the acknowledged ones. */
async function writeUntilKilled(
  server: Server,
  firstTx: number,
  killAfterMs: number
): Promise<{ sent: number[]; acked: number[] }> {
  const sent: number[] = [];
  const acked: number[] = [];
  let next = firstTx;
  let dead = false;
  const writer = async (): Promise<void> => {
    while (!dead) {
      const k = next++;
      sent.push(k);
      try {
        const res = await fetch(server.baseUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json' },
          body: JSON.stringify(transaction(k)),
        });
        if (res.status === 200) {
          acked.push(k);
        } else {
          throw new Error(`transaction ${k} answered ${res.status}: ${await res.text()}`);
        }
      } catch (err) {
        if (!dead) {
          throw err;
        }
      }
    }
  };
  const timer = setTimeout(() => {
    dead = true;
    server.child.kill('SIGKILL');
  }, killAfterMs);
  const exited = new Promise((resolve) => server.child.on('exit', resolve));
  await Promise.all([writer(), writer(), writer()]);
  clearTimeout(timer);
  await exited;
  return { sent, acked };
}

async function countFor(baseUrl: string, type: string, k: number): Promise<number> {
  const res = await fetch(
    `${baseUrl}/${type}?identifier=${encodeURIComponent(`urn:durability:tx:${k}|`)}&_total=accurate&_count=0`
  );
  const bundle = (await res.json()) as Bundle;
  return bundle.total ?? -1;
}

describe('durability under SIGKILL', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'twin-durability-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('every acknowledged transaction survives, none survives in part', async () => {
    const allSent: number[] = [];
    const allAcked = new Set<number>();
    let first = 0;
    // Different kill points on the same data directory: early, middle, later in a load.
    for (const killAfterMs of [700, 1300, 2100]) {
      const server = await startServer(dataDir);
      const { sent, acked } = await writeUntilKilled(server, first, killAfterMs);
      expect(acked.length).toBeGreaterThan(0);
      sent.forEach((k) => allSent.push(k));
      acked.forEach((k) => allAcked.add(k));
      first = Math.max(...sent) + 1;
    }
    const server = await startServer(dataDir);
    try {
      for (const k of allSent) {
        const patients = await countFor(server.baseUrl, 'Patient', k);
        const observations = await countFor(server.baseUrl, 'Observation', k);
        if (allAcked.has(k)) {
          expect({ k, patients, observations }).toEqual({ k, patients: 1, observations: OBS_PER_TX });
        } else {
          // in flight at the kill: all or nothing
          expect([`${k}:0:0`, `${k}:1:${OBS_PER_TX}`]).toContain(`${k}:${patients}:${observations}`);
        }
      }
    } finally {
      server.child.kill('SIGTERM');
    }
  }, 240_000);
});
