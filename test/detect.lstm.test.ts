import { OperationOutcomeError } from '@medplum/core';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricName } from '../src/fhir/metricCatalogue';
import type { SubjectSeries } from '../src/detect/detectionInput';
import { EpisodeHysteresis } from '../src/detect/lstm/episodeHysteresis';
import { LSTM_FEATURES, subjectFeatures } from '../src/detect/lstm/featureWindows';
import { openLstmDetector, type LstmDetector } from '../src/detect/lstm/lstmDetector';
import { calibrate, dayErrorsOf, DEFAULT_LSTM_SCORING_OPTIONS } from '../src/detect/lstm/lstmScorer';
import { OrtWorkerPool } from '../src/detect/lstm/ortWorkerPool';
import { groupErrors, packGroup } from '../src/detect/lstm/subjectErrors';
import { DEFAULT_LSTM_MODEL_DIR, loadVerifiedModel } from '../src/detect/lstm/modelCard';
import { buildLstmModelDevice } from '../src/detect/lstm/lstmModelDevice';
import { MemoryRepository } from '@medplum/fhir-router';
import { Command } from 'commander';
import { registerCommands } from '../src/cli/commands';
import { startServer, type OpenRepository } from '../src/cli/serveCommand';
import { MODEL_SHA256_SYSTEM, TWIN_PROFILE } from '../src/fhir/codes/twinCanonicals';
import { createValidator } from '../src/fhir/validation';
import { TEST_RESOURCES } from './support/testServer';

/** Deterministic noise (LCG) so the tests do not depend on Math.random. */
function noise(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
}

type MetricFn = (day: number, r: () => number) => number | undefined;

function series(id: string, days: number, metrics: Partial<Record<MetricName, MetricFn>>, seed = 42): SubjectSeries {
  const r = noise(seed);
  const values = new Map<number, Map<MetricName, number>>();
  const dayLabels = new Map<number, string>();
  for (let d = 0; d < days; d++) {
    for (const [metric, f] of Object.entries(metrics) as [MetricName, MetricFn][]) {
      const v = f(d, r);
      if (v === undefined) {
        continue;
      }
      const day = values.get(d) ?? new Map<MetricName, number>();
      day.set(metric, v);
      values.set(d, day);
      dayLabels.set(d, String(d));
    }
  }
  return { subjectId: id, dayLabels, values };
}

const ill = (d: number, onset: number): boolean => d >= onset - 3 && d < onset + 7;

/** A person with four wearable metrics and an illness (resting HR up, HRV and sleep down) around `onset`. */
const person = (onset: number): Partial<Record<MetricName, MetricFn>> => ({
  'resting-heart-rate': (d, r) => 55 + 2 * r() + (ill(d, onset) ? 9 : 0),
  'hrv-rmssd': (d, r) => 60 + 8 * r() - (ill(d, onset) ? 22 : 0),
  'sleep-duration': (d, r) => 7.3 + 0.8 * r() - (ill(d, onset) ? 1 : 0),
  steps: (d, r) => 8000 + 2500 * r() - (ill(d, onset) ? 4000 : 0),
});

describe('LSTM model card', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lstm-card-'));
    const src = DEFAULT_LSTM_MODEL_DIR();
    copyFileSync(join(src, 'model-card.json'), join(dir, 'model-card.json'));
    const card = JSON.parse(readFileSync(join(src, 'model-card.json'), 'utf8')) as { file: string };
    copyFileSync(join(src, card.file), join(dir, card.file));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('the shipped model matches its card, with the features this engine computes', async () => {
    const model = await loadVerifiedModel();
    expect(model.card.features).toEqual(LSTM_FEATURES.map((f) => f.name));
    expect(model.card.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(model.bytes.length).toBeLessThan(1_000_000);
  });

  test('a corrupted model file is refused with a clear error, before any worker starts', async () => {
    const card = JSON.parse(readFileSync(join(dir, 'model-card.json'), 'utf8')) as { file: string };
    const path = join(dir, card.file);
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(path, bytes);
    await expect(loadVerifiedModel(dir)).rejects.toThrow(OperationOutcomeError);
    await expect(loadVerifiedModel(dir)).rejects.toThrow(/does not match its model card: sha256 [0-9a-f]{64}/);
    await expect(openLstmDetector({ modelDir: dir })).rejects.toThrow(/corrupted or was replaced/);
  });

  test('a missing model file or card is refused with a clear error', async () => {
    const card = JSON.parse(readFileSync(join(dir, 'model-card.json'), 'utf8')) as { file: string };
    rmSync(join(dir, card.file));
    await expect(loadVerifiedModel(dir)).rejects.toThrow(/LSTM model file .* not found/);
    await expect(loadVerifiedModel(join(dir, 'nowhere'))).rejects.toThrow(/LSTM model card not found/);
  });

  test('a card naming other features is refused', async () => {
    const path = join(dir, 'model-card.json');
    const card = JSON.parse(readFileSync(path, 'utf8')) as { features: string[] };
    card.features = [...card.features].reverse();
    writeFileSync(path, JSON.stringify(card));
    await expect(loadVerifiedModel(dir)).rejects.toThrow(/lists features .* but this engine computes/);
  });
});

