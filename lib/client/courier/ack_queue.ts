/**
 * Acknowledgements to each session, coalesced the way Nagle coalesces
 * segments: the first ack to a session goes at once, and acks that follow
 * within {@link AckQueueOptions.delayMs} of it wait and go together when that
 * time is up. A single message is acknowledged without delay; a burst of
 * messages is acknowledged in one frame (and the server's held `accepted` of
 * all of them rides on it) instead of one frame each.
 * @module
 */
import type { TimerId, Timers } from "../timer_set.ts";
import { ACK_BATCH } from "./limits.ts";

/** Sessions whose last ack time is kept before the stale ones are swept. */
const MAX_REMEMBERED = 256;

/** What the queue needs. */
export interface AckQueueOptions {
  /** Acks to one session within this long of the last go together after it; 0 sends each at once. */
  delayMs: number;
  /** The clock. */
  now: () => number;
  /** Timers. */
  timers: Timers;
  /** Sends one ack packet (at most `ACK_BATCH` ids) to a session. */
  send: (peer: string, ids: string[], volatile: boolean) => void;
}

/** Acks waiting for one session. */
interface Waiting {
  /** Ids stored durably. */
  durable: Set<string>;
  /** Ids held by a store that is not durable now. */
  volatile: Set<string>;
}

/** Coalesces acks per session. */
export class AckQueue {
  #o: AckQueueOptions;
  #waiting = new Map<string, Waiting>();
  #lastSent = new Map<string, number>();
  #timer: TimerId | undefined;
  #closed = false;

  /** A queue that sends through `options.send`. */
  constructor(options: AckQueueOptions) {
    this.#o = options;
  }

  /** Acknowledges `ids` to `peer`: now, or with the acks that follow shortly. */
  add(peer: string, ids: readonly string[], volatile: boolean): void {
    if (this.#closed || ids.length === 0) return;
    let waiting = this.#waiting.get(peer);
    if (!waiting) this.#waiting.set(peer, waiting = { durable: new Set(), volatile: new Set() });
    for (const id of ids) (volatile ? waiting.volatile : waiting.durable).add(id);
    const last = this.#lastSent.get(peer);
    if (this.#o.delayMs <= 0 || last === undefined || this.#o.now() - last >= this.#o.delayMs) {
      this.#flush(peer);
    } else {
      this.#arm();
    }
  }

  /** Sends nothing more. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#o.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#waiting.clear();
  }

  #flush(peer: string): void {
    const waiting = this.#waiting.get(peer);
    this.#waiting.delete(peer);
    if (!waiting) return;
    const now = this.#o.now();
    if (this.#lastSent.size >= MAX_REMEMBERED) {
      for (const [other, at] of this.#lastSent) if (now - at >= this.#o.delayMs) this.#lastSent.delete(other);
    }
    this.#lastSent.delete(peer);
    this.#lastSent.set(peer, now);
    for (const [ids, volatile] of [[waiting.durable, false], [waiting.volatile, true]] as const) {
      const list = [...ids];
      for (let i = 0; i < list.length; i += ACK_BATCH) this.#o.send(peer, list.slice(i, i + ACK_BATCH), volatile);
    }
  }

  /** One timer for every session: it fires when the earliest waiting ack is due. */
  #arm(): void {
    if (this.#timer !== undefined) return;
    let due = Infinity;
    for (const peer of this.#waiting.keys()) due = Math.min(due, (this.#lastSent.get(peer) ?? 0) + this.#o.delayMs);
    if (!Number.isFinite(due)) return;
    this.#timer = this.#o.timers.setTimeout(() => {
      this.#timer = undefined;
      const now = this.#o.now();
      for (const peer of [...this.#waiting.keys()]) {
        if (now - (this.#lastSent.get(peer) ?? 0) >= this.#o.delayMs) this.#flush(peer);
      }
      // Sessions that stay quiet are forgotten, so the map holds only recent ones.
      for (const [peer, at] of this.#lastSent) if (now - at >= this.#o.delayMs) this.#lastSent.delete(peer);
      this.#arm();
    }, Math.max(0, due - this.#o.now()));
  }
}
