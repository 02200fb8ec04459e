import { OperationOutcomeError, isOperationOutcome } from '@medplum/core';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import {
  FHIR_NDJSON_CONTENT_TYPE,
  parseBulkExportManifest,
  type BulkExportManifest,
} from '../../fhir/bulk/bulkManifest';
import { ndjsonLines } from '../../fhir/bulk/ndjsonLines';
import { retryAfterMs } from '../../fhir/bulk/retryAfter';
import { invalidInput } from '../../fhir/outcomes';

/**
 * A FHIR Bulk Data export client (Bulk Data Access IG v2.0.0, export.html): kick-off, status polling, output file
 * download, delete. The world is passed in (fetch, sleep, clock), so tests run it against a fake server in no time.
 */
export interface BulkExportClientOptions {
  /** FHIR base URL, e.g. http://localhost:8080/fhir/R4 */
  readonly baseUrl: string;
  /** `Patient/$export` or `Group/<id>/$export`. */
  readonly path: string;
  /** `_type`: only these resource types. */
  readonly types?: readonly string[];
  /** `_since`: only resources changed after this instant; pass the previous manifest's transactionTime. */
  readonly since?: string;
  /** Extra headers (e.g. Authorization); sent to output files only when the manifest says requiresAccessToken. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => Date;
  /** Give up waiting for the export after this long (kick-off and polling). Default one hour. */
  readonly maxWaitMs?: number;
  /** First poll interval when the server sends no Retry-After; doubled on each poll up to maxPollMs. */
  readonly initialPollMs?: number;
  readonly maxPollMs?: number;
  /** Consecutive transient failures (network, 502/503/504, transient OperationOutcome) tolerated per request. */
  readonly maxTransientRetries?: number;
  readonly onProgress?: (progress: BulkExportProgress) => void;
  /**
   * Called for each NDJSON line that is not a resource of the file's type; the line is skipped. Without it the
   * first such line throws: a bad line is never dropped silently.
   */
  readonly onLineError?: (error: NdjsonLineError) => void;
}

export interface BulkExportProgress {
  /** The server's `X-Progress`, when it sends one. */
  readonly progress?: string;
  /** How long the client waits before the next poll. */
  readonly waitMs: number;
  readonly polls: number;
}

/** A line of an output file that could not be read as a resource; names the file and line, never the content. */
export class NdjsonLineError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string
  ) {
    super(`${file} line ${line}: ${reason}`);
    this.name = 'NdjsonLineError';
  }
}

export interface BulkExportRun {
  /** The polling location from the kick-off's Content-Location. */
  readonly statusUrl: string;
  /** Polls until the export is complete; the manifest's transactionTime is the next export's `_since`. */
  manifest(): Promise<BulkExportManifest>;
  /** Every resource of every output file, streamed line by line, after the manifest is in. */
  resources(): AsyncGenerator<Resource>;
  /** Lines reported to onLineError so far. */
  readonly lineErrors: readonly NdjsonLineError[];
  /** Bulk Data delete request: cancels the export, or tells the server the files may go. */
  cancel(): Promise<void>;
}

const PATH = /^(Patient|Group\/[A-Za-z0-9\-.]{1,64})\/\$export$/;
/** IssueType codes under `transient` (R4 valueset-issue-type): a status poll that failed, not the export. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'transient',
  'lock-error',
  'no-store',
  'exception',
  'timeout',
  'incomplete',
  'throttled',
]);

/** Kicks off an export (export.html#bulk-data-kick-off-request) and returns a handle to follow it. */
export async function runBulkExport(options: BulkExportClientOptions): Promise<BulkExportRun> {
  if (!PATH.test(options.path)) {
    throw invalidInput(`Bulk export path must be Patient/$export or Group/<id>/$export, not ${options.path}`);
  }
  const http = new BulkHttp(options);
  const url = new URL(`${options.baseUrl.replace(/\/+$/, '')}/${options.path}`);
  if (options.types?.length) {
    url.searchParams.set('_type', options.types.join(','));
  }
  if (options.since) {
    url.searchParams.set('_since', options.since);
  }
  const response = await http.send(url.toString(), {
    method: 'GET',
    headers: { ...options.headers, Accept: 'application/fhir+json', Prefer: 'respond-async' },
  });
  // export.html#response---success: 202 Accepted and a Content-Location header.
  const location = response.headers.get('Content-Location');
  if (response.status !== 202 || !location) {
    throw await errorFrom(response, 'Bulk export kick-off');
  }
  await response.body?.cancel();
  return new Run(http, options, new URL(location, url).toString());
}

class Run implements BulkExportRun {
  readonly lineErrors: NdjsonLineError[] = [];
  private pending: Promise<BulkExportManifest> | undefined;

  constructor(
    private readonly http: BulkHttp,
    private readonly options: BulkExportClientOptions,
    readonly statusUrl: string
  ) {}

  manifest(): Promise<BulkExportManifest> {
    this.pending ??= this.poll();
    return this.pending;
  }

  /**
   * export.html#bulk-data-status-request: "Clients SHOULD follow an exponential backoff approach when polling",
   * using Retry-After when the server sends it. 429 and transient errors are retried inside `send`.
   */
  private async poll(): Promise<BulkExportManifest> {
    const backoff = this.http.backoff();
    for (let polls = 1; ; polls++) {
      const response = await this.http.send(this.statusUrl, {
        method: 'GET',
        headers: { ...this.options.headers, Accept: 'application/json' },
      });
      if (response.status === 200) {
        return parseBulkExportManifest(await response.json());
      }
      if (response.status !== 202) {
        // export.html#response---error-status-1: the export failed.
        throw await errorFrom(response, 'Bulk export');
      }
      await response.body?.cancel();
      const waitMs = retryAfterMs(response.headers.get('Retry-After'), this.http.now()) ?? backoff.next();
      this.options.onProgress?.({ progress: response.headers.get('X-Progress') ?? undefined, waitMs, polls });
      await this.http.wait(waitMs);
    }
  }

