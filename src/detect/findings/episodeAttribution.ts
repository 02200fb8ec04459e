import type { Condition, Procedure } from '@medplum/fhirtypes';
import { parseDay } from '../../calendar/calendarDay';
import type { MetricName } from '../../fhir/metricCatalogue';
import type { AlarmEpisode } from './alarmEpisodes';
import { feverEvidence, infectionEvidence, type MetricDeviation } from './episodeExplanation';

/**
 * What the record already says about the start of a deviation: a condition's onset or a procedure's date (an injury, an operation, an illness already diagnosed),
 * a change of measuring device or source, or a gap in the data. A deviation that starts there is attributed to it
 * (written with that explanation, low likelihood, no review Task) or, for a device change, suppressed (not written;
 * the run's summary counts it), unless the evidence says infection: after a recorded condition or procedure only a
 * fever does (heart rate up and HRV down are expected after an injury or operation), after a device change or gap
 * also heart rate up with HRV or breathing worse.
 */
export type KnownEventKind = 'condition' | 'procedure' | 'device-change' | 'data-gap';

export interface KnownEvent {
  readonly kind: KnownEventKind;
  /** Day ordinal: the onset / performed day, the first day on the new source, or the first day after a gap. */
  readonly day: number;
  /** Plain text: the condition's or procedure's text, or "N days" for a gap. */
  readonly text: string;
  /** device-change: the metric whose source changed. */
  readonly metric?: MetricName;
}

export interface Attribution {
  readonly event: KnownEvent;
  /** attributed: written with the explanation; suppressed: not written (counted). */
  readonly action: 'attributed' | 'suppressed';
  /** The episode also shows infection evidence: the outcome stays "possible infection". */
  readonly infection: boolean;
}

export interface AttributionOptions {
  /** An episode starting this many days before a recorded onset counts (the record's date may lag the event). */
  readonly daysBefore: number;
  /** ...and up to this many days after it. */
  readonly daysAfter: number;
  /** A gap of at least this many days without any data is a data gap. */
  readonly minGapDays: number;
}

export const DEFAULT_ATTRIBUTION_OPTIONS: Readonly<AttributionOptions> = Object.freeze({
  daysBefore: 2,
  daysAfter: 7,
  minGapDays: 7,
});

/** Condition.verificationStatus codes that mean "this did not happen" (FHIR R4 valueset-condition-ver-status). */
const VOID_VERIFICATION = new Set(['refuted', 'entered-in-error']);
/** Procedure.status values that mean it did not take place (FHIR R4 valueset-event-status). */
const VOID_PROCEDURE_STATUS = new Set(['not-done', 'entered-in-error', 'preparation']);

/** The recorded conditions and procedures as known events (undated or void ones are skipped). */
export function recordedEvents(conditions: readonly Condition[], procedures: readonly Procedure[]): KnownEvent[] {
  const out: KnownEvent[] = [];
  for (const c of conditions) {
    if (c.verificationStatus?.coding?.some((x) => VOID_VERIFICATION.has(x.code ?? ''))) {
      continue;
    }
    const day = dayOf(c.onsetDateTime ?? c.onsetPeriod?.start ?? c.recordedDate);
    if (day !== undefined) {
      out.push({ kind: 'condition', day, text: textOf(c.code) ?? 'condition' });
    }
  }
  for (const p of procedures) {
    if (VOID_PROCEDURE_STATUS.has(p.status)) {
      continue;
    }
    const day = dayOf(p.performedDateTime ?? p.performedPeriod?.start);
    if (day !== undefined) {
      out.push({ kind: 'procedure', day, text: textOf(p.code) ?? 'procedure' });
    }
  }
  return out;
}

/**
 * Data gaps: the first scored day after at least `minGapDays` days without any data. `scoredDays` ascending.
 */
