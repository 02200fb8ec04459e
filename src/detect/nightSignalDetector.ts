import type { Device } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../fhir/canonicalJson';
import { MODEL_SHA256_SYSTEM, TWIN_PROFILE, twinCoding } from '../fhir/codes/twinCanonicals';
import { SortedWindow } from '../twin/baseline';
import type { DayScore } from './causalScorer';
import type { SubjectSeries } from './detectionInput';
import type { Detector } from './detector';

/**
 * A resting-heart-rate rule after NightSignal (Alavi et al. 2022, Nature Medicine; summarised in the project's
 * field notes): a night counts when resting HR is at least `minExcessBpm` above the running median of the person's
 * previous `windowDays` days, and an alarm needs two consecutive such nights. It reads one metric only, so it is a
 * plain, explainable reference for the multi-metric detectors. The score of a day is the smaller excess (bpm) of
 * that night and the night before; it reads only days up to the scored day (causal).
 */
const NIGHT_SIGNAL = Object.freeze({
  version: '1.0.0',
  metric: 'resting-heart-rate',
  windowDays: 28,
  minBaselineNights: 7,
  minExcessBpm: 4,
});

export function scoreNightSignal(series: SubjectSeries): DayScore[] {
  const window = new SortedWindow();
  const entries: { day: number; value: number }[] = [];
  const out: DayScore[] = [];
  let previous: { day: number; excess: number } | undefined;
  for (const day of [...series.values.keys()].sort((a, b) => a - b)) {
    const value = series.values.get(day)?.get(NIGHT_SIGNAL.metric);
    if (value === undefined) {
      out.push({ day, score: 0, alarm: false, reason: '' });
      continue;
    }
    while (entries.length > 0 && entries[0].day < day - NIGHT_SIGNAL.windowDays) {
      window.remove(entries.shift()?.value ?? Number.NaN);
    }
    const median = window.size >= NIGHT_SIGNAL.minBaselineNights ? window.robust()?.median : undefined;
    const excess = median === undefined ? 0 : value - median;
    const consecutive = previous !== undefined && previous.day === day - 1;
    const score = consecutive ? Math.max(0, Math.min(excess, previous?.excess ?? 0)) : 0;
    const alarm = score >= NIGHT_SIGNAL.minExcessBpm;
    out.push({
      day,
      score: Math.round(score * 1000) / 1000,
      alarm,
      reason: alarm ? `${NIGHT_SIGNAL.metric} above personal baseline` : '',
    });
    previous = { day, excess };
    window.insert(value);
    entries.push({ day, value });
  }
  return out;
}

function nightSignalDevice(): Device {
  const configuration = canonicalJson({ algorithm: 'recovery-twin-nightsignal', ...NIGHT_SIGNAL });
  const sha256 = createHash('sha256').update(configuration, 'utf8').digest('hex');
  return {
    resourceType: 'Device',
    meta: { profile: [TWIN_PROFILE.modelDevice] },
    identifier: [{ system: MODEL_SHA256_SYSTEM, value: sha256 }],
    deviceName: [{ name: 'recovery-twin statistical detector: nightsignal', type: 'model-name' }],
    type: { coding: [twinCoding('twin-model')], text: 'Twin analytic model' },
    version: [{ value: `${NIGHT_SIGNAL.version}+${sha256.slice(0, 12)}` }],
    note: [
      {
        text:
          'Resting heart rate at least 4 bpm above the running 28-day median on two consecutive nights (after ' +
          'NightSignal, Alavi et al. 2022). No trained weights; the sha256 identifier is taken over this ' +
          `configuration (canonical JSON): ${configuration}`,
      },
    ],
  };
}

export const nightSignalDetector: Detector = {
  name: 'nightsignal',
  description: 'resting HR >= 4 bpm over its running 28-day median on two consecutive nights (after NightSignal)',
  open: async () => ({
    source: {
      detector: 'nightsignal',
      device: nightSignalDevice(),
      alarmThreshold: NIGHT_SIGNAL.minExcessBpm,
      // Each alarm night stands alone: an episode ends when the two-night rule stops holding (no hysteresis).
      hysteresis: false,
      score: async (series) => scoreNightSignal(series),
    },
    scoreAll: async (subjects) => subjects.map(scoreNightSignal),
    close: async () => undefined,
  }),
};
