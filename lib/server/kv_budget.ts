/**
 * The storage budget: what one deployment may keep in Deno KV, globally and
 * per client network (an IPv4 address, or an IPv6 /48: `addressNetwork` in
 * address_group.ts; called "group" below). The hub asks it before a room is registered
 * (`admitRoom`) and before each append (`chargeBytes`); the room log tells it
 * how each commit changed a room's kept bytes (`recordStored`).
 *
 * Limits, each with its refusal:
 * - global rooms and global kept bytes: `storage_full`;
 * - per address group and window: rooms registered and bytes appended:
 *   `budget_exceeded`.
 *
 * Layout (prefix `ns`, default "budget"), every key with an `expireIn`, so the
 * counters themselves stay bounded:
 * - `[ns, "a", group, window]` → `{ rooms, bytes }`: one address group's use in
 *   one window (`window` = floor(time / windowMs)); expires with the window.
 *   Rooms are added compared-and-swapped, so simultaneous registrations from
 *   one group (on any instances) never pass the limit together.
 * - `[ns, "g", bucket, shard]` → `{ rooms, bytes }`: global usage whose
 *   lifetime ends in `bucket` (= floor(expiry / bucketMs)); expires when the
 *   bucket ends. A registered room counts in the bucket of registration +
 *   retention; each log commit moves the room and its kept bytes to the bucket
 *   of its new expiry (last append + retention). Global usage is the sum over
 *   buckets not yet ended: one small list (buckets × shards keys), never a scan
 *   of rooms. It is approximate: at most one bucket late in forgetting what
 *   expired, and blind to a room's entries dropped without an append.
 *
 * Cost: registering a room reads the group's key and writes it once (and
 * re-reads the global sums when older than `syncMs`); an append costs no KV
 * round trip at all: its bytes are checked against this instance's view and
 * written in batches every `flushMs`, each instance writing its own shard.
 * So several instances can overshoot a limit by what they accept within one
 * flush interval.
 * @module
 */
import { jitteredPause } from "./jitter.ts";
import { retryKvBusy } from "./kv_busy.ts";
import type { StoredChange } from "./room_log_kv.ts";

/** Why the budget refused, as the error code sent to the client. */
export type BudgetRefusalCode = "storage_full" | "budget_exceeded";

/** The budget's answer. */
export type BudgetVerdict = { ok: true } | {
  /** Refused. */
  ok: false;
  /** `storage_full` (the deployment's budget) or `budget_exceeded` (this address group's). */
  code: BudgetRefusalCode;
  /** Detail for the `error` frame. */
  message: string;
};

/** What the hub asks of a storage budget. */
export interface StorageBudget {
  /**
   * Whether `room` may be registered by a client of address `group`; counts it
   * when so. Call it once every other check passed, right before the room's
   * first write (its verifier). Asking again for a room admitted in the same
   * window costs nothing and counts nothing.
   */
  admitRoom(room: string, group: string): Promise<BudgetVerdict>;
  /** Whether `bytes` more may be appended for a client of address `group`; counts them when so. No KV round trip. */
  chargeBytes(group: string, bytes: number): BudgetVerdict;
}

const OK: BudgetVerdict = Object.freeze({ ok: true });

/** A budget that admits everything: for tests and in-memory logs. */
export const NO_BUDGET: StorageBudget = Object.freeze({
  admitRoom: () => Promise.resolve(OK),
  chargeBytes: () => OK,
});

