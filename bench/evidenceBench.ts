import type { CarePlan } from '@medplum/fhirtypes';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { percentile } from './percentile';
import { seedEmbeddedStore } from '../src/server/seedEmbeddedStore';
import { openEvidenceEngine } from '../src/evidence/evidenceEngine';
import { createBm25Retriever, createHybridRetriever, type Retriever } from '../src/evidence/retrieval/hybridRetriever';
import type { RetrievalDocument } from '../src/evidence/retrieval/retrievalFiles';
import { defaultEmbeddingModelDir, loadDenseEncoder } from '../src/evidence/retrieval/denseEncoder';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { proposeCarePlan } from '../src/proposal/proposalWriter';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';

function arg(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/**
 * MedQuAD answers as a retrieval corpus: the QA pairs with answers of the four MedQuAD folders in
 * ../shared/data/medquad (CC BY 4.0). Read at run time; the benchmark is a development tool, not part of the engine.
 */
function medquadDocuments(dir: string): RetrievalDocument[] {
  const docs: RetrievalDocument[] = [];
  for (const folder of readdirSync(dir).filter((f) => /^\d+_/.test(f))) {
    for (const file of readdirSync(join(dir, folder)).filter((f) => f.endsWith('.xml'))) {
      const xml = readFileSync(join(dir, folder, file), 'utf8');
      for (const m of xml.matchAll(
        /<Question qid="([^"]+)"[^>]*>([\s\S]*?)<\/Question>\s*<Answer>([\s\S]*?)<\/Answer>/g
      )) {
        const text = (m[3] ?? '').replace(/\s+/g, ' ').trim();
        if (text) {
          docs.push({ id: `${folder}/${m[1] ?? ''}`, title: (m[2] ?? '').trim(), text });
        }
      }
    }
  }
  return docs;
}

function liveQaQueries(dir: string): string[] {
  const xml = readFileSync(
    join(dir, 'liveqa_med_2017_test', 'TREC-2017-LiveQA-Medical-Test-Questions-w-summaries.xml'),
    'utf8'
  );
  return [...xml.matchAll(/<SUBJECT>([\s\S]*?)<\/SUBJECT>\s*<MESSAGE>([\s\S]*?)<\/MESSAGE>/g)].map(
    (m) => `${m[1] ?? ''}. ${m[2] ?? ''}`
  );
}

async function timeQueries(retriever: Retriever, queries: readonly string[], rounds: number): Promise<number[]> {
  for (const q of queries) {
    await retriever.search(q, 100); // warm-up
  }
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const q of queries) {
      const t = performance.now();
      await retriever.search(q, 100);
      times.push(performance.now() - t);
    }
  }
  return times.sort((a, b) => a - b);
}

/**
 * Issue 6 benchmark. (a) Retrieval latency per query (top 100) over a 10,000-document corpus on one thread: plain BM25
 * (the reference) and the engine's hybrid, as p50/p95 and the hybrid/BM25 ratio. (b) One patient's proposal end to
 * end on the embedded store (read situation, match, write CarePlan + Task + Provenance), p50/p95, with the re-run (the
 * idempotent path, nothing written) as the reference; and how often the proposal matches the cohort's ground truth.
 */
