import { AsyncLocalStorage } from 'node:async_hooks';

/** What a caller inside a transaction carries along its async calls. */
export interface TransactionScope {
  savepoints: number;
  /** Nested repository calls so far, to give the event loop a turn now and then (sqliteRepository.ts). */
  steps: number;
}

/**
 * Serialises write transactions on the single SQLite writer connection.
 *
 * SQLite has one writer at a time, and the repository's API is async: without a queue, two requests could
 * interleave statements inside one open transaction and commit or roll back each other's work. Every write takes its
 * turn here; code already inside a transaction (tracked through AsyncLocalStorage, so nested repository calls made
 * by Medplum's BatchProcessor or conditional create are recognised) runs directly.
 */
export class WriteSerializer {
  private readonly scope = new AsyncLocalStorage<TransactionScope>();
  private tail: Promise<void> = Promise.resolve();

  current(): TransactionScope | undefined {
    return this.scope.getStore();
  }

  async exclusive<T>(fn: (scope: TransactionScope) => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    const scope: TransactionScope = { savepoints: 0, steps: 0 };
    try {
      return await this.scope.run(scope, () => fn(scope));
    } finally {
      release();
    }
  }
}
