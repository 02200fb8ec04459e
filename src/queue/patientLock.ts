import type Redis from 'ioredis';

/** Releases the lock only if this holder still owns it (the Redis "single instance" lock pattern: SET NX PX + check-and-delete). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * A lease on one patient across every engine instance: `SET key token NX PX ttl`. A holder that crashes loses it when
 * the TTL runs out, so a patient is never locked out for longer than that.
 */
export class PatientLock {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number
  ) {}

  async acquire(patientId: string, token: string): Promise<boolean> {
    return (await this.redis.set(this.key(patientId), token, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  async release(patientId: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key(patientId), token);
  }

  private key(patientId: string): string {
    return `${this.prefix}:patient-lock:${patientId}`;
  }
}