export function dataGaps(
  scoredDays: readonly number[],
  options: AttributionOptions = DEFAULT_ATTRIBUTION_OPTIONS
): KnownEvent[] {
  const out: KnownEvent[] = [];
  for (let i = 1; i < scoredDays.length; i++) {
    const missing = scoredDays[i] - scoredDays[i - 1] - 1;
    if (missing >= options.minGapDays) {
      out.push({ kind: 'data-gap', day: scoredDays[i], text: `${missing} days` });
    }
  }
  return out;
}

/**
 * Source changes: for each metric, the first day a source (device, meta.source) gives values that no earlier day of
 * that metric had, after the metric's first day. `sources` maps day -> metric -> the sources of that day's values.
 */
export function deviceChanges(sources: ReadonlyMap<number, ReadonlyMap<MetricName, readonly string[]>>): KnownEvent[] {
  const seen = new Map<MetricName, Set<string>>();
  const out: KnownEvent[] = [];
  for (const day of [...sources.keys()].sort((a, b) => a - b)) {
    for (const [metric, list] of sources.get(day) ?? []) {
      const known = seen.get(metric);
      if (!known) {
        seen.set(metric, new Set(list));
        continue;
      }
      if (list.some((s) => !known.has(s)) && list.every((s) => !known.has(s))) {
        out.push({ kind: 'device-change', day, text: 'new source', metric });
      }
      list.forEach((s) => known.add(s));
    }
  }
  return out;
}

/**
 * The known event an episode starts at, if any: its onset within [day - daysBefore, day + daysAfter] of a recorded
 * condition or procedure, within [day, day + daysAfter] of a device change of a metric it names, or within
 * [day, day + daysAfter] of the first day after a data gap. A recorded condition or procedure wins over a device
 * change or gap (it is clinical); the nearest wins among equals.
 */
export function attributeEpisode(
  episode: AlarmEpisode,
  deviations: readonly MetricDeviation[],
  events: readonly KnownEvent[],
  options: AttributionOptions = DEFAULT_ATTRIBUTION_OPTIONS
): Attribution | undefined {
  const onset = episode.onsetDay;
  const named = new Set(deviations.map((d) => d.metric));
  const candidates = events.filter((e) => {
    switch (e.kind) {
      case 'condition':
      case 'procedure':
        return onset >= e.day - options.daysBefore && onset <= e.day + options.daysAfter;
      case 'device-change':
        return e.metric !== undefined && named.has(e.metric) && onset >= e.day && onset <= e.day + options.daysAfter;
      case 'data-gap':
        return onset >= e.day && onset <= e.day + options.daysAfter;
    }
  });
  if (candidates.length === 0) {
    return undefined;
  }
  const clinical = (e: KnownEvent): number => (e.kind === 'condition' || e.kind === 'procedure' ? 0 : 1);
  const [event] = [...candidates].sort(
    (a, b) => clinical(a) - clinical(b) || Math.abs(onset - a.day) - Math.abs(onset - b.day) || a.day - b.day
  );
  // After a recorded injury, illness or operation, heart rate up and HRV down are expected (pain, stress, the
  // illness already diagnosed): only a fever keeps "possible infection". A device change or gap explains nothing
  // clinical, so there the full infection evidence counts.
  const infection =
    event.kind === 'condition' || event.kind === 'procedure'
      ? feverEvidence(deviations)
      : infectionEvidence(deviations);
  const action = event.kind === 'device-change' && !infection ? 'suppressed' : 'attributed';
  return { event, action, infection };
}

function textOf(code: { text?: string; coding?: { display?: string }[] } | undefined): string | undefined {
  return code?.text ?? code?.coding?.find((c) => c.display)?.display;
}

/**
 * Day of a FHIR date or dateTime: the date as the source wrote it, i.e. the local day where the event happened (a
 * dateTime carries its own offset); undefined when absent or not day-precise.
 */
function dayOf(text: string | undefined): number | undefined {
  return text && text.length >= 10 ? parseDay(text.slice(0, 10)) : undefined;
}
