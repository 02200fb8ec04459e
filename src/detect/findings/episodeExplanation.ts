import { isMetricName, type MetricName } from '../../fhir/metricCatalogue';
import { isoDay } from '../../calendar/calendarDay';
import { METRIC_RULES } from '../../twin/metricRules';
import type { AlarmEpisode } from './alarmEpisodes';
import type { Attribution } from './episodeAttribution';

/**
 * How one metric moved during an episode, read from the detector's day reasons (src/detect/causalScorer.ts writes
 * `<metric> [far ]<above|below> personal baseline`, `far` meaning at least 3 robust SD, otherwise at least 2; the LSTM
 * detector writes the same with `, unlike the recent pattern` appended, see lstmFindingSource.ts). The reasons carry
 * no values, so neither does anything built from them.
 */
export interface MetricDeviation {
  readonly metric: MetricName;
  readonly direction: 'above' | 'below';
  /** At least 3 robust SD from baseline on some day of the episode (else 2 to 3). */
  readonly far: boolean;
  /** First day of the episode on which the metric was named. */
  readonly sinceDay: number;
  /** Days of the episode on which it was named. */
  readonly days: number;
}

const REASON_PART = /^([a-z0-9-]+) (far )?(above|below) personal baseline(?:, unlike the recent pattern)?$/;

/** The metrics the detector named over an episode, most often named first (then by name). */
export function episodeDeviations(episode: AlarmEpisode): MetricDeviation[] {
  const byMetric = new Map<
    MetricName,
    { direction: 'above' | 'below'; far: boolean; sinceDay: number; days: number }
  >();
  for (const day of episode.days) {
    for (const part of day.reason.split(';')) {
      const m = REASON_PART.exec(part.trim());
      if (!m || !isMetricName(m[1])) {
        continue;
      }
      const metric = m[1];
      const direction = m[3] === 'above' ? 'above' : 'below';
      const seen = byMetric.get(metric);
      if (seen) {
        seen.far ||= m[2] !== undefined;
        seen.days++;
      } else {
        byMetric.set(metric, { direction, far: m[2] !== undefined, sinceDay: day.day, days: 1 });
      }
    }
  }
  return [...byMetric.entries()]
    .map(([metric, d]) => ({ metric, ...d }))
    .sort((a, b) => b.days - a.days || (a.metric < b.metric ? -1 : 1));
}

/**
 * The outcomes a finding can predict (docs/ARCHITECTURE.md: findings). Free text: the profile asks for an outcome, no
 * coding. `change after a recorded condition or procedure` is a deviation that starts at an injury, illness or
 * operation the record already holds (episodeAttribution.ts); `sustained change (new normal?)` an episode still
 * deviated at the episode limit, for a clinician to confirm as the person's new normal or not.
 */
export type FindingOutcome =
  | 'possible infection'
  | 'insufficient recovery'
  | 'overreaching'
  | 'recovery plateau'
  | 'change after a recorded condition or procedure'
  | 'sustained change (new normal?)';

/** Fever: the one sign that points at an infection on its own. */
const FEVER: ReadonlySet<MetricName> = new Set(['body-temperature']);
const HEART_RATE: ReadonlySet<MetricName> = new Set(['resting-heart-rate', 'heart-rate']);
/** Signs that, with a heart rate above baseline, complete the pattern of the pre-symptomatic illness studies. */
const AUTONOMIC_OR_BREATHING: ReadonlySet<MetricName> = new Set([
  'hrv-sdnn',
  'hrv-rmssd',
  'respiratory-rate',
  'oxygen-saturation',
]);
/** Self-reported strain (PMSys-style wellness items). */
const SUBJECTIVE_STRAIN: ReadonlySet<MetricName> = new Set(['readiness', 'fatigue', 'soreness', 'stress', 'mood']);
const ACTIVITY: ReadonlySet<MetricName> = new Set(['steps', 'active-minutes']);

/** Whether a deviation is the adverse one for its metric (the catalogue's direction, src/twin/metricRules.ts). */
export function deviationIsWorse(d: Pick<MetricDeviation, 'metric' | 'direction'>): boolean | undefined {
  const good = METRIC_RULES[d.metric].goodDirection;
  if (good === 0) {
    return undefined;
  }
  return (d.direction === 'above') === (good === -1);
}

