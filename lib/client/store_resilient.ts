/**
 * The {@link Store} a page uses: IndexedDB when it works, memory when it does
 * not, and never a broken room in between.
 *
 * Each room it touches is copied into memory once (a `MemoryStore`), and every
 * read is served from that copy, so reads stay consistent whatever the
 * database does. Every write goes to the copy first, then to IndexedDB; the
 * write resolves after IndexedDB committed it. When IndexedDB fails (quota
 * exceeded, disk full, private mode, a connection the browser closed, another
 * tab upgrading the schema) the write still resolves, the store switches to
 * memory, remembers which keys only memory holds, and reopens the database
 * with backoff. A reopen first writes back those keys (one transaction per
 * room), and only then is the store durable again.
 *
 * The promise `durable()` keeps: when it returns true, every write resolved so
 * far is in IndexedDB. A write resolves in durable mode only after its commit,
 * a failing write switches the mode before it resolves, and the switch back
 * waits for the write-back.
 *
 * Another tab's writes to the same room are not seen by this tab's copy until
 * the next open; the write-back merges (a status never goes backwards), so it
 * never undoes what another tab wrote to other keys.
 * @module
 */
import { type ReadonlySignal, signal } from "@preact/signals-core";
import { Backoff } from "./backoff.ts";
import {
  IDB_NAME,
  type ListOptions,
  type MessageStatus,
  type OutboxEntry,
  type RoomState,
  STORAGE_RETRY_BASE_MS,
  STORAGE_RETRY_CAP_MS,
  type Store,
  type StoredMessage,
} from "./store.ts";
import type { IdbLoss, RoomChanges } from "./store_idb.ts";
import { MemoryStore } from "./store_memory.ts";
import type { Dirty, RecoveryHost, RoomSnapshot } from "./store_recovery.ts";
import { GLOBAL_TIMERS, type Timers, TimerSet } from "./timer_set.ts";

export { STORAGE_RETRY_BASE_MS, STORAGE_RETRY_CAP_MS } from "./store.ts";

/**
 * Where writes go now: IndexedDB ("durable"); memory only, because storage failed ("memory"); or memory until the
 * first open ends ("opening": a room's first visit opens the database once the room has settled, see
 * {@link OpenResilientOptions.deferred}; what was written meanwhile is then written back).
 */
export type StorageMode = "opening" | "durable" | "memory";

/**
 * Why writes live in memory only:
 * - `unavailable`: this browser has no IndexedDB (never retried);
 * - `blocked`: storage is forbidden here (SecurityError: settings, some private modes);
 * - `quota`: QuotaExceededError (origin quota or a full disk);
 * - `closed`: the browser closed the connection (close event, InvalidStateError);
 * - `version`: another tab needs a newer schema (versionchange, VersionError);
 * - `aborted`: a transaction was aborted (AbortError);
 * - `unknown`: the browser's backing store failed (UnknownError, e.g. an I/O error);
 * - `stalled`: IndexedDB did not answer within `stallMs` (a hung browser database; the call goes on in memory);
 * - `other`: any other error, kept in `detail`.
 */
export type StorageFailure =
  | "unavailable"
  | "blocked"
  | "quota"
  | "closed"
  | "version"
  | "aborted"
  | "unknown"
  | "stalled"
  | "other";

/** The store's state, for the UI's notice and for diagnostics. */
export interface StorageState {
  /** Where writes go now. */
  mode: StorageMode;
  /** Why writes live in memory; absent while durable (and before the first open attempt). */
  reason?: StorageFailure;
  /** The error's name and message, for diagnostics; absent while durable. */
  detail?: string;
}

/** A persistent store the resilient one can write back into (`IdbStore` is one). */
export interface PersistentStore extends Store {
  /** Writes back what a room's in-memory copy holds, all or nothing. */
  writeBack(room: string, changes: RoomChanges): Promise<void>;
}

/** How long an IndexedDB call may stay unanswered before it counts as failed, ms (a hung database never blocks the room). */
export const STORAGE_STALL_MS = 8_000;

