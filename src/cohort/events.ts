import { invalidInput } from '../fhir/outcomes';
/**
 * Injected events: what the generator did to a patient's physiology on purpose, so that detection and planning can
 * be scored against known truth. One ground-truth row per event, on the event's first day.
 */
export type InjectedEventType =
  /** First day the resting HR starts rising before an illness (1-7 days before symptoms). */
  | 'illness_presymptomatic'
  /** First day with symptoms (self-reported wellness drops, training stops). */
  | 'illness_symptoms'
  /** First day of a block of excessive training load (functional overreaching). */
  | 'overreaching'
  /** First day on which recovery after injury or surgery stops progressing for a while. */
  | 'recovery_plateau'
  /** Injury or surgery day (day 0 of the recovery curve). */
  | 'injury'
  | 'surgery'
  /** First day of a multi-day gap with no wearable data at all. */
  | 'data_gap'
  /** First day of data from a replacement wearable (slightly different calibration). */
  | 'device_change';

export interface GroundTruthRow {
  /** Subject key (the Patient identifier value; also the long-CSV subject_id). */
  readonly subject: string;
  /** Day index from the cohort start date (day 0 = startDate). */
  readonly day: number;
  readonly event: InjectedEventType;
}

export const GROUND_TRUTH_HEADER = 'subject,day,event';

/** One CSV line (no newline). Subject keys are generated, never contain commas or quotes. */
export function groundTruthLine(row: GroundTruthRow): string {
  return `${row.subject},${row.day},${row.event}`;
}

/** Parses a ground-truth CSV (with header) back into rows; used by tests and scoring. */
export function parseGroundTruth(text: string): GroundTruthRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  if (lines[0] !== GROUND_TRUTH_HEADER) {
    throw invalidInput(`ground truth must start with '${GROUND_TRUTH_HEADER}'`);
  }
  return lines.slice(1).map((line, i) => {
    const [subject, day, event] = line.split(',');
    if (!subject || day === undefined || !event || !/^\d+$/.test(day)) {
      throw invalidInput(`ground truth line ${i + 2} is malformed`);
    }
    return { subject, day: Number(day), event: event as InjectedEventType };
  });
}