  async *resources(): AsyncGenerator<Resource> {
    const manifest = await this.manifest();
    for (const item of manifest.output) {
      // export.html#bulk-data-output-file-request: the access token goes along only when requiresAccessToken.
      const headers = {
        ...(manifest.requiresAccessToken ? this.options.headers : {}),
        Accept: FHIR_NDJSON_CONTENT_TYPE,
      };
      const response = await this.http.send(item.url, { method: 'GET', headers });
      if (response.status !== 200 || !response.body) {
        throw await errorFrom(response, `Download of the ${item.type} file`);
      }
      for await (const { line, text } of ndjsonLines(response.body)) {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          // Our own words: JSON.parse's message quotes the line, which is health data.
          this.report(new NdjsonLineError(item.url, line, 'not valid JSON'));
          continue;
        }
        if (!isResourceOfType(value, item.type)) {
          this.report(new NdjsonLineError(item.url, line, `not a ${item.type} resource`));
          continue;
        }
        yield value;
      }
    }
  }

  private report(error: NdjsonLineError): void {
    if (!this.options.onLineError) {
      throw error;
    }
    this.lineErrors.push(error);
    this.options.onLineError(error);
  }

  /** export.html#bulk-data-delete-request: DELETE on the polling location, answered 202. */
  async cancel(): Promise<void> {
    const response = await this.http.send(this.statusUrl, {
      method: 'DELETE',
      headers: { ...this.options.headers, Accept: 'application/fhir+json' },
    });
    if (response.status !== 202 && response.status !== 200) {
      throw await errorFrom(response, 'Bulk export delete');
    }
    await response.body?.cancel();
  }
}

function isResourceOfType(value: unknown, type: string): value is Resource {
  return typeof value === 'object' && value !== null && (value as { resourceType?: unknown }).resourceType === type;
}

/** Doubling delays from `initial` up to `max`. */
class Backoff {
  private delay: number;
  constructor(
    initial: number,
    private readonly max: number
  ) {
    this.delay = initial;
  }
  next(): number {
    const current = this.delay;
    this.delay = Math.min(this.delay * 2, this.max);
    return current;
  }
}

/** HTTP with the retry rules of the IG, over injected fetch, sleep and clock. */
class BulkHttp {
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => Date;
  private readonly deadline: number;

  constructor(private readonly options: BulkExportClientOptions) {
    this.fetchFn = options.fetch ?? fetch;
    this.sleep = options.sleep ?? ((ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = options.now ?? ((): Date => new Date());
    this.deadline = this.now().getTime() + (options.maxWaitMs ?? 3_600_000);
  }

  backoff(): Backoff {
    return new Backoff(this.options.initialPollMs ?? 1000, this.options.maxPollMs ?? 60_000);
  }

  /** Sleeps, unless that would go past maxWaitMs: then fails with a timeout outcome instead of waiting in vain. */
  async wait(ms: number): Promise<void> {
    if (this.now().getTime() + ms > this.deadline) {
      throw new OperationOutcomeError(
        outcome('timeout', `Bulk export did not complete within ${this.options.maxWaitMs ?? 3_600_000} ms`)
      );
    }
    await this.sleep(ms);
  }

  /**
   * One request, retried while the answer says "later": 429 (export.html: "Too Many Requests status code in
   * addition to a Retry-After header") until maxWaitMs, and transient failures (network error, 502/503/504, a
   * 5xx OperationOutcome with a transient code: export.html#response---error-status-1) up to maxTransientRetries
   * in a row. Any other answer is returned to the caller.
   */
  async send(url: string, init: RequestInit): Promise<Response> {
    const backoff = this.backoff();
    let transientFailures = 0;
    for (;;) {
      let response: Response | undefined;
      try {
        response = await this.fetchFn(url, init);
      } catch (err) {
        if (++transientFailures > (this.options.maxTransientRetries ?? 5)) {
          throw err;
        }
      }
      if (response) {
        if (response.status === 429) {
          transientFailures = 0;
        } else if (await isTransient(response)) {
          if (++transientFailures > (this.options.maxTransientRetries ?? 5)) {
            return response;
          }
        } else {
          return response;
        }
        await response.body?.cancel();
      }
      await this.wait(retryAfterMs(response?.headers.get('Retry-After'), this.now()) ?? backoff.next());
    }
  }
}

async function isTransient(response: Response): Promise<boolean> {
  if ([502, 503, 504].includes(response.status)) {
    return true;
  }
  if (response.status < 500) {
    return false;
  }
  const body = await readOutcome(response.clone());
  return Boolean(body?.issue?.length && body.issue.every((issue) => TRANSIENT_CODES.has(issue.code)));
}

async function readOutcome(response: Response): Promise<OperationOutcome | undefined> {
  try {
    const body: unknown = await response.json();
    return isOperationOutcome(body) ? body : undefined;
  } catch {
    return undefined;
  }
}

/** The server's OperationOutcome when it sent one (export.html: error bodies SHOULD be OperationOutcomes). */
async function errorFrom(response: Response, what: string): Promise<OperationOutcomeError> {
  const body = await readOutcome(response);
  return new OperationOutcomeError(body ?? outcome('exception', `${what} failed with HTTP ${response.status}`));
}

function outcome(code: 'timeout' | 'exception', text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}
