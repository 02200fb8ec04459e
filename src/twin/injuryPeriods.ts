import type { Condition, Procedure } from '@medplum/fhirtypes';
import { dayOfInstant, isoDay, parseDay } from '../calendar/calendarDay';
import type { ExcludedPeriod } from './excludedDays';

export interface InjuryPeriodOptions {
  /**
   * Days excluded from the onset of a condition (when it records no abatement) or from the end of a procedure, the
   * day itself included. Default 28: the acute phase of the injuries and operations the product targets; the
   * synthetic cohort's slowest recovery (surgery) has a 28-day time constant. A modelling choice, configurable.
   */
  readonly postInjuryDays?: number;
  /** Which Conditions count (default: all passed in, except refuted or entered-in-error ones). */
  readonly includeCondition?: (condition: Condition) => boolean;
}

const DEFAULT_POST_INJURY_DAYS = 28;

/** Condition.verificationStatus codes that mean "this did not happen" (FHIR R4 valueset-condition-ver-status). */
const VOID_VERIFICATION = new Set(['refuted', 'entered-in-error']);

/** Procedure.status values that mean the procedure did not take place (FHIR R4 valueset-event-status). */
const VOID_PROCEDURE_STATUS = new Set(['not-done', 'entered-in-error', 'preparation']);

/**
 * Post-injury periods the baseline must not learn from, so a recovery does not become the person's new normal:
 * one per Condition (onset to abatement, or onset + postInjuryDays - 1) and per Procedure (performed start to
 * performed end + postInjuryDays - 1). Resources without a usable date are skipped. Sorted by start, then end.
 */
export function injuryPeriods(
  conditions: readonly Condition[],
  procedures: readonly Procedure[],
  options: InjuryPeriodOptions = {}
): ExcludedPeriod[] {
  const length = options.postInjuryDays ?? DEFAULT_POST_INJURY_DAYS;
  if (!Number.isInteger(length) || length < 1) {
    throw new RangeError('postInjuryDays must be a positive integer');
  }
  const periods: ExcludedPeriod[] = [];
  for (const condition of conditions) {
    const verification = condition.verificationStatus?.coding?.map((c) => c.code ?? '') ?? [];
    if (verification.some((code) => VOID_VERIFICATION.has(code))) {
      continue;
    }
    if (options.includeCondition && !options.includeCondition(condition)) {
      continue;
    }
    const start = dayOf(condition.onsetDateTime ?? condition.onsetPeriod?.start ?? condition.recordedDate);
    if (start === undefined) {
      continue;
    }
    const abatement = dayOf(condition.abatementDateTime ?? condition.abatementPeriod?.end);
    const end = abatement !== undefined && abatement >= start ? abatement : start + length - 1;
    periods.push({ start: isoDay(start), end: isoDay(end), reason: 'post-injury' });
  }
  for (const procedure of procedures) {
    if (VOID_PROCEDURE_STATUS.has(procedure.status)) {
      continue;
    }
    const start = dayOf(procedure.performedDateTime ?? procedure.performedPeriod?.start);
    if (start === undefined) {
      continue;
    }
    const performedEnd = dayOf(procedure.performedPeriod?.end);
    const last = performedEnd !== undefined && performedEnd >= start ? performedEnd : start;
    periods.push({ start: isoDay(start), end: isoDay(last + length - 1), reason: 'post-injury' });
  }
  return periods.sort((a, b) =>
    a.start < b.start ? -1 : a.start > b.start ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0
  );
}

/** UTC day of a FHIR date or dateTime (a bare date is its own day); undefined when absent or not day-precise. */
function dayOf(text: string | undefined): number | undefined {
  if (!text) {
    return undefined;
  }
  if (text.length === 10) {
    return parseDay(text);
  }
  const ms = Date.parse(text);
  return text.length > 10 && Number.isFinite(ms) ? dayOfInstant(ms) : undefined;
}
