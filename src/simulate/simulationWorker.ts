import { OperationOutcomeError } from '@medplum/core';
import { dirname, extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SimulationOutcome, SimulationRequest } from './runSimulation';
import type { SimulationWorkerReply, SimulationWorkerRequest } from './simulationWorkerThread';

/**
 * Runs simulations in a worker thread ("Runs off the main thread"). One worker, requests answered in order;
 * the worker is started from a small CommonJS string that requires simulationWorkerThread by absolute path, as
 * src/detect/lstm/ortWorkerPool.ts does: .js when built, .ts under ts-jest and tsx (then tsx's CommonJS hook is
 * registered first). Close it when done; an idle worker is unref'd so it never keeps a process alive.
 */
export class SimulationWorker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (o: SimulationOutcome) => void; reject: (e: Error) => void }>();
  private closed = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: SimulationWorkerReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) {
        return;
      }
      this.pending.delete(reply.id);
      if (this.pending.size === 0) {
        this.worker.unref();
      }
      if (reply.error !== undefined) {
        waiting.reject(failure(`simulation failed: ${reply.error}`));
      } else {
        waiting.resolve(reply.outcome);
      }
    });
    worker.on('error', (err: Error) => this.failAll(failure(`simulation worker crashed: ${err.message}`)));
    worker.on('exit', (code) => this.failAll(failure(`simulation worker exited (code ${code})`)));
    worker.unref();
  }

  static start(): SimulationWorker {
    const ext = extname(__filename);
    const entryPath = join(dirname(__filename), `simulationWorkerThread${ext}`);
    const workerData = ext === '.ts' ? { entryPath, tsxRegisterPath: require.resolve('tsx/cjs/api') } : { entryPath };
    return new SimulationWorker(new Worker(WORKER_SOURCE, { eval: true, workerData }));
  }

  run(request: SimulationRequest): Promise<SimulationOutcome> {
    if (this.closed) {
      return Promise.reject(failure('simulation worker is closed'));
    }
    const id = this.nextId++;
    return new Promise<SimulationOutcome>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, request } satisfies SimulationWorkerRequest);
    });
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    await this.worker.terminate();
  }

  private failAll(err: Error): void {
    for (const waiting of this.pending.values()) {
      waiting.reject(err);
    }
    this.pending.clear();
  }
}

/** One simulation in a fresh worker, closed afterwards (the door's per-request use). */
export async function simulateOffThread(request: SimulationRequest): Promise<SimulationOutcome> {
  const worker = SimulationWorker.start();
  try {
    return await worker.run(request);
  } finally {
    await worker.close();
  }
}

const WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
if (workerData.tsxRegisterPath) {
  require(workerData.tsxRegisterPath).register();
}
require(workerData.entryPath).runSimulationWorker();
`;

function failure(text: string): OperationOutcomeError {
  return new OperationOutcomeError({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'exception', details: { text } }],
  });
}