describe('LSTM model Device', () => {
  test('built from the verified card: file sha256, card version, name, and a note on the card, use and training data', async () => {
    const { card } = await loadVerifiedModel();
    const device = buildLstmModelDevice(card);
    expect(() => createValidator().validate(device)).not.toThrow();
    expect(device.meta?.profile).toEqual([TWIN_PROFILE.modelDevice]);
    expect(device.identifier).toEqual([{ system: MODEL_SHA256_SYSTEM, value: card.sha256 }]);
    expect(device.version).toEqual([{ value: card.version }]);
    expect(device.deviceName?.[0]?.name).toBe(card.name);
    const note = device.note?.[0]?.text ?? '';
    expect(note).toContain('models/lstm-detector/model-card.json');
    expect(note).toContain(card.intendedUse);
    expect(card.trainingData.length).toBeGreaterThan(0);
    for (const d of card.trainingData) {
      expect(note).toContain(d.source);
      expect(note).toContain(d.licence);
    }
    expect(buildLstmModelDevice(card)).toEqual(device);
  });
});

describe('start-up check of the learned detector (twin serve)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lstm-serve-'));
    const src = DEFAULT_LSTM_MODEL_DIR();
    copyFileSync(join(src, 'model-card.json'), join(dir, 'model-card.json'));
    const card = JSON.parse(readFileSync(join(src, 'model-card.json'), 'utf8')) as { file: string };
    copyFileSync(join(src, card.file), join(dir, card.file));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const flipOneByte = (): void => {
    const card = JSON.parse(readFileSync(join(dir, 'model-card.json'), 'utf8')) as { file: string };
    const bytes = readFileSync(join(dir, card.file));
    bytes[100] ^= 0x01;
    writeFileSync(join(dir, card.file), bytes);
  };
  const store =
    (events: string[]): OpenRepository =>
    (dataDir) => {
      events.push(`open ${dataDir}`);
      return Promise.resolve({
        repo: new MemoryRepository(),
        close: () => void events.push('closed'),
        supports: TEST_RESOURCES,
      });
    };
  const serve = (learnedModelDir: string, events: string[], lines: string[]): ReturnType<typeof startServer> =>
    startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: 'd',
      seed: false,
      openRepository: store(events),
      log: (line) => lines.push(line),
      learnedModelDir,
    });

  test('a model file that does not match its card refuses the start, before the store opens', async () => {
    flipOneByte();
    const events: string[] = [];
    await expect(serve(dir, events, [])).rejects.toThrow(
      /LSTM model file .* does not match its model card: sha256 [0-9a-f]{64}, card says [0-9a-f]{64}/
    );
    expect(events).toEqual([]);
  });

  test('twin serve reads the model folder from TWIN_LSTM_MODEL_DIR and refuses a corrupted model', async () => {
    flipOneByte();
    const events: string[] = [];
    const root = new Command('twin').exitOverride();
    registerCommands(root, {
      openRepository: store(events),
      version: '0.0.0',
      env: { TWIN_LSTM_MODEL_DIR: dir },
      log: () => undefined,
    });
    await expect(root.parseAsync(['node', 'twin', 'serve', '--port', '0', '--no-seed'])).rejects.toThrow(
      /corrupted or was replaced; refusing to use it/
    );
    expect(events).toEqual([]);
  });

  test('an intact model starts and is logged as verified; no folder starts and says the detector is not installed', async () => {
    for (const [modelDir, expected] of [
      [dir, /^Learned detector: .* 1\.\d+\.\d+, sha256 [0-9a-f]{12}\.\.\. matches its model card$/],
      [join(dir, 'absent'), /^Learned detector: not installed \(no model folder at .*absent\)/],
    ] as const) {
      const events: string[] = [];
      const lines: string[] = [];
      const running = await serve(modelDir, events, lines);
      try {
        expect(lines.some((l) => expected.test(l))).toBe(true);
        expect((await fetch(`${running.origin}/healthz`)).status).toBe(200);
      } finally {
        await running.close();
      }
    }
  });
});

