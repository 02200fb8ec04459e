// The heavy models (the LSTM detector on onnxruntime) cannot run inside a Medplum bot: its runtime has no
// onnxruntime. A bot asks the engine service (`twin serve`, reachable over HTTPS) to run them, with a timeout per
// attempt and a bounded number of retries; when the service cannot be reached the caller falls back to the
// statistical detectors and says so in its output (never a silent downgrade).

export interface EngineServiceOptions {
  /** FHIR base of the engine service, e.g. https://twin.hospital.example/fhir/R4 (bot secret ENGINE_URL). */
  readonly baseUrl: string;
  /** Bearer token for the engine service (bot secret ENGINE_TOKEN), if it requires one. */
  readonly token?: string;
  readonly timeoutMs?: number;
  readonly attempts?: number;
  /** Pause before retry n (1-based): default 200 ms x 2^(n-1). */
  readonly backoffMs?: (retry: number) => number;
  readonly fetch?: typeof fetch;
}

export type EngineCallResult =
  | { readonly ok: true; readonly body: unknown; readonly attempts: number }
  | { readonly ok: false; readonly reason: string; readonly attempts: number };

/**
 * POSTs a FHIR operation to the engine service. Retries on network errors, timeouts, 429 and 5xx (transient); a 4xx
 * answer is final (retrying a refused request cannot succeed). The reason given back names the failure, never a
 * body (which may hold health data).
 */
export async function callEngineOperation(path: string, options: EngineServiceOptions): Promise<EngineCallResult> {
  const attempts = Math.max(1, options.attempts ?? 3);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const fetchFn = options.fetch ?? fetch;
  const backoff = options.backoffMs ?? ((n: number): number => 200 * 2 ** (n - 1));
  const url = `${options.baseUrl.replace(/\/+$/, '')}/${path}`;
  let reason = 'not attempted';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await fetchFn(url, {
        method: 'POST',
        headers: {
          accept: 'application/fhir+json',
          'content-type': 'application/fhir+json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        body: JSON.stringify({ resourceType: 'Parameters' }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (res.ok) {
        return { ok: true, body: await res.json(), attempts: attempt };
      }
      await res.body?.cancel();
      reason = `engine service answered ${res.status}`;
      if (res.status < 500 && res.status !== 429) {
        return { ok: false, reason, attempts: attempt };
      }
    } catch (err) {
      const name = (err as Error).name;
      reason =
        name === 'TimeoutError' ? `engine service timed out after ${timeoutMs} ms` : 'engine service unreachable';
    }
    if (attempt < attempts) {
      await new Promise((resolve) => setTimeout(resolve, backoff(attempt)));
    }
  }
  return { ok: false, reason: `${reason} (${attempts} attempts)`, attempts };
}
