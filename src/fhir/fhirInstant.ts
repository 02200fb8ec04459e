const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An R4 instant (datatypes.html#instant: a time to the second, with a time zone) as epoch milliseconds, or undefined
 * when the text is not one. Calendar-checked: `Date.parse` rolls 2024-02-30 over to March 1, which would turn a
 * client's typo into a different question.
 */
export function parseFhirInstant(value: string): number | undefined {
  const m = INSTANT.exec(value);
  if (!m) {
    return undefined;
  }
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) {
    return undefined;
  }
  if (h > 23 || mi > 59 || s > 59) {
    return undefined;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