describe('LSTM features', () => {
  test('a day is compared with the prior days only, and masked until it has a baseline', () => {
    const s = series('f', 40, { 'resting-heart-rate': (d, r) => 55 + 2 * r() + (d === 30 ? 12 : 0) });
    const f = subjectFeatures(s);
    const F = LSTM_FEATURES.length;
    expect(f.mask[6 * F]).toBe(0); // 6 prior values < 7
    expect(f.mask[7 * F]).toBe(1);
    expect(f.z[30 * F]).toBeGreaterThan(3);
    expect(f.mask[7 * F + 1]).toBe(0); // no HRV at all
  });
});

describe('LSTM detector (worker pool)', () => {
  let detector: LstmDetector;
  beforeAll(async () => {
    detector = await openLstmDetector({ workers: 1 });
  });
  afterAll(async () => {
    await detector.close();
  });

  test('causal: appending future days never changes past scores', async () => {
    const [full] = await detector.score([series('a', 150, person(110))]);
    const [cut] = await detector.score([series('a', 100, person(110))]);
    expect(cut.length).toBe(100);
    expect(full.slice(0, cut.length)).toEqual(cut);
  });

  test('deterministic, and independent of batching and of the other subjects in the batch', async () => {
    const subjects = [series('a', 150, person(110)), series('b', 150, person(60), 7)];
    const first = await detector.score(subjects);
    const again = await detector.score(subjects);
    const alone = await detector.score([subjects[1]]);
    expect(again).toEqual(first);
    expect(alone[0]).toEqual(first[1]);
    const small = await openLstmDetector({ workers: 2, scoring: { ...DEFAULT_LSTM_SCORING_OPTIONS, batch: 7 } });
    try {
      expect(await small.score(subjects)).toEqual(first);
    } finally {
      await small.close();
    }
  });

  test('an illness-like change raises one alarm episode around onset, and none in the healthy months', async () => {
    const [scores] = await detector.score([series('a', 150, person(110))]);
    const alarmDays = scores.filter((s) => s.alarm).map((s) => s.day);
    expect(alarmDays.length).toBeGreaterThan(0);
    expect(Math.min(...alarmDays)).toBeGreaterThanOrEqual(100);
    expect(Math.min(...alarmDays)).toBeLessThanOrEqual(115);
    expect(scores.filter((s) => s.alarm && s.day < 100)).toEqual([]);
    const reasons = scores.filter((s) => s.alarm && s.reason).map((s) => s.reason);
    expect(reasons.join(' ')).toMatch(/resting-heart-rate|hrv|sleep-duration|steps/);
  });

  test('gaps: days without data get no score, and scoring carries on after the gap', async () => {
    const gappy = person(110);
    const withGaps: Partial<Record<MetricName, MetricFn>> = {};
    for (const [m, f] of Object.entries(gappy) as [MetricName, MetricFn][]) {
      withGaps[m] = (d, r) => {
        const v = f(d, r);
        return (d >= 40 && d < 52) || d % 9 === 4 ? undefined : v;
      };
    }
    const [scores] = await detector.score([series('g', 150, withGaps)]);
    const days = scores.map((s) => s.day);
    expect(days).not.toContain(45);
    expect(days).not.toContain(13);
    expect(days).toContain(60);
    expect(scores.every((s) => Number.isFinite(s.score) && s.score >= 0)).toBe(true);
    expect(scores.some((s) => s.alarm && s.day >= 100 && s.day <= 120)).toBe(true);
  });

  test('single metric: resting heart rate alone is scored and still shows the illness', async () => {
    const [scores] = await detector.score([
      series('r', 150, { 'resting-heart-rate': (d, r) => 55 + 2 * r() + (ill(d, 110) ? 9 : 0) }),
    ]);
    expect(scores.length).toBe(150);
    expect(scores.slice(0, 7).every((s) => s.score === 0 && !s.alarm)).toBe(true);
    expect(scores.some((s) => s.alarm && s.day >= 105 && s.day <= 117)).toBe(true);
  });

  test('a device change that shifts a level is not a lasting alarm: at most one episode, and the new level becomes normal', async () => {
    const shifted: Partial<Record<MetricName, MetricFn>> = {
      'resting-heart-rate': (d, r) => 55 + 2 * r() + (d >= 80 ? 5 : 0),
      'hrv-rmssd': (d, r) => 60 + 8 * r() + (d >= 80 ? -12 : 0),
      'sleep-duration': (_d, r) => 7.3 + 0.8 * r(),
      steps: (_d, r) => 8000 + 2500 * r(),
    };
    const [scores] = await detector.score([series('d', 180, shifted)]);
    const starts = scores.filter((s, i) => s.alarm && (i === 0 || !scores[i - 1].alarm));
    expect(starts.length).toBeLessThanOrEqual(1);
    expect(scores.filter((s) => s.day >= 120 && s.alarm)).toEqual([]);
  });

  test('empty input and a subject with no comparable values give no alarm', async () => {
    expect(await detector.score([])).toEqual([]);
    const [scores] = await detector.score([series('e', 5, { steps: () => 5000 })]);
    expect(scores.map((s) => s.alarm)).toEqual([false, false, false, false, false]);
  });
});

