/**
 * A bound on one wait for the network: a promise that settles like the
 * given one, or rejects with a {@link DeadlineError} once the time is up.
 * The timers are injected, so tests run it on a fake clock.
 * @module
 */
import type { Timers } from "../timer_set.ts";

/** A network wait that did not finish in time. */
export class DeadlineError extends Error {
  /** What was awaited, for logs. */
  readonly what: string;
  /** The bound, in ms. */
  readonly afterMs: number;

  /** A timeout of `what` after `afterMs`. */
  constructor(what: string, afterMs: number) {
    super(`${what} timed out after ${afterMs} ms`);
    this.name = "DeadlineError";
    this.what = what;
    this.afterMs = afterMs;
  }
}

/** `work`, bounded by `ms`: it rejects with a {@link DeadlineError} when `work` takes longer. */
export function withDeadline<T>(work: Promise<T>, ms: number, timers: Timers, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = timers.setTimeout(() => reject(new DeadlineError(what, ms)), ms);
    work.then(
      (value) => {
        timers.clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        timers.clearTimeout(timer);
        reject(error);
      },
    );
  });
}
