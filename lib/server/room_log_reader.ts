/**
 * A room's backlog, read page by page: each page is bounded in entries and in
 * bytes, so a joining peer costs the server at most one page of memory and
 * one KV read at a time, and the caller decides when to read the next one
 * (e.g. once the socket has drained what the last page sent).
 * @module
 */
import type { RoomLog, RoomLogEntry } from "./room_log.ts";

/** How big one page may be. */
export interface BacklogPageOptions {
  /** The most entries in one page. */
  entries: number;
  /** About the most bytes of data in one page (a page always holds at least one entry when one is left). */
  bytes: number;
  /**
   * The largest entry to expect before any is seen (e.g. the frame size limit). Each read asks for as
   * many entries as fit `bytes` at the largest size of the page before (at first this one), so a page
   * of big entries is not fetched whole from storage to be cut by `bytes` afterwards. Default 1.
   */
  largest?: number;
}

/** One page of a backlog. */
export interface BacklogPage {
  /** Positions dropped by the log's bounds or retention before this page's entries: send a `gap` first. */
  gap: { from: number; to: number } | null;
  /** The entries, oldest first. */
  entries: RoomLogEntry[];
  /** The backlog is complete: everything up to the log's end (as of this read) is covered. */
  done: boolean;
  /** The last position this page covers (its last entry's, or the log's end when done). */
  through: number;
}

/** Walks a room's log from a position to its end, one bounded page per `next()`. */
export class BacklogReader {
  #log: RoomLog;
  #room: string;
  #after: number;
  #options: BacklogPageOptions;
  #largest: number;
  #done = false;

  /** Starts after position `since` (0 for the whole log). */
  constructor(log: RoomLog, room: string, since: number, options: BacklogPageOptions) {
    this.#log = log;
    this.#room = room;
    this.#after = since;
    this.#options = options;
    this.#largest = options.largest ?? 1;
  }

  /** The last position covered so far. */
  get position(): number {
    return this.#after;
  }

  /** Whether the last page reached the log's end. */
  get done(): boolean {
    return this.#done;
  }

  /** Reads the next page; after the last one, an empty page that is `done`. */
  async next(): Promise<BacklogPage> {
    if (this.#done) return { gap: null, entries: [], done: true, through: this.#after };
    const after = this.#after;
    const { entries: most, bytes } = this.#options;
    const limit = Math.max(1, Math.min(most, Math.floor(bytes / this.#largest)));
    const page = await this.#log.readAfter(this.#room, after, limit, bytes);
    const entries = page.entries;
    if (entries.length) {
      // The next read fits what this room holds now: the largest entry of this page, not the worst case.
      let largest = 1;
      for (const entry of entries) if (entry.data.length > largest) largest = entry.data.length;
      this.#largest = largest;
    }
    const first = entries.length ? entries[0].seq : page.lastSeq + 1;
    const gap = first > after + 1 && page.lastSeq > after
      ? { from: after + 1, to: Math.min(first - 1, page.lastSeq) }
      : null;
    const last = entries.length ? entries[entries.length - 1].seq : after;
    // An empty page means nothing is left after `after`: all of it was dropped or is beyond the end.
    this.#done = entries.length === 0 || last >= page.lastSeq;
    this.#after = this.#done ? Math.max(last, page.lastSeq) : last;
    return { gap, entries, done: this.#done, through: this.#after };
  }
}
