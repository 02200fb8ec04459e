/**
 * Early-warning evaluation of daily alarms against labelled events, per subject:
 * - an event at onset o is "detected before onset" if some alarm day falls in [o - 7, o], and "detected" if some
 *   alarm day falls in [o - 7, o + 21]; its lead time is o minus the first alarm day in [o - 7, o + 21] (positive =
 *   before onset; the median over detected events is reported);
 * - an alarm episode is a maximal run of consecutive scored days with alarm = 1; it is true if it starts inside
 *   [o - 7, o + 21] of a scored event, excused if it starts inside that window of another clinical label (injury,
 *   surgery, overreaching, plateau: real deviations that are not the event being scored), false otherwise;
 * - event-free days are scored days outside [o - 7, o + 21] of every clinical label; false-alarm rate = false
 *   episodes x 30 / event-free days;
 * - precision = true episodes / (true + false episodes); recall = detected events / events;
 *   F-beta = (1 + b^2) P R / (b^2 P + R), reported for b = 1 and b = 0.5 (false alarms weigh more).
 * Labels `data_gap` and `device_change` are not clinical: alarms near them count as false.
 */
export interface LabelRow {
  readonly subjectId: string;
  readonly day: number;
  readonly event: string;
}

export interface AlarmDay {
  readonly subjectId: string;
  readonly day: number;
  readonly alarm: boolean;
}

export interface DetectionFigures {
  readonly events: number;
  readonly detectedBeforeOnset: number;
  readonly detectedWithin: number;
  readonly medianLeadDays: number | undefined;
  readonly trueEpisodes: number;
  readonly falseEpisodes: number;
  readonly eventFreeDays: number;
  readonly falseAlarmsPer30Days: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly f05: number;
}

/** Labels that are not clinical events (the cohort's data gaps and device changes): alarms near them are false. */
export const NOT_CLINICAL: ReadonlySet<string> = new Set(['data_gap', 'device_change']);
const BEFORE = 7;
const AFTER = 21;

export function evaluateDetection(
  alarms: readonly AlarmDay[],
  labels: readonly LabelRow[],
  scoredEvents: ReadonlySet<string>
): DetectionFigures {
  const daysBySubject = new Map<string, AlarmDay[]>();
  for (const a of alarms) {
    const list = daysBySubject.get(a.subjectId) ?? [];
    list.push(a);
    daysBySubject.set(a.subjectId, list);
  }
  let events = 0;
  let before = 0;
  let within = 0;
  const leads: number[] = [];
  let trueEpisodes = 0;
  let falseEpisodes = 0;
  let eventFreeDays = 0;
  for (const [subjectId, days] of daysBySubject) {
    days.sort((a, b) => a.day - b.day);
    const subjectLabels = labels.filter((l) => l.subjectId === subjectId);
    const scored = subjectLabels.filter((l) => scoredEvents.has(l.event));
    const clinical = subjectLabels.filter((l) => !NOT_CLINICAL.has(l.event));
    const alarmDays = days.filter((d) => d.alarm).map((d) => d.day);
    for (const e of scored) {
      events++;
      if (alarmDays.some((d) => d >= e.day - BEFORE && d <= e.day)) {
        before++;
      }
      const first = alarmDays.find((d) => d >= e.day - BEFORE && d <= e.day + AFTER);
      if (first !== undefined) {
        within++;
        leads.push(e.day - first);
      }
    }
    const inWindow = (day: number, of: readonly LabelRow[]): boolean =>
      of.some((l) => day >= l.day - BEFORE && day <= l.day + AFTER);
    for (let i = 0; i < days.length; i++) {
      const d = days[i];
      if (!inWindow(d.day, clinical)) {
        eventFreeDays++;
      }
      const startsEpisode = d.alarm && (i === 0 || !days[i - 1].alarm || days[i - 1].day !== d.day - 1);
      if (!startsEpisode) {
        continue;
      }
      if (inWindow(d.day, scored)) {
        trueEpisodes++;
      } else if (!inWindow(d.day, clinical)) {
        falseEpisodes++;
      }
    }
  }
  const precision = trueEpisodes + falseEpisodes > 0 ? trueEpisodes / (trueEpisodes + falseEpisodes) : 0;
  const recall = events > 0 ? within / events : 0;
  return {
    events,
    detectedBeforeOnset: before,
    detectedWithin: within,
    medianLeadDays: median(leads),
    trueEpisodes,
    falseEpisodes,
    eventFreeDays,
    falseAlarmsPer30Days: eventFreeDays > 0 ? (falseEpisodes * 30) / eventFreeDays : 0,
    precision,
    recall,
    f1: fBeta(precision, recall, 1),
    f05: fBeta(precision, recall, 0.5),
  };
}

function fBeta(p: number, r: number, beta: number): number {
  const b2 = beta * beta;
  return p + r > 0 ? ((1 + b2) * p * r) / (b2 * p + r) : 0;
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) {
    return undefined;
  }
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}
