// Writes the LSTM detector's windows from a REAL development data set given as the engine's long CSV
// (subject_id,day,metric,value) plus labels (subject_id,day,event), split by PERSON with a fixed seed, so the
// held-out people are never trained on. Sibling of exportWindows.mjs (synthetic cohorts); both call the engine's own
// feature code (src/detect/lstm/trainingWindows.ts -> featureWindows.ts), so the features are defined once.
// Run through tsx from the repository root:
//
//   npx tsx models/lstm-detector/exportRealWindows.mjs --name pmdata --licence "CC BY 4.0" \
//     --observations /tmp/pm/observations.csv --labels /tmp/pm/labels.csv --also /tmp/pm/observations-fitbit.csv \
//     --holdout-count 6 --seed 1 --window 14 --min-present 14 --out /tmp/lstm-real/pmdata
//
// Split rule (deterministic, written to split.json and into the model card): subject ids sorted, then split into
// people with at least one label and people without; each group is shuffled with mulberry32(seed) (Fisher-Yates);
// the first round(share x group size) of each group are held out, share = --holdout-count / people or
// --holdout-fraction. Stratifying keeps labelled events in the held-out part.
//
// Output in --out:
//   train/      windows.f32, labels.u8, meta.json of the training people (train.py keeps label 0 only: no labelled
//               event within [-7, +28] days of the window, the same rule as the synthetic cohorts)
//   holdout/    the same for the held-out people (reconstruction metrics only; never trained on)
//   eval/       the input CSVs (and every --also CSV) and labels.csv filtered to the held-out people, for
//               `twin eval detect`
//   split.json  seed, rule, training and held-out subject ids
// Windows need at least --min-present present values (mask = 1, of window x features): real data are sparse and a
// window of mostly masks teaches the model little.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import detectionInput from '../../src/detect/detectionInput.ts';
import featureWindows from '../../src/detect/lstm/featureWindows.ts';
import training from '../../src/detect/lstm/trainingWindows.ts';

const args = process.argv.slice(2);
const opt = { window: 14, seed: 1, minPresent: 14, also: [] };
for (let i = 0; i < args.length; i++) {
  const k = args[i];
  const v = args[++i];
  if (k === '--window') opt.window = Number(v);
  else if (k === '--seed') opt.seed = Number(v);
  else if (k === '--min-present') opt.minPresent = Number(v);
  else if (k === '--holdout-count') opt.holdoutCount = Number(v);
  else if (k === '--holdout-fraction') opt.holdoutFraction = Number(v);
  else if (k === '--observations') opt.observations = v;
  else if (k === '--labels') opt.labels = v;
  else if (k === '--also') opt.also.push(v);
  else if (k === '--out') opt.out = v;
  else if (k === '--name') opt.name = v;
  else if (k === '--licence') opt.licence = v;
  else throw new Error(`unknown option ${k}`);
}
if (!opt.out || !opt.observations || !opt.labels || !opt.name || !opt.licence) {
  throw new Error(
    'usage: exportRealWindows.mjs --name NAME --licence LICENCE --observations OBS.csv --labels LABELS.csv ' +
      '[--also OTHER.csv] (--holdout-count N | --holdout-fraction F) [--seed 1] [--window 14] [--min-present 14] --out DIR'
  );
}

