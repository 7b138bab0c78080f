/**
 * Allowances per sending session: token buckets, keyed by session, for the
 * work another member can make this client do (recovering keys, verifying
 * signatures, answering history syncs). Each refills at `perSecond` up to
 * `burst`, so honest traffic passes at once and a member who sends forgeries
 * or floods of requests is held to the refill rate. Pure: the clock is
 * injected.
 * @module
 */

/** Options of an {@link Allowance}. */
export interface AllowanceOptions {
  /** Tokens a session may spend at once (its bucket starts full). */
  burst: number;
  /** Tokens a session earns back per second. */
  perSecond: number;
  /** The clock, ms. */
  now: () => number;
  /** Sessions remembered at most (default 256); the oldest is forgotten first, which only refills its bucket. */
  maxKeys?: number;
}

/** Per-session token buckets over one clock. */
export class Allowance {
  #o: AllowanceOptions;
  #buckets = new Map<string, { tokens: number; at: number }>();

  /** Buckets of `burst` tokens refilling at `perSecond`. */
  constructor(options: AllowanceOptions) {
    this.#o = options;
  }

  /** Takes `count` tokens from `key`'s bucket; false, taking none, when fewer are left. */
  take(key: string, count = 1): boolean {
    const bucket = this.#refill(key);
    if (bucket.tokens < count) return false;
    bucket.tokens -= count;
    return true;
  }

  /**
   * Takes `count` tokens whether or not they are there, down to one burst below empty: a penalty (a signature that
   * failed costs more than one that verified), paid back at the refill rate before the session may spend again.
   */
  charge(key: string, count: number): void {
    const bucket = this.#refill(key);
    bucket.tokens = Math.max(-this.#o.burst, bucket.tokens - count);
  }

  /** Gives `count` tokens back to `key`'s bucket (work taken ahead that turned out honest), up to its burst. */
  give(key: string, count = 1): void {
    const bucket = this.#refill(key);
    bucket.tokens = Math.min(this.#o.burst, bucket.tokens + count);
  }

  #refill(key: string): { tokens: number; at: number } {
    const now = this.#o.now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= (this.#o.maxKeys ?? 256)) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { tokens: this.#o.burst, at: now };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.#o.burst, bucket.tokens + Math.max(0, now - bucket.at) * this.#o.perSecond / 1000);
    bucket.at = now;
    return bucket;
  }
}
