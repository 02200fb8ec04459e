import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** Formats one access-log line. The path is cut at `?`: query strings carry identifiers (e.g. `identifier=`). */
export function formatRequestLine(method: string, originalUrl: string, status: number, ms: number): string {
  const path = originalUrl.split('?', 1)[0] ?? '';
  return `${method} ${path} ${status} ${ms.toFixed(1)}ms`;
}

/**
 * Logs one line per request when the response is finished: method, path without query string, status, duration.
 * Never bodies or headers. `now` is a monotonic millisecond clock, injected so tests need no wall-clock time.
 */
export function requestLog(log: (line: string) => void, now: () => number): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = now();
    res.once('finish', () => {
      log(formatRequestLine(req.method, req.originalUrl, res.statusCode, now() - started));
    });
    next();
  };
}
