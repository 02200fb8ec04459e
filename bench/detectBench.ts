import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { MetricName } from '../src/fhir/metricCatalogue';
import { drawPatientPlan } from '../src/cohort/patientPlan';
import { simulatePatient } from '../src/cohort/physiology';
import { createPrng } from '../src/cohort/prng';
import type { SubjectSeries } from '../src/detect/detectionInput';
import { presentCount, subjectFeatures, windowSize, writeWindow } from '../src/detect/lstm/featureWindows';
import { DEFAULT_LSTM_SCORING_OPTIONS, scoreSubjectsLstm } from '../src/detect/lstm/lstmScorer';
import { loadVerifiedModel, type VerifiedLstmModel } from '../src/detect/lstm/modelCard';
import { OrtWorkerPool } from '../src/detect/lstm/ortWorkerPool';

/**
 * `npm run bench -- detect [--patients 10000] [--days 180] [--seed 42] [--workers 2]`
 *
 * Issue 5, Performance, for the learned (LSTM) detector:
 * (a) throughput in windows/s at batch 1 and batch 256 through the worker pool, against a bare `session.run` on the
 *     same tensors in the same process (one session, one intra-op thread, awaited call after call). Ratio pool(1
 *     worker) / bare: goal overhead <= 10%. The pool with all workers is shown as well.
 * (b) the main thread's event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution) while a 1,000-patient
 *     cohort is scored: max block, goal <= 20 ms, and the main thread's event-loop utilisation. The workers build
 *     features and windows and run the model; the main thread only packs series and calibrates.
 * (c) whole-cohort detection, `--patients` x `--days`, synthetic series generated in memory (the cohort generator's
 *     physiology, no FHIR resources), 1,000 patients at a time; generation is not timed.
 */
interface Args {
  patients: number;
  days: number;
  seed: number;
  workers: number;
}

function parseArgs(args: string[]): Args {
  const out: Args = { patients: 10_000, days: 180, seed: 42, workers: 2 };
  for (let i = 0; i < args.length; i++) {
    const value = Number(args[i + 1]);
    if (!Number.isFinite(value) || value <= 0) {
      throw new Error(`${args[i]} needs a positive number`);
    }
    switch (args[i]) {
      case '--patients':
        out.patients = value;
        break;
      case '--days':
        out.days = value;
        break;
      case '--seed':
        out.seed = value;
        break;
      case '--workers':
        out.workers = value;
        break;
      default:
        throw new Error(`unknown option ${args[i]}`);
    }
    i++;
  }
  return out;
}

/** Patients `from`..`to - 1` of a synthetic cohort as detector input (same PRNG streams as `twin seed`). */
function cohortSeries(seed: number, from: number, to: number, days: number): SubjectSeries[] {
  const out: SubjectSeries[] = [];
  for (let index = from; index < to; index++) {
    const key = `bench-${seed}-${index}`;
    const plan = drawPatientPlan(createPrng(seed, `plan/${index}`), index, key, days);
    const values = new Map<number, Map<MetricName, number>>();
    const dayLabels = new Map<number, string>();
    for (const record of simulatePatient(plan, createPrng(seed, `physiology/${index}`), days, 1)) {
      const entries = Object.entries(record.values) as [MetricName, number][];
      if (entries.length > 0) {
        values.set(record.day, new Map(entries));
        dayLabels.set(record.day, String(record.day));
      }
    }
    out.push({ subjectId: key, dayLabels, values });
  }
  return out;
}

/** All model inputs of some subjects, cut into batches of `batch` windows. */
function batchesOf(subjects: SubjectSeries[], window: number, batch: number): { data: Float32Array; n: number }[] {
  const size = windowSize(window);
  const all: Float32Array[] = [];
  for (const s of subjects) {
    const f = subjectFeatures(s);
    for (const day of f.scoredDays) {
      if (presentCount(f, day, window) > 0) {
        const w = new Float32Array(size);
        writeWindow(f, day, window, w, 0);
        all.push(w);
      }
    }
  }
  const out: { data: Float32Array; n: number }[] = [];
  for (let i = 0; i + batch <= all.length; i += batch) {
    const data = new Float32Array(batch * size);
    for (let k = 0; k < batch; k++) {
      data.set(all[i + k], k * size);
    }
    out.push({ data, n: batch });
  }
  return out;
}

