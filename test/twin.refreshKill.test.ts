/**
 * Issue 4 "Done when": a SIGKILL during `twin refresh --all` followed by a rerun completes with a correct twin
 * (equal to the twin of an uninterrupted refresh of the same data).
 */
import type { Observation, Patient } from '@medplum/fhirtypes';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCohort } from '../src/cohort/generateCohort';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { SUBJECT_KEY_SYSTEM } from '../src/ingest/importers/metricObservation';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';

const ROOT = join(__dirname, '..');

async function loadCohort(dir: string): Promise<void> {
  const store = await openSqliteStore(dir, { durability: 'normal' });
  const client = new LocalFhirClient(store.repo, createEmbeddedRouter());
  for (const p of generateCohort({ patients: 12, days: 90, seed: 5, startDate: '2026-01-01' })) {
    await client.transaction(p.bundle);
  }
  store.close();
}

function refresh(dir: string, killAfterMs?: number): Promise<number | null> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'refresh', '--all', '--data-dir', dir],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    }
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  if (killAfterMs !== undefined) {
    setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  }
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => {
      if (killAfterMs === undefined && code !== 0) {
        reject(new Error(`refresh failed (${code}): ${stderr}`));
      }
      resolve(signal ? null : code);
    });
  });
}

async function twinOf(dir: string): Promise<string[]> {
  const store = await openSqliteStore(dir);
  try {
    const client = new LocalFhirClient(store.repo, createEmbeddedRouter());
    const twin = await client.searchAll<Observation>('Observation', { identifier: `${TWIN_RESOURCE_SYSTEM}|` });
    // Patient ids are server-assigned and differ between stores: name patients by their subject key instead.
    const patients = await client.searchAll<Patient>('Patient', {});
    return twin
      .map(({ id: _id, meta: _meta, ...rest }) => {
        let text = JSON.stringify(rest);
        for (const p of patients) {
          const key = p.identifier?.find((i) => i.system === SUBJECT_KEY_SYSTEM)?.value ?? '?';
          text = text.split(p.id as string).join(key);
        }
        return text;
      })
      .sort();
  } finally {
    store.close();
  }
}

test('SIGKILL during twin refresh --all, then a rerun, gives the same twin as an uninterrupted run', async () => {
  const killed = mkdtempSync(join(tmpdir(), 'twin-kill-'));
  const clean = mkdtempSync(join(tmpdir(), 'twin-clean-'));
  try {
    await loadCohort(killed);
    await loadCohort(clean);
    await refresh(clean);
    const expected = await twinOf(clean);
    expect(expected.length).toBeGreaterThan(12 * 80);

    for (const ms of [2500, 4000]) {
      await refresh(killed, ms);
    }
    const partial = await twinOf(killed);
    expect(partial.length).toBeLessThanOrEqual(expected.length);
    await refresh(killed);
    expect(await twinOf(killed)).toEqual(expected);
  } finally {
    rmSync(killed, { recursive: true, force: true });
    rmSync(clean, { recursive: true, force: true });
  }
}, 300_000);
