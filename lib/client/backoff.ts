/**
 * Exponential backoff with full jitter: the n-th retry waits a uniformly random
 * time in [0, min(cap, base · 2^n)]. Full jitter spreads a crowd of clients
 * that lost the same server, so they do not all come back in the same second.
 * It never gives up: after the cap is reached every wait stays under the cap.
 * Pure: the random source and the clock are injected; it schedules nothing
 * itself, the caller sets the timer.
 * @module
 */

/** Options of a {@link Backoff}. */
export interface BackoffOptions {
  /** First ceiling, ms: attempt 0 waits up to this (from the network profile). */
  baseMs: number;
  /** Largest ceiling, ms: no wait ever exceeds it (from the network profile). */
  capMs: number;
  /** Uniform random in [0, 1): injectable so tests are seeded. */
  random?: () => number;
  /** Current time in ms: injectable so tests use fake time. */
  now?: () => number;
}

/** Exponent beyond which base · 2^n surely exceeds any cap; stops the float from overflowing after many tries. */
const MAX_EXPONENT = 30;

/** The ceiling of attempt `attempt`: min(cap, base · 2^attempt). */
export function backoffCeiling(baseMs: number, capMs: number, attempt: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(attempt, MAX_EXPONENT));
}

/** A retry schedule: call `next()` before each retry, `reset()` after a success or a network change. */
export class Backoff {
  #base: number;
  #cap: number;
  #random: () => number;
  #now: () => number;
  #attempt = 0;
  #nextAt: number | undefined;

  /** Creates a schedule at attempt 0. */
  constructor(options: BackoffOptions) {
    if (!(options.baseMs > 0) || !(options.capMs >= options.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= capMs, got ${options.baseMs} and ${options.capMs}`);
    }
    this.#base = options.baseMs;
    this.#cap = options.capMs;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  /** Retries taken since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** When the scheduled retry is due (ms, on the injected clock), or undefined when none is scheduled. */
  get nextAttemptAt(): number | undefined {
    return this.#nextAt;
  }

  /** The ceiling the next call to `next()` will draw under. */
  get ceiling(): number {
    return backoffCeiling(this.#base, this.#cap, this.#attempt);
  }

  /** Draws the delay before the next retry, records its due time, and counts the attempt. */
  next(): number {
    const delay = Math.floor(this.#random() * (this.ceiling + 1));
    const bounded = Math.min(delay, this.ceiling);
    this.#attempt++;
    this.#nextAt = this.#now() + bounded;
    return bounded;
  }

  /** Back to attempt 0 (after a success, or on `online` / visible / link change, to retry at once). */
  reset(): void {
    this.#attempt = 0;
    this.#nextAt = undefined;
  }

  /** Changes base and cap (a new network profile) without losing the attempt count. */
  retune(baseMs: number, capMs: number): void {
    if (!(baseMs > 0) || !(capMs >= baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= capMs, got ${baseMs} and ${capMs}`);
    }
    this.#base = baseMs;
    this.#cap = capMs;
  }
}
