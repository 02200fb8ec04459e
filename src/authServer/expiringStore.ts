import { createHash, randomBytes } from 'node:crypto';

/** An unguessable handle: 256 random bits, base64url (codes, launch ids, refresh tokens, request ids). */
export function newHandle(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Short-lived grants kept in memory, keyed by a hash of their handle (a memory dump does not hand out live codes or
 * refresh tokens). They do not survive a restart: a restart means logging in again, which the local demo accepts.
 */
export class ExpiringStore<T> {
  private readonly items = new Map<string, { value: T; expiresAt: number }>();

  constructor(private readonly now: () => Date) {}

  private static key(handle: string): string {
    return createHash('sha256').update(handle).digest('base64url');
  }

  put(handle: string, value: T, ttlSeconds: number): void {
    this.sweep();
    this.items.set(ExpiringStore.key(handle), { value, expiresAt: this.now().getTime() + ttlSeconds * 1000 });
  }

  get(handle: string): T | undefined {
    const item = this.items.get(ExpiringStore.key(handle));
    if (!item || item.expiresAt <= this.now().getTime()) {
      return undefined;
    }
    return item.value;
  }

  /** Gets and removes: a single-use grant (authorization code, launch, rotated refresh token). */
  take(handle: string): T | undefined {
    const value = this.get(handle);
    this.items.delete(ExpiringStore.key(handle));
    return value;
  }

  deleteWhere(predicate: (value: T) => boolean): void {
    for (const [key, item] of this.items) {
      if (predicate(item.value)) {
        this.items.delete(key);
      }
    }
  }

  private sweep(): void {
    const now = this.now().getTime();
    for (const [key, item] of this.items) {
      if (item.expiresAt <= now) {
        this.items.delete(key);
      }
    }
  }
}
