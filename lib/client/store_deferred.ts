/**
 * A first visit's store: memory until `start()`, then the resilient store
 * (IndexedDB, memory when it fails), whose code is a lazy chunk like the
 * IndexedDB code it loads. A first visit has nothing stored to read, so the
 * bytes and the time before "Connected" go to joining (issue 11: the room
 * page's first visit); the room calls `start()` once it has settled, or at
 * its first send.
 *
 * Writes made before the resilient store arrives go to a memory store at once
 * and are kept in order. When it arrives they are replayed into it in one
 * synchronous step, before any later call reaches it, so it holds them in the
 * same order as if they had been made on it; its first open then writes them
 * back, as any write made while storage was away. Reads before that are
 * served by the memory store, which holds the same writes.
 * @module
 */
import { computed, type ReadonlySignal, signal } from "@preact/signals-core";
import { Backoff } from "./backoff.ts";
import {
  type ListOptions,
  type MessageStatus,
  type OutboxEntry,
  type RoomState,
  STORAGE_RETRY_BASE_MS,
  STORAGE_RETRY_CAP_MS,
  type Store,
  type StoredMessage,
} from "./store.ts";
import { MemoryStore } from "./store_memory.ts";
import type { StorageState } from "./store_resilient.ts";
import { GLOBAL_TIMERS, type Timers, TimerSet } from "./timer_set.ts";

/** A store whose storage can fail and come back: what the page's room writes to (`ResilientStore` is one). */
export interface PageStore extends Store {
  /** Where writes go now, and why not to IndexedDB; the UI shows a notice while the mode is "memory". */
  readonly state: ReadonlySignal<StorageState>;
  /** Opens persistent storage (once; later calls wait for the attempt under way); resolves whether it opened or not. */
  start(): Promise<void>;
  /** The room's state as persistent storage holds it now (another tab may have written it); undefined if not open. */
  storedState(room: string): Promise<RoomState | undefined>;
}

/** Options of a {@link DeferredStore}. */
export interface DeferredStoreOptions {
  /** Loads the resilient store's code and makes the store, deferred (it opens nothing before its `start()`). */
  load(): Promise<PageStore>;
  /** Told when the code could not be loaded (the page stays in memory and tries again). */
  onFailure?(error: unknown): void;
  /** Timers for the retry after a failed load; the global ones by default. */
  timers?: Timers;
  /** Random source for the retry's jitter. */
  random?: () => number;
}

/**
 * Memory until {@link DeferredStore.start}, then the store `load` makes, with every write made before replayed
 * into it. A failed load leaves it in memory ("memory" mode, reason `other`: the UI says history is not kept) and is
 * retried with the store's reopen backoff (1 s doubling to 30 s, {@link STORAGE_RETRY_BASE_MS}) and at each
 * `start()`.
 */
export class DeferredStore implements PageStore {
  #options: DeferredStoreOptions;
  #memory = new MemoryStore({ durable: false });
  /** The writes made on the memory store, in order, to replay into the loaded store. */
  #writes: ((store: Store) => Promise<unknown>)[] = [];
  #target: PageStore | undefined;
  #loading: Promise<void> | undefined;
  #closed = false;
  #shown = signal<ReadonlySignal<StorageState>>(signal({ mode: "opening" }));
  #backoff: Backoff;
  #timers: TimerSet<"retry">;

  /** Starts in memory, in "opening" mode; nothing loads before {@link DeferredStore.start}. */
  constructor(options: DeferredStoreOptions) {
    this.#options = options;
    this.#timers = new TimerSet(options.timers ?? GLOBAL_TIMERS);
    this.#backoff = new Backoff({ baseMs: STORAGE_RETRY_BASE_MS, capMs: STORAGE_RETRY_CAP_MS, random: options.random });
  }

