import { OperationOutcomeError, tooManyRequests } from '@medplum/core';
import { httpStatusOf } from '../../fhir/outcomes';
import type { FhirRepository } from '@medplum/fhir-router';
import { randomUUID } from 'node:crypto';
import { errorSite } from '../errorHandler';
import { ExportJobStore, isJobId, type ExportJobRecord } from './exportJobStore';
import type { ExportSpec } from './exportKickoff';
import { ExportFailure, groupMembers, runExport } from './exportRunner';
import { takeTransactionTime } from './transactionTime';
import { internalFault } from '../../fhir/outcomes';
import type { FileCipher } from '../../store/sealedFile';

export interface BulkExportOptions {
  /** Folder for job records and NDJSON files, e.g. `DATA_DIR/bulk`. */
  readonly dir: string;
  /** Exports running at once; a kick-off beyond this is answered 429. Default 2. */
  readonly maxConcurrentJobs?: number;
  /** `Retry-After` on a 429 kick-off, in seconds. Default 10. */
  readonly busyRetryAfterSeconds?: number;
  /** `Retry-After` on an in-progress status, in seconds. Default 1. */
  readonly pollRetryAfterSeconds?: number;
  /** Resources per repository search. Default 1000. */
  readonly pageSize?: number;
  /** The store's clock (transactionTime must be read on it). Default: wall clock. */
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
  /** Seals the NDJSON files at rest (an encrypted store's key); the download route opens them on the fly. */
  readonly exportFiles?: FileCipher;
}

export type ExportJobView =
  | { readonly status: 'in-progress'; readonly progress: string; readonly retryAfterSeconds: number }
  | { readonly status: 'completed'; readonly record: ExportJobRecord }
  | { readonly status: 'failed'; readonly failure: string };

/** A kick-off refused because too many exports are running; the route turns it into 429 + Retry-After. */
export class ExportThrottled extends OperationOutcomeError {
  constructor(readonly retryAfterSeconds: number) {
    super(tooManyRequests);
  }
}

interface RunningJob {
  readonly controller: AbortController;
  progress: string;
  done: Promise<void>;
}

/**
 * The embedded server's Bulk Data export jobs (Bulk Data Access IG v2.0.0, export.html): kick-off, background run,
 * status, cancel/delete. HTTP stays in bulkExportRoutes.ts; this class knows jobs, the store and the disk.
 */
export class BulkExportService {
  private readonly running = new Map<string, RunningJob>();
  /** Every job still executing, including cancelled ones that have not yet reached their next page. */
  private readonly executing = new Set<Promise<void>>();
  private readonly maxConcurrent: number;
  private readonly now: () => Date;
  private readonly log: (line: string) => void;
  private closed = false;

  private constructor(
    private readonly repo: FhirRepository,
    private readonly store: ExportJobStore,
    private readonly options: BulkExportOptions
  ) {
    this.maxConcurrent = options.maxConcurrentJobs ?? 2;
    this.now = options.now ?? ((): Date => new Date());
    this.log = options.log ?? ((line: string): void => console.log(line));
  }

  /** Opens the job folder; jobs that were running when the process stopped are marked failed (see ExportJobStore). */
  static async open(repo: FhirRepository, options: BulkExportOptions): Promise<BulkExportService> {
    const service = new BulkExportService(repo, new ExportJobStore(options.dir), options);
    const interrupted = await service.store.recover(service.now());
    if (interrupted.length > 0) {
      service.log(`bulk export: ${interrupted.length} interrupted job(s) marked failed`);
    }
    return service;
  }

  /**
   * Starts an export and returns at once with its record; the work runs in the background.
   * Throws ExportThrottled when `maxConcurrentJobs` are running, 404 for an unknown Group.
   */
  async kickOff(spec: ExportSpec, request: string): Promise<ExportJobRecord> {
    if (this.closed) {
      throw internalFault('The bulk export service is closed');
    }
    // export.html#response---error: "If a server wants to prevent a client from beginning a new export before an
    // in-progress export is completed, it SHOULD respond with a 429 Too Many Requests status and a Retry-After".
    if (this.running.size >= this.maxConcurrent) {
      throw new ExportThrottled(this.options.busyRetryAfterSeconds ?? 10);
    }
    const id = randomUUID();
    // Reserve the slot before the first await, so two simultaneous kick-offs cannot both take the last one.
    const job: RunningJob = { controller: new AbortController(), progress: 'starting', done: Promise.resolve() };
    this.running.set(id, job);
    let record: ExportJobRecord;
    try {
      if (spec.level === 'group') {
        await groupMembers(this.repo, spec.groupId ?? '');
      }
      const transactionTime = await takeTransactionTime(this.repo, this.now);
      record = {
        id,
        status: 'in-progress',
        request,
        transactionTime: transactionTime.toISOString(),
        spec,
        createdAt: this.now().toISOString(),
        output: [],
      };
      await this.store.save(record);
    } catch (err) {
      this.running.delete(id);
      throw err;
    }
    this.log(`bulk export ${id} started (${spec.level} level, ${spec.types ? spec.types.length : 'default'} types)`);
    job.done = this.execute(record, job);
    this.executing.add(job.done);
    void job.done.finally(() => this.executing.delete(job.done));
    return record;
  }

