/**
 * Remembers JWT ids (`jti`) until their token expires, so the same signed token cannot be played twice (SMART
 * Backend Services: "the authorization server SHALL ... check that the jti has not been used before"; CDS Hooks 2.0
 * "Trusting CDS Clients": jti "used to prevent replay attacks"). A token is kept no longer than its `exp`, which the
 * verifiers bound (5 minutes for client assertions), so memory stays small.
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly now: () => Date,
    private readonly maxEntries = 100_000
  ) {}

  /** Records `jti` of `issuer` until `expSeconds`; false when it was already recorded (a replay). */
  remember(issuer: string, jti: string, expSeconds: number): boolean {
    const nowMs = this.now().getTime();
    this.evictExpired(nowMs);
    const key = `${issuer}\u0000${jti}`;
    if (this.seen.has(key)) {
      return false;
    }
    if (this.seen.size >= this.maxEntries) {
      // Full: refusing is safer than forgetting an unexpired jti.
      return false;
    }
    this.seen.set(key, expSeconds * 1000);
    return true;
  }

  private evictExpired(nowMs: number): void {
    for (const [key, expiresAt] of this.seen) {
      if (expiresAt <= nowMs) {
        this.seen.delete(key);
      }
    }
  }
}
