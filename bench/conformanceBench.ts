// Issue 16 figures, measured in one run: the seeded loopback fuzz (requests, 5xx, invalid writes accepted, invalid
// versions stored), /healthz while a large transaction runs, and the event-door latency with the store-write
// reference. `npm run bench -- conformance [--requests N] [--seed S] [--events E]`.
import type { Bundle } from '@medplum/fhirtypes';
import { performance } from 'node:perf_hooks';
import { createValidator } from '../src/fhir/validation';
import { DEFAULT_SERVER_LIMITS } from '../src/server/serverLimits';
import { startEmbeddedTestServer } from '../test/support/embeddedTestServer';
import { fuzzCases, invalidStoredVersions, runFuzz } from '../test/support/serverFuzz';
import { percentile } from './percentile';
import { measureEventLatency } from './twinEventLatency';

function option(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}

function transactionOf(entries: number): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: Array.from({ length: entries }, (_, i) => ({
      resource: {
        resourceType: 'Observation' as const,
        status: 'final' as const,
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        effectiveDateTime: '2025-01-01T08:00:00Z',
        valueQuantity: { value: 50 + (i % 40), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      },
      request: { method: 'POST' as const, url: 'Observation' },
    })),
  };
}

/** /healthz round trips (ms) taken every 20 ms while `work` runs, and how long `work` took. */
async function healthDuring(
  origin: string,
  work: () => Promise<Response>
): Promise<{ status: number; workMs: number; health: number[] }> {
  const health: number[] = [];
  let done = false;
  const probe = (async (): Promise<void> => {
    while (!done) {
      const t0 = performance.now();
      await (await fetch(`${origin}/healthz`)).arrayBuffer();
      health.push(performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const t0 = performance.now();
  const response = await work();
  await response.arrayBuffer();
  const workMs = performance.now() - t0;
  done = true;
  await probe;
  health.sort((a, b) => a - b);
  return { status: response.status, workMs, health };
}

export async function runConformanceBench(args: string[]): Promise<void> {
  const requests = option(args, '--requests', 3000);
  const seed = option(args, '--seed', 16);
  const events = option(args, '--events', 300);

  const server = await startEmbeddedTestServer();
  try {
    const t0 = performance.now();
    const fuzz = await runFuzz(server.baseUrl, fuzzCases(seed, requests));
    const fuzzMs = performance.now() - t0;
    const invalidStored = invalidStoredVersions(server.store.path, createValidator());
    console.log(`(a) fuzz, seed ${seed}, loopback: ${fuzz.requests} requests in ${(fuzzMs / 1000).toFixed(1)} s`);
    console.log(
      `    5xx (or no answer): ${fuzz.serverErrors} (goal 0)${fuzz.serverErrorSamples.length ? ` e.g. ${fuzz.serverErrorSamples.slice(0, 5).join('; ')}` : ''}`
    );
    console.log(
      `    writes that must be refused but were accepted: ${fuzz.acceptedInvalid} (goal 0)${fuzz.acceptedInvalidSamples.length ? ` e.g. ${fuzz.acceptedInvalidSamples.slice(0, 5).join('; ')}` : ''}`
    );
    console.log(`    stored versions the validator refuses: ${invalidStored.length} (goal 0)`);
    console.log(
      `    statuses: ${Object.entries(fuzz.byStatus)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', ')}`
    );

    const max = DEFAULT_SERVER_LIMITS.maxBundleEntries;
    const big = JSON.stringify(transactionOf(max));
    const post = (body: string) => (): Promise<Response> =>
      fetch(`${server.baseUrl}/`, { method: 'POST', headers: { 'Content-Type': 'application/fhir+json' }, body });
    const allowed = await healthDuring(server.origin, post(big));
    console.log('');
    console.log(
      `(b) a ${max}-entry transaction (${(big.length / 1e6).toFixed(1)} MB, the configured maximum): ${allowed.status} in ${(allowed.workMs / 1000).toFixed(1)} s;`
    );
    console.log(
      `    /healthz meanwhile: ${allowed.health.length} probes, p50 ${percentile(allowed.health, 0.5).toFixed(1)} ms, p95 ${percentile(allowed.health, 0.95).toFixed(1)} ms, max ${allowed.health.at(-1)?.toFixed(1) ?? '-'} ms`
    );
    const huge = JSON.stringify(transactionOf(60_000));
    const refused = await healthDuring(server.origin, post(huge));
    console.log(
      `    a 60000-entry transaction (${(huge.length / 1e6).toFixed(1)} MB): ${refused.status} in ${refused.workMs.toFixed(0)} ms; /healthz max ${refused.health.at(-1)?.toFixed(1) ?? '-'} ms`
    );
  } finally {
    await server.close();
  }

  const latency = await measureEventLatency(20, 120, events);
  console.log('');
  console.log(
    `(c) event latency, one new Observation -> its updated twin committed (${latency.events} events, 20 patients x 120 days):`
  );
  console.log(`    p50 ${latency.p50.toFixed(1)} ms, p95 ${latency.p95.toFixed(1)} ms (goal p95 <= 50 ms)`);
  console.log(
    `    reference, the store write alone: p50 ${latency.storeOnlyP50.toFixed(1)} ms, p95 ${latency.storeOnlyP95.toFixed(1)} ms`
  );
}
