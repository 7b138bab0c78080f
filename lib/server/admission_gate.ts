/**
 * The admission gate: how many hellos this instance works on at once (their
 * admission and join, up to the welcome), and a fair queue for the rest.
 *
 * A join is a chain of Deno KV round trips (verifier, seats, presence, log
 * bounds, and for a new room its registration), one after the other. Without
 * a bound, every hello in flight adds its round trip to the KV's queue, so a
 * flood of joins (churn, fresh rooms, wrong proofs) from more attackers makes
 * every member's chat append wait longer. With `concurrent` hellos at most in
 * work, joins put at most that many requests in the KV's queue whatever the
 * number of sockets saying hello; the rest wait here, one queue per address
 * group, served in turn (round robin), so a flood from one group delays its
 * own hellos, not another's. A group whose queue is full (`perGroup`), or a
 * gate whose queues hold `queued` hellos, refuses: `busy`, close 1013.
 * @module
 */

/** Options of {@linkcode AdmissionGate}. */
export interface AdmissionGateOptions {
  /** The most hellos in work at once (`HELLOS_IN_FLIGHT`). */
  concurrent: number;
  /** The most hellos of one address group waiting for their turn (`HELLOS_QUEUED_PER_ADDRESS`). */
  perGroup: number;
  /** The most hellos waiting over all groups. */
  queued: number;
}

/** A hello waiting for its turn. */
interface Waiter<T> {
  who: T;
  group: string;
  resolve: (granted: boolean) => void;
}

/** Bounds the hellos in work and queues the rest fairly, per address group. */
export class AdmissionGate<T> {
  #options: AdmissionGateOptions;
  /** Holders of a turn now. */
  #working = new Set<T>();
  /** Waiters by group; the map's order is the round robin's. */
  #queues = new Map<string, Waiter<T>[]>();
  /** Waiters by holder, to cancel one. */
  #waiting = new Map<T, Waiter<T>>();

  /** Builds an empty gate. */
  constructor(options: AdmissionGateOptions) {
    this.#options = options;
  }

  /** Hellos in work. */
  get working(): number {
    return this.#working.size;
  }

  /** Hellos waiting for their turn. */
  get queued(): number {
    return this.#waiting.size;
  }

  /**
   * Asks a turn for `who`, of address group `group`: `true` when it has one now; a promise of
   * true once it gets one (or false if it left meanwhile); `false` when the queues are full.
   * Every turn asked for must end with `leave(who)`.
   */
  enter(who: T, group: string): boolean | Promise<boolean> {
    if (this.#working.has(who) || this.#waiting.has(who)) throw new Error("already at the gate");
    if (this.#working.size < this.#options.concurrent && this.#waiting.size === 0) {
      this.#working.add(who);
      return true;
    }
    const queue = this.#queues.get(group);
    if ((queue?.length ?? 0) >= this.#options.perGroup || this.#waiting.size >= this.#options.queued) return false;
    return new Promise((resolve) => {
      const waiter = { who, group, resolve };
      if (queue) queue.push(waiter);
      else this.#queues.set(group, [waiter]);
      this.#waiting.set(who, waiter);
    });
  }

  /** Ends `who`'s turn (its waiting, if it had none yet: that promise gets false); a no-op if it has neither. */
  leave(who: T): void {
    if (this.#working.delete(who)) {
      this.#next();
      return;
    }
    this.cancel(who);
  }

  /** Stops `who` waiting (its promise gets false); a turn it holds is kept until `leave`. */
  cancel(who: T): void {
    const waiter = this.#waiting.get(who);
    if (waiter === undefined) return;
    this.#waiting.delete(who);
    const queue = this.#queues.get(waiter.group)!;
    queue.splice(queue.indexOf(waiter), 1);
    if (queue.length === 0) this.#queues.delete(waiter.group);
    waiter.resolve(false);
  }

  /** Gives free turns to the next groups in turn, one waiter each. */
  #next(): void {
    while (this.#working.size < this.#options.concurrent && this.#waiting.size > 0) {
      const [group, queue] = this.#queues.entries().next().value!;
      const waiter = queue.shift()!;
      // The group goes to the end of the round, or out of it when it has nobody left waiting.
      this.#queues.delete(group);
      if (queue.length > 0) this.#queues.set(group, queue);
      this.#waiting.delete(waiter.who);
      this.#working.add(waiter.who);
      waiter.resolve(true);
    }
  }
}