  /** Where writes go now: the loaded store's state once it is there, "opening" before (or "memory" if it failed). */
  readonly state: ReadonlySignal<StorageState> = computed(() => this.#shown.value.value);

  /** True when every write resolved so far is in persistent storage. */
  durable(): boolean {
    return this.#target?.durable() ?? false;
  }

  /** Loads the resilient store (once), hands it the writes so far, and starts it; resolves either way. */
  start(): Promise<void> {
    if (this.#target) return this.#target.start();
    this.#timers.clear("retry");
    this.#loading ??= this.#load().finally(() => this.#loading = undefined);
    return this.#loading;
  }

  async #load(): Promise<void> {
    let target: PageStore;
    try {
      target = await this.#options.load();
    } catch (error) {
      if (this.#closed) return;
      this.#options.onFailure?.(error);
      this.#shown.value = signal({ mode: "memory", reason: "other", detail: String(error) });
      this.#timers.set("retry", this.#backoff.next(), () => void this.start());
      return;
    }
    if (this.#closed) return target.close();
    // One synchronous step: the replay queues on the new store before any later call can.
    for (const write of this.#writes) write(target).catch(() => {});
    this.#writes = [];
    this.#target = target;
    this.#shown.value = target.state;
    this.#memory.close();
    await target.start();
  }

  #read<T>(read: (store: Store) => Promise<T>): Promise<T> {
    return read(this.#target ?? this.#memory);
  }

  #write<T>(write: (store: Store) => Promise<T>): Promise<T> {
    if (this.#target) return write(this.#target);
    this.#writes.push(write);
    return write(this.#memory);
  }

  /** Inserts or replaces a message by id; status never goes backwards. */
  putMessage(room: string, message: StoredMessage): Promise<void> {
    return this.#write((store) => store.putMessage(room, message));
  }

  /** Stores an own message and its outbox entry together. */
  putOwn(room: string, message: StoredMessage, entry: OutboxEntry): Promise<void> {
    return this.#write((store) => store.putOwn(room, message, entry));
  }

  /** One message by id, or undefined. */
  getMessage(room: string, id: string): Promise<StoredMessage | undefined> {
    return this.#read((store) => store.getMessage(room, id));
  }

  /** History sorted by order key; the newest `limit` when given. */
  listMessages(room: string, options?: ListOptions): Promise<StoredMessage[]> {
    return this.#read((store) => store.listMessages(room, options));
  }

  /** Raises a message's status; false when the id is unknown. */
  setStatus(room: string, id: string, status: MessageStatus, seq?: number): Promise<boolean> {
    return this.#write((store) => store.setStatus(room, id, status, seq));
  }

  /** Inserts or replaces an outbox entry by id. */
  putOutbox(room: string, entry: OutboxEntry): Promise<void> {
    return this.#write((store) => store.putOutbox(room, entry));
  }

  /** Outbox sorted by order key. */
  listOutbox(room: string): Promise<OutboxEntry[]> {
    return this.#read((store) => store.listOutbox(room));
  }

  /** Removes an outbox entry; a missing id is a no-op. */
  deleteOutbox(room: string, id: string): Promise<void> {
    return this.#write((store) => store.deleteOutbox(room, id));
  }

  /** The room's small state. */
  getState(room: string): Promise<RoomState> {
    return this.#read((store) => store.getState(room));
  }

  /** The room's state as persistent storage holds it now; undefined before the loaded store has opened it. */
  storedState(room: string): Promise<RoomState | undefined> {
    return this.#target?.storedState(room) ?? Promise.resolve(undefined);
  }

  /** Merges fields into the room's state. */
  patchState(room: string, patch: Partial<RoomState>): Promise<RoomState> {
    return this.#write((store) => store.patchState(room, patch));
  }

  /** Forgets everything about a room. */
  clearRoom(room: string): Promise<void> {
    return this.#write((store) => store.clearRoom(room));
  }

  /** Closes the store it holds (and the one still loading, when it arrives); later calls reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timers.clearAll();
    this.#writes = [];
    if (this.#target) this.#target.close();
    else this.#memory.close();
  }
}
