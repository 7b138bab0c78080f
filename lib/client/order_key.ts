/**
 * Message order keys and history digests. Every message carries an order key
 * built from a hybrid logical clock (wall ms + counter), its writer and the
 * writer's message number: `<ms:9><counter:4>.<writer>.<n>` (base36, fixed
 * width where it matters). Keys compare as plain strings, every peer computes
 * the same ones, and two messages never tie, so every peer shows one order. A
 * reply always sorts after what its author had seen, even across skewed clocks
 * (within {@link MAX_CLOCK_LEAD_MS}).
 *
 * The writer is the author (a member id) with an optional tab tag,
 * `<author>~<tab>`: several tabs of one member write at once, and each tab
 * numbers its own messages, so `(writer, n)` is unique and the numbers stay
 * dense (1, 2, 3...). A peer's whole history folds into a small digest
 * (writer → ranges of `n`) for history sync.
 * @module
 */

/** Width of the base36 millisecond field: 36^9 ms reaches past the year 5000. */
const MS_WIDTH = 9;
/** Width of the base36 counter field. */
const COUNTER_WIDTH = 4;
/** The counter's largest value; beyond it the clock borrows the next millisecond. */
export const COUNTER_MAX = 36 ** COUNTER_WIDTH - 1;
/** The largest millisecond value the fixed-width field holds. */
export const MAX_ORDER_MS = 36 ** MS_WIDTH - 1;
/** Longest order key: 13 clock chars, two dots, a 64-char author, `~`, a 16-char tab and a safe integer. */
const MAX_KEY_CHARS = 128;
/** Tab tags are short base64url strings. */
const TAB_PATTERN = /^[A-Za-z0-9_-]{1,16}$/;
/** A digest key: an author (base64url, so it never holds a separator), optionally with its tab tag. */
const WRITER_PATTERN = /^[A-Za-z0-9_-]{1,64}(~[A-Za-z0-9_-]{1,16})?$/;

/**
 * How far ahead of the local wall clock the hybrid clock may be pulled by
 * what it observes: 1 minute. A peer's clock that runs fast still orders
 * replies after it (up to this much), yet one message with a wild time can
 * no longer drag every later local message into the future (receivers refuse
 * keys too far ahead of their own clock, see the courier's limits).
 */
export const MAX_CLOCK_LEAD_MS = 60_000;

/** The parts an order key is made of. */
export interface OrderParts {
  /** Hybrid clock milliseconds: the author's wall clock, pushed forward by anything it had seen. */
  ms: number;
  /** Hybrid clock counter within one millisecond. */
  c: number;
  /** The author's id (a member id). */
  author: string;
  /** The writing tab's tag, when the author writes from several tabs. */
  tab?: string;
  /** The writer's message number, 1 for its first message in the room. */
  n: number;
}

/** The digest key of an order key's writer: `author` or `author~tab`. */
export function writerOf(parts: { author: string; tab?: string }): string {
  return parts.tab === undefined ? parts.author : parts.author + "~" + parts.tab;
}

/** Builds the order key string of a message. */
export function formatOrderKey(parts: OrderParts): string {
  return parts.ms.toString(36).padStart(MS_WIDTH, "0") + parts.c.toString(36).padStart(COUNTER_WIDTH, "0") + "." +
    writerOf(parts) + "." + parts.n.toString(36);
}

/** Parses an order key; null when it is malformed (a peer sent garbage). */
export function parseOrderKey(key: string): OrderParts | null {
  if (typeof key !== "string" || key.length > MAX_KEY_CHARS || key.charCodeAt(MS_WIDTH + COUNTER_WIDTH) !== 46) {
    return null;
  }
  const last = key.lastIndexOf(".");
  const writer = key.slice(MS_WIDTH + COUNTER_WIDTH + 1, last);
  if (!WRITER_PATTERN.test(writer)) return null;
  const tilde = writer.indexOf("~");
  const author = tilde < 0 ? writer : writer.slice(0, tilde);
  const ms = parseInt(key.slice(0, MS_WIDTH), 36);
  const c = parseInt(key.slice(MS_WIDTH, MS_WIDTH + COUNTER_WIDTH), 36);
  const n = parseInt(key.slice(last + 1), 36);
  if (!(ms >= 0) || !(c >= 0) || !(n >= 1) || !Number.isSafeInteger(ms) || !Number.isSafeInteger(n)) return null;
  const parts: OrderParts = { ms, c, author, n };
  if (tilde >= 0) parts.tab = writer.slice(tilde + 1);
  return formatOrderKey(parts) === key ? parts : null;
}

/** Whether a string is a well-formed tab tag. */
export function isTabTag(value: unknown): value is string {
  return typeof value === "string" && TAB_PATTERN.test(value);
}

/**
 * A hybrid logical clock: close to wall time, yet never behind anything
 * already seen, and never pulled more than `maxLeadMs` ahead of the wall.
 */
export class HybridClock {
  #now: () => number;
  #maxLead: number;
  #ms = 0;
  #c = 0;

