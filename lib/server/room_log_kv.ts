/**
 * The room log in Deno KV, shared by every instance of a deployment and
 * kept across restarts when the KV is a file.
 *
 * Layout, for a namespace `ns` (default `"log"`):
 * - `[ns, "h", room]` the head: last position, the oldest kept entry's
 *   position, time and byte offset, and the byte offset after the newest.
 *   Every append reads it and commits with a versionstamp check, so two
 *   instances appending to one room never share a position and never skip one.
 * - `[ns, "e", room, seq]` an entry `{ at, start, size, data, parts }` with
 *   `expireIn` = the retention window; `start` is the room's byte offset before
 *   it, so the kept bytes are `head.end - first.start` even when KV has already
 *   expired older entries. A value bigger than a KV value allows continues in
 *   `[ns, "e", room, seq, 1..parts-1]`.
 *
 * Appends to one room are queued in this instance and committed in groups (one
 * atomic per group, within KV's limits), so concurrent appends from the hub
 * cost one round trip, not one each, and never conflict with each other.
 * Entries older than the window are never returned, even if KV has not yet
 * expired them (KV expiry is lazy).
 * @module
 */
import type { AppendResult, ReadResult, RoomLog, RoomLogEntry, RoomLogOptions } from "./room_log.ts";
import { retryKvBusy } from "./kv_busy.ts";
import { serializedLength, utf8Length } from "./text_size.ts";
import { KV_GROUP_MAX_BYTES, KV_KEY_OVERHEAD, piece, pieceCount } from "./kv_limits.ts";

/** Options of the KV room log, on top of the shared bounds. */
export interface KvRoomLogOptions extends RoomLogOptions {
  /** First key part of every key, so several logs (or tests) can share one KV. */
  namespace?: string;
  /**
   * How long a room's head (its position counter) outlives its last append, in ms.
   * Longer than the retention window so positions are not reused while clients
   * still remember them (default: 30 days or the window, whichever is longer).
   */
  headTtlMs?: number;
  /** Commit attempts before an append fails, when other instances keep winning the race. */
  maxAttempts?: number;
}

/** Defaults of the options that have one. */
const DEFAULTS = {
  namespace: "log",
  headTtlMs: 30 * 24 * 3600_000,
  maxAttempts: 64,
};

/** KV allows 1000 mutations per atomic; leave room for the head and inline deletes. */
const GROUP_MAX_MUTATIONS = 800;
/** Entries listed per KV round trip while pruning or reading. */
const LIST_BATCH = 128;
/** Rooms whose head this instance last committed are remembered, up to this many (least recent go first). */
const HEAD_CACHE_ROOMS = 1024;

interface Head {
  last: number;
  first: number;
  firstAt: number;
  firstStart: number;
  end: number;
  lastAt: number;
}

interface StoredEntry {
  at: number;
  start: number;
  size: number;
  data: string;
  parts: number;
}

interface Pending {
  data: string;
  size: number;
  pieces: number;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** The oldest kept entry, as pruning sees it. */
interface Oldest {
  seq: number;
  at: number;
  start: number;
  /** Keys to delete when this entry is dropped (entry and pieces); empty for entries not yet written. */
  keys: Deno.KvKey[];
}

/** A head as this instance last committed it. */
interface KnownHead {
  /** The head as committed. */
  value: Head;
  /** Its versionstamp: the next commit's check. */
  versionstamp: string;
}

const EMPTY_HEAD: Head = { last: 0, first: 1, firstAt: 0, firstStart: 0, end: 0, lastAt: 0 };

/** Opens (or creates) the KV at `path` and a room log that closes it when closed. */
export async function openKvRoomLog(path: string | undefined, options: KvRoomLogOptions): Promise<KvRoomLog> {
  const kv = await Deno.openKv(path);
  return new KvRoomLog(kv, options, true);
}

/** A room log in Deno KV. */
export class KvRoomLog implements RoomLog {
  #kv: Deno.Kv;
  #ownsKv: boolean;
  #options: Required<KvRoomLogOptions>;
  #queues = new Map<string, Pending[]>();
  /**
   * Heads this instance committed, by room: the next group commit checks
   * against the remembered versionstamp instead of reading the head first, and
   * reads it only when another instance (or expiry) changed it meanwhile.
   */
  #heads = new Map<string, KnownHead>();
  #closed = false;

