/**
 * A cool-down for client address groups that keep breaking the protocol: an
 * address group whose sockets are refused for abuse (a wrong proof, a frame
 * over the size limit or binary, no hello in time, a rate limit that closed the
 * socket) `strikes` times within a window has its new sockets refused at the
 * HTTP upgrade for `cooldownMs` (429 `busy`), before any WebSocket, hello or
 * KV work. Sockets already open are left alone. An old page after a deploy
 * (`bad_version`) or a bad link (`bad_room`) is not abuse: those do not count.
 *
 * Honest clients do not do these things more than once or twice (a wrong link
 * is refused once: the client does not retry a wrong proof), so they never
 * reach it; a flood of wrong proofs, oversized frames or sockets left silent
 * reaches it within a second or a few, and then costs the server an HTTP 429
 * per attempt. Several people behind one address (carrier-grade NAT) share its
 * cool-down: one of them misbehaving keeps the others from opening new sockets
 * for that long.
 * @module
 */

/** Options of {@linkcode AddressPenalty}. */
export interface AddressPenaltyOptions {
  /** Strikes within `windowMs` that start a cool-down (`ABUSE_STRIKES`). */
  strikes: number;
  /** The window the strikes are counted in, in ms (a fixed window, started by the first strike). */
  windowMs: number;
  /** How long new sockets of the group are refused, in ms (`ABUSE_COOLDOWN`, s). */
  cooldownMs: number;
  /** The clock, injectable for tests. */
  now?: () => number;
}

/** Why a socket was refused, when it counts as a strike. */
export type StrikeReason =
  | "wrong_proof"
  | "too_big"
  | "binary"
  | "hello_timeout"
  | "rate_limited";

interface GroupStrikes {
  /** When this window's first strike came. */
  since: number;
  /** Strikes in the window. */
  count: number;
  /** Until when new sockets are refused (0: not cooling down). */
  until: number;
}

/** Groups remembered at most (the least recently struck go first). */
const GROUPS = 10_000;

/** Counts strikes per address group and says which groups are cooling down. */
export class AddressPenalty {
  #options: AddressPenaltyOptions;
  #now: () => number;
  #groups = new Map<string, GroupStrikes>();

  /** Builds an empty record. */
  constructor(options: AddressPenaltyOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Whether `group`'s new sockets are refused now. */
  coolingDown(group: string): boolean {
    if (this.#groups.size === 0) return false;
    const entry = this.#groups.get(group);
    return entry !== undefined && entry.until > this.#now();
  }

  /** Counts one strike against `group`; true when it starts (or extends) a cool-down. */
  strike(group: string, _reason: StrikeReason): boolean {
    const now = this.#now();
    let entry = this.#groups.get(group);
    if (entry === undefined || now - entry.since >= this.#options.windowMs) {
      if (entry === undefined && this.#groups.size >= GROUPS) this.#groups.delete(this.#groups.keys().next().value!);
      entry = { since: now, count: 0, until: entry?.until ?? 0 };
      this.#groups.delete(group);
      this.#groups.set(group, entry);
    }
    entry.count++;
    if (entry.count < this.#options.strikes) return false;
    entry.until = now + this.#options.cooldownMs;
    return true;
  }
}