export async function runEvidenceBench(args: string[]): Promise<void> {
  const medquad = arg(args, '--medquad') ?? join(__dirname, '..', '..', 'shared', 'data', 'medquad');
  if (!existsSync(medquad)) {
    throw new Error(`MedQuAD folder not found at ${medquad} (give --medquad DIR)`);
  }
  const target = Number(arg(args, '--documents') ?? 10_000);
  const real = medquadDocuments(medquad);
  const documents = [...real];
  // Fewer real answers than the target: the rest are copies under new ids (stated below), so the index has the size
  // asked for with real text; copies change term statistics a little, not the cost per query.
  for (let i = 0; documents.length < target; i++) {
    const d = real[i % real.length];
    documents.push({ ...d, id: `${d.id}#copy${Math.floor(i / real.length) + 1}` });
  }
  const queries = liveQaQueries(medquad);
  console.log(
    `(a) retrieval over ${documents.length} documents (${real.length} distinct MedQuAD answers), ${queries.length} LiveQA questions x 5 rounds, top 100, one thread`
  );
  let t = performance.now();
  const bm25 = createBm25Retriever(documents);
  console.log(`    BM25 index built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const hybrid = await createHybridRetriever(documents);
  console.log(`    hybrid index built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const b = await timeQueries(bm25, queries, 5);
  const h = await timeQueries(hybrid, queries, 5);
  console.log(
    `    BM25 (reference)   p50 ${percentile(b, 0.5).toFixed(2)} ms  p95 ${percentile(b, 0.95).toFixed(2)} ms`
  );
  console.log(
    `    hybrid (lexical)   p50 ${percentile(h, 0.5).toFixed(2)} ms  p95 ${percentile(h, 0.95).toFixed(2)} ms  ` +
      `(p95 ratio to BM25 ${(percentile(h, 0.95) / percentile(b, 0.95)).toFixed(2)}; goal p95 <= 10 ms)`
  );
  const modelDir = arg(args, '--model') ?? defaultEmbeddingModelDir();
  const encoder = await loadDenseEncoder(modelDir);
  if (encoder) {
    t = performance.now();
    const dense = await createHybridRetriever(documents, encoder);
    console.log(
      `    hybrid + dense index built in ${((performance.now() - t) / 1000).toFixed(1)} s (${encoder.description})`
    );
    const d = await timeQueries(dense, queries, 1);
    console.log(
      `    hybrid + dense     p50 ${percentile(d, 0.5).toFixed(2)} ms  p95 ${percentile(d, 0.95).toFixed(2)} ms  ` +
        `(p95 ratio to BM25 ${(percentile(d, 0.95) / percentile(b, 0.95)).toFixed(2)})`
    );
  } else {
    console.log(`    hybrid + dense: no sentence-embedding model at ${modelDir} (give --model DIR)`);
  }

  const patients = Number(arg(args, '--patients') ?? 60);
  const dir = mkdtempSync(join(tmpdir(), 'twin-evidence-bench-'));
  const store = await openSqliteStore(dir);
  try {
    const router = createEmbeddedRouter();
    await seedEmbeddedStore(store.repo, router, {
      patients,
      days: 60,
      seed: 4242,
      startDate: '2026-01-01',
      log: () => undefined,
    });
    const client = new LocalFhirClient(store.repo, router);
    const evidence = await openEvidenceEngine({ env: {}, log: () => undefined });
    const deps = { ...evidence, client, now: () => '2026-03-01T09:00:00Z' };
    const ids = (await client.searchAll('Patient', {})).map((p) => p.id as string);
    const first: number[] = [];
    const again: number[] = [];
    const outcomes = new Map<string, string>();
    for (const id of ids) {
      let s = performance.now();
      const o = await proposeCarePlan(id, deps);
      first.push(performance.now() - s);
      outcomes.set(id, o.status === 'created' || o.status === 'exists' ? o.carePlan : o.status);
      s = performance.now();
      await proposeCarePlan(id, deps);
      again.push(performance.now() - s);
    }
    first.sort((x, y) => x - y);
    again.sort((x, y) => x - y);
    console.log('');
    console.log(`(b) proposal end to end on the embedded store (durable), ${ids.length} synthetic patients`);
    console.log(
      `    first run (writes)      p50 ${percentile(first, 0.5).toFixed(1)} ms  p95 ${percentile(first, 0.95).toFixed(1)} ms`
    );
    console.log(
      `    re-run (reference: reads and matching only, nothing written)  p50 ${percentile(again, 0.5).toFixed(1)} ms  ` +
        `p95 ${percentile(again, 0.95).toFixed(1)} ms  (first/re-run p95 ratio ${(percentile(first, 0.95) / percentile(again, 0.95)).toFixed(2)})`
    );
    // The cohort's ground truth: what each patient had, against the protocol proposed.
    const expected = (conditionText: string | undefined, surgery: boolean): string => {
      if (surgery) return 'acl-reconstruction';
      if (/ankle/i.test(conditionText ?? '')) return 'ankle-sprain';
      if (/concussion/i.test(conditionText ?? '')) return 'concussion-return-to-sport';
      return 'no-match';
    };
    let agree = 0;
    const confusion = new Map<string, number>();
    for (const id of ids) {
      const [condition] = await client.searchAll<import('@medplum/fhirtypes').Condition>('Condition', {
        subject: `Patient/${id}`,
      });
      const procedures = await client.searchAll('Procedure', { subject: `Patient/${id}` });
      const want = expected(condition?.code?.text, procedures.length > 0);
      const got = outcomes.get(id) ?? '';
      let proposed = got;
      if (got.startsWith('CarePlan/')) {
        const [cp] = await client.searchAll<CarePlan>('CarePlan', { _id: got.slice('CarePlan/'.length) });
        proposed = (cp?.instantiatesCanonical?.[0] ?? '').replace(/^.*\/PlanDefinition\//, '').replace(/\|.*$/, '');
      }
      agree += proposed === want ? 1 : 0;
      const key = `${want} -> ${proposed}`;
      confusion.set(key, (confusion.get(key) ?? 0) + 1);
    }
    console.log(`    proposal agrees with the cohort's ground truth for ${agree}/${ids.length} patients`);
    for (const [k, n] of [...confusion].sort()) {
      console.log(`      ${k}: ${n}`);
    }
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