  /** Uses `kv`, which it closes on `close()` only when `ownsKv`. */
  constructor(kv: Deno.Kv, options: KvRoomLogOptions, ownsKv = false) {
    this.#kv = kv;
    this.#ownsKv = ownsKv;
    this.#options = {
      ttlMs: options.ttlMs,
      maxEntries: options.maxEntries,
      maxBytes: options.maxBytes,
      now: options.now ?? Date.now,
      namespace: options.namespace ?? DEFAULTS.namespace,
      headTtlMs: Math.max(options.headTtlMs ?? DEFAULTS.headTtlMs, options.ttlMs),
      maxAttempts: options.maxAttempts ?? DEFAULTS.maxAttempts,
    };
  }

  /** Appends one frame to a room's log and returns its position; `ascii` skips measuring it. */
  append(room: string, data: string, ascii = false): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      try {
        this.#enqueue(room, this.#pending(data, resolve, reject, ascii));
      } catch (error) {
        reject(error);
      }
    });
  }

  /** Appends several frames in group commits; results follow the order of `datas`. */
  appendMany(room: string, datas: string[]): Promise<AppendResult[]> {
    try {
      const promises: Promise<AppendResult>[] = [];
      const pendings: Pending[] = [];
      for (const data of datas) {
        promises.push(new Promise((resolve, reject) => pendings.push(this.#pending(data, resolve, reject))));
      }
      for (const pending of pendings) this.#enqueue(room, pending);
      return Promise.all(promises);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Reads up to `limit` entries after position `after`, oldest first, skipping expired ones. */
  readAfter(room: string, after: number, limit: number): Promise<ReadResult> {
    this.#checkOpen();
    return retryKvBusy(() => this.#read(room, after, limit));
  }

  async #read(room: string, after: number, limit: number): Promise<ReadResult> {
    const head = (await this.#kv.get<Head>(this.#headKey(room))).value;
    if (!head) return { entries: [], firstSeq: 1, lastSeq: 0 };
    if (head.last < head.first) return { entries: [], firstSeq: head.last + 1, lastSeq: head.last };
    const cutoff = this.#options.now() - this.#options.ttlMs;
    const wanted = Math.max(after + 1, head.first);
    // Entries' times grow with their positions, so expired ones are a prefix:
    // only when the oldest kept one has expired must the scan start there.
    const fresh = head.firstAt >= cutoff;
    let firstSeq = fresh ? head.first : 0;
    const entries: RoomLogEntry[] = [];
    if (fresh && (limit <= 0 || wanted > head.last)) return { entries, firstSeq, lastSeq: head.last };
    const iter = this.#kv.list<StoredEntry | string>({
      start: this.#entryKey(room, fresh ? wanted : head.first),
      end: this.#entryKey(room, head.last + 1),
    }, { batchSize: Math.min(LIST_BATCH, limit + 2) });
    let current: RoomLogEntry | null = null;
    let pieces: string[] = [];
    for await (const { key, value } of iter) {
      if (key.length === 5) {
        if (current) pieces.push(value as string);
        continue;
      }
      if (current) {
        if (pieces.length) current.data += pieces.join("");
        entries.push(current);
        current = null;
        pieces = [];
      }
      const seq = key[3] as number;
      const stored = value as StoredEntry;
      if (stored.at < cutoff) continue;
      if (!firstSeq) firstSeq = seq;
      if (entries.length >= limit) break;
      if (seq >= wanted) current = { seq, at: stored.at, data: stored.data };
    }
    if (current) {
      if (pieces.length) current.data += pieces.join("");
      entries.push(current);
    }
    return { entries, firstSeq: firstSeq || head.last + 1, lastSeq: head.last };
  }

  /** Rejects appends still queued and, when it owns it, closes the KV. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const queue of this.#queues.values()) {
      for (const pending of queue) pending.reject(new Error("room log is closed"));
    }
    this.#queues.clear();
    this.#heads.clear();
    if (this.#ownsKv) this.#kv.close();
  }

  #pending(data: string, resolve: Pending["resolve"], reject: Pending["reject"], ascii = false): Pending {
    this.#checkOpen();
    const size = ascii ? data.length : utf8Length(data);
    if (size > this.#options.maxBytes) {
      throw new RangeError(`room log entry of ${size} bytes exceeds the room bound of ${this.#options.maxBytes}`);
    }
    return { data, size, pieces: pieceCount(data), resolve, reject };
  }

  #enqueue(room: string, pending: Pending): void {
    const queue = this.#queues.get(room);
    if (queue) {
      queue.push(pending);
      return;
    }
    this.#queues.set(room, [pending]);
    // Start draining once the current task has queued what it has.
    queueMicrotask(() => void this.#drain(room));
  }

  /** Commits a room's queued appends group by group until its queue is empty. */
  async #drain(room: string): Promise<void> {
    while (!this.#closed) {
      const queue = this.#queues.get(room);
      if (!queue || queue.length === 0) {
        this.#queues.delete(room);
        return;
      }
      const group = takeGroup(queue);
      try {
        const results = await this.#commitGroup(room, group);
        for (let i = 0; i < group.length; i++) group[i].resolve(results[i]);
      } catch (error) {
        for (const pending of group) pending.reject(error);
      }
    }
  }

  async #commitGroup(room: string, group: Pending[]): Promise<AppendResult[]> {
    const { maxAttempts } = this.#options;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      this.#checkOpen();
      const done = await retryKvBusy(() => this.#tryCommit(room, group));
      if (done) {
        // After the commit, outside its retry: a failure here must not append twice.
        if (done.later.length) await this.#deleteLater(done.later);
        return done.results;
      }
      if (attempt > 3) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, attempt * 2)));
    }
    throw new Error(`room log append to ${room} lost the race ${maxAttempts} times`);
  }

  /** One attempt at committing a group: its results and deletes left over, or null when another append won the race. */
  async #tryCommit(room: string, group: Pending[]): Promise<{ results: AppendResult[]; later: Deno.KvKey[] } | null> {
    const { ttlMs, maxEntries, maxBytes, headTtlMs } = this.#options;
    const headKey = this.#headKey(room);
    // Taken out while in use: only a successful commit puts a head back, so any failure re-reads it.
    const known = this.#heads.get(room);
    if (known) this.#heads.delete(room);
    const headEntry = known ?? await this.#kv.get<Head>(headKey);
    const head = headEntry.value ?? EMPTY_HEAD;
    const at = Math.max(this.#options.now(), head.lastAt);
    const cutoff = at - ttlMs;
    const pruner = new Pruner(this.#kv, this.#entryKey(room, head.first), this.#entryKey(room, head.last + 1));
    let oldest: Oldest | null = head.last >= head.first
      ? { seq: head.first, at: head.firstAt, start: head.firstStart, keys: [] }
      : null;
    let last = head.last;
    let end = head.end;
    const doomed: Deno.KvKey[] = [];
    const results: AppendResult[] = [];
    const firstNew = head.last + 1;
    // The next entry after `oldest`: an old one from KV, or one of this group.
    const next = async (current: Oldest): Promise<Oldest | null> => {
      if (current.seq < firstNew) {
        const old = await pruner.after(current.seq);
        if (old) return old;
      }
      const seq = Math.max(current.seq + 1, firstNew);
      if (seq > last) return null;
      let start = head.end;
      for (let i = 0; i < seq - firstNew; i++) start += group[i].size;
      return { seq, at, start, keys: [] };
    };
    for (const pending of group) {
      const seq = ++last;
      const start = end;
      end += pending.size;
      if (!oldest) oldest = { seq, at, start, keys: [] };
      let dropped = 0;
      while (oldest && oldest.at < cutoff) {
        if (oldest.seq === head.first && oldest.keys.length === 0) oldest.keys = await pruner.keysOf(oldest.seq);
        doomed.push(...oldest.keys);
        oldest = await next(oldest);
      }
      while (oldest && (last - oldest.seq + 1 > maxEntries || end - oldest.start > maxBytes)) {
        if (oldest.seq === head.first && oldest.keys.length === 0) oldest.keys = await pruner.keysOf(oldest.seq);
        doomed.push(...oldest.keys);
        dropped++;
        oldest = await next(oldest);
      }
      results.push({ seq, at, dropped });
    }
    const newHead: Head = oldest
      ? { last, first: oldest.seq, firstAt: oldest.at, firstStart: oldest.start, end, lastAt: at }
      : { last, first: last + 1, firstAt: at, firstStart: end, end, lastAt: at };
    const atomic = this.#kv.atomic()
      .check({ key: headKey, versionstamp: headEntry.versionstamp })
      .set(headKey, newHead, { expireIn: headTtlMs });
    let mutations = 1;
    let start = head.end;
    for (let i = 0; i < group.length; i++) {
      const seq = firstNew + i;
      const { data, size, pieces } = group[i];
      if (seq >= newHead.first) {
        const key = this.#entryKey(room, seq);
        const first = pieces === 1 ? data : piece(data, 0);
        const value: StoredEntry = { at, start, size, data: first, parts: pieces };
        atomic.set(key, value, { expireIn: ttlMs });
        for (let part = 1; part < pieces; part++) {
          atomic.set([...key, part], piece(data, part), { expireIn: ttlMs });
        }
        mutations += pieces;
      }
      start += size;
    }
    // Entries below the new head are never read again, so deleting them can
    // wait: what does not fit this atomic goes in follow-ups, and whatever a
    // crash leaves behind expires with the window.
    const inline = Math.min(doomed.length, 1000 - mutations);
    for (let i = 0; i < inline; i++) atomic.delete(doomed[i]);
    const commit = await atomic.commit();
    if (!commit.ok) return null;
    this.#rememberHead(room, { value: newHead, versionstamp: commit.versionstamp });
    return { results, later: doomed.slice(inline) };
  }

  #rememberHead(room: string, head: KnownHead): void {
    if (this.#closed) return;
    this.#heads.set(room, head);
    if (this.#heads.size > HEAD_CACHE_ROOMS) this.#heads.delete(this.#heads.keys().next().value!);
  }

  async #deleteLater(keys: Deno.KvKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const atomic = this.#kv.atomic();
      for (const key of keys.slice(i, i + 1000)) atomic.delete(key);
      await retryKvBusy(() => atomic.commit());
    }
  }

  #headKey(room: string): Deno.KvKey {
    return [this.#options.namespace, "h", room];
  }

  #entryKey(room: string, seq: number): Deno.KvKey {
    return [this.#options.namespace, "e", room, seq];
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("room log is closed");
  }
}

