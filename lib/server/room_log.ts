/**
 * The room log contract: store-and-forward of relayed chat frames, so a late
 * joiner or a phone back from a tunnel receives what it missed.
 * Implementations: `room_log_kv.ts` (Deno KV) and `room_log_memory.ts`.
 * @module
 */

/** One relayed chat frame kept in a room's log. */
export interface RoomLogEntry {
  /** Position in the room's log: 1, 2, 3... assigned atomically across instances. */
  seq: number;
  /** Server time of the append, in ms since the epoch. */
  at: number;
  /** The stored frame, opaque to the log (ciphertext only ever reaches here). */
  data: string;
}

/** What an append reports back. */
export interface AppendResult {
  /** The position given to the new entry. */
  seq: number;
  /** Server time of the append, in ms since the epoch. */
  at: number;
  /** How many of the oldest entries the bounds removed to make room. */
  dropped: number;
}

/** A page of a room's log. */
export interface ReadResult {
  /** Entries after the asked position, in order. */
  entries: RoomLogEntry[];
  /** The oldest position still kept; greater than `after + 1` means the reader missed dropped entries. */
  firstSeq: number;
  /** The newest position appended so far (0 for an empty room). */
  lastSeq: number;
}

/** Bounds and retention of every room's log. */
export interface RoomLogOptions {
  /** How long an entry is kept, in ms (`ROOM_TTL`, default 24 h). */
  ttlMs: number;
  /** The most entries one room keeps; the oldest go first. */
  maxEntries: number;
  /** The most bytes of `data` one room keeps; the oldest go first. */
  maxBytes: number;
  /** The clock, injectable for tests. */
  now?: () => number;
}

/** Store-and-forward log of every room's relayed chat frames. */
export interface RoomLog {
  /**
   * Appends one frame to a room's log and returns its position. `ascii`: the
   * caller knows `data` is pure ASCII, so its byte size is its length and the
   * log need not scan it (the hub knows this of nearly every chat frame).
   */
  append(room: string, data: string, ascii?: boolean): Promise<AppendResult>;
  /**
   * Appends several frames in one group commit (the hub batches for throughput);
   * results are in the order of `datas`, at increasing, usually consecutive, positions.
   */
  appendMany(room: string, datas: string[]): Promise<AppendResult[]>;
  /** Reads up to `limit` entries after position `after`, oldest first. */
  readAfter(room: string, after: number, limit: number): Promise<ReadResult>;
  /** Releases timers and handles; the log is unusable afterwards. */
  close(): void;
}
