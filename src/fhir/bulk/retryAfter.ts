/**
 * Reads a `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Bulk Data Access IG v2.0.0
 * export.html#bulk-data-status-request: "a delay time in seconds (e.g., 120 ...) or a http-date (e.g., Fri, 31 Dec
 * 1999 23:59:59 GMT)". Returns milliseconds to wait from `now` (never negative), or undefined when absent/unreadable.
 */
export function retryAfterMs(header: string | null | undefined, now: Date): number | undefined {
  const value = header?.trim();
  if (!value) {
    return undefined;
  }
  if (/^\d+$/.test(value)) {
    return Number(value) * 1000;
  }
  const at = Date.parse(value);
  if (Number.isNaN(at)) {
    return undefined;
  }
  return Math.max(0, at - now.getTime());
}
