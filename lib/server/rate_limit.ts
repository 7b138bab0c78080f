/**
 * A token bucket: cheap enough to run on every frame (two numbers and a
 * clock read), with the clock injectable for tests.
 * @module
 */
import type { RateOptions } from "./config.ts";

/** Refills at `perSecond`, holds at most `burst`; each frame takes one token. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  #rate: number;
  #burst: number;
  #now: () => number;

  /** Starts full, so a fresh connection can send its burst at once. */
  constructor(options: RateOptions, now: () => number = Date.now) {
    this.#rate = options.perSecond / 1000;
    this.#burst = options.burst;
    this.#tokens = options.burst;
    this.#now = now;
    this.#last = now();
  }

  /** Takes one token; false when the bucket is empty (the frame must be refused). `now` saves a clock read. */
  take(now: number = this.#now()): boolean {
    const elapsed = now - this.#last;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#rate);
      this.#last = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