describe('LSTM scoring in the workers', () => {
  test('features built in the workers give the same scores and reasons as the same code run on the main thread', async () => {
    const sdnnOnly: Partial<Record<MetricName, MetricFn>> = {
      'hrv-sdnn': (d, r) => 45 + 6 * r() - (ill(d, 70) ? 18 : 0),
      'resting-heart-rate': (d, r) => (d % 5 === 2 ? undefined : 58 + 2 * r() + (ill(d, 70) ? 8 : 0)),
    };
    const cohort = [
      series('a', 150, person(110)),
      series('b', 120, person(60), 7),
      series('c', 100, sdnnOnly, 3),
      series('e', 5, { steps: () => 5000 }),
      ...Array.from({ length: 9 }, (_, i) => series(`p${i}`, 90 + 7 * i, person(50 + 4 * i), 100 + i)),
    ];
    const model = await loadVerifiedModel();
    const pool = await OrtWorkerPool.create(model, { workers: 2 });
    try {
      const options = { ...DEFAULT_LSTM_SCORING_OPTIONS, batch: 64 };
      const reference = [];
      for (const s of cohort) {
        const group = packGroup([s]);
        // The pool transfers its input, and groupErrors reads the input again: send a copy.
        const errors = await groupErrors(group, model.card.window, options, (input, n) => pool.run(input.slice(), n));
        reference.push(calibrate(dayErrorsOf(group.days, group.dayStart, errors, 0), options));
      }
      const detector = await openLstmDetector({ workers: 2, scoring: options });
      try {
        const scored = await detector.score(cohort);
        expect(scored).toEqual(reference);
        const reasons = scored.flat().filter((d) => d.reason);
        expect(reasons.length).toBeGreaterThan(0);
        const names = LSTM_FEATURES.map((f) => f.name).join('|');
        const one = `(${names}) (far )?(above|below) personal baseline, unlike the recent pattern`;
        for (const d of reasons) {
          expect(d.reason).toMatch(new RegExp(`^${one}(; ${one})*$`));
        }
      } finally {
        await detector.close();
      }
    } finally {
      await pool.close();
    }
  });

  test('a packed series keeps every day with data, and its features equal those of the series', () => {
    const s = series('f', 40, {
      'hrv-sdnn': (d, r) => (d % 3 === 0 ? undefined : 40 + 5 * r()),
      'body-weight': (d) => (d % 3 === 0 ? 70 : undefined),
    });
    const group = packGroup([s, s]);
    expect(Array.from(group.dayStart)).toEqual([0, 40, 80]);
    const f = subjectFeatures(s);
    expect(f.scoredDays).toEqual(Array.from({ length: 40 }, (_, d) => d));
    const F = LSTM_FEATURES.length;
    expect(f.mask[38 * F + 1]).toBe(1); // SDNN feeds the HRV feature when RMSSD is absent
    expect(f.mask[38 * F + 0]).toBe(0);
    expect(f.mask[39 * F + 1]).toBe(0); // day 39 has body weight only: scored, nothing present
  });
});

describe('episode hysteresis', () => {
  test('opens at the on threshold, closes after quiet days, and adopts an over-long episode as the new normal', () => {
    const h = new EpisodeHysteresis({ onThreshold: 4, offThreshold: 1, closeAfterDays: 2, maxEpisodeDays: 5 });
    expect(h.step(3).alarm).toBe(false);
    expect(h.step(4)).toEqual({ alarm: true, action: 'hold' });
    expect(h.step(0.5)).toEqual({ alarm: true, action: 'hold' });
    expect(h.step(0.5)).toEqual({ alarm: false, action: 'drop' });
    for (let i = 0; i < 5; i++) {
      expect(h.step(9).alarm).toBe(true);
    }
    expect(h.step(9)).toEqual({ alarm: false, action: 'adopt' });
  });
});