  /** A clock over a wall-clock source (injected, so tests control time). */
  constructor(now: () => number, maxLeadMs: number = MAX_CLOCK_LEAD_MS) {
    this.#now = now;
    this.#maxLead = maxLeadMs;
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

  /**
   * Moves the clock past a timestamp seen in a message, so later local events
   * sort after it; a timestamp beyond the allowed lead only moves the clock to
   * that lead (a wild clock cannot push ours into the future for good).
   */
  observe(ms: number, c: number): void {
    if (!Number.isFinite(ms) || !Number.isFinite(c)) return;
    const cap = Math.floor(this.#now()) + this.#maxLead;
    if (ms > cap) {
      ms = cap;
      c = 0;
    }
    c = Math.min(Math.max(0, Math.floor(c)), COUNTER_MAX);
    if (ms > this.#ms || (ms === this.#ms && c > this.#c)) {
      this.#ms = ms;
      this.#c = c;
    }
  }
}

/** A history summary: writer → flat list of inclusive ranges of message numbers `[lo, hi, lo, hi, ...]`. */
export type Digest = Record<string, number[]>;

/** Bounds on a digest this side builds, so every peer accepts it whatever the history holds. */
export interface BuildBounds extends DigestBounds {
  /** Most writers of one author (a member's tabs over the room's life). */
  maxWritersPerAuthor: number;
}

/**
 * Folds order parts (their writer and number) into a digest. With `bounds`, a history that would list more than they
 * allow (a long-lived room, or a member who made up thousands of writers) is summarized by its most recently active
 * writers (newest message first, then writer id, so peers holding the same history build the same digest), at most
 * `maxWritersPerAuthor` of one author, and a writer whose ranges would pass `maxNumbers` by its newest ranges. What it
 * leaves out is not lost: it stays stored and is shown; sync only stops comparing it (see `history_sync.ts`).
 */
export function buildDigest(pairs: Iterable<OrderParts>, bounds?: BuildBounds): Digest {
  const byWriter = new Map<string, { author: string; newest: number; numbers: number[] }>();
  for (const parts of pairs) {
    const writer = writerOf(parts);
    const entry = byWriter.get(writer);
    if (entry) {
      entry.numbers.push(parts.n);
      if (parts.ms > entry.newest) entry.newest = parts.ms;
    } else {
      byWriter.set(writer, { author: parts.author, newest: parts.ms, numbers: [parts.n] });
    }
  }
  const writers = [...byWriter];
  if (bounds) writers.sort(([a, x], [b, y]) => y.newest - x.newest || (a < b ? -1 : a > b ? 1 : 0));
  const digest: Digest = {};
  const perAuthor = new Map<string, number>();
  let count = 0;
  let numbers = 0;
  for (const [writer, { author, numbers: list }] of writers) {
    list.sort((a, b) => a - b);
    let ranges: number[] = [];
    for (const n of list) {
      const end = ranges.length - 1;
      if (end > 0 && n <= ranges[end] + 1) ranges[end] = Math.max(ranges[end], n);
      else ranges.push(n, n);
    }
    if (bounds) {
      const mine = perAuthor.get(author) ?? 0;
      const room = bounds.maxNumbers - numbers;
      if (count >= bounds.maxWriters || mine >= bounds.maxWritersPerAuthor || room < 2) continue;
      if (ranges.length > room) ranges = ranges.slice(ranges.length - (room - room % 2));
      perAuthor.set(author, mine + 1);
      count++;
      numbers += ranges.length;
    }
    digest[writer] = ranges;
  }
  return digest;
}

/** Whether a digest lists message `n` of `writer`. */
export function digestHas(digest: Digest, writer: string, n: number): boolean {
  const ranges = Object.hasOwn(digest, writer) ? digest[writer] : undefined;
  if (!ranges) return false;
  // The numbers ascend (see isDigest), so the last range starting at or below n is the one that can hold it: a
  // binary search, so a digest of many ranges (a peer may send 65,536 numbers) costs a few steps per message.
  let low = 0;
  let high = (ranges.length >> 1) - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (ranges[2 * middle] <= n) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return found >= 0 && n <= ranges[2 * found + 1];
}

/** Bounds on a digest from a peer, so a hostile one cannot cost unbounded memory or time. */
export interface DigestBounds {
  /** Most writers (keys). */
  maxWriters: number;
  /** Most numbers over all range lists. */
  maxNumbers: number;
}

/**
 * Whether `digest` is well formed: an object of arrays of ascending positive
 * integer pairs, keyed by writers, within `bounds` when given.
 */
export function isDigest(value: unknown, bounds?: DigestBounds): value is Digest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  let writers = 0;
  let numbers = 0;
  for (const writer in value) {
    if (!Object.hasOwn(value, writer)) continue;
    const ranges = (value as Record<string, unknown>)[writer];
    if (!WRITER_PATTERN.test(writer) || !Array.isArray(ranges) || ranges.length % 2 !== 0) return false;
    writers++;
    numbers += ranges.length;
    if (bounds && (writers > bounds.maxWriters || numbers > bounds.maxNumbers)) return false;
    for (let i = 0; i < ranges.length; i++) {
      const n = ranges[i];
      if (!Number.isSafeInteger(n) || n < 1 || (i > 0 && n < ranges[i - 1])) return false;
    }
  }
  return true;
}

/** Whether `mine` lists every message `theirs` lists (`mine` as built by {@link buildDigest}: merged ranges). */
export function digestCovers(mine: Digest, theirs: Digest): boolean {
  for (const [writer, ranges] of Object.entries(theirs)) {
    const own = Object.hasOwn(mine, writer) ? mine[writer] : [];
    let j = 0;
    for (let i = 0; i + 1 < ranges.length; i += 2) {
      // Both lists ascend, so one forward walk over `own` suffices.
      while (j + 1 < own.length && own[j + 1] < ranges[i]) j += 2;
      if (!(j + 1 < own.length && own[j] <= ranges[i] && ranges[i + 1] <= own[j + 1])) return false;
    }
  }
  return true;
}
