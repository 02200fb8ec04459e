import { parseSearchRequest, validateResource } from '@medplum/core';
import { MemoryRepository, type FhirRepository } from '@medplum/fhir-router';
import type { Observation } from '@medplum/fhirtypes';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadBaseDefinitions } from '../src/fhir/definitions';
import { SqliteRepository, type SqliteRepositoryOptions } from '../src/store/sqliteRepository';

/** Deterministic PRNG (mulberry32) so every run writes and queries the same data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Codes from the FHIR R4 vital-signs profile family (observation-vitalsigns), so every resource is valid.
const CODES = [
  { code: '8867-4', unit: '/min', mean: 65, sd: 8 },
  { code: '9279-1', unit: '/min', mean: 15, sd: 2 },
  { code: '8310-5', unit: 'Cel', mean: 36.8, sd: 0.3 },
  { code: '59408-5', unit: '%', mean: 97, sd: 1.2 },
  { code: '29463-7', unit: 'kg', mean: 72, sd: 10 },
];
const PATIENTS = 20_000;
const DAYS = 180;
const START = Date.UTC(2026, 0, 1);

function observation(i: number, rand: () => number): Observation {
  const c = CODES[Math.floor(rand() * CODES.length)];
  const patient = Math.floor(rand() * PATIENTS);
  const day = Math.floor(rand() * DAYS);
  const t = new Date(START + day * 86_400_000 + Math.floor(rand() * 86_400_000));
  return {
    resourceType: 'Observation',
    status: 'final',
    identifier: [{ system: 'urn:bench', value: String(i) }],
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: c.code }] },
    subject: { reference: `Patient/p${patient}` },
    effectiveDateTime: t.toISOString(),
    valueQuantity: {
      value: Math.round((c.mean + c.sd * (rand() + rand() + rand() - 1.5)) * 10) / 10,
      unit: c.unit,
      system: 'http://unitsofmeasure.org',
      code: c.unit,
    },
  };
}

interface QueryFigures {
  p50: number;
  p95: number;
  meanHits: number;
}

function queries(n: number, seed: number): string[] {
  const rand = prng(seed);
  return Array.from({ length: n }, () => {
    const c = CODES[Math.floor(rand() * CODES.length)].code;
    const patient = Math.floor(rand() * PATIENTS);
    const from = Math.floor(rand() * (DAYS - 30));
    const to = from + 7 + Math.floor(rand() * 60);
    const d = (day: number): string => new Date(START + day * 86_400_000).toISOString().slice(0, 10);
    return `Observation?subject=Patient/p${patient}&code=http://loinc.org|${c}&date=ge${d(from)}&date=lt${d(to)}`;
  });
}

async function timeQueries(repo: FhirRepository, list: string[]): Promise<QueryFigures> {
  const times: number[] = [];
  let hits = 0;
  for (const q of list) {
    const t0 = performance.now();
    const bundle = await repo.search(parseSearchRequest(q));
    times.push(performance.now() - t0);
    hits += bundle.entry?.length ?? 0;
  }
  times.sort((a, b) => a - b);
  const pct = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { p50: pct(0.5), p95: pct(0.95), meanHits: hits / list.length };
}

async function writeObservations(
  repo: FhirRepository,
  from: number,
  to: number,
  rand: () => number,
  batch: number
): Promise<number> {
  const t0 = performance.now();
  for (let start = from; start < to; start += batch) {
    const end = Math.min(to, start + batch);
    await repo.withTransaction(
      async (tx) => {
        for (let i = start; i < end; i++) {
          await tx.createResource(observation(i, rand));
        }
      },
      { resourceTypes: ['Observation'] }
    );
    if ((end - from) % 100_000 === 0) {
      process.stderr.write(`  wrote ${end.toLocaleString('en')}\n`);
    }
  }
  return ((to - from) / (performance.now() - t0)) * 1000;
}

const fmt = (n: number, d = 2): string => n.toFixed(d);

interface EncryptionFigures {
  readonly label: string;
  readonly writesPerSecond: number;
  readonly query: QueryFigures;
  readonly reopenMs: number;
  readonly indexed: number;
  readonly reopenedQuery: QueryFigures;
  readonly mib: number;
}

/**
 * The same `n` Observations written to a plain store and to an encrypted one (README "Encryption at rest and in
 * transit"), the same queries on both, then each store closed and opened again: the encrypted store's open includes
 * rebuilding its in-memory search index from the decrypted resources.
 */
async function compareEncryption(dir: string, n: number, list: string[]): Promise<EncryptionFigures[]> {
  const key = randomBytes(32);
  const figures: EncryptionFigures[] = [];
  for (const [label, storeKey] of [
    ['plain', undefined],
    ['encrypted', key],
  ] as const) {
    const path = join(dir, `${label}.sqlite`);
    const options: SqliteRepositoryOptions = {
      path,
      baseUrl: 'http://localhost/fhir/R4',
      validate: (r) => {
        validateResource(r);
      },
      ...(storeKey ? { key: storeKey } : {}),
    };
    const repo = new SqliteRepository(options);
    const writesPerSecond = await writeObservations(repo, 0, n, prng(42), 1000);
    const query = await timeQueries(repo, list);
    repo.close();
    const t0 = performance.now();
    const reopened = new SqliteRepository(options);
    const reopenMs = performance.now() - t0;
    const reopenedQuery = await timeQueries(reopened, list);
    const indexed = reopened.openStats.indexedResources;
    reopened.close();
    const mib = (statSync(path).size + (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0)) / 1048576;
    figures.push({ label, writesPerSecond, query, reopenMs, indexed, reopenedQuery, mib });
  }
  return figures;
}

