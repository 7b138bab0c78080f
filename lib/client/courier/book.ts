/**
 * The room's history in memory: every message by id, the sorted view the UI
 * shows, and the digest of what can travel by history sync (room messages
 * that are readable and signed; direct messages stay with their author's
 * outbox).
 * @module
 */
import { type BuildBounds, buildDigest, type Digest, type OrderParts, parseOrderKey, writerOf } from "../order_key.ts";
import type { StoredMessage } from "../store.ts";
import { MAX_DIGEST_NUMBERS, MAX_DIGEST_WRITERS, MAX_DIGEST_WRITERS_PER_AUTHOR } from "./limits.ts";

/** The digest this side sends stays within what every peer accepts (`DIGEST_BOUNDS` in `packets.ts`). */
const OWN_DIGEST_BOUNDS: BuildBounds = {
  maxWriters: MAX_DIGEST_WRITERS,
  maxNumbers: MAX_DIGEST_NUMBERS,
  maxWritersPerAuthor: MAX_DIGEST_WRITERS_PER_AUTHOR,
};

function byOrder(a: StoredMessage, b: StoredMessage): number {
  if (a.order !== b.order) return a.order < b.order ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Whether a message may travel by history sync. */
export function syncable(message: StoredMessage): boolean {
  return message.to === undefined && !message.unreadable && message.pk !== undefined && message.sig !== undefined;
}

/** Messages by id, sorted, with their digest. */
export class MessageBook {
  #byId = new Map<string, StoredMessage>();
  #parts = new Map<string, OrderParts>();
  #list: StoredMessage[] | null = null;
  #digest: Digest | null = null;
  #unstored = new Set<string>();
  /** Others' messages taken in lately, not yet counted as shown (see {@link MessageBook.settle}). */
  #fresh = new Set<string>();
  /** The greatest order key of the held messages that count as shown (all but the fresh ones); "" for none. */
  #shownMax = "";

  /** Messages sorted by order key (a new array after each change). */
  get list(): readonly StoredMessage[] {
    if (!this.#list) this.#list = [...this.#byId.values()].sort(byOrder);
    return this.#list;
  }

  /** How many messages are held. */
  get size(): number {
    return this.#byId.size;
  }

  /** One message by id. */
  get(id: string): StoredMessage | undefined {
    return this.#byId.get(id);
  }

  /** Whether an id is held. */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** The parsed order key of a held message (undefined for an unreadable one). */
  parts(id: string): OrderParts | undefined {
    return this.#parts.get(id);
  }

  /**
   * Adds or replaces a message. `fresh`: another member's message taken in just now, which does not count as shown
   * until {@link MessageBook.settle}; every other message (loaded, written here) counts as shown at once.
   */
  set(message: StoredMessage, fresh = false): void {
    const old = this.#byId.get(message.id);
    this.#byId.set(message.id, message);
    if (fresh) this.#fresh.add(message.id);
    else if (!this.#fresh.has(message.id) && message.order > this.#shownMax) this.#shownMax = message.order;
    this.#list = null;
    if (!old || old.order !== message.order || syncable(old) !== syncable(message)) {
      const parts = message.unreadable ? null : parseOrderKey(message.order);
      if (parts) this.#parts.set(message.id, parts);
      else this.#parts.delete(message.id);
      this.#digest = null;
    }
  }

  /**
   * Marks an own message as not yet stored (or, with `stored`, as stored): until
   * then it stays out of history sync, since a reload would forget it and
   * could number another message the same.
   */
  markStored(id: string, stored: boolean): void {
    if (stored) this.#unstored.delete(id);
    else this.#unstored.add(id);
    this.#digest = null;
  }

  /** Whether a message may be offered by history sync now. */
  offerable(message: StoredMessage): boolean {
    return syncable(message) && !this.#unstored.has(message.id);
  }

  /**
   * The digest of the messages that may be offered (cached until the next change), within the bounds every peer
   * accepts: a history too large for them is summarized by its most recently active writers (see `buildDigest`).
   */
  digest(): Digest {
    if (!this.#digest) {
      const parts: OrderParts[] = [];
      for (const message of this.#byId.values()) {
        const p = this.#parts.get(message.id);
        if (p && this.offerable(message)) parts.push(p);
      }
      this.#digest = buildDigest(parts, OWN_DIGEST_BOUNDS);
    }
    return this.#digest;
  }

  /** A fresh message now counts as shown (it has been on screen long enough). */
  settle(id: string): void {
    if (!this.#fresh.delete(id)) return;
    const order = this.#byId.get(id)?.order;
    if (order !== undefined && order > this.#shownMax) this.#shownMax = order;
  }

  /**
   * Whether a held message that counts as shown sorts after `order`: O(1), from the greatest such order key kept up
   * to date by `set` and `settle` (a walk over the history per message made taking in a history quadratic).
   */
  someShownAfter(order: string): boolean {
    return this.#shownMax > order;
  }

  /** The highest message number a writer used in the held history (0 for none). */
  lastNumber(writer: string): number {
    let n = 0;
    for (const parts of this.#parts.values()) if (parts.n > n && writerOf(parts) === writer) n = parts.n;
    return n;
  }
}