  private async execute(record: ExportJobRecord, job: RunningJob): Promise<void> {
    const { signal } = job.controller;
    try {
      const output = await runExport({
        repo: this.repo,
        spec: record.spec,
        transactionTime: new Date(record.transactionTime),
        dir: this.store.jobDir(record.id),
        pageSize: this.options.pageSize ?? 1000,
        ...(this.options.exportFiles ? { fileCipher: this.options.exportFiles } : {}),
        signal,
        onProgress: (progress) => {
          job.progress = progress;
        },
      });
      // Deleted while the last file was being finished: the folder is gone and must stay gone.
      signal.throwIfAborted();
      await this.store.save({ ...record, status: 'completed', finishedAt: this.now().toISOString(), output });
      this.log(`bulk export ${record.id} completed: ${output.length} file(s)`);
    } catch (err) {
      if (signal.aborted) {
        return; // deleted or shutting down: whoever aborted decides what happens to the record
      }
      this.log(`bulk export ${record.id} failed: ${errorSite(err)}`);
      await this.store
        .save({ ...record, status: 'failed', finishedAt: this.now().toISOString(), failure: failureText(err) })
        .catch((saveErr: unknown) =>
          this.log(`bulk export ${record.id}: recording the failure failed: ${errorSite(saveErr)}`)
        );
    } finally {
      if (this.running.get(record.id) === job) {
        this.running.delete(record.id);
      }
    }
  }

  /** What the status endpoint reports; undefined for an unknown (or deleted) job. */
  status(id: string): ExportJobView | undefined {
    const job = this.running.get(id);
    if (job) {
      return {
        status: 'in-progress',
        progress: job.progress,
        retryAfterSeconds: this.options.pollRetryAfterSeconds ?? 1,
      };
    }
    const record = this.store.load(id);
    if (!record) {
      return undefined;
    }
    switch (record.status) {
      case 'completed':
        return { status: 'completed', record };
      case 'failed':
        return { status: 'failed', failure: record.failure ?? 'The export failed' };
      case 'in-progress':
        // Recorded as running but not running here: only possible while closing.
        return { status: 'failed', failure: 'The export was interrupted' };
    }
  }

  /**
   * Bulk Data delete request (export.html#bulk-data-delete-request): cancels a running export, or removes a
   * finished one's files. Returns false for an unknown job.
   */
  async delete(id: string): Promise<boolean> {
    if (!isJobId(id)) {
      return false;
    }
    const job = this.running.get(id);
    if (job) {
      // The runner notices at its next page and stops without writing; it is not awaited here, because a page
      // can take a while and the client only needs to know the export is gone. close() awaits it.
      job.controller.abort();
      this.running.delete(id);
    } else if (!this.store.load(id)) {
      return false;
    }
    this.store.remove(id);
    this.log(`bulk export ${id} deleted`);
    return true;
  }

  /** Path of an output file of a completed job, or undefined if the job or file is not one the manifest lists. */
  outputFilePath(id: string, file: string): string | undefined {
    const record = this.store.load(id);
    if (record?.status !== 'completed' || !record.output.some((o) => o.file === file)) {
      return undefined;
    }
    return `${this.store.jobDir(id)}/${file}`;
  }

  /** How output files are sealed at rest; undefined when they are written in clear (a plain store). */
  get exportFiles(): FileCipher | undefined {
    return this.options.exportFiles;
  }

  /** Stops running exports (recorded as failed: nothing resumes them) and waits for them to let go of the store. */
  async close(): Promise<void> {
    this.closed = true;
    const jobs = [...this.running.entries()];
    for (const [, job] of jobs) {
      job.controller.abort();
    }
    await Promise.all([...this.executing]);
    for (const [id] of jobs) {
      const record = this.store.load(id);
      if (record?.status === 'in-progress') {
        await this.store.save({
          ...record,
          status: 'failed',
          finishedAt: this.now().toISOString(),
          failure: 'The server stopped before the export finished; kick it off again',
        });
      }
    }
  }
}

/** The client-facing reason: our own wording, or a 4xx outcome's text (which the server wrote), never a raw message. */
function failureText(err: unknown): string {
  if (err instanceof ExportFailure) {
    return err.message;
  }
  if (err instanceof OperationOutcomeError && httpStatusOf(err.outcome) < 500) {
    return err.outcome.issue?.[0]?.details?.text ?? 'The export failed';
  }
  return 'The export failed';
}
