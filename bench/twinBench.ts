import type { Observation } from '@medplum/fhirtypes';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateCohort } from '../src/cohort/generateCohort';
import { createPrng } from '../src/cohort/prng';
import { computeTwin } from '../src/twin/computeTwin';

/**
 * `npm run bench -- twin [--n 10000000] [--patients 10000] [--seed 42] [--file path] [--keep] [--repeat 1]`
 *
 * (a) Pure pipeline throughput: N generated Observations in one NDJSON file (a synthetic cohort written patient by
 * patient, as a Bulk Data export would, with about 1% replayed lines, 0.1% entered-in-error copies and 0.1% garbage).
 * In one run it times (1) reading the file line by line + JSON.parse of every line, and (2) the same reading and
 * parsing + normalise + dedupe + daily series + baselines + daily states, one patient at a time (resources built, not
 * written). Reported: parse time / pipeline time (goal >= 0.5: the twin costs no more than parsing its input).
 * (c) Peak memory while the pipeline runs over `--patients` patients: memory stays bounded because only one
 * patient's Observations are held at a time.
 */
interface BenchArgs {
  n: number;
  patients: number;
  seed: number;
  file?: string;
  keep: boolean;
  repeat: number;
}

function parseArgs(args: string[]): BenchArgs {
  const out: BenchArgs = { n: 10_000_000, patients: 10_000, seed: 42, keep: false, repeat: 1 };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const next = (): string => {
      const value = args[++i];
      if (value === undefined) {
        throw new Error(`${flag} needs a value`);
      }
      return value;
    };
    switch (flag) {
      case '--n':
        out.n = positiveInt(next().replace(/_/g, ''), flag);
        break;
      case '--patients':
        out.patients = positiveInt(next(), flag);
        break;
      case '--seed':
        out.seed = Number(next());
        break;
      case '--file':
        out.file = next();
        break;
      case '--keep':
        out.keep = true;
        break;
      case '--repeat':
        out.repeat = positiveInt(next(), flag);
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  return out;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`${flag} must be a positive integer`);
  }
  return n;
}

/** Average Observations per patient-day the cohort generator writes (athletes ~11, post-surgery ~7). */
const OBSERVATIONS_PER_DAY = 10;

/**
 * Streams N Observations to `file`, patient after patient, never holding more than one patient in memory. Patients
 * get server-style ids and `Patient/{id}` subjects, as a Bulk Data export delivers them.
 */
async function writeCohortNdjson(file: string, args: BenchArgs): Promise<{ lines: number; patients: number }> {
  const days = Math.max(30, Math.ceil(args.n / args.patients / OBSERVATIONS_PER_DAY));
  const out = createWriteStream(file, { encoding: 'utf8', highWaterMark: 1 << 22 });
  const prng = createPrng(args.seed, 'bench-mess');
  let lines = 0;
  let patients = 0;
  let buffer: string[] = [];
  const flush = async (): Promise<void> => {
    if (!out.write(buffer.join(''))) {
      await new Promise<void>((resolve) => out.once('drain', resolve));
    }
    buffer = [];
  };
  // More patients than needed: generation stops at exactly N lines.
  for (const patient of generateCohort({
    patients: args.patients * 4,
    days,
    seed: args.seed,
    startDate: '2025-01-06',
  })) {
    const patientId = patient.subjectKey;
    const subject = { reference: `Patient/${patientId}` };
    let k = 0;
    for (const entry of patient.bundle.entry ?? []) {
      const resource = entry.resource;
      if (resource?.resourceType !== 'Observation' || lines >= args.n) {
        continue;
      }
      const o: Observation = {
        ...resource,
        id: `${patientId}-${k++}`,
        meta: { ...resource.meta, versionId: '1', lastUpdated: '2025-09-01T00:00:00.000Z' },
        subject,
      };
      buffer.push(JSON.stringify(o), '\n');
      lines++;
      const roll = prng.next();
      if (roll < 0.01 && lines < args.n) {
        buffer.push(JSON.stringify(o), '\n'); // replayed line
        lines++;
      } else if (roll < 0.011 && lines < args.n) {
        buffer.push(JSON.stringify({ ...o, status: 'entered-in-error' }), '\n');
        lines++;
      } else if (roll < 0.012 && lines < args.n) {
        const garbage = { ...o, id: `${o.id}-bad`, valueQuantity: { ...o.valueQuantity, code: 'kg' } };
        buffer.push(JSON.stringify(garbage), '\n');
        lines++;
      }
      if (buffer.length >= 4096) {
        await flush();
      }
    }
    patients++;
    if (lines >= args.n) {
      break;
    }
  }
  await flush();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { lines, patients };
}

/** Calls `onLine` for every line of the file; the same reader serves both timed passes. */
async function forEachLine(file: string, onLine: (line: string) => void): Promise<void> {
  let rest = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = rest + (chunk as string);
    let start = 0;
    let end = text.indexOf('\n', start);
    while (end !== -1) {
      if (end > start) {
        onLine(text.slice(start, end));
      }
      start = end + 1;
      end = text.indexOf('\n', start);
    }
    rest = text.slice(start);
  }
  if (rest.length > 0) {
    onLine(rest);
  }
}