function printEncryption(n: number, figures: EncryptionFigures[]): void {
  console.log('');
  console.log(`encryption at rest, ${n.toLocaleString('en')} Observations, same data and queries:`);
  console.log(
    '| store | writes/s | query p50 ms | query p95 ms | open ms (index rebuild) | p95 after reopen ms | file MiB |'
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const f of figures) {
    console.log(
      `| ${f.label} | ${fmt(f.writesPerSecond, 0)} | ${fmt(f.query.p50)} | ${fmt(f.query.p95)} | ${fmt(f.reopenMs, 0)}${f.indexed ? ` (${f.indexed} indexed)` : ''} | ${fmt(f.reopenedQuery.p95)} | ${fmt(f.mib, 0)} |`
    );
  }
  const [plain, encrypted] = figures;
  console.log(
    `ratio encrypted/plain: writes/s ${fmt(encrypted.writesPerSecond / plain.writesPerSecond)}, query p95 ${fmt(encrypted.query.p95 / plain.query.p95)}`
  );
  console.log(
    `index rebuild on open: ${fmt(encrypted.reopenMs / 1000, 1)} s for ${encrypted.indexed.toLocaleString('en')} resources (${fmt((encrypted.indexed / encrypted.reopenMs) * 1000, 0)} resources/s)`
  );
}

/**
 * `npm run bench -- store [--max 1000000] [--queries 500] [--crypt 100000]`: writes 100k then 1M Observations (20k
 * patients, 5 codes, 180 days) into the SQLite store with validation on, times the engine's typical search at each
 * size, and runs the same writes and queries on Medplum's MemoryRepository at 100k as the reference (it is too slow
 * at 1M). Then `--crypt` Observations (default 100k, 0 skips) into a plain and an encrypted store, side by side.
 */
export async function runStoreBench(args: string[]): Promise<void> {
  const opt = (name: string, def: number): number => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const max = opt('max', 1_000_000);
  const nQueries = opt('queries', 500);
  const small = Math.min(100_000, max);
  const cryptN = opt('crypt', small);
  loadBaseDefinitions();
  const dir = mkdtempSync(join(tmpdir(), 'twin-bench-'));
  const list = queries(nQueries, 7);
  console.log(
    `store benchmark: ${small.toLocaleString('en')} then ${max.toLocaleString('en')} Observations, ${nQueries} queries`
  );
  console.log(`query: ${list[0]}`);
  try {
    const sqlite = new SqliteRepository({
      path: join(dir, 'fhir.sqlite'),
      baseUrl: 'http://localhost/fhir/R4',
      validate: (r) => validateResource(r),
    });
    const rand = prng(42);
    const w1 = await writeObservations(sqlite, 0, small, rand, 1000);
    const q1 = await timeQueries(sqlite, list);

    const memory = new MemoryRepository();
    const mrand = prng(42);
    const mt0 = performance.now();
    for (let i = 0; i < small; i++) {
      const o = observation(i, mrand);
      validateResource(o);
      await memory.createResource(o);
    }
    const mw = (small / (performance.now() - mt0)) * 1000;
    const mq = await timeQueries(memory, list.slice(0, Math.min(list.length, 100)));

    let w2 = NaN;
    let q2: QueryFigures | undefined;
    if (max > small) {
      w2 = await writeObservations(sqlite, small, max, rand, 1000);
      q2 = await timeQueries(sqlite, list);
    }
    sqlite.close();
    const bytes = statSync(join(dir, 'fhir.sqlite')).size;

    console.log('');
    console.log('| store | size | writes/s | query p50 ms | query p95 ms | hits/query |');
    console.log('|---|---|---|---|---|---|');
    console.log(
      `| MemoryRepository (reference) | ${small} | ${fmt(mw, 0)} | ${fmt(mq.p50)} | ${fmt(mq.p95)} | ${fmt(mq.meanHits, 1)} |`
    );
    console.log(
      `| SQLite store | ${small} | ${fmt(w1, 0)} | ${fmt(q1.p50)} | ${fmt(q1.p95)} | ${fmt(q1.meanHits, 1)} |`
    );
    if (q2) {
      console.log(
        `| SQLite store | ${max} | ${fmt(w2, 0)} | ${fmt(q2.p50)} | ${fmt(q2.p95)} | ${fmt(q2.meanHits, 1)} |`
      );
    }
    console.log('');
    console.log(`query p95 ratio at ${small}: MemoryRepository / SQLite = ${fmt(mq.p95 / q1.p95, 1)}x`);
    console.log(`write throughput ratio at ${small}: SQLite / MemoryRepository = ${fmt(w1 / mw, 2)}`);
    if (q2) {
      console.log(`query p95 at ${max}: ${fmt(q2.p95)} ms (goal <= 20 ms)`);
    }
    console.log(`database file: ${fmt(bytes / 1048576, 0)} MiB (WAL checkpointed on close)`);
    if (cryptN > 0) {
      printEncryption(cryptN, await compareEncryption(dir, cryptN, list));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