/** Options of a {@link ResilientStore}. */
export interface ResilientStoreOptions {
  /**
   * Opens the persistent store; rejects when storage cannot open. `onLost` must be called when the connection
   * goes away later by itself. Default: IndexedDB `parley` through {@link openIdbStore}.
   */
  open?(onLost: (reason: IdbLoss) => void): Promise<PersistentStore>;
  /** Timers for the reopen backoff; the global ones by default. */
  timers?: Timers;
  /** Random source for the backoff's jitter. */
  random?: () => number;
  /** Clock for the backoff. */
  now?: () => number;
  /** First wait before a reopen, ms (default {@link STORAGE_RETRY_BASE_MS}). */
  retryBaseMs?: number;
  /** Longest wait between reopens, ms (default {@link STORAGE_RETRY_CAP_MS}). */
  retryCapMs?: number;
  /** How long a database call may stay unanswered before it counts as failed, ms (default {@link STORAGE_STALL_MS}). */
  stallMs?: number;
  /** Told of every storage failure, with the error, for the event log; failures never reject a call. */
  onFailure?(reason: StorageFailure, error: unknown): void;
}

/** Thrown by the default opener when the browser has no IndexedDB at all: nothing to wait for. */
export class StorageUnavailableError extends Error {
  /** Names the error the way DOMExceptions are named, so {@link classifyStorageError} matches on it. */
  override name = "StorageUnavailableError";

  /** Says that this browser has no IndexedDB. */
  constructor() {
    super("IndexedDB is not available in this browser");
  }
}

/** The storage failure an error stands for. */
export function classifyStorageError(error: unknown): StorageFailure {
  const name = (error as { name?: unknown } | null)?.name;
  switch (name) {
    case "StorageUnavailableError":
      return "unavailable";
    case "QuotaExceededError":
      return "quota";
    case "InvalidStateError":
      return "closed";
    case "VersionError":
      return "version";
    case "AbortError":
      return "aborted";
    case "UnknownError":
      return "unknown";
    case "TimeoutError":
      return "stalled";
    case "SecurityError":
      return "blocked";
    default:
      return "other";
  }
}

function describe(error: unknown): string {
  if (error instanceof Error || (error && typeof error === "object" && "name" in error)) {
    const { name, message } = error as { name?: unknown; message?: unknown };
    return `${String(name)}: ${String(message ?? "")}`;
  }
  return String(error);
}

/** The error standing for a connection that went away by itself. */
function lostError(reason: IdbLoss): DOMException {
  return reason === "version"
    ? new DOMException("another tab opened a newer version of the database", "VersionError")
    : new DOMException("the browser closed the database connection", "InvalidStateError");
}

function emptyDirty(): Dirty {
  return { cleared: false, all: false, messages: new Set(), outbox: new Set(), state: new Set() };
}

/** A {@link Store} that goes on in memory when IndexedDB fails, and writes back when it returns. */
export class ResilientStore implements Store {
  #open: (onLost: (reason: IdbLoss) => void) => Promise<PersistentStore>;
  #onFailure: (reason: StorageFailure, error: unknown) => void;
  #copy = new MemoryStore({ durable: false });
  /** Rooms whose copy is loaded (or loading); a room's operations wait for its load. */
  #loads = new Map<string, Promise<void>>();
  /** Rooms whose copy started from the database's content (the others started empty, storage being away). */
  #based = new Set<string>();
  #dirty = new Map<string, Dirty>();
  #persistent: PersistentStore | undefined;
  #inflight = new Set<Promise<unknown>>();
  #state = signal<StorageState>({ mode: "opening" });
  #backoff: Backoff;
  #timers: TimerSet<"reopen">;
  #clock: Timers;
  #stallMs: number;
  #recovery: Promise<void> | undefined;
  #closed = false;