interface PassFigures {
  ms: number;
  lines: number;
}

async function parsePass(file: string): Promise<PassFigures> {
  let lines = 0;
  let check = 0;
  const t0 = performance.now();
  await forEachLine(file, (line) => {
    const o = JSON.parse(line) as Observation;
    check += o.resourceType.length;
    lines++;
  });
  const ms = performance.now() - t0;
  if (check === 0) {
    throw new Error('nothing parsed');
  }
  return { ms, lines };
}

interface PipelineFigures extends PassFigures {
  patients: number;
  baselines: number;
  states: number;
  accepted: number;
  duplicates: number;
  retracted: number;
  rejected: number;
  peakRssMiB: number;
  peakHeapMiB: number;
}

async function pipelinePass(file: string): Promise<PipelineFigures> {
  const f: PipelineFigures = {
    ms: 0,
    lines: 0,
    patients: 0,
    baselines: 0,
    states: 0,
    accepted: 0,
    duplicates: 0,
    retracted: 0,
    rejected: 0,
    peakRssMiB: 0,
    peakHeapMiB: 0,
  };
  let current: string | undefined;
  let group: Observation[] = [];
  const flush = (): void => {
    if (current === undefined || group.length === 0) {
      return;
    }
    const result = computeTwin({ patientId: current, observations: group });
    f.patients++;
    f.baselines += result.baselines.length;
    f.states += result.states.length;
    f.accepted += result.counts.accepted;
    f.duplicates += result.counts.duplicates;
    f.retracted += result.counts.retracted;
    f.rejected += result.counts.rejected;
    if (f.patients % 256 === 0) {
      const usage = process.memoryUsage();
      f.peakRssMiB = Math.max(f.peakRssMiB, usage.rss / 2 ** 20);
      f.peakHeapMiB = Math.max(f.peakHeapMiB, usage.heapUsed / 2 ** 20);
    }
    group = [];
  };
  const t0 = performance.now();
  await forEachLine(file, (line) => {
    const o = JSON.parse(line) as Observation;
    f.lines++;
    const reference = o.subject?.reference;
    const patientId = reference?.startsWith('Patient/') ? reference.slice(8) : current;
    if (patientId !== current) {
      flush();
      current = patientId;
    }
    group.push(o);
  });
  flush();
  f.ms = performance.now() - t0;
  return f;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

export async function runTwinBench(args: string[]): Promise<void> {
  const opts = parseArgs(args);
  const dir = opts.file ? undefined : mkdtempSync(join(tmpdir(), 'twin-bench-'));
  const file = opts.file ?? join(dir ?? '.', 'observations.ndjson');
  try {
    console.log(`twin benchmark: ${fmt(opts.n)} Observations, about ${fmt(opts.patients)} patients, seed ${opts.seed}`);
    if (!opts.file) {
      const t0 = performance.now();
      const written = await writeCohortNdjson(file, opts);
      console.log(
        `generated ${fmt(written.lines)} lines for ${fmt(written.patients)} patients in ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s (${(statSync(file).size / 2 ** 20).toFixed(0)} MiB, not timed)`
      );
    }
    // Warm the page cache and the reader's JIT so neither timed pass pays for the first read from disk.
    await parsePass(file);
    console.log('| pass | lines | seconds | µs/line |');
    console.log('|---|---|---|---|');
    const ratios: number[] = [];
    let last: PipelineFigures | undefined;
    for (let r = 0; r < opts.repeat; r++) {
      const parse = await parsePass(file);
      const pipeline = await pipelinePass(file);
      last = pipeline;
      ratios.push(parse.ms / pipeline.ms);
      for (const [name, pass] of [
        ['(1) read + JSON.parse', parse],
        ['(2) read + parse + normalise + dedupe + daily + baseline + state', pipeline],
      ] as const) {
        console.log(
          `| ${name} | ${fmt(pass.lines)} | ${(pass.ms / 1000).toFixed(2)} | ${((pass.ms * 1000) / pass.lines).toFixed(2)} |`
        );
      }
    }
    if (last) {
      console.log(
        `pipeline output: ${fmt(last.patients)} patients, ${fmt(last.baselines)} baselines, ${fmt(last.states)} states; ` +
          `accepted ${fmt(last.accepted)}, duplicates ${fmt(last.duplicates)}, retracted ${fmt(last.retracted)}, ` +
          `rejected ${fmt(last.rejected)}`
      );
      console.log(`ratio parse / pipeline: ${ratios.map((x) => x.toFixed(2)).join(', ')} (goal >= 0.5)`);
      console.log(
        `memory: peak RSS sampled during the pipeline ${last.peakRssMiB.toFixed(0)} MiB, peak heap used ` +
          `${last.peakHeapMiB.toFixed(0)} MiB; process maxRSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB ` +
          `(includes generation)`
      );
    }
  } finally {
    if (dir && !opts.keep) {
      rmSync(dir, { recursive: true, force: true });
    } else if (dir) {
      console.log(`kept ${file}`);
    }
  }
}
