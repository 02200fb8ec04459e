// Benchmark entry: `npm run bench -- <name> [options]`. Each benchmark prints its figures, with the reference it is
// compared against measured in the same run; nothing here runs in the test suite.
import { runAppBench } from './appBench';
import { runConformanceBench } from './conformanceBench';
import { runDetectBench } from './detectBench';
import { runEvidenceBench } from './evidenceBench';
import { runSimulateBench } from './simulateBench';
import { runQueueBench } from './queueBench';
import { runStoreBench } from './storeBench';
import { runTwinBench } from './twinBench';
import { measureEventLatency } from './twinEventLatency';

/** Issue 4 benchmark: (a) pipeline vs parse and (c) peak memory, then (b) event latency on the embedded store. */
async function runTwin(args: string[]): Promise<void> {
  await runTwinBench(args);
  const f = await measureEventLatency();
  console.log('');
  console.log(
    `(b) event latency, one new Observation -> its updated twin committed (${f.events} events, 20 patients x 120 days):`
  );
  console.log(`    p50 ${f.p50.toFixed(1)} ms, p95 ${f.p95.toFixed(1)} ms (goal p95 < 50 ms)`);
  console.log(
    `    reference, the store write alone: p50 ${f.storeOnlyP50.toFixed(1)} ms, p95 ${f.storeOnlyP95.toFixed(1)} ms`
  );
}

const BENCHES: Record<string, (args: string[]) => Promise<void>> = {
  app: runAppBench,
  conformance: runConformanceBench,
  evidence: runEvidenceBench,
  store: runStoreBench,
  twin: runTwin,
  detect: runDetectBench,
  simulate: runSimulateBench,
  queue: runQueueBench,
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const bench = name ? BENCHES[name] : undefined;
  if (!bench) {
    console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [options]`);
    process.exitCode = 2;
    return;
  }
  await bench(args);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
