/**
 * Parts: a payload string too large for one frame is split into parts that
 * each fit, and put back together exactly once on the other side.
 *
 * A part is `~<key>.<index>.<count>.<chunk>`: `key` names the payload (1-32
 * base64url characters, fresh for every split, see {@link newPartKey}),
 * `index` and `count` are decimal. Payloads that are not split must not start
 * with {@link PART_PREFIX}, so a receiver tells parts from whole payloads by
 * their first character. A chunk never ends between the two halves of a
 * surrogate pair, so every part is well-formed UTF-16 and survives UTF-8 on
 * the wire.
 *
 * The {@link Reassembler} holds one sender's open payloads within bounds (parts
 * per payload, buffered characters, open payloads, age), drops duplicate and
 * conflicting parts, takes parts in any order, and returns every payload once.
 * Hostile input (a bad header, a count that changes, a huge count) is rejected
 * with a typed reason and costs nothing beyond the bounds. Pure: the clock is
 * injected. Keep one Reassembler per sender, so one sender's bounds never
 * starve another's.
 * @module
 */

/** First character of every part; whole payloads never start with it. */
export const PART_PREFIX = "~";
/** Longest payload key. */
export const MAX_PART_KEY_CHARS = 32;
/** Default most parts of one payload. */
export const DEFAULT_MAX_PARTS = 32;
/** Default most characters buffered in incomplete payloads (about 2 MB of UTF-16). */
export const DEFAULT_MAX_BUFFERED_CHARS = 1_048_576;
/** Default most payloads open at once. */
export const DEFAULT_MAX_OPEN = 8;
/** Default time an incomplete payload waits for its missing parts, ms. */
export const DEFAULT_MAX_PART_AGE_MS = 60_000;

const KEY_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const HEADER_PATTERN = /^~([A-Za-z0-9_-]{1,32})\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\./;
/** Digits beyond which a number in a header counts as huge (stays exact in a double). */
const MAX_HEADER_DIGITS = 9;
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Why a payload cannot be split. */
export type SplitFailure =
  /** `maxChars` leaves no room for a chunk after the header. */
  | "max-too-small"
  /** The payload needs more parts than `maxParts`. */
  | "too-many-parts"
  /** The key is not 1-32 base64url characters. */
  | "bad-key";

/** Thrown by {@link split}; `reason` says why. */
export class SplitError extends Error {
  /** Why the payload cannot be split. */
  readonly reason: SplitFailure;

  /** Creates the error for `reason`, with details for a log. */
  constructor(reason: SplitFailure, detail: string) {
    super(`cannot split: ${reason} (${detail})`);
    this.name = "SplitError";
    this.reason = reason;
  }
}

/** A fresh payload key: 10 base64url characters (60 bits) from the injected random source. */
export function newPartKey(random: () => number = Math.random): string {
  let key = "";
  for (let i = 0; i < 10; i++) key += BASE64URL[Math.floor(random() * 64) & 63];
  return key;
}

