/**
 * An in-memory room log with the same semantics as the Deno KV one: for unit
 * tests of the hub and for a single instance that can afford to forget on
 * restart. Positions are assigned in call order; entries older than the
 * retention window are never returned; bounds drop the oldest first.
 * A room's counter is kept (entries are not) after its entries expire, so
 * positions never restart while clients remember them: memory grows by a few
 * numbers per room ever used, fine for tests and small single instances.
 * @module
 */
import { randomId } from "../protocol/ids.ts";
import {
  type AppendResult,
  LOG_EPOCH_BYTES,
  type LogBounds,
  type ReadResult,
  type RoomLog,
  type RoomLogEntry,
  type RoomLogOptions,
} from "./room_log.ts";
import { utf8Length } from "./text_size.ts";

interface StoredEntry extends RoomLogEntry {
  size: number;
}

interface Room {
  /** Kept entries, oldest first; `entries[offset]` is the oldest. */
  entries: StoredEntry[];
  offset: number;
  last: number;
  bytes: number;
  lastAt: number;
  /** The log's incarnation, made with the room's state. */
  epoch: string;
}

/** Compact a room's array once this many removed entries sit at its front. */
const COMPACT_AFTER = 1024;
/** Every this many appends, expired entries of idle rooms are released too. */
const SWEEP_EVERY = 4096;

/** A room log held in this process's memory. */
export class MemoryRoomLog implements RoomLog {
  #rooms = new Map<string, Room>();
  #options: RoomLogOptions;
  #now: () => number;
  #newEpoch: () => string;
  #closed = false;
  #untilSweep = SWEEP_EVERY;

  /** Builds an empty log with these bounds and retention. */
  constructor(options: RoomLogOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#newEpoch = options.newEpoch ?? (() => randomId(LOG_EPOCH_BYTES));
  }

  /** Appends one frame to a room's log and returns its position; `ascii` skips measuring it. */
  append(room: string, data: string, ascii = false): Promise<AppendResult> {
    try {
      return Promise.resolve(this.#appendNow(room, data, ascii));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Appends several frames at consecutive positions, as the hub's group commit does. */
  appendMany(room: string, datas: string[]): Promise<AppendResult[]> {
    try {
      for (const data of datas) this.#checkSize(data);
      return Promise.resolve(datas.map((data) => this.#appendNow(room, data)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Reads up to `limit` entries (and about `maxBytes` of data) after position `after`, oldest first. */
  readAfter(room: string, after: number, limit: number, maxBytes = Infinity): Promise<ReadResult> {
    this.#checkOpen();
    const state = this.#rooms.get(room);
    if (!state) return Promise.resolve({ entries: [], firstSeq: 1, lastSeq: 0 });
    let index = this.#firstFresh(state);
    const firstSeq = index < state.entries.length ? state.entries[index].seq : state.last + 1;
    index += Math.max(0, after + 1 - firstSeq);
    const entries: RoomLogEntry[] = [];
    let bytes = 0;
    for (; index < state.entries.length && entries.length < limit; index++) {
      const { seq, at, data, size } = state.entries[index];
      if (entries.length > 0 && bytes + size > maxBytes) break;
      entries.push({ seq, at, data });
      bytes += size;
    }
    return Promise.resolve({ entries, firstSeq, lastSeq: state.last });
  }

  /** The room's bounds and epoch; a room never seen gets its state (and epoch) here. */
  bounds(room: string): Promise<LogBounds> {
    this.#checkOpen();
    const state = this.#state(room);
    const index = this.#firstFresh(state);
    const firstSeq = index < state.entries.length ? state.entries[index].seq : state.last + 1;
    return Promise.resolve({ firstSeq, lastSeq: state.last, epoch: state.epoch });
  }

  /** Index of the oldest entry still within the retention window. */
  #firstFresh(state: Room): number {
    const cutoff = this.#now() - this.#options.ttlMs;
    let index = state.offset;
    while (index < state.entries.length && state.entries[index].at < cutoff) index++;
    return index;
  }

  #state(room: string): Room {
    let state = this.#rooms.get(room);
    if (!state) {
      state = { entries: [], offset: 0, last: 0, bytes: 0, lastAt: 0, epoch: this.#newEpoch() };
      this.#rooms.set(room, state);
    }
    return state;
  }

  /** Forgets every room; the log is unusable afterwards. */
  close(): void {
    this.#closed = true;
    this.#rooms.clear();
  }

  #appendNow(room: string, data: string, ascii = false): AppendResult {
    this.#checkOpen();
    const size = this.#checkSize(data, ascii);
    const state = this.#state(room);
    const { ttlMs, maxEntries, maxBytes } = this.#options;
    const at = Math.max(this.#now(), state.lastAt);
    if (--this.#untilSweep === 0) this.#sweep(at - ttlMs);
    else releaseExpired(state, at - ttlMs);
    const seq = ++state.last;
    state.lastAt = at;
    state.entries.push({ seq, at, data, size });
    state.bytes += size;
    let dropped = 0;
    while (state.entries.length - state.offset > maxEntries || state.bytes > maxBytes) {
      state.bytes -= state.entries[state.offset++].size;
      dropped++;
    }
    if (state.offset >= COMPACT_AFTER) {
      state.entries = state.entries.slice(state.offset);
      state.offset = 0;
    }
    return { seq, at, dropped };
  }

  /** Releases the expired entries of every room, idle ones included. */
  #sweep(cutoff: number): void {
    this.#untilSweep = SWEEP_EVERY;
    for (const state of this.#rooms.values()) releaseExpired(state, cutoff);
  }

  #checkSize(data: string, ascii = false): number {
    const size = ascii ? data.length : utf8Length(data);
    if (size > this.#options.maxBytes) {
      throw new RangeError(`room log entry of ${size} bytes exceeds the room bound of ${this.#options.maxBytes}`);
    }
    return size;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("room log is closed");
  }
}

/** Drops a room's entries older than `cutoff` (a prefix: times grow with positions). */
function releaseExpired(state: Room, cutoff: number): void {
  while (state.offset < state.entries.length && state.entries[state.offset].at < cutoff) {
    state.bytes -= state.entries[state.offset++].size;
  }
  if (state.offset === state.entries.length && state.offset > 0) {
    state.entries = [];
    state.offset = 0;
  }
}
