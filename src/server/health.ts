import type { Request, RequestHandler, Response } from 'express';

/**
 * Liveness + readiness in one probe: 200 `{"status":"ok"}` once the store is open and seeded, 503 before
 * (and while shutting down), so a load balancer or `.ci/run` waits instead of sending FHIR traffic too early.
 */
export function healthHandler(isReady: () => boolean): RequestHandler {
  return (_req: Request, res: Response): void => {
    res.set('Cache-Control', 'no-store');
    if (isReady()) {
      res.status(200).json({ status: 'ok' });
    } else {
      res.status(503).json({ status: 'starting' });
    }
  };
}