/** Whether a payload is a part (starts with {@link PART_PREFIX}). */
export function isPart(payload: string): boolean {
  return payload.startsWith(PART_PREFIX);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Chunks of at most `capacity` UTF-16 units, never ending between the halves of a surrogate pair. */
function chunks(payload: string, capacity: number): string[] {
  const out: string[] = [];
  let at = 0;
  do {
    let end = Math.min(payload.length, at + capacity);
    if (end < payload.length && isHighSurrogate(payload.charCodeAt(end - 1))) end--;
    out.push(payload.slice(at, end));
    at = end;
  } while (at < payload.length);
  return out;
}

/**
 * Splits `payload` into parts of at most `maxChars` UTF-16 units each, header included. Always at least one part
 * (an empty payload gives one empty chunk). `key` must be fresh for every call (see {@link newPartKey}): a
 * receiver returns each key's payload once. Throws {@link SplitError} when it cannot.
 */
export function split(payload: string, maxChars: number, key: string, maxParts = DEFAULT_MAX_PARTS): string[] {
  if (!KEY_PATTERN.test(key)) throw new SplitError("bad-key", `key ${JSON.stringify(key.slice(0, 40))}`);
  // The header's digits depend on the count, and the count on the room the header leaves: widen until stable.
  for (let digits = 1;; digits++) {
    const header = PART_PREFIX.length + key.length + 3 + 2 * digits;
    const capacity = maxChars - header;
    // Two units at least, so a surrogate pair always fits a chunk.
    if (!(capacity >= 2)) throw new SplitError("max-too-small", `maxChars ${maxChars}, header ${header}`);
    const pieces = chunks(payload, capacity);
    if (String(pieces.length).length > digits) continue;
    if (pieces.length > maxParts) {
      throw new SplitError("too-many-parts", `${pieces.length} parts of ${maxChars}, at most ${maxParts}`);
    }
    return pieces.map((chunk, index) => `${PART_PREFIX}${key}.${index}.${pieces.length}.${chunk}`);
  }
}

/** A part's header, parsed. */
export interface PartHeader {
  /** The payload's key. */
  key: string;
  /** This part's position, from 0. */
  index: number;
  /** How many parts the payload has; Infinity when the header's number is huge. */
  count: number;
  /** Where the chunk starts in the part. */
  chunkAt: number;
}

function headerNumber(digits: string): number {
  return digits.length > MAX_HEADER_DIGITS ? Infinity : Number(digits);
}

/** Parses a part's header, or undefined when it is not a well-formed part. */
export function parseHeader(part: string): PartHeader | undefined {
  const match = HEADER_PATTERN.exec(part);
  if (!match) return undefined;
  return {
    key: match[1],
    index: headerNumber(match[2]),
    count: headerNumber(match[3]),
    chunkAt: match[0].length,
  };
}

/** Why a part was refused. */
export type PartRejection =
  /** Not a part, or its header is malformed. */
  | "bad-header"
  /** A count of 0, or an index not below the count. */
  | "bad-index"
  /** A count above the bound on parts per payload (or a huge number). */
  | "too-many-parts"
  /** The payload's earlier parts said another count. */
  | "count-mismatch"
  /** This index already arrived with other content (the first one is kept). */
  | "conflict"
  /** The payload cannot fit the buffer bound even alone; it is dropped. */
  | "too-large";

/** What one pushed part led to. */
export type PartResult =
  /** The part completed its payload: here it is, once. */
  | { kind: "complete"; key: string; payload: string }
  /** Stored; the payload still misses parts. */
  | { kind: "partial"; key: string; received: number; count: number }
  /** Already had this part, or the payload was already returned: nothing to do. */
  | { kind: "duplicate"; key: string }
  /** Refused; `key` when the header named one. */
  | { kind: "rejected"; reason: PartRejection; key?: string };

/** Bounds and clock of a {@link Reassembler}. */
export interface ReassemblerOptions {
  /** Most parts one payload may have; a header claiming more is refused (default {@link DEFAULT_MAX_PARTS}). */
  maxParts?: number;
  /** Most characters held in incomplete payloads (default {@link DEFAULT_MAX_BUFFERED_CHARS}). */
  maxBufferedChars?: number;
  /** Most incomplete payloads held at once (default {@link DEFAULT_MAX_OPEN}). */
  maxOpen?: number;
  /** How long an incomplete payload waits for its missing parts, and how long a returned key is remembered, ms. */
  maxAgeMs?: number;
  /** Most returned keys remembered, to drop their late duplicates (default 4 × maxOpen). */
  maxRemembered?: number;
  /** Clock, ms. */
  now?: () => number;
}

/** Counters of a {@link Reassembler}, for diagnostics. */
export interface ReassemblerStats {
  /** Payloads returned. */
  completed: number;
  /** Duplicate parts dropped. */
  duplicates: number;
  /** Parts refused. */
  rejected: number;
  /** Incomplete payloads dropped for age. */
  expired: number;
  /** Incomplete payloads dropped, oldest first, to make room for newer ones. */
  evicted: number;
}

interface OpenPayload {
  count: number;
  chunks: (string | undefined)[];
  received: number;
  chars: number;
  startedAt: number;
}

/** Puts one sender's parts back together, within bounds, returning each payload once. */
export class Reassembler {
  #maxParts: number;
  #maxBuffered: number;
  #maxOpen: number;
  #maxAge: number;
  #maxRemembered: number;
  #now: () => number;
  /** Incomplete payloads, oldest first (a Map keeps insertion order). */
  #open = new Map<string, OpenPayload>();
  #buffered = 0;
  /** Keys returned, with when, oldest first. */
  #done = new Map<string, number>();
  #stats: ReassemblerStats = { completed: 0, duplicates: 0, rejected: 0, expired: 0, evicted: 0 };

  /** Creates an empty reassembler with the given bounds. */
  constructor(options: ReassemblerOptions = {}) {
    this.#maxParts = options.maxParts ?? DEFAULT_MAX_PARTS;
    this.#maxBuffered = options.maxBufferedChars ?? DEFAULT_MAX_BUFFERED_CHARS;
    this.#maxOpen = options.maxOpen ?? DEFAULT_MAX_OPEN;
    this.#maxAge = options.maxAgeMs ?? DEFAULT_MAX_PART_AGE_MS;
    this.#maxRemembered = options.maxRemembered ?? 4 * this.#maxOpen;
    this.#now = options.now ?? Date.now;
    if (!(this.#maxParts >= 1 && this.#maxOpen >= 1 && this.#maxBuffered >= 1 && this.#maxAge > 0)) {
      throw new RangeError("reassembler bounds must be positive");
    }
  }

  /** Counters so far (a copy). */
  get stats(): ReassemblerStats {
    return { ...this.#stats };
  }

  /** Incomplete payloads held now. */
  get open(): number {
    return this.#open.size;
  }

  /** Characters held in incomplete payloads now. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Takes one part; says whether it completed a payload (returned here, once), or why it was refused. */
  push(part: string): PartResult {
    this.sweep();
    const header = parseHeader(part);
    if (!header) return this.#reject("bad-header");
    const { key, index, count } = header;
    if (count > this.#maxParts) return this.#reject("too-many-parts", key);
    if (count === 0 || index >= count) return this.#reject("bad-index", key);
    if (this.#done.has(key)) {
      this.#stats.duplicates++;
      return { kind: "duplicate", key };
    }
    const chunk = part.slice(header.chunkAt);
    let open = this.#open.get(key);
    if (open) {
      if (open.count !== count) return this.#reject("count-mismatch", key);
      const had = open.chunks[index];
      if (had !== undefined) {
        if (had !== chunk) return this.#reject("conflict", key);
        this.#stats.duplicates++;
        return { kind: "duplicate", key };
      }
    } else if (count === 1) {
      return this.#complete(key, chunk);
    }
    // Room for the chunk: evict the oldest other payloads; a payload too big even alone is dropped.
    if (chunk.length > this.#maxBuffered - (open?.chars ?? 0)) {
      if (open) this.#drop(key, open);
      return this.#reject("too-large", key);
    }
    while (this.#buffered + chunk.length > this.#maxBuffered || (!open && this.#open.size >= this.#maxOpen)) {
      const [oldestKey, oldest] = this.#oldestOther(key);
      this.#drop(oldestKey, oldest);
      this.#stats.evicted++;
    }
    if (!open) {
      open = { count, chunks: new Array(count), received: 0, chars: 0, startedAt: this.#now() };
      this.#open.set(key, open);
    }
    open.chunks[index] = chunk;
    open.received++;
    open.chars += chunk.length;
    this.#buffered += chunk.length;
    if (open.received < count) return { kind: "partial", key, received: open.received, count };
    this.#drop(key, open);
    return this.#complete(key, open.chunks.join(""));
  }

  /** Drops incomplete payloads older than the age bound and forgets old returned keys; returns how many expired. */
  sweep(): number {
    const oldest = this.#now() - this.#maxAge;
    let expired = 0;
    for (const [key, open] of this.#open) {
      if (open.startedAt > oldest) break;
      this.#drop(key, open);
      expired++;
    }
    this.#stats.expired += expired;
    for (const [key, at] of this.#done) {
      if (at > oldest && this.#done.size <= this.#maxRemembered) break;
      this.#done.delete(key);
    }
    return expired;
  }

  #oldestOther(key: string): [string, OpenPayload] {
    for (const entry of this.#open) if (entry[0] !== key) return entry;
    // Unreachable: the size checks above leave room for `key` alone.
    throw new Error("reassembler bounds left no payload to evict");
  }

  #drop(key: string, open: OpenPayload): void {
    this.#open.delete(key);
    this.#buffered -= open.chars;
  }

  #complete(key: string, payload: string): PartResult {
    this.#done.set(key, this.#now());
    if (this.#done.size > this.#maxRemembered) this.#done.delete(this.#done.keys().next().value!);
    this.#stats.completed++;
    return { kind: "complete", key, payload };
  }

  #reject(reason: PartRejection, key?: string): PartResult {
    this.#stats.rejected++;
    return key === undefined ? { kind: "rejected", reason } : { kind: "rejected", reason, key };
  }
}
