import type { Request, RequestHandler, Response } from 'express';

/**
 * Liveness (/healthz): 200 `{"status":"ok"}` once the store is open and seeded, 503 before (and while shutting down),
 * so `.ci/run` waits instead of sending FHIR traffic too early. It does not look at dependencies: a remote server or a
 * model going away is /readyz's business, and must not get a live process restarted.
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

/** One dependency /readyz looks at. `status` is a short word or phrase about the dependency, never health data. */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<ReadinessResult>;
}

export interface ReadinessResult {
  readonly ok: boolean;
  readonly status: string;
}

/** A check that has not answered in this time has failed: a probe must answer sooner than its caller gives up. */
const CHECK_TIMEOUT_MS = 5000;

async function runCheck(check: ReadinessCheck): Promise<ReadinessResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ReadinessResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, status: 'no answer in time' }), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      check.check().catch((err: unknown): ReadinessResult => ({ ok: false, status: failureWord(err) })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The kind of failure, not its message: a message may carry a path, a URL with credentials, or resource content. */
function failureWord(err: unknown): string {
  return `failed (${err instanceof Error ? err.constructor.name : 'error'})`;
}

/**
 * Readiness, apart from liveness (/healthz): 200 only when the server has started (store open, seeded) AND every
 * dependency answers now: the FHIR store (a trivial read), the remote FHIR server when one is configured
 * (GET [base]/metadata), the detectors the service is configured to use. 503 otherwise, with each check's status,
 * so an orchestrator takes the instance out of rotation without restarting it. The body names checks, never data.
 */
export function readinessHandler(isReady: () => boolean, checks: readonly ReadinessCheck[]): RequestHandler {
  return (_req: Request, res: Response, next): void => {
    res.set('Cache-Control', 'no-store');
    if (!isReady()) {
      res.status(503).json({ status: 'starting', checks: {} });
      return;
    }
    Promise.all(checks.map(async (c) => [c.name, await runCheck(c)] as const))
      .then((results) => {
        const ready = results.every(([, r]) => r.ok);
        res.status(ready ? 200 : 503).json({
          status: ready ? 'ready' : 'not ready',
          checks: Object.fromEntries(results.map(([name, r]) => [name, { ok: r.ok, status: r.status }])),
        });
      })
      .catch(next);
  };
}