async function bareRate(model: VerifiedLstmModel, batches: { data: Float32Array; n: number }[]): Promise<number> {
  process.env.ORT_DISABLE_TELEMETRY = '1';
  // The reference only: the engine never runs a session on the main thread.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const session = await ort.InferenceSession.create(model.bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const dims = [model.card.window, 2 * model.card.features.length];
  const tensors = batches.map((b) => new ort.Tensor('float32', b.data, [b.n, dims[0], dims[1]]));
  const input = session.inputNames[0];
  for (const t of tensors.slice(0, 5)) {
    await session.run({ [input]: t });
  }
  const t0 = performance.now();
  for (const t of tensors) {
    await session.run({ [input]: t });
  }
  const seconds = (performance.now() - t0) / 1000;
  await session.release();
  return (batches.length * batches[0].n) / seconds;
}

async function poolRate(pool: OrtWorkerPool, batches: { data: Float32Array; n: number }[]): Promise<number> {
  // Copies made before timing: the pool transfers its input buffers.
  const warm = batches.slice(0, 5).map((b) => b.data.slice());
  await Promise.all(warm.map((w, i) => pool.run(w, batches[i].n)));
  const copies = batches.map((b) => b.data.slice());
  const t0 = performance.now();
  await Promise.all(copies.map((c, i) => pool.run(c, batches[i].n)));
  const seconds = (performance.now() - t0) / 1000;
  return (batches.length * batches[0].n) / seconds;
}

export async function runDetectBench(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const model = await loadVerifiedModel();
  const window = model.card.window;
  console.log(
    `LSTM detector ${model.card.version} (window ${window}, ${model.card.features.length} features, ${model.bytes.length} bytes)`
  );

  // (a) Throughput on the same tensors.
  const sample = cohortSeries(args.seed, 0, 60, args.days);
  const pool1 = await OrtWorkerPool.create(model, { workers: 1 });
  const poolN = await OrtWorkerPool.create(model, { workers: args.workers });
  console.log('(a) throughput, windows/s (same tensors; bare = session.run awaited call after call on one thread)');
  console.log('| batch | bare session.run | pool, 1 worker | pool / bare | pool, ' + args.workers + ' workers |');
  console.log('|---|---|---|---|---|');
  for (const batch of [1, 256]) {
    const batches = batchesOf(sample, window, batch).slice(0, batch === 1 ? 4000 : 40);
    const bare = await bareRate(model, batches);
    const one = await poolRate(pool1, batches);
    const many = await poolRate(poolN, batches);
    console.log(
      `| ${batch} | ${bare.toFixed(0)} | ${one.toFixed(0)} | ${(one / bare).toFixed(3)} (overhead ${((1 - one / bare) * 100).toFixed(1)}%) | ${many.toFixed(0)} |`
    );
  }
  await pool1.close();

  // (b) Event-loop delay while 1,000 patients are scored.
  const blockCohort = cohortSeries(args.seed + 1, 0, 1000, args.days);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const elu0 = performance.eventLoopUtilization();
  const tb = performance.now();
  await scoreSubjectsLstm(blockCohort, poolN, DEFAULT_LSTM_SCORING_OPTIONS);
  const blockSeconds = (performance.now() - tb) / 1000;
  histogram.disable();
  const busy = performance.eventLoopUtilization(elu0).utilization;
  console.log(
    `(b) event loop while scoring 1,000 x ${args.days} days (${blockSeconds.toFixed(1)} s): max delay ${(histogram.max / 1e6).toFixed(1)} ms, p99 ${(histogram.percentile(99) / 1e6).toFixed(1)} ms (goal max <= 20 ms); main thread busy ${(busy * 100).toFixed(0)}%`
  );
  // Reference in the same run: the same process doing nothing for as long. On a shared machine the OS scheduler
  // alone delays timers; what the scorer adds is the difference.
  const idle = monitorEventLoopDelay({ resolution: 1 });
  idle.enable();
  await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, blockSeconds * 1000)));
  idle.disable();
  console.log(
    `    reference, idle event loop for as long: max delay ${(idle.max / 1e6).toFixed(1)} ms, p99 ${(idle.percentile(99) / 1e6).toFixed(1)} ms`
  );

  // (c) Whole cohort, 1,000 patients at a time.
  let scoring = 0;
  let windows = 0;
  for (let from = 0; from < args.patients; from += 1000) {
    const chunk = cohortSeries(args.seed, from, Math.min(args.patients, from + 1000), args.days);
    const t0 = performance.now();
    const scores = await scoreSubjectsLstm(chunk, poolN, DEFAULT_LSTM_SCORING_OPTIONS);
    scoring += performance.now() - t0;
    windows += scores.reduce((s, d) => s + d.length, 0);
  }
  await poolN.close();
  console.log(
    `(c) whole cohort ${args.patients} x ${args.days} days: ${windows} subject-days scored in ${(scoring / 1000).toFixed(1)} s ` +
      `(${args.workers} workers; ${(windows / (scoring / 1000)).toFixed(0)} subject-days/s; series generation not timed)`
  );
}
