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

/** Where a room's log stands: what a `welcome` tells a joining client. */
export interface LogBounds {
  /** The oldest position still kept (`lastSeq + 1` when nothing is kept). */
  firstSeq: number;
  /** The newest position appended so far (0 for a new log). */
  lastSeq: number;
  /**
   * The log's incarnation: a random id made with the log's head. Positions are
   * only comparable within one epoch: a log that expired and began again (or a
   * wiped KV) has a new epoch, so clients re-read it from its start.
   */
  epoch: string;
}

/** Random bytes in a log epoch: 96 bits, 16 base64url characters. */
export const LOG_EPOCH_BYTES = 12;

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
  /** Makes a new log epoch (default: `LOG_EPOCH_BYTES` random bytes, base64url); injectable for tests. */
  newEpoch?: () => string;
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
  /**
   * Reads up to `limit` entries after position `after`, oldest first, and
   * stops early once the page holds `maxBytes` bytes of data (it always holds
   * at least one entry when one is there), so a page's memory is bounded.
   * Use `BacklogReader` (room_log_reader.ts) to walk a backlog page by page.
   */
  readAfter(room: string, after: number, limit: number, maxBytes?: number): Promise<ReadResult>;
  /**
   * The log's bounds and epoch, cheaply (no entry is listed). A room without a
   * head gets one here, with a new epoch, so the epoch a client is told never
   * changes under it while the log lives.
   */
  bounds(room: string): Promise<LogBounds>;
  /** Releases timers and handles; the log is unusable afterwards. */
  close(): void;
}
