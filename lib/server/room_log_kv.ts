/**
 * The room log in Deno KV, shared by every instance of a deployment and
 * kept across restarts when the KV is a file.
 *
 * Layout, for a namespace `ns` (default `"log"`):
 * - `[ns, "h", room]` the head: last position, the oldest kept entry's
 *   position, time and byte offset, the byte offset after the newest, and the
 *   log's epoch (a random id made with the head: positions restart only with a
 *   new head, so a client's `since` is meaningful only within its epoch).
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
 * cost one round trip, not one each, and never conflict with each other. A
 * room commits at a bounded pace (`commitRate`): frames that come faster wait
 * for the next commit and go in it together, so a flood in one room costs the
 * KV (and every other room's appends, which queue behind its commits) that many
 * commits a second whatever its frame rate; people chatting never reach it.
 * Entries older than the window are never returned, even if KV has not yet
 * expired them (KV expiry is lazy). Expired entries are never listed to be
 * skipped: entries' times grow with their positions, so the oldest one still
 * in the window is found in a few `getMany` probes, and the head is moved past
 * the expired ones (KV deletes them by their own `expireIn`).
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
import { retryKvBusy } from "./kv_busy.ts";
import { serializedLength, utf8Length } from "./text_size.ts";
import { KV_GROUP_MAX_BYTES, KV_KEY_OVERHEAD, piece, pieceCount } from "./kv_limits.ts";
import type { RateOptions } from "./config.ts";

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
  /**
   * Told after every group commit how the room's kept bytes changed, so a
   * storage budget can keep a global sum without scanning (see kv_budget.ts).
   */
  onStored?: (change: StoredChange) => void;
  /**
   * The most group commits per second one room makes, after a burst (`ROOM_LOG_COMMIT_RATE`,
   * `ROOM_LOG_COMMIT_BURST`); default: no bound.
   */
  commitRate?: RateOptions;
  /** Timer for waiting for the commit pace, injectable for tests. */
  setTimeout?: (fn: () => void, ms: number) => unknown;
}

/** How one commit changed a room's kept bytes, and how long each state can last at most. */
export interface StoredChange {
  /** The room id. */
  room: string;
  /** Bytes the room kept before the commit (0 for a new or emptied log). */
  beforeBytes: number;
  /** When those bytes expire at the latest, ms since the epoch (0 when there were none). */
  beforeUntil: number;
  /** Bytes the room keeps after the commit. */
  afterBytes: number;
  /** When they expire at the latest: the commit's time plus the retention window. */
  afterUntil: number;
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
/** Entries probed per `getMany` while looking for the oldest one still in the window (KV allows 10). */
const PROBES = 8;
/** The epoch of a head written before heads had one. */
const LEGACY_EPOCH = "0";
/** Rooms whose head this instance last committed are remembered, up to this many (least recent go first). */
const HEAD_CACHE_ROOMS = 1024;
/** Rooms whose commit pace is remembered, up to this many (least recent go first: they start full again). */
const PACE_ROOMS = 4096;

interface Head {
  last: number;
  first: number;
  firstAt: number;
  firstStart: number;
  end: number;
  lastAt: number;
  /** The log's incarnation; absent on heads written before epochs existed. */
  epoch?: string;
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

/** The head of a log that has nothing yet. */
function emptyHead(epoch: string): Head {
  return { last: 0, first: 1, firstAt: 0, firstStart: 0, end: 0, lastAt: 0, epoch };
}

/** Opens (or creates) the KV at `path` and a room log that closes it when closed. */
export async function openKvRoomLog(path: string | undefined, options: KvRoomLogOptions): Promise<KvRoomLog> {
  const kv = await retryKvBusy(() => Deno.openKv(path));
  return new KvRoomLog(kv, options, true);
}

/** A room log in Deno KV. */
export class KvRoomLog implements RoomLog {
  #kv: Deno.Kv;
  #ownsKv: boolean;
  #options: Required<Omit<KvRoomLogOptions, "onStored" | "commitRate" | "setTimeout">>;
  #onStored: ((change: StoredChange) => void) | undefined;
  #commitRate: RateOptions | undefined;
  #setTimeout: (fn: () => void, ms: number) => unknown;
  /** Per room with appends lately: its commit tokens and when they were counted. */
  #pace = new Map<string, { tokens: number; at: number }>();
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
      newEpoch: options.newEpoch ?? (() => randomId(LOG_EPOCH_BYTES)),
    };
    this.#onStored = options.onStored;
    this.#commitRate = options.commitRate;
    this.#setTimeout = options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
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

