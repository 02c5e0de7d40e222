// A token bucket in bytes: `rate` per second, at most `burst` saved up. take() lets the balance go negative (the
// bytes were read already) and says how long until it is paid back; tryTake() only takes what is there (UDP).
// Pure: the caller passes the time (ms, fractional allowed), so tests drive the clock.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    /** Bytes per second, > 0. */
    readonly rate: number,
    /** Most bytes that can go at once after a quiet spell, > 0. */
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }

  /** Take `bytes` (already moved): 0 when the balance is not negative, else the ms until it is back at 0. */
  take(bytes: number, now: number): number {
    this.refill(now);
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  /** Take `bytes` only if the balance covers them. */
  tryTake(bytes: number, now: number): boolean {
    this.refill(now);
    if (this.tokens < bytes) return false;
    this.tokens -= bytes;
    return true;
  }

  /** The balance now (negative: in debt). */
  balance(now: number): number {
    this.refill(now);
    return this.tokens;
  }
}
