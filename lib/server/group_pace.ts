/**
 * A pace per client network (`addressNetwork`: an IPv4 address or an IPv6 /48;
 * "group" below), on one instance: a token bucket per group, taken before the
 * KV work a request costs. Two paces use it:
 *
 * - **New rooms** (`NEW_ROOM_RATE_ADDR`): a hello to a room without a verifier
 *   costs KV round trips before it can be told apart from a real new room (the
 *   verifier, then whether the room has data), and registering one a dozen
 *   more (verifier, seats, budget, presence, log head). Joining a room that
 *   exists costs no token of it, so only walks through fresh (or made-up)
 *   rooms are paced. The storage budget's hourly count of new rooms stays the
 *   cross-instance bound; this is its pace, so it cannot all be spent at once.
 * - **Joins** (`JOIN_RATE_ADDR`): every admitted hello (a new session or a
 *   resume) reads the room's seats and writes a presence, and a `bye` deletes
 *   it, telling every member each time: a member churning sessions would
 *   otherwise keep the KV writing as fast as its frames allow.
 * @module
 */
import type { RateOptions } from "./config.ts";
import { TokenBucket } from "./rate_limit.ts";

/** Groups remembered (the least recently started go first; they start full again). */
const GROUPS = 10_000;

/** Token buckets per group (a network, for both paces). */
export class GroupPace {
  #rate: RateOptions;
  #now: () => number;
  #groups = new Map<string, TokenBucket>();

  /** `rate`: per second and burst, per group (e.g. `NEW_ROOM_RATE_ADDR`, `NEW_ROOM_RATE_ADDR_BURST`). */
  constructor(rate: RateOptions, now: () => number = Date.now) {
    this.#rate = rate;
    this.#now = now;
  }

  /** Whether `group` has a token of its pace left now, taking none (a group not seen yet has its whole burst). */
  has(group: string): boolean {
    return this.#groups.get(group)?.has() ?? true;
  }

  /** Takes one token of `group`'s pace; false when it has none left for now. */
  take(group: string): boolean {
    let bucket = this.#groups.get(group);
    if (!bucket) {
      bucket = new TokenBucket(this.#rate, this.#now);
      this.#groups.set(group, bucket);
      if (this.#groups.size > GROUPS) this.#groups.delete(this.#groups.keys().next().value!);
    }
    return bucket.take();
  }
}
