/**
 * A fake clock for tests of timer-driven code: timers run only when the test
 * advances time, in due order, with pending promise jobs settled between them.
 * @module
 */

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/** Lets queued promise reactions run, a few rounds deep. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** Fake `setTimeout`/`clearTimeout`/`now`. */
export class FakeClock {
  #now: number;
  #nextId = 1;
  #timers: Timer[] = [];

  /** Starts the clock at `start` ms. */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current fake time in ms. */
  now = (): number => this.#now;

  /** Schedules `fn` after `ms` fake milliseconds. */
  setTimeout = (fn: () => void, ms: number): ReturnType<typeof setTimeout> => {
    const id = this.#nextId++;
    this.#timers.push({ id, at: this.#now + Math.max(0, ms), fn });
    return id as unknown as ReturnType<typeof setTimeout>;
  };

  /** Cancels a timer. */
  clearTimeout = (id: ReturnType<typeof setTimeout>): void => {
    this.#timers = this.#timers.filter((timer) => timer.id !== (id as unknown as number));
  };

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Advances time by `ms`, running every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    while (true) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.#timers[0];
      if (!next || next.at > end) break;
      this.#timers.shift();
      this.#now = next.at;
      next.fn();
      await settle();
    }
    this.#now = end;
    await settle();
  }
}