/** Takes from the front of `queue` as many appends as fit one atomic. */
function takeGroup(queue: Pending[]): Pending[] {
  let mutations = 0;
  let bytes = 0;
  let count = 0;
  while (count < queue.length) {
    const { data, size, pieces } = queue[count];
    // As many UTF-8 bytes as chars means ASCII: no second scan.
    const cost = serializedLength(data, size === data.length) + KV_KEY_OVERHEAD * pieces;
    if (count > 0 && (mutations + pieces > GROUP_MAX_MUTATIONS || bytes + cost > KV_GROUP_MAX_BYTES)) break;
    mutations += pieces;
    bytes += cost;
    count++;
  }
  return queue.splice(0, count);
}

/** Walks a room's stored entries in order while an append prunes the oldest. */
class Pruner {
  #iter: Deno.KvListIterator<StoredEntry | string> | null = null;
  #kv: Deno.Kv;
  #start: Deno.KvKey;
  #end: Deno.KvKey;
  /** A main entry read ahead while collecting the previous entry's pieces. */
  #ahead: { seq: number; value: StoredEntry; keys: Deno.KvKey[] } | null = null;
  #done = false;

  constructor(kv: Deno.Kv, start: Deno.KvKey, end: Deno.KvKey) {
    this.#kv = kv;
    this.#start = start;
    this.#end = end;
  }