  /** Reads up to `limit` entries (and about `maxBytes` of data) after position `after`, oldest first. */
  readAfter(room: string, after: number, limit: number, maxBytes = Infinity): Promise<ReadResult> {
    this.#checkOpen();
    return retryKvBusy(() => this.#read(room, after, limit, maxBytes));
  }

  /** The log's bounds and epoch: one read (plus a few probes and one write when entries expired). */
  bounds(room: string): Promise<LogBounds> {
    this.#checkOpen();
    return retryKvBusy(() => this.#bounds(room));
  }

  async #bounds(room: string): Promise<LogBounds> {
    const key = this.#headKey(room);
    for (;;) {
      const entry = await this.#kv.get<Head>(key);
      if (entry.value) {
        const first = await this.#prune(room, entry as Deno.KvEntry<Head>);
        return { firstSeq: first, lastSeq: entry.value.last, epoch: entry.value.epoch ?? LEGACY_EPOCH };
      }
      // A log without a head gets one now, so the epoch told to this client is the one its `since` will belong to.
      // Until its first append it lives only as long as an entry would: joins alone cannot keep heads for a month.
      const head = emptyHead(this.#options.newEpoch());
      const commit = await this.#kv.atomic().check({ key, versionstamp: null })
        .set(key, head, { expireIn: this.#options.ttlMs }).commit();
      if (commit.ok) {
        this.#rememberHead(room, { value: head, versionstamp: commit.versionstamp });
        return { firstSeq: head.first, lastSeq: head.last, epoch: head.epoch! };
      }
    }
  }

  async #read(room: string, after: number, limit: number, maxBytes: number): Promise<ReadResult> {
    const headEntry = await this.#kv.get<Head>(this.#headKey(room));
    const head = headEntry.value;
    if (!head) return { entries: [], firstSeq: 1, lastSeq: 0 };
    const first = await this.#prune(room, headEntry as Deno.KvEntry<Head>);
    const wanted = Math.max(after + 1, first);
    const entries: RoomLogEntry[] = [];
    if (limit <= 0 || wanted > head.last) return { entries, firstSeq: first, lastSeq: head.last };
    const cutoff = this.#options.now() - this.#options.ttlMs;
    const iter = this.#kv.list<StoredEntry | string>({
      start: this.#entryKey(room, wanted),
      end: this.#entryKey(room, head.last + 1),
    }, { batchSize: Math.min(LIST_BATCH, limit + 1) });
    let bytes = 0;
    let current: RoomLogEntry | null = null;
    let pieces: string[] = [];
    const finish = () => {
      if (!current) return;
      if (pieces.length) current.data += pieces.join("");
      entries.push(current);
      current = null;
      pieces = [];
    };
    for await (const { key, value } of iter) {
      if (key.length === 5) {
        if (current) pieces.push(value as string);
        continue;
      }
      finish();
      const stored = value as StoredEntry;
      if (stored.at < cutoff) continue; // expired since the head was read: never returned
      if (entries.length >= limit || (entries.length > 0 && bytes + stored.size > maxBytes)) break;
      bytes += stored.size;
      current = { seq: key[3] as number, at: stored.at, data: stored.data };
    }
    finish();
    return { entries, firstSeq: first, lastSeq: head.last };
  }

  /**
   * The oldest position kept, once expired entries are skipped. When the head
   * still points at expired entries, the first fresh one is found by probing
   * and the head is moved past them (a checked write; losing that race to an
   * append is fine, the append moved it too), so the next read is one `get`.
   */
  async #prune(room: string, entry: Deno.KvEntry<Head>): Promise<number> {
    const head = entry.value;
    const cutoff = this.#options.now() - this.#options.ttlMs;
    if (head.last < head.first || head.firstAt >= cutoff) return head.first;
    const fresh = await this.#firstFresh(room, head, cutoff);
    const pruned: Head = fresh
      ? { ...head, first: fresh.seq, firstAt: fresh.at, firstStart: fresh.start }
      : { ...head, first: head.last + 1, firstAt: head.lastAt, firstStart: head.end };
    const key = this.#headKey(room);
    const commit = await this.#kv.atomic().check(entry).set(key, pruned, { expireIn: this.#options.headTtlMs })
      .commit();
    if (commit.ok) this.#rememberHead(room, { value: pruned, versionstamp: commit.versionstamp });
    return pruned.first;
  }