/** Options of the KV budget. */
export interface KvBudgetOptions {
  /** First key part, so several services (or tests) can share one KV. */
  namespace?: string;
  /** The most rooms the deployment keeps (`STORAGE_MAX_ROOMS`). */
  maxRooms: number;
  /** The most log bytes the deployment keeps (`STORAGE_MAX_BYTES`). */
  maxBytes: number;
  /** The most rooms one address group may register per window (`BUDGET_ADDR_ROOMS`). */
  addressRooms: number;
  /** The most log bytes one address group may append per window (`BUDGET_ADDR_BYTES`). */
  addressBytes: number;
  /** The per-address window, in ms (`BUDGET_WINDOW`). */
  windowMs: number;
  /** How long a room's data is kept after its last use, in ms (`ROOM_TTL`): how long a registration counts. */
  retentionMs: number;
  /** Width of a global bucket, in ms: how late an expiry may be forgotten (default: retention / 8). */
  bucketMs?: number;
  /** How stale this instance's view of the global sums may be, in ms (default 5 s). */
  syncMs?: number;
  /** How long charged bytes and moved counts wait before they are written, in ms (default 1 s). */
  flushMs?: number;
  /** Global shards: instances spread their writes over them (default 8). */
  shards?: number;
  /** Compare-and-swap attempts before a write gives up (default 16). */
  maxAttempts?: number;
  /** The clock, injectable for tests. */
  now?: () => number;
  /** Random source in [0, 1) for the shard and backoff jitter, injectable for tests. */
  random?: () => number;
  /** Timer functions, injectable for tests (the flush timer and backoff pauses). */
  setTimeout?: (fn: () => void, ms: number) => ReturnType<typeof setTimeout>;
  /** Cancels a timer of `setTimeout`. */
  clearTimeout?: (id: ReturnType<typeof setTimeout>) => void;
}

/** Rooms and bytes. */
export interface Usage {
  /** Rooms counted. */
  rooms: number;
  /** Bytes counted. */
  bytes: number;
}

/** Group views kept in memory at most (flushed ones go first). */
const MAX_GROUPS = 50_000;
/** Rooms remembered as admitted this window, so a repeated hello is not counted twice. */
const MAX_ADMITTED = 10_000;
/** Keys per `getMany` and per compare-and-swap atomic (KV allows 10 per `getMany`). */
const CHUNK = 10;
/** Backoff between compare-and-swap attempts. */
const PAUSE = { firstMs: 2, maxMs: 250 };

/** One count to add in a flush: a group's bytes (with its state) or a global bucket's change. */
interface FlushItem {
  key: Deno.KvKey;
  delta: Usage;
  /** When the key's time is over (its window or bucket ends), ms since the epoch. */
  expiresAt: number;
  state?: GroupState;
  bucket?: number;
}

interface GroupState {
  /** The window this view is of. */
  window: number;
  /** The group's usage in KV, as last read or written. */
  stored: Usage;
  /** Bytes charged on this instance, not yet written. */
  pending: number;
  /** Whether `stored` was read or written at least once. */
  known: boolean;
  /** A read of `stored` in flight. */
  loading: Promise<void> | null;
}

/** A storage budget kept in Deno KV. */
export class KvBudget implements StorageBudget {
  #kv: Deno.Kv;
  #ns: string;
  #o: Required<Omit<KvBudgetOptions, "namespace">>;
  #shard: number;
  /** Global usage by bucket, as last read from KV plus what this instance wrote since. */
  #global = new Map<number, Usage>();
  #globalReadAt = -Infinity;
  #globalLoading: Promise<void> | null = null;
  /** Global changes not yet written, by bucket. */
  #globalPending = new Map<number, Usage>();
  #groups = new Map<string, GroupState>();
  #admitted = new Map<string, number>();
  /** Per address group, the end of its registrations in flight on this instance (they take turns). */
  #registering = new Map<string, Promise<void>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> | null = null;
  /** Timers are the platform's (not injected): the flush timer must not keep the process alive. */
  #realTimers: boolean;
  #closed = false;

