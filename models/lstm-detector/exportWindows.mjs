// Writes the training / held-out windows of the LSTM detector from synthetic cohorts, with the engine's own feature
// code (src/detect/lstm/trainingWindows.ts -> featureWindows.ts), so train.py never re-implements the features.
// Run through tsx (it loads the TypeScript sources):
//
//   npx tsx models/lstm-detector/exportWindows.mjs --window 14 --out /tmp/lstm-train /tmp/det9 /tmp/det11
//
// Each cohort folder holds observations.csv (subject_id,day,metric,value) and ground-truth.csv (subject,day,event),
// as written by `twin seed`. Output: windows.f32 (float32 little-endian, [n, window, 2F]), labels.u8 (one label per
// window, see trainingWindows.ts) and meta.json (n, window, features, cohorts).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import detectionInput from '../../src/detect/detectionInput.ts';
import featureWindows from '../../src/detect/lstm/featureWindows.ts';
import training from '../../src/detect/lstm/trainingWindows.ts';

const args = process.argv.slice(2);
let window = 14;
let out = '';
const cohorts = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--window') {
    window = Number(args[++i]);
  } else if (args[i] === '--out') {
    out = args[++i];
  } else {
    cohorts.push(args[i]);
  }
}
if (!out || cohorts.length === 0) {
  throw new Error('usage: exportWindows.mjs --window 14 --out DIR COHORT_DIR...');
}
const windows = [];
const labels = [];
for (const dir of cohorts) {
  const input = detectionInput.readDetectionInput(readFileSync(join(dir, 'observations.csv'), 'utf8'));
  const truth = readFileSync(join(dir, 'ground-truth.csv'), 'utf8')
    .split(/\r?\n/)
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => {
      const [subject, day, event] = l.split(',');
      return { subject, day: Number(day), event };
    });
  const built = training.trainingWindows(input, truth, window);
  windows.push(Buffer.from(built.windows.buffer, built.windows.byteOffset, built.windows.byteLength));
  labels.push(Buffer.from(built.labels));
}
mkdirSync(out, { recursive: true });
const allLabels = Buffer.concat(labels);
writeFileSync(join(out, 'windows.f32'), Buffer.concat(windows));
writeFileSync(join(out, 'labels.u8'), allLabels);
const features = featureWindows.LSTM_FEATURES.map((f) => f.name);
writeFileSync(join(out, 'meta.json'), JSON.stringify({ n: allLabels.length, window, features, cohorts }, null, 2));
const count = (k) => allLabels.filter((l) => l === k).length;
process.stderr.write(`windows ${allLabels.length} (normal ${count(0)}, illness ${count(1)}, other ${count(2)})\n`);
