/**
 * Message order keys and history digests. Every message carries an order key
 * built from a hybrid logical clock (wall ms + counter), its author and the
 * author's message number: `<ms:9><counter:4>.<author>.<n>` (base36, fixed
 * width where it matters). Keys compare as plain strings, every peer computes
 * the same ones, and two messages never tie, so every peer shows one order. A
 * reply always sorts after what its author had seen, even across skewed clocks.
 *
 * The per-author numbers `n` are dense (1, 2, 3...), so a peer's whole history
 * folds into a small digest (author → ranges of `n`) for history sync.
 * @module
 */

/** Width of the base36 millisecond field: 36^9 ms reaches past the year 5000. */
const MS_WIDTH = 9;
/** Width of the base36 counter field. */
const COUNTER_WIDTH = 4;
/** The counter's largest value; beyond it the clock borrows the next millisecond. */
const COUNTER_MAX = 36 ** COUNTER_WIDTH - 1;
/** Author ids are base64url, so they never contain the separator. */
const AUTHOR_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The parts an order key is made of. */
export interface OrderParts {
  /** Hybrid clock milliseconds: the author's wall clock, pushed forward by anything it had seen. */
  ms: number;
  /** Hybrid clock counter within one millisecond. */
  c: number;
  /** The author's id. */
  author: string;
  /** The author's message number, 1 for its first message in the room. */
  n: number;
}

/** Builds the order key string of a message. */
export function formatOrderKey(parts: OrderParts): string {
  return parts.ms.toString(36).padStart(MS_WIDTH, "0") + parts.c.toString(36).padStart(COUNTER_WIDTH, "0") + "." +
    parts.author + "." + parts.n.toString(36);
}

/** Parses an order key; null when it is malformed (a peer sent garbage). */
export function parseOrderKey(key: string): OrderParts | null {
  if (typeof key !== "string" || key.length > 96 || key.charCodeAt(MS_WIDTH + COUNTER_WIDTH) !== 46 /* . */) {
    return null;
  }
  const last = key.lastIndexOf(".");
  const author = key.slice(MS_WIDTH + COUNTER_WIDTH + 1, last);
  if (!AUTHOR_PATTERN.test(author)) return null;
  const ms = parseInt(key.slice(0, MS_WIDTH), 36);
  const c = parseInt(key.slice(MS_WIDTH, MS_WIDTH + COUNTER_WIDTH), 36);
  const n = parseInt(key.slice(last + 1), 36);
  if (!(ms >= 0) || !(c >= 0) || !(n >= 1) || !Number.isSafeInteger(ms) || !Number.isSafeInteger(n)) return null;
  const parts = { ms, c, author, n };
  return formatOrderKey(parts) === key ? parts : null;
}

/** A hybrid logical clock: close to wall time, yet never behind anything already seen. */
export class HybridClock {
  #now: () => number;
  #ms = 0;
  #c = 0;

  /** A clock over a wall-clock source (injected, so tests control time). */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** The timestamp for a new local event: strictly after every earlier one and everything observed. */
  tick(): { ms: number; c: number } {
    const wall = Math.floor(this.#now());
    if (wall > this.#ms) {
      this.#ms = wall;
      this.#c = 0;
    } else if (this.#c < COUNTER_MAX) {
      this.#c++;
    } else {
      this.#ms++;
      this.#c = 0;
    }
    return { ms: this.#ms, c: this.#c };
  }

  /** Moves the clock past a timestamp seen in a message, so later local events sort after it. */
  observe(ms: number, c: number): void {
    if (ms > this.#ms || (ms === this.#ms && c > this.#c)) {
      this.#ms = ms;
      this.#c = c;
    }
  }
}

/** A history summary: author → flat list of inclusive ranges of message numbers `[lo, hi, lo, hi, ...]`. */
export type Digest = Record<string, number[]>;

/** Folds (author, n) pairs into a digest. */
export function buildDigest(pairs: Iterable<OrderParts>): Digest {
  const byAuthor = new Map<string, number[]>();
  for (const { author, n } of pairs) {
    const list = byAuthor.get(author);
    if (list) list.push(n);
    else byAuthor.set(author, [n]);
  }
  const digest: Digest = {};
  for (const [author, list] of byAuthor) {
    list.sort((a, b) => a - b);
    const ranges: number[] = [];
    for (const n of list) {
      const end = ranges.length - 1;
      if (end > 0 && n <= ranges[end] + 1) ranges[end] = Math.max(ranges[end], n);
      else ranges.push(n, n);
    }
    digest[author] = ranges;
  }
  return digest;
}

/** Whether a digest lists message `n` of `author`. */
export function digestHas(digest: Digest, author: string, n: number): boolean {
  const ranges = Object.hasOwn(digest, author) ? digest[author] : undefined;
  if (!ranges) return false;
  for (let i = 0; i + 1 < ranges.length; i += 2) {
    if (n >= ranges[i] && n <= ranges[i + 1]) return true;
  }
  return false;
}

/** Whether `digest` is well formed: an object of arrays of ascending positive integer pairs. */
export function isDigest(value: unknown): value is Digest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  for (const [author, ranges] of Object.entries(value)) {
    if (!AUTHOR_PATTERN.test(author) || !Array.isArray(ranges) || ranges.length % 2 !== 0) return false;
    for (let i = 0; i < ranges.length; i++) {
      const n = ranges[i];
      if (!Number.isSafeInteger(n) || n < 1 || (i > 0 && n < ranges[i - 1])) return false;
    }
  }
  return true;
}

/** Whether `mine` lists every message `theirs` lists (`mine` as built by {@link buildDigest}: merged ranges). */
export function digestCovers(mine: Digest, theirs: Digest): boolean {
  for (const [author, ranges] of Object.entries(theirs)) {
    const own = Object.hasOwn(mine, author) ? mine[author] : [];
    for (let i = 0; i + 1 < ranges.length; i += 2) {
      let covered = false;
      for (let j = 0; j + 1 < own.length && !covered; j += 2) {
        covered = own[j] <= ranges[i] && ranges[i + 1] <= own[j + 1];
      }
      if (!covered) return false;
    }
  }
  return true;
}
