/**
 * A token bucket: cheap enough to run on every frame (two numbers and a
 * clock read), with the clock injectable for tests.
 * @module
 */
import type { RateOptions } from "./config.ts";

/** Refills at `perSecond`, holds at most `burst`; each frame takes one token (or each byte: `take(now, bytes)`). */
export class TokenBucket {
  #tokens: number;
  #last: number;
  /** Shared by every bucket of one kind (not copied): there is one bucket per socket. */
  #options: RateOptions;
  #now: () => number;

  /** Starts full, so a fresh connection can send its burst at once; `options` must not change afterwards. */
  constructor(options: RateOptions, now: () => number = Date.now) {
    this.#options = options;
    this.#tokens = options.burst;
    this.#now = now;
    this.#last = now();
  }

  /** Whether `count` tokens (one by default) are there to take, taking none. */
  has(count = 1, now: number = this.#now()): boolean {
    this.#refill(now);
    return this.#tokens >= count;
  }

  /** Takes `count` tokens (one by default); false, taking none, when fewer are left. `now` saves a clock read. */
  take(now: number = this.#now(), count = 1): boolean {
    this.#refill(now);
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }

  #refill(now: number): void {
    const elapsed = now - this.#last;
    if (elapsed > 0) {
      const options = this.#options;
      this.#tokens = Math.min(options.burst, this.#tokens + elapsed * (options.perSecond / 1000));
      this.#last = now;
    }
  }
}