/**
 * Evidence of infection in an episode: fever (body temperature above baseline), or a heart rate above baseline
 * together with HRV down, breathing rate up or oxygen saturation down. A heart rate up alone is not enough: it also
 * rises with pain, poor sleep, heat and training strain.
 */
export function infectionEvidence(deviations: readonly MetricDeviation[]): boolean {
  const worse = deviations.filter((d) => deviationIsWorse(d) === true).map((d) => d.metric);
  const has = (group: ReadonlySet<MetricName>): boolean => worse.some((m) => group.has(m));
  return has(FEVER) || (has(HEART_RATE) && has(AUTONOMIC_OR_BREATHING));
}

/** Fever: body temperature above baseline. The one sign a recorded injury or operation does not explain away. */
export function feverEvidence(deviations: readonly MetricDeviation[]): boolean {
  return deviations.some((d) => FEVER.has(d.metric) && deviationIsWorse(d) === true);
}

/** Evidence of an injury's pattern: daily activity down and/or pain up (both worse). */
export function injuryPattern(deviations: readonly MetricDeviation[]): MetricName[] {
  return deviations
    .filter((d) => deviationIsWorse(d) === true && (ACTIVITY.has(d.metric) || d.metric === 'pain-severity'))
    .map((d) => d.metric);
}

/**
 * A label for the pattern of an episode. A heuristic on which metrics deviated for the worse, not a diagnosis; the
 * note says so. In order:
 * - infection evidence (infectionEvidence above) -> possible infection;
 * - self-reported strain items (readiness, fatigue, soreness, stress, mood) worse -> overreaching;
 * - only activity (steps, active minutes) below baseline for at least `plateauDays` -> recovery plateau;
 * - anything else (a heart rate up alone, HRV or sleep down, pain up, several metrics moderately adverse together)
 *   -> insufficient recovery.
 * Deviations attributed to a recorded condition or procedure, and sustained shifts, are labelled by the caller
 * (buildFinding), which still lets fever win: a fever after an operation is not "expected".
 */
export function classifyEpisode(
  deviations: readonly MetricDeviation[],
  episodeDays: number,
  plateauDays: number
): FindingOutcome {
  const metrics = new Set(deviations.filter((d) => deviationIsWorse(d) !== false).map((d) => d.metric));
  const any = (group: ReadonlySet<MetricName>): boolean => [...metrics].some((m) => group.has(m));
  if (infectionEvidence(deviations)) {
    return 'possible infection';
  }
  if (any(SUBJECTIVE_STRAIN)) {
    return 'overreaching';
  }
  if (metrics.size > 0 && [...metrics].every((m) => ACTIVITY.has(m)) && episodeDays >= plateauDays) {
    return 'recovery plateau';
  }
  return 'insufficient recovery';
}

/** Plain-language names for the note (lower case, no scale details: those are in each Observation). */
const METRIC_WORDS: Readonly<Record<MetricName, string>> = Object.freeze({
  'heart-rate': 'heart rate',
  'resting-heart-rate': 'resting heart rate',
  'hrv-sdnn': 'heart rate variability (SDNN)',
  'hrv-rmssd': 'heart rate variability (RMSSD)',
  'respiratory-rate': 'breathing rate',
  'oxygen-saturation': 'oxygen saturation',
  'body-temperature': 'body temperature',
  'sleep-duration': 'sleep duration',
  steps: 'daily steps',
  'active-minutes': 'active minutes',
  'pain-severity': 'pain',
  'body-weight': 'body weight',
  glucose: 'glucose',
  'training-load': 'training load',
  readiness: 'readiness to train',
  fatigue: 'fatigue score',
  soreness: 'soreness score',
  stress: 'stress score',
  mood: 'mood',
  'sleep-quality': 'sleep quality',
});

export interface ExplanationContext {
  readonly detectorLabel: string;
  /** The score at which the detector raises an alarm. */
  readonly alarmThreshold: number;
  /** The detector has hysteresis (ensemble, lstm): a closed episode means the person was back near baseline. */
  readonly hysteresis: boolean;
  /** A recorded event the deviation starts at (episodeAttribution.ts). */
  readonly attribution?: Attribution;
  /** How the likelihood is stated (findingLikelihood.ts): the sentence for the note. */
  readonly likelihood: string;
}

/** "worse" / "better" / "changed" for one deviation, on its metric's scale. */
function verdict(d: MetricDeviation): string {
  const worse = deviationIsWorse(d);
  return worse === undefined ? 'changed' : worse ? 'worse' : 'better';
}