  /**
   * The oldest entry still in the window, or null when every kept one expired.
   * Entries' times grow with their positions, so this is a search: each round
   * probes `PROBES` positions in one `getMany` and narrows the range to one
   * gap between them (2,000 entries take about four round trips). An entry KV
   * already deleted counts as expired.
   */
  async #firstFresh(room: string, head: Head, cutoff: number): Promise<Oldest | null> {
    if (head.last < head.first || head.lastAt < cutoff) return null;
    let lo = head.first;
    let hi = head.last; // the answer lies in [lo, hi]; hi is fresh (its time is head.lastAt)
    let found: Oldest | null = null; // the entry at hi, once read
    for (;;) {
      const top = found ? hi - 1 : hi;
      if (top < lo) return found;
      const probes = spread(lo, top, PROBES);
      const values = await this.#kv.getMany<StoredEntry[]>(probes.map((seq) => this.#entryKey(room, seq)));
      const index = values.findIndex((value) => value.value !== null && value.value.at >= cutoff);
      if (index < 0) {
        if (!found) return null; // only if KV lost entries the head still counts: treat all as gone
        lo = top + 1;
        continue;
      }
      const value = values[index].value!;
      if (index > 0) lo = probes[index - 1] + 1;
      hi = probes[index];
      found = { seq: hi, at: value.at, start: value.start, keys: [] };
    }
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
      // Past the room's commit pace, wait: what comes meanwhile goes in the same commit.
      const wait = this.#commitWait(room);
      if (wait > 0) {
        await new Promise<void>((resolve) => this.#setTimeout(resolve, wait));
        continue;
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
        this.#report(done.change);
        // After the commit, outside its retry: a failure here must not append twice.
        if (done.later.length) await this.#deleteLater(done.later);
        return done.results;
      }
      if (attempt > 3) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, attempt * 2)));
    }
    throw new Error(`room log append to ${room} lost the race ${maxAttempts} times`);
  }

  /** Takes one of the room's commit tokens (0), or says how many ms until it has one. */
  #commitWait(room: string): number {
    const rate = this.#commitRate;
    if (rate === undefined) return 0;
    const now = this.#options.now();
    let pace = this.#pace.get(room);
    if (pace === undefined) {
      pace = { tokens: rate.burst, at: now };
      this.#pace.set(room, pace);
      // Rooms idle long enough to be full again need no state: forget the oldest past a bound.
      if (this.#pace.size > PACE_ROOMS) this.#pace.delete(this.#pace.keys().next().value!);
    }
    pace.tokens = Math.min(rate.burst, pace.tokens + (now - pace.at) * rate.perSecond / 1000);
    pace.at = now;
    if (pace.tokens >= 1) {
      pace.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - pace.tokens) * 1000 / rate.perSecond);
  }

  #report(change: StoredChange): void {
    if (!this.#onStored) return;
    try {
      this.#onStored(change);
    } catch (error) {
      console.error(`room log: the onStored hook failed for room ${change.room}`, error);
    }
  }

  /** One attempt at committing a group: its results and deletes left over, or null when another append won the race. */
  async #tryCommit(
    room: string,
    group: Pending[],
  ): Promise<{ results: AppendResult[]; later: Deno.KvKey[]; change: StoredChange } | null> {
    const { ttlMs, maxEntries, maxBytes, headTtlMs } = this.#options;
    const headKey = this.#headKey(room);
    // Taken out while in use: only a successful commit puts a head back, so any failure re-reads it.
    const known = this.#heads.get(room);
    if (known) this.#heads.delete(room);
    const headEntry = known ?? await this.#kv.get<Head>(headKey);
    const head = headEntry.value ?? emptyHead(this.#options.newEpoch());
    const at = Math.max(this.#options.now(), head.lastAt);
    const cutoff = at - ttlMs;
    // Expired entries are skipped, not walked: KV deletes them by their own expiry.
    let oldest: Oldest | null = head.last < head.first
      ? null
      : head.firstAt >= cutoff
      ? { seq: head.first, at: head.firstAt, start: head.firstStart, keys: [] }
      : await this.#firstFresh(room, head, cutoff);
    const firstKept = oldest ? oldest.seq : head.last + 1;
    // An append drops about as many keys as it adds; then the next entry (about as big) and one key past it.
    let adding = 0;
    for (const pending of group) adding += pending.pieces;
    const pruner = new Pruner(
      this.#kv,
      this.#entryKey(room, firstKept),
      this.#entryKey(room, head.last + 1),
      2 * adding + 1,
    );
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
        if (oldest.seq === firstKept && oldest.keys.length === 0) oldest.keys = await pruner.keysOf(oldest.seq);
        doomed.push(...oldest.keys);
        oldest = await next(oldest);
      }
      while (oldest && (last - oldest.seq + 1 > maxEntries || end - oldest.start > maxBytes)) {
        if (oldest.seq === firstKept && oldest.keys.length === 0) oldest.keys = await pruner.keysOf(oldest.seq);
        doomed.push(...oldest.keys);
        dropped++;
        oldest = await next(oldest);
      }
      results.push({ seq, at, dropped });
    }
    const epoch = head.epoch ?? LEGACY_EPOCH;
    const newHead: Head = oldest
      ? { last, first: oldest.seq, firstAt: oldest.at, firstStart: oldest.start, end, lastAt: at, epoch }
      : { last, first: last + 1, firstAt: at, firstStart: end, end, lastAt: at, epoch };
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
    const kept = head.last >= head.first;
    const change: StoredChange = {
      room,
      beforeBytes: kept ? head.end - head.firstStart : 0,
      beforeUntil: kept ? head.lastAt + ttlMs : 0,
      afterBytes: newHead.end - newHead.firstStart,
      afterUntil: at + ttlMs,
    };
    return { results, later: doomed.slice(inline), change };
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

/** Up to `count` positions spread evenly over [lo, hi], ascending, the last being `hi`. */
function spread(lo: number, hi: number, count: number): number[] {
  const span = hi - lo + 1;
  if (span <= count) return Array.from({ length: span }, (_, i) => lo + i);
  return Array.from({ length: count }, (_, i) => lo + Math.floor(((i + 1) * span) / count) - 1);
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

/**
 * Walks a room's stored entries in order while an append prunes the oldest.
 * Entries are listed with their values (a value is up to 64 KiB), so it lists
 * only about what the append drops, in chunks that double from `firstChunk`:
 * an append to a full log of big frames reads one or two entries, not a batch
 * of 128 (5.8 MB at 45 KB each, on every commit).
 */
class Pruner {
  #kv: Deno.Kv;
  #start: Deno.KvKey;
  #end: Deno.KvKey;
  /** Keys the next list round trip asks for. */
  #chunk: number;
  /** The keys of the last round trip, and how many of them were taken. */
  #listed: Deno.KvEntry<StoredEntry | string>[] = [];
  #taken = 0;
  /** Where the next round trip starts (the cursor after the last key listed). */
  #cursor: string | undefined = undefined;
  /** The range has no more keys to list. */
  #exhausted = false;
  /** A main entry read ahead while collecting the previous entry's pieces. */
  #ahead: { seq: number; value: StoredEntry; keys: Deno.KvKey[] } | null = null;
  #done = false;

  /** Walks [start, end); `firstChunk`: about how many keys the append will drop (at least 2 are listed). */
  constructor(kv: Deno.Kv, start: Deno.KvKey, end: Deno.KvKey, firstChunk = 2) {
    this.#kv = kv;
    this.#start = start;
    this.#end = end;
    this.#chunk = Math.max(2, Math.min(LIST_BATCH, firstChunk));
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

  /** The next key of the range with its value, or null at its end. */
  async #next(): Promise<Deno.KvEntry<StoredEntry | string> | null> {
    if (this.#taken < this.#listed.length) return this.#listed[this.#taken++];
    if (this.#exhausted) return null;
    const limit = this.#chunk;
    this.#chunk = Math.min(LIST_BATCH, limit * 2);
    const iter = this.#kv.list<StoredEntry | string>(
      { start: this.#start, end: this.#end },
      { limit, batchSize: limit, cursor: this.#cursor },
    );
    const listed: Deno.KvEntry<StoredEntry | string>[] = [];
    for await (const entry of iter) listed.push(entry);
    if (listed.length < limit) this.#exhausted = true;
    else this.#cursor = iter.cursor;
    this.#listed = listed;
    this.#taken = 0;
    return listed.length > 0 ? listed[this.#taken++] : null;
  }

  async #read(): Promise<{ seq: number; value: StoredEntry; keys: Deno.KvKey[] } | null> {
    if (this.#ahead) {
      const ahead = this.#ahead;
      this.#ahead = null;
      return ahead;
    }
    if (this.#done) return null;
    let entry: { seq: number; value: StoredEntry; keys: Deno.KvKey[] } | null = this.#pendingMain;
    this.#pendingMain = null;
    for (;;) {
      const step = await this.#next();
      if (step === null) {
        this.#done = true;
        return entry;
      }
      const { key, value } = step;
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
