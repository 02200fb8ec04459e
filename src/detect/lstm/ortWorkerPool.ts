import { OperationOutcomeError } from '@medplum/core';
import { availableParallelism } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LstmWorkerData, LstmWorkerReply, LstmWorkerRequest } from './lstmWorkerThread';
import type { VerifiedLstmModel } from './modelCard';
import type { GroupErrors, PackedGroup, WindowErrorOptions } from './subjectErrors';

/**
 * Runs the ONNX model in worker threads, so `session.run` never runs on the main thread and the server's event loop
 * stays responsive while a cohort is scored (docs/ARCHITECTURE.md, performance goals: scoring runs in worker threads so the server's
 * event loop is never blocked more than 20 ms).
 *
 * Each worker runs lstmWorkerThread.ts: it builds the features and windows of the subjects it is sent, runs the model
 * and returns raw errors (subjectErrors.ts), so the main thread only packs series and calibrates. The worker is
 * started from a small CommonJS string (`eval: true`) that requires that module by absolute path, resolved next to
 * this file: in the build (dist/) both are .js; under ts-jest and tsx (tests, bench) this file is .ts, and the string
 * first registers tsx's CommonJS hook (tsx/cjs/api `register`) so the worker can load the .ts module. The feature
 * code thus stays defined once, in TypeScript (featureWindows.ts).
 */
export interface WindowRunner {
  /** Runs `batch` windows ([batch, window, channels] in `input`, which is transferred) and resolves with the output. */
  run(input: Float32Array, batch: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/** Scores groups of subjects in the workers. */
export interface SubjectErrorRunner {
  /** Raw errors of a group of packed series (its buffers are transferred). */
  errors(group: PackedGroup, options: WindowErrorOptions): Promise<GroupErrors>;
  /** Worker threads: how many groups can be worked on at once. */
  readonly size: number;
}

export interface OrtWorkerPoolOptions {
  /** Worker threads; default min(2, available cores). Each session uses one intra-op thread. */
  readonly workers?: number;
}

const WORKER_SOURCE = `
'use strict';
process.env.ORT_DISABLE_TELEMETRY = '1';
const { workerData } = require('node:worker_threads');
if (workerData.tsxRegisterPath) {
  require(workerData.tsxRegisterPath).register();
}
// A rejection here is unhandled and ends the worker with an 'error' event, which the pool reports.
require(workerData.entryPath).runLstmWorker();
`;

/** The worker module next to this one, with this file's extension (.ts under ts-jest / tsx, .js when built). */
function workerEntry(): { entryPath: string; tsxRegisterPath?: string } {
  const ext = extname(__filename);
  const entryPath = join(dirname(__filename), `lstmWorkerThread${ext}`);
  return ext === '.ts' ? { entryPath, tsxRegisterPath: require.resolve('tsx/cjs/api') } : { entryPath };
}

interface Pending {
  readonly resolve: (reply: LstmWorkerReply) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

function failure(text: string): OperationOutcomeError {
  return new OperationOutcomeError({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'exception', details: { text } }],
  });
}

export class OrtWorkerPool implements WindowRunner, SubjectErrorRunner {
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly slots: Slot[],
    private readonly windowValues: number
  ) {}

  /** Starts the workers and waits until every one has its session (or rejects with the first failure). */
  static async create(model: VerifiedLstmModel, options: OrtWorkerPoolOptions = {}): Promise<OrtWorkerPool> {
    const count = Math.max(1, options.workers ?? Math.min(2, availableParallelism()));
    const channels = 2 * model.card.features.length;
    const workerData: LstmWorkerData & ReturnType<typeof workerEntry> = {
      ...workerEntry(),
      model: model.bytes,
      window: model.card.window,
      channels,
    };
    const slots: Slot[] = [];
    const starts: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData,
        env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
      });
      const slot: Slot = { worker, pending: new Map() };
      slots.push(slot);
      starts.push(
        new Promise<void>((resolve, reject) => {
          const onReady = (msg: LstmWorkerReply): void => {
            if (msg.ready === undefined) {
              return;
            }
            worker.off('message', onReady);
            if (msg.ready) {
              resolve();
            } else {
              reject(failure(`LSTM worker could not load the model: ${msg.error ?? 'unknown error'}`));
            }
          };
          worker.on('message', onReady);
          worker.once('error', (err: Error) => reject(failure(`LSTM worker failed to start: ${err.message}`)));
        })
      );
      worker.on('message', (msg: LstmWorkerReply) => settle(slot, msg));
      worker.on('error', (err: Error) => failAll(slot, failure(`LSTM worker crashed: ${err.message}`)));
      worker.on('exit', (code) => failAll(slot, failure(`LSTM worker exited (code ${code})`)));
    }
    const pool = new OrtWorkerPool(slots, model.card.window * channels);
    try {
      await Promise.all(starts);
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  run(input: Float32Array, batch: number): Promise<Float32Array> {
    if (this.closed) {
      return Promise.reject(failure('LSTM worker pool is closed'));
    }
    if (input.length !== batch * this.windowValues) {
      return Promise.reject(failure(`LSTM input has ${input.length} values, expected ${batch} x ${this.windowValues}`));
    }
    const buffer =
      input.byteOffset === 0 && input.byteLength === input.buffer.byteLength ? input.buffer : input.slice().buffer;
    return this.send({ kind: 'windows', id: this.nextId++, batch, buffer: buffer as ArrayBuffer }, [
      buffer as ArrayBuffer,
    ]).then((reply) => {
      if (!reply.buffer) {
        throw failure('LSTM worker sent no output');
      }
      return new Float32Array(reply.buffer);
    });
  }

  errors(group: PackedGroup, options: WindowErrorOptions): Promise<GroupErrors> {
    if (this.closed) {
      return Promise.reject(failure('LSTM worker pool is closed'));
    }
    // Only the three option fields cross: the caller's object may carry more.
    const sent: WindowErrorOptions = {
      errorDays: options.errorDays,
      adverseOnly: options.adverseOnly,
      batch: options.batch,
    };
    return this.send({ kind: 'errors', id: this.nextId++, group, options: sent }, [
      group.days.buffer,
      group.dayStart.buffer,
      group.values.buffer,
    ]).then((reply) => {
      if (!reply.errors || !reply.reasonStart || !reply.reasonCodes) {
        throw failure('LSTM worker sent no errors');
      }
      return { errors: reply.errors, reasonStart: reply.reasonStart, reasonCodes: reply.reasonCodes };
    });
  }

  /** To the least-loaded worker; requests queue inside each worker, so several can be in flight. */
  private send(request: LstmWorkerRequest, transfer: ArrayBuffer[]): Promise<LstmWorkerReply> {
    let slot = this.slots[0];
    for (const s of this.slots) {
      if (s.pending.size < slot.pending.size) {
        slot = s;
      }
    }
    return new Promise<LstmWorkerReply>((resolve, reject) => {
      slot.pending.set(request.id, { resolve, reject });
      slot.worker.postMessage(request, transfer);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

function settle(slot: Slot, msg: LstmWorkerReply): void {
  if (msg.id === undefined) {
    return;
  }
  const p = slot.pending.get(msg.id);
  if (!p) {
    return;
  }
  slot.pending.delete(msg.id);
  if (msg.error === undefined) {
    p.resolve(msg);
  } else {
    p.reject(failure(`LSTM inference failed: ${msg.error}`));
  }
}

function failAll(slot: Slot, err: Error): void {
  for (const p of slot.pending.values()) {
    p.reject(err);
  }
  slot.pending.clear();
}