  /** The keys (entry and pieces) of the entry at `seq`, which must be the first one listed. */
  async keysOf(seq: number): Promise<Deno.KvKey[]> {
    const entry = await this.#read();
    if (entry && entry.seq === seq) return entry.keys;
    // Already expired by KV: nothing to delete; keep what was read for `after`.
    this.#ahead = entry;
    return [];
  }

  /** The first stored entry after `seq`, or null when no old entry is left. */
  async after(seq: number): Promise<Oldest | null> {
    for (;;) {
      const entry = this.#ahead ?? await this.#read();
      this.#ahead = null;
      if (!entry) return null;
      if (entry.seq > seq) return { seq: entry.seq, at: entry.value.at, start: entry.value.start, keys: entry.keys };
    }
  }

  async #read(): Promise<{ seq: number; value: StoredEntry; keys: Deno.KvKey[] } | null> {
    if (this.#ahead) {
      const ahead = this.#ahead;
      this.#ahead = null;
      return ahead;
    }
    if (this.#done) return null;
    this.#iter ??= this.#kv.list<StoredEntry | string>({ start: this.#start, end: this.#end }, {
      batchSize: LIST_BATCH,
    });
    let entry: { seq: number; value: StoredEntry; keys: Deno.KvKey[] } | null = this.#pendingMain;
    this.#pendingMain = null;
    for (;;) {
      const step = await this.#iter.next();
      if (step.done) {
        this.#done = true;
        return entry;
      }
      const { key, value } = step.value;
      if (key.length === 5) {
        if (entry) entry.keys.push(key);
        continue;
      }
      const main = { seq: key[3] as number, value: value as StoredEntry, keys: [key] };
      if (!entry) {
        entry = main;
        if ((value as StoredEntry).parts <= 1) return entry;
        continue;
      }
      this.#pendingMain = main;
      return entry;
    }
  }

  #pendingMain: { seq: number; value: StoredEntry; keys: Deno.KvKey[] } | null = null;
}