  /**
   * Starts in memory ("opening"); call {@link ResilientStore.start} (or use {@link openResilientStore}) to open the
   * database.
   */
  constructor(options: ResilientStoreOptions = {}) {
    this.#open = options.open ?? ((onLost) => openIdb(IDB_NAME, onLost));
    this.#onFailure = options.onFailure ?? (() => {});
    this.#clock = options.timers ?? GLOBAL_TIMERS;
    this.#timers = new TimerSet(this.#clock);
    this.#stallMs = options.stallMs ?? STORAGE_STALL_MS;
    this.#backoff = new Backoff({
      baseMs: options.retryBaseMs ?? STORAGE_RETRY_BASE_MS,
      capMs: options.retryCapMs ?? STORAGE_RETRY_CAP_MS,
      random: options.random,
      now: options.now,
    });
  }

  /** Where writes go now, and why not to IndexedDB; the UI shows a notice while the mode is "memory". */
  get state(): ReadonlySignal<StorageState> {
    return this.#state;
  }

  /** True when every write resolved so far is in persistent storage. */
  durable(): boolean {
    return this.#state.peek().mode === "durable";
  }

  /**
   * Opens the database (first attempt; later calls wait for the one under way, or do nothing once durable);
   * resolves either way, in memory mode when it could not, after writing back what was written before.
   */
  start(): Promise<void> {
    return this.retryNow();
  }

  /** Reopens now instead of waiting for the backoff (e.g. the page became visible again); no-op while durable. */
  retryNow(): Promise<void> {
    if (this.#closed || this.durable()) return Promise.resolve();
    this.#timers.clear("reopen");
    return this.#attempt();
  }

  /** Resolves once no reopen and no database write is under way: lets tests wait for the real IndexedDB. */
  async settled(): Promise<void> {
    while (this.#recovery || this.#inflight.size > 0) {
      await (this.#recovery ?? Promise.allSettled([...this.#inflight]));
    }
  }

  /**
   * The room's state as the database holds it now, not as this tab's copy does (the copy was read once: another tab
   * may have written since); undefined while the database is not open, or when the read fails.
   */
  async storedState(room: string): Promise<RoomState | undefined> {
    const db = this.#persistent;
    if (!db || this.#closed) return undefined;
    try {
      return await this.#track(this.#watch(db.getState(room)));
    } catch (error) {
      this.#fail(db, error);
      return undefined;
    }
  }

  /** Inserts or replaces a message by id; status never goes backwards. */
  putMessage(room: string, message: StoredMessage): Promise<void> {
    return this.#write(
      room,
      (copy) => copy.putMessage(room, message),
      (db) => db.putMessage(room, message),
      (dirty) => dirty.messages.add(message.id),
    );
  }

  /** Stores an own message and its outbox entry together. */
  putOwn(room: string, message: StoredMessage, entry: OutboxEntry): Promise<void> {
    return this.#write(
      room,
      (copy) => copy.putOwn(room, message, entry),
      (db) => db.putOwn(room, message, entry),
      (dirty) => {
        dirty.messages.add(message.id);
        dirty.outbox.add(entry.id);
      },
    );
  }

  /** One message by id, or undefined. */
  getMessage(room: string, id: string): Promise<StoredMessage | undefined> {
    return this.#read(room, () => this.#copy.getMessage(room, id));
  }

  /** History sorted by order key; the newest `limit` when given. */
  listMessages(room: string, options?: ListOptions): Promise<StoredMessage[]> {
    return this.#read(room, () => this.#copy.listMessages(room, options));
  }

  /** Raises a message's status; false when the id is unknown. */
  setStatus(room: string, id: string, status: MessageStatus, seq?: number): Promise<boolean> {
    return this.#write(
      room,
      (copy) => copy.setStatus(room, id, status, seq),
      (db) => db.setStatus(room, id, status, seq),
      (dirty) => dirty.messages.add(id),
    );
  }

  /** Inserts or replaces an outbox entry by id. */
  putOutbox(room: string, entry: OutboxEntry): Promise<void> {
    return this.#write(
      room,
      (copy) => copy.putOutbox(room, entry),
      (db) => db.putOutbox(room, entry),
      (dirty) => dirty.outbox.add(entry.id),
    );
  }

  /** Outbox sorted by order key. */
  listOutbox(room: string): Promise<OutboxEntry[]> {
    return this.#read(room, () => this.#copy.listOutbox(room));
  }

  /** Removes an outbox entry; a missing id is a no-op. */
  deleteOutbox(room: string, id: string): Promise<void> {
    return this.#write(
      room,
      (copy) => copy.deleteOutbox(room, id),
      (db) => db.deleteOutbox(room, id),
      (dirty) => dirty.outbox.add(id),
    );
  }

  /** The room's small state. */
  getState(room: string): Promise<RoomState> {
    return this.#read(room, () => this.#copy.getState(room));
  }

  /** Merges fields into the room's state. */
  patchState(room: string, patch: Partial<RoomState>): Promise<RoomState> {
    return this.#write(
      room,
      (copy) => copy.patchState(room, patch),
      (db) => db.patchState(room, patch),
      (dirty) => {
        for (const field of Object.keys(patch) as (keyof RoomState)[]) dirty.state.add(field);
      },
    );
  }

  /** Forgets everything about a room. */
  clearRoom(room: string): Promise<void> {
    return this.#write(
      room,
      (copy) => copy.clearRoom(room),
      (db) => db.clearRoom(room),
      (dirty) => {
        Object.assign(dirty, emptyDirty());
        dirty.cleared = true;
      },
    );
  }

  /** Stops reopening and closes the database; later calls reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timers.clearAll();
    this.#copy.close();
    const persistent = this.#persistent;
    this.#persistent = undefined;
    if (persistent) void Promise.allSettled([...this.#inflight]).then(() => persistent.close());
  }

  async #read<T>(room: string, read: () => Promise<T>): Promise<T> {
    await this.#load(room);
    return await read();
  }

  /**
   * Applies a write to the copy and, in the same synchronous step, to the database, so both see writes in the
   * same order. A database failure marks the keys dirty and switches to memory; the call still resolves.
   */
  async #write<T>(
    room: string,
    apply: (copy: MemoryStore) => Promise<T>,
    persist: (db: PersistentStore) => Promise<unknown>,
    mark: (dirty: Dirty) => void,
  ): Promise<T> {
    await this.#load(room);
    const applied = apply(this.#copy);
    const db = this.#persistent;
    if (!db) {
      mark(this.#dirtyOf(room));
      return await applied;
    }
    let written: Promise<unknown>;
    try {
      written = this.#track(this.#watch(persist(db)));
    } catch (error) {
      written = Promise.reject(error);
    }
    const result = await applied;
    try {
      await written;
    } catch (error) {
      mark(this.#dirtyOf(room));
      this.#fail(db, error);
    }
    return result;
  }

  /**
   * `operation`, or a TimeoutError once it has stayed unanswered for `stallMs`; a value that arrives after that is
   * handed to `late` (e.g. to close a connection nobody uses).
   */
  #watch<T>(operation: Promise<T>, late?: (value: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timedOut = false;
      const timer = this.#clock.setTimeout(() => {
        timedOut = true;
        reject(new DOMException(`IndexedDB did not answer within ${this.#stallMs} ms`, "TimeoutError"));
      }, this.#stallMs);
      operation.then(
        (value) => {
          this.#clock.clearTimeout(timer);
          if (timedOut) late?.(value);
          else resolve(value);
        },
        (error) => {
          this.#clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #track<T>(operation: Promise<T>): Promise<T> {
    this.#inflight.add(operation);
    const forget = () => this.#inflight.delete(operation);
    operation.then(forget, forget);
    return operation;
  }

  #dirtyOf(room: string): Dirty {
    let dirty = this.#dirty.get(room);
    if (!dirty) {
      dirty = emptyDirty();
      this.#dirty.set(room, dirty);
    }
    return dirty;
  }

  /** Loads a room's copy once: from the database when there is one, else empty (and rebased on reopen). */
  #load(room: string): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("ResilientStore is closed"));
    let load = this.#loads.get(room);
    if (!load) {
      load = this.#loadFrom(room, this.#persistent);
      this.#loads.set(room, load);
    }
    return load;
  }

  async #loadFrom(room: string, db: PersistentStore | undefined): Promise<void> {
    if (!db) return;
    let snapshot;
    try {
      snapshot = await this.#track(this.#watch(this.#snapshot(db, room)));
    } catch (error) {
      this.#fail(db, error);
      return;
    }
    // A room's copy loads before any of its operations run: it is empty, and takes the database's content as it is.
    for (const message of snapshot.messages) void this.#copy.putMessage(room, message);
    for (const entry of snapshot.outbox) void this.#copy.putOutbox(room, entry);
    void this.#copy.patchState(room, snapshot.state);
    this.#based.add(room);
  }

  async #snapshot(db: PersistentStore, room: string): Promise<RoomSnapshot> {
    const [state, messages, outbox] = await Promise.all([
      db.getState(room),
      db.listMessages(room),
      db.listOutbox(room),
    ]);
    return { state, messages, outbox };
  }

  /** Storage failed under `db`: go on in memory (once per connection) and schedule a reopen. */
  #fail(db: PersistentStore | undefined, error: unknown, reason = classifyStorageError(error)): void {
    this.#onFailure(reason, error);
    if (db !== this.#persistent) return;
    this.#enterMemory(reason, error);
  }

  #enterMemory(reason: StorageFailure, error: unknown): void {
    const db = this.#persistent;
    this.#persistent = undefined;
    if (reason === "closed" || reason === "unknown") {
      // The database may have lost what it held (site data cleared, backing store failed): write it all back.
      for (const room of this.#based) this.#dirtyOf(room).all = true;
    }
    this.#state.value = { mode: "memory", reason, detail: describe(error) };
    if (db) void Promise.allSettled([...this.#inflight]).then(() => db.close());
    this.#schedule(reason);
  }

  #schedule(reason: StorageFailure): void {
    if (this.#closed || reason === "unavailable") return;
    this.#timers.set("reopen", this.#backoff.next(), () => void this.#attempt());
  }

  /** One reopen: open, write back until nothing is dirty, rebase rooms that started empty, then go durable. */
  #attempt(): Promise<void> {
    this.#recovery ??= this.#reopen().finally(() => this.#recovery = undefined);
    return this.#recovery;
  }

  async #reopen(): Promise<void> {
    if (this.#closed || this.#persistent) return;
    let db: PersistentStore | undefined;
    let lost: DOMException | undefined;
    try {
      // Writes still running on the old connection finish (or fail, marking their keys) before the write-back.
      await Promise.allSettled([...this.#inflight]);
      db = await this.#watch(
        this.#open((reason) => {
          const error = lostError(reason);
          if (db && db === this.#persistent) this.#fail(db, error);
          else lost = error;
        }),
        (late) => late.close(),
      );
      const opened = db;
      // Durable from here, in the same step as the check that nothing is left to write back.
      const durable = () => {
        if (lost) throw lost;
        if (this.#closed) return opened.close();
        this.#persistent = opened;
        this.#backoff.reset();
        this.#state.value = { mode: "durable" };
      };
      if (this.#dirty.size === 0 && [...this.#loads.keys()].every((room) => this.#based.has(room))) return durable();
      // Something to write back or take in: that code loads now (a lazy chunk the page prefetches once settled).
      const recovery = await import("./store_recovery.ts").catch((error) => {
        console.warn("Parley: the storage recovery code failed to load; trying again later", error);
      });
      if (recovery) return await recovery.writeBack(this.#host(() => lost), db, durable);
      db.close();
      if (!this.#closed) this.#schedule(this.#state.peek().reason ?? "other");
    } catch (error) {
      db?.close();
      if (this.#closed) return;
      const reason = classifyStorageError(lost ?? error);
      this.#onFailure(reason, lost ?? error);
      this.#state.value = { mode: "memory", reason, detail: describe(lost ?? error) };
      this.#schedule(reason);
    }
  }

  /** What the recovery code reads and changes of this store. */
  #host(lost: () => DOMException | undefined): RecoveryHost {
    return {
      copy: this.#copy,
      dirty: this.#dirty,
      loads: this.#loads,
      based: this.#based,
      watch: (operation) => this.#watch(operation),
      snapshot: (db, room) => this.#snapshot(db, room),
      dirtyOf: (room) => this.#dirtyOf(room),
      lost,
    };
  }
}

/** Options of {@link openResilientStore}. */
export interface OpenResilientOptions extends Omit<ResilientStoreOptions, "open"> {
  /** The IndexedDB database name (default `parley`). */
  name?: string;
  /**
   * Return at once, in "opening" mode, without opening the database: the caller calls `start()` when it can spare
   * the bytes and the time (a first visit, whose IndexedDB code is a lazy chunk and holds nothing yet). Writes until
   * then live in memory and are written back by the open. Default false: resolve once the first open has ended.
   */
  deferred?: boolean;
  /** Told each time the database has opened, before anything is written back into it. */
  onOpened?(): void;
}

/**
 * Opens the page's store: IndexedDB when it opens, memory otherwise (retrying with backoff). Never rejects. The
 * IndexedDB code (`store_idb.ts` and `idb`) is a lazy chunk, loaded by the first open.
 */
export async function openResilientStore(options: OpenResilientOptions = {}): Promise<ResilientStore> {
  const name = options.name ?? IDB_NAME;
  const store = new ResilientStore({
    ...options,
    open: async (onLost) => {
      const db = await openIdb(name, onLost);
      options.onOpened?.();
      return db;
    },
  });
  if (!options.deferred) await store.start();
  return store;
}

/** Opens IndexedDB `name` through the lazily loaded `store_idb.ts`; a browser without IndexedDB is told at once. */
async function openIdb(name: string, onLost: (reason: IdbLoss) => void): Promise<PersistentStore> {
  if (typeof indexedDB === "undefined") throw new StorageUnavailableError();
  const { openIdbStore } = await import("./store_idb.ts");
  return await openIdbStore(name, { onLost });
}