/** Which way is better on a metric's scale, in words (so "below" cannot be misread). */
function scaleHint(metric: MetricName): string {
  const good = METRIC_RULES[metric].goodDirection;
  return good === 1 ? 'higher is better' : good === -1 ? 'lower is better' : 'no better or worse direction';
}

/**
 * The finding's note: which metrics, better or worse and how far from the personal baseline (in robust SD bands),
 * since when, how the episode stands (open, back towards baseline, or a sustained shift for a clinician to confirm),
 * the recorded event it starts at if any, then the score against its threshold and what it means. No measured values
 * (they stay in the Observations of `basis`).
 */
export function explainEpisode(
  episode: AlarmEpisode,
  deviations: readonly MetricDeviation[],
  outcome: FindingOutcome,
  context: ExplanationContext
): string {
  const onset = isoDay(episode.onsetDay);
  const span = episode.lastDay - episode.onsetDay + 1;
  const days = (n: number): string => `${n} day${n === 1 ? '' : 's'}`;
  let state: string;
  if (episode.shift === 'pending') {
    state =
      `since ${onset}, still away from the personal baseline after ${days(span)} (alarm days to ` +
      `${isoDay(episode.lastDay)}): a sustained change. New normal? For a clinician to confirm; until then the ` +
      'detector compares later days with this level provisionally, and this finding stays open';
  } else if (episode.shift === 'resolved') {
    state =
      `from ${onset}, sustained beyond ${days(span)}, back within the earlier baseline on ` +
      `${isoDay(episode.shiftEndDay ?? episode.lastDay)}`;
  } else if (episode.open) {
    state = `since ${onset}, still open on ${isoDay(episode.lastDay)} (${days(span)})`;
  } else if (context.hysteresis) {
    state = `from ${onset} to ${isoDay(episode.lastDay)} (${days(span)}), then back towards baseline`;
  } else {
    state = `from ${onset} to ${isoDay(episode.lastDay)} (${days(span)}), then below the alarm threshold`;
  }
  const metrics =
    deviations.length > 0
      ? deviations
          .map(
            (d) =>
              `${METRIC_WORDS[d.metric]} ${verdict(d)}: ${d.far ? 'at least 3' : '2 to 3'} robust SD ${d.direction} ` +
              `the personal baseline (${scaleHint(d.metric)}; from ${isoDay(d.sinceDay)}, on ${d.days} of the alarm days)`
          )
          .join('; ')
      : 'no single metric 2 robust SD or more from its personal baseline, but several moderately worse together ' +
        'or a sustained drift';
  const attribution = context.attribution ? ` ${attributionSentence(context.attribution, deviations)}` : '';
  return (
    `Early-warning alarm ${state}: ${metrics}.${attribution} ` +
    `Pattern suggests ${outcome} (a rule on which metrics deviated, not a diagnosis). ${context.likelihood} ` +
    `Peak detector score ${episode.peakScore} on ${isoDay(episode.peakDay)}, alarm threshold ${context.alarmThreshold} ` +
    `(${context.detectorLabel}). For review by the care team.`
  );
}

function attributionSentence(a: Attribution, deviations: readonly MetricDeviation[]): string {
  const e = a.event;
  const pattern = injuryPattern(deviations).map((m) => METRIC_WORDS[m]);
  switch (e.kind) {
    case 'condition':
    case 'procedure': {
      const what =
        e.kind === 'condition'
          ? `the recorded condition "${e.text}" (onset ${isoDay(e.day)})`
          : `the recorded procedure "${e.text}" (${isoDay(e.day)})`;
      const fits =
        pattern.length > 0
          ? ` The pattern fits an injury or operation (${pattern.join(' and ')} worse).`
          : ' Daily activity and pain did not move as they usually do after an injury or operation.';
      return a.infection
        ? `It starts at ${what}, but with signs of infection (fever, or heart rate up with HRV or breathing worse), so it is not taken as expected.${fits}`
        : `It starts at ${what} and is attributed to it, not to an infection.${fits}`;
    }
    case 'device-change':
      return `It starts when the measuring device or source of ${e.metric ? METRIC_WORDS[e.metric] : 'a metric'} changed (${isoDay(e.day)}): possibly a measurement artefact.`;
    case 'data-gap':
      return `It starts right after ${e.text} without data (to ${isoDay(e.day)}): the baseline before the gap may no longer apply.`;
  }
}