/** mulberry32: a small seeded PRNG, so the split is reproducible from the seed alone. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled(ids, rand) {
  const a = [...ids];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const obsText = readFileSync(opt.observations, 'utf8');
const labelLines = readFileSync(opt.labels, 'utf8').split(/\r?\n/);
const labelRows = labelLines
  .slice(1)
  .filter((l) => l.trim())
  .map((l) => {
    const [subject, day, event] = l.split(',');
    return { subject, dayText: day, day: detectionInput.dayOrdinal(day), event };
  });
const input = detectionInput.readDetectionInput(obsText);
const everyone = [...new Set(input.subjects.map((s) => s.subjectId))].sort();
const labelled = new Set(labelRows.map((r) => r.subject));
const share = opt.holdoutCount !== undefined ? opt.holdoutCount / everyone.length : opt.holdoutFraction;
if (!(share > 0 && share < 1)) {
  throw new Error('--holdout-count or --holdout-fraction must give a share in (0, 1)');
}
const rand = mulberry32(opt.seed);
const heldOut = new Set();
for (const group of [everyone.filter((s) => labelled.has(s)), everyone.filter((s) => !labelled.has(s))]) {
  for (const s of shuffled(group, rand).slice(0, Math.round(share * group.length))) {
    heldOut.add(s);
  }
}
const trainIds = everyone.filter((s) => !heldOut.has(s));
const heldOutIds = everyone.filter((s) => heldOut.has(s));

const F = featureWindows.LSTM_FEATURES.length;
const size = featureWindows.windowSize(opt.window);
function exportPart(ids, dir) {
  const keep = new Set(ids);
  const part = { ...input, subjects: input.subjects.filter((s) => keep.has(s.subjectId)) };
  const truth = labelRows.filter((r) => keep.has(r.subject) && r.day !== undefined);
  const built = training.trainingWindows(part, truth, opt.window);
  const n = built.labels.length;
  const windows = new Float32Array(n * size);
  const labels = [];
  let m = 0;
  for (let i = 0; i < n; i++) {
    let present = 0;
    for (let k = 0; k < opt.window; k++) {
      for (let f = 0; f < F; f++) {
        present += built.windows[i * size + k * 2 * F + F + f];
      }
    }
    if (present < opt.minPresent) {
      continue;
    }
    windows.set(built.windows.subarray(i * size, (i + 1) * size), m * size);
    labels.push(built.labels[i]);
    m++;
  }
  mkdirSync(dir, { recursive: true });
  const out = windows.subarray(0, m * size);
  writeFileSync(join(dir, 'windows.f32'), Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  writeFileSync(join(dir, 'labels.u8'), Buffer.from(Uint8Array.from(labels)));
  const features = featureWindows.LSTM_FEATURES.map((f) => f.name);
  const meta = {
    n: m,
    window: opt.window,
    features,
    cohorts: [opt.name],
    source: opt.name,
    licence: opt.licence,
    people: ids.length,
    minPresent: opt.minPresent,
  };
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta, null, 2));
  const count = (k) => labels.filter((l) => l === k).length;
  process.stderr.write(
    `${opt.name} ${basename(dir)}: ${ids.length} people, windows ${m} of ${n} with >= ${opt.minPresent} present ` +
      `(normal ${count(0)}, illness ${count(1)}, near another event ${count(2)})\n`
  );
}

function filterCsv(path, keep) {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  const body = lines.slice(1).filter((l) => l.trim() && keep.has(l.slice(0, l.indexOf(','))));
  return `${[lines[0], ...body].join('\n')}\n`;
}

mkdirSync(opt.out, { recursive: true });
exportPart(trainIds, join(opt.out, 'train'));
exportPart(heldOutIds, join(opt.out, 'holdout'));
const evalDir = join(opt.out, 'eval');
mkdirSync(evalDir, { recursive: true });
for (const path of [opt.observations, opt.labels, ...opt.also]) {
  writeFileSync(join(evalDir, basename(path)), filterCsv(path, heldOut));
}
const split = {
  source: opt.name,
  licence: opt.licence,
  seed: opt.seed,
  rule:
    'subject ids sorted; split into people with >= 1 label and people without; each group shuffled with ' +
    `mulberry32(${opt.seed}) (Fisher-Yates); the first round(${share.toFixed(4)} x group size) of each group held out`,
  trainPeople: trainIds,
  heldOutPeople: heldOutIds,
  heldOutEvents: labelRows.filter((r) => heldOut.has(r.subject)).length,
};
writeFileSync(join(opt.out, 'split.json'), JSON.stringify(split, null, 2));
process.stderr.write(
  `${opt.name}: ${trainIds.length} people train, ${heldOutIds.length} held out (${split.heldOutEvents} labelled events)\n`
);