  /** Uses `kv`, which the caller owns. */
  constructor(kv: Deno.Kv, options: KvBudgetOptions) {
    this.#kv = kv;
    this.#ns = options.namespace ?? "budget";
    this.#o = {
      maxRooms: options.maxRooms,
      maxBytes: options.maxBytes,
      addressRooms: options.addressRooms,
      addressBytes: options.addressBytes,
      windowMs: Math.max(1, options.windowMs),
      retentionMs: options.retentionMs,
      bucketMs: Math.max(1, options.bucketMs ?? Math.ceil(options.retentionMs / 8)),
      syncMs: options.syncMs ?? 5_000,
      flushMs: options.flushMs ?? 1_000,
      shards: Math.max(1, options.shards ?? 8),
      maxAttempts: options.maxAttempts ?? 16,
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
      setTimeout: options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms)),
      clearTimeout: options.clearTimeout ?? ((id) => clearTimeout(id)),
    };
    this.#realTimers = options.setTimeout === undefined;
    this.#shard = Math.floor(this.#o.random() * this.#o.shards) % this.#o.shards;
  }

  /**
   * Admits (and counts) a new room for `group`, or says which budget is spent. One group's
   * registrations on this instance take turns: racing each other on the group's key would make
   * them lose the compare-and-swap over and over (only other instances' race is left to KV).
   */
  admitRoom(room: string, group: string): Promise<BudgetVerdict> {
    const previous = this.#registering.get(group);
    const run = previous === undefined
      ? this.#admitRoom(room, group)
      : previous.then(() => this.#admitRoom(room, group));
    const turn = run.then(() => {}, () => {});
    this.#registering.set(group, turn);
    turn.then(() => {
      if (this.#registering.get(group) === turn) this.#registering.delete(group);
    });
    return run;
  }

  async #admitRoom(room: string, group: string): Promise<BudgetVerdict> {
    this.#checkOpen();
    const now = this.#o.now();
    const window = Math.floor(now / this.#o.windowMs);
    if (this.#admitted.get(room) === window) return OK;
    if (now - this.#globalReadAt >= this.#o.syncMs) await this.#refreshGlobal();
    const full = this.#globalRefusal(now);
    if (full) return full;
    const key = this.#groupKey(group, window);
    const state = this.#group(group, window);
    for (let attempt = 0; attempt < this.#o.maxAttempts; attempt++) {
      const entry = await retryKvBusy(() => this.#kv.get<Usage>(key));
      state.stored = entry.value ?? { rooms: 0, bytes: 0 };
      state.known = true;
      if (state.stored.rooms >= this.#o.addressRooms) {
        return refusal("budget_exceeded", "this address registered its most rooms for now; retry later");
      }
      if (state.stored.bytes + state.pending >= this.#o.addressBytes) {
        return refusal("budget_exceeded", "this address stored its most bytes for now; retry later");
      }
      // Bytes charged here stay the flush's to write: a flush may be writing them right now.
      const next = { rooms: state.stored.rooms + 1, bytes: state.stored.bytes };
      const commit = await retryKvBusy(() =>
        this.#kv.atomic().check(entry)
          .set(key, next, { expireIn: this.#expireIn((window + 1) * this.#o.windowMs, now) })
          .commit()
      );
      if (commit.ok) {
        state.stored = next;
        this.#addGlobal(this.#bucket(now + this.#o.retentionMs), 1, 0);
        this.#admitted.set(room, window);
        if (this.#admitted.size > MAX_ADMITTED) this.#admitted.delete(this.#admitted.keys().next().value!);
        return OK;
      }
      await this.#pause(attempt);
    }
    throw new Error(`storage budget: registering a room for ${group} lost the race ${this.#o.maxAttempts} times`);
  }

  /** Charges `bytes` to `group` if both budgets allow, from this instance's view (no KV round trip). */
  chargeBytes(group: string, bytes: number): BudgetVerdict {
    this.#checkOpen();
    const now = this.#o.now();
    if (now - this.#globalReadAt >= this.#o.syncMs) this.#refreshGlobalSoon();
    const full = this.#globalRefusal(now);
    if (full) return full;
    const state = this.#group(group, Math.floor(now / this.#o.windowMs));
    if (!state.known && !state.loading) this.#load(group, state);
    if (state.stored.bytes + state.pending + bytes > this.#o.addressBytes) {
      return refusal("budget_exceeded", "this address stored its most bytes for now; retry later");
    }
    state.pending += bytes;
    this.#schedule();
    return OK;
  }

  /** The room log's report of a commit: moves the room and its kept bytes to the bucket of their new expiry. */
  recordStored = (change: StoredChange): void => {
    if (this.#closed) return;
    const now = this.#o.now();
    const wasKept = change.beforeUntil > now;
    if (wasKept) this.#addGlobal(this.#bucket(change.beforeUntil), -1, -change.beforeBytes);
    // A room without live data was counted by its registration (approximately: see the module doc).
    this.#addGlobal(this.#bucket(change.afterUntil), wasKept ? 1 : 0, change.afterBytes);
  };

  /** The deployment's usage as this instance sees it, re-read from KV first. */
  async usage(): Promise<Usage> {
    await this.#refreshGlobal();
    return this.#globalUsage(this.#o.now());
  }

  /** Writes every pending count now (also done on a timer, every `flushMs`). */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      this.#o.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const previous = (this.#flushing ?? Promise.resolve()).catch(() => {});
    const run: Promise<void> = previous.then(() => this.#flushNow()).finally(() => {
      if (this.#flushing === run) this.#flushing = null;
    });
    this.#flushing = run;
    return run;
  }

  /** Writes what is pending and stops; the budget refuses calls afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      if (this.#timer !== undefined) this.#o.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  async #flushNow(): Promise<void> {
    const now = this.#o.now();
    const window = Math.floor(now / this.#o.windowMs);
    const items: FlushItem[] = [];
    for (const [group, state] of this.#groups) {
      if (state.pending > 0) {
        items.push({
          key: this.#groupKey(group, state.window),
          delta: { rooms: 0, bytes: state.pending },
          expiresAt: (state.window + 1) * this.#o.windowMs,
          state,
        });
      } else if (state.window !== window) {
        this.#groups.delete(group);
      }
    }
    for (const [bucket, delta] of this.#globalPending) {
      items.push({
        key: [this.#ns, "g", bucket, this.#shard],
        delta,
        expiresAt: (bucket + 1) * this.#o.bucketMs,
        bucket,
      });
    }
    this.#globalPending = new Map();
    const { written, error } = await this.#addAll(items, now);
    for (let i = 0; i < items.length; i++) {
      const { state, bucket, delta } = items[i];
      const value = written[i];
      if (state) {
        // Written, or its window is over: either way these bytes are done with.
        if (value !== undefined) state.pending -= delta.bytes;
        if (value) {
          state.stored = value;
          state.known = true;
        }
      } else if (bucket !== undefined) {
        if (value) mergeInto(this.#global, bucket, delta.rooms, delta.bytes);
        else if (value === undefined) mergeInto(this.#globalPending, bucket, delta.rooms, delta.bytes);
      }
    }
    if (error) {
      this.#schedule();
      throw error;
    }
  }

  /**
   * Adds each delta to the usage at its key, compared-and-swapped, ten keys per
   * round trip. Per item: the value written, null when its time was over (not
   * written, nothing to keep), undefined when its chunk failed (keep it).
   */
  async #addAll(items: FlushItem[], now: number): Promise<{ written: (Usage | null | undefined)[]; error?: unknown }> {
    const written: (Usage | null | undefined)[] = items.map((item) => item.expiresAt > now ? undefined : null);
    const live = items.map((_, i) => i).filter((i) => written[i] === undefined);
    for (let start = 0; start < live.length; start += CHUNK) {
      const chunk = live.slice(start, start + CHUNK);
      try {
        for (let attempt = 0;; attempt++) {
          const entries = await retryKvBusy(() => this.#kv.getMany<Usage[]>(chunk.map((i) => items[i].key)));
          const atomic = this.#kv.atomic();
          const values = chunk.map((i, j) => {
            const old = entries[j].value ?? { rooms: 0, bytes: 0 };
            const { delta, key, expiresAt } = items[i];
            const value = { rooms: old.rooms + delta.rooms, bytes: old.bytes + delta.bytes };
            atomic.check(entries[j]).set(key, value, { expireIn: this.#expireIn(expiresAt, now) });
            return value;
          });
          if ((await retryKvBusy(() => atomic.commit())).ok) {
            chunk.forEach((i, j) => written[i] = values[j]);
            break;
          }
          if (attempt + 1 >= this.#o.maxAttempts) {
            throw new Error(`storage budget: a flush lost the race ${this.#o.maxAttempts} times`);
          }
          await this.#pause(attempt);
        }
      } catch (error) {
        return { written, error };
      }
    }
    return { written };
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = this.#o.setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch((error) => console.error("storage budget: flushing counts failed; retrying", error));
    }, this.#o.flushMs);
    if (this.#realTimers && typeof this.#timer === "number") Deno.unrefTimer(this.#timer);
  }

  #refreshGlobal(): Promise<void> {
    this.#globalLoading ??= (async () => {
      try {
        const now = this.#o.now();
        const current = this.#bucket(now);
        const sums = new Map<number, Usage>();
        for await (const entry of this.#kv.list<Usage>({ prefix: [this.#ns, "g"] }, { batchSize: 500 })) {
          const bucket = entry.key[2] as number;
          if (bucket >= current) mergeInto(sums, bucket, entry.value.rooms, entry.value.bytes);
        }
        this.#global = sums;
        this.#globalReadAt = now;
      } finally {
        this.#globalLoading = null;
      }
    })();
    return this.#globalLoading;
  }

  #refreshGlobalSoon(): void {
    if (this.#globalLoading) return;
    this.#refreshGlobal().catch((error) => console.error("storage budget: reading the global usage failed", error));
  }

  #load(group: string, state: GroupState): void {
    state.loading = (async () => {
      try {
        const entry = await this.#kv.get<Usage>(this.#groupKey(group, state.window));
        if (!state.known) {
          state.stored = entry.value ?? { rooms: 0, bytes: 0 };
          state.known = true;
        }
      } catch (error) {
        console.error(`storage budget: reading the usage of ${group} failed`, error);
      } finally {
        state.loading = null;
      }
    })();
  }

  /** Usage of buckets not yet ended: what KV said plus what waits to be written. */
  #globalUsage(now: number): Usage {
    const current = this.#bucket(now);
    const total = { rooms: 0, bytes: 0 };
    for (const map of [this.#global, this.#globalPending]) {
      for (const [bucket, usage] of map) {
        if (bucket < current) continue;
        total.rooms += usage.rooms;
        total.bytes += usage.bytes;
      }
    }
    return total;
  }

  #globalRefusal(now: number): BudgetVerdict | null {
    const usage = this.#globalUsage(now);
    if (usage.rooms >= this.#o.maxRooms) return refusal("storage_full", "the server's room storage is full");
    if (usage.bytes >= this.#o.maxBytes) return refusal("storage_full", "the server's message storage is full");
    return null;
  }

  #addGlobal(bucket: number, rooms: number, bytes: number): void {
    if (rooms === 0 && bytes === 0) return;
    mergeInto(this.#globalPending, bucket, rooms, bytes);
    this.#schedule();
  }

  #group(group: string, window: number): GroupState {
    let state = this.#groups.get(group);
    if (!state || state.window !== window) {
      // A new window starts from nothing: bytes of the last one not yet written no longer matter.
      state = { window, stored: { rooms: 0, bytes: 0 }, pending: 0, known: false, loading: null };
      this.#groups.delete(group);
      this.#groups.set(group, state);
      if (this.#groups.size > MAX_GROUPS) this.#evict();
    }
    return state;
  }

  /** Forgets the oldest group views that have nothing pending. */
  #evict(): void {
    for (const [group, state] of this.#groups) {
      if (this.#groups.size <= MAX_GROUPS * 0.9) return;
      if (state.pending === 0 && !state.loading) this.#groups.delete(group);
    }
  }

  #bucket(time: number): number {
    return Math.floor(time / this.#o.bucketMs);
  }

  #groupKey(group: string, window: number): Deno.KvKey {
    return [this.#ns, "a", group, window];
  }

  #expireIn(at: number, now: number): number {
    return Math.max(1_000, at - now);
  }

  /** Waits before the next compare-and-swap attempt: exponential, with jitter so racing instances spread out. */
  #pause(attempt: number): Promise<void> {
    const ms = jitteredPause(attempt, PAUSE, this.#o.random);
    return new Promise((resolve) => this.#o.setTimeout(resolve, ms));
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("storage budget is closed");
  }
}

function refusal(code: BudgetRefusalCode, message: string): BudgetVerdict {
  return { ok: false, code, message };
}

function mergeInto(map: Map<number, Usage>, bucket: number, rooms: number, bytes: number): void {
  const usage = map.get(bucket);
  if (usage) {
    usage.rooms += rooms;
    usage.bytes += bytes;
  } else {
    map.set(bucket, { rooms, bytes });
  }
}
