/**
 * Named one-shot timers: each name holds at most one pending timer, so a
 * state machine can set, replace and clear "retry" or "heartbeat" by name.
 * The timer functions are injected, so tests drive them with a fake clock.
 * @module
 */

/** A timer handle, whatever the platform's `setTimeout` returns. */
export type TimerId = ReturnType<typeof setTimeout>;

/** Timer functions, injectable so tests can drive time. */
export interface Timers {
  /** Like `setTimeout`. */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Like `clearTimeout`. */
  clearTimeout(id: TimerId): void;
}

/** The platform's timers. */
export const GLOBAL_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

/** At most one pending timer per name. */
export class TimerSet<Name extends string> {
  #timers: Timers;
  #pending = new Map<Name, TimerId>();

  /** Creates an empty set over the given timer functions. */
  constructor(timers: Timers = GLOBAL_TIMERS) {
    this.#timers = timers;
  }

  /** Runs `fn` after `ms`, replacing any pending timer of the same name. */
  set(name: Name, ms: number, fn: () => void): void {
    this.clear(name);
    this.#pending.set(
      name,
      this.#timers.setTimeout(() => {
        this.#pending.delete(name);
        fn();
      }, ms),
    );
  }

  /** Whether a timer of this name is pending. */
  has(name: Name): boolean {
    return this.#pending.has(name);
  }

  /** Cancels the pending timer of this name, if any. */
  clear(name: Name): void {
    const id = this.#pending.get(name);
    if (id === undefined) return;
    this.#timers.clearTimeout(id);
    this.#pending.delete(name);
  }

  /** Cancels every pending timer. */
  clearAll(): void {
    for (const name of [...this.#pending.keys()]) this.clear(name);
  }
}
