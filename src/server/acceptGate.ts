import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { StatusOutcomeError } from './statusOutcomeError';

/** Media ranges a JSON-only FHIR server can satisfy (FHIR R4 http.html#mime-type; `json` is the `_format` shorthand). */
const JSON_RANGES: ReadonlySet<string> = new Set([
  '*/*',
  'application/*',
  'application/json',
  'application/fhir+json',
  'application/json+fhir',
  'json',
]);

function acceptable(value: string): boolean {
  return value
    .split(',')
    .map((range) => range.split(';'))
    .some(([type, ...params]) => {
      // q=0 means "not acceptable" (RFC 9110 §12.4.2).
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return JSON_RANGES.has((type ?? '').trim().toLowerCase()) && (!q || Number(q.slice(2)) > 0);
    });
}

/**
 * This server speaks FHIR JSON only. A client that asks for something else (`Accept: application/fhir+xml`, or
 * `_format=xml`, which overrides Accept, FHIR R4 http.html#mime-type) gets 406 Not Acceptable rather than JSON it did
 * not ask for (RFC 9110 §15.5.7). No Accept header means anything is acceptable.
 */
export function acceptGate(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    // Bulk Data output files are NDJSON (Bulk Data Access IG export.html#file-request); they answer their own Accept.
    if (req.path.startsWith('/$export-file/')) {
      next();
      return;
    }
    const format = req.query._format;
    const lastFormat: unknown = Array.isArray(format) ? format.at(-1) : format;
    const asked = typeof lastFormat === 'string' ? lastFormat : req.get('Accept');
    if (asked !== undefined && asked.trim() !== '' && !acceptable(asked)) {
      next(new StatusOutcomeError(406, 'This server answers in FHIR JSON only (application/fhir+json)'));
      return;
    }
    next();
  };
}
