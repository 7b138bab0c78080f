/**
 * An in-memory {@link Store}: same semantics as the IndexedDB one, for Deno
 * tests, the courier's property test (a "reload" keeps the store and rebuilds
 * everything else), and the copy `ResilientStore` keeps of each open room.
 *
 * Every method applies its effect when called, before the returned promise
 * settles: `ResilientStore` relies on this to keep its copy and the database
 * in the same order.
 * @module
 */
import {
  applyStatePatch,
  copyOutbox,
  type ListOptions,
  maxStatus,
  mergeMessage,
  type MessageStatus,
  type OutboxEntry,
  type RoomState,
  type Store,
  type StoredMessage,
} from "./store.ts";

interface RoomData {
  messages: Map<string, StoredMessage>;
  outbox: Map<string, OutboxEntry>;
  state: RoomState;
}

function byOrder(a: { order: string; id: string }, b: { order: string; id: string }): number {
  if (a.order !== b.order) return a.order < b.order ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A {@link Store} kept in memory for the life of the object. */
export class MemoryStore implements Store {
  #rooms = new Map<string, RoomData>();
  #closed = false;
  #durable: boolean;

  /**
   * `durable` is what {@link durable} reports: tests use one MemoryStore as a
   * device's disk that outlives the clients (reloads) sharing it, so it
   * defaults to true; false models a device that keeps nothing.
   */
  constructor(options: { durable?: boolean } = {}) {
    this.#durable = options.durable ?? true;
  }

  /** Runs `fn` and returns its result as a promise; a throw (e.g. a closed store) becomes a rejection, like IndexedDB. */
  #run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #room(room: string): RoomData {
    if (this.#closed) throw new Error("MemoryStore is closed");
    let data = this.#rooms.get(room);
    if (!data) {
      data = { messages: new Map(), outbox: new Map(), state: {} };
      this.#rooms.set(room, data);
    }
    return data;
  }

  /** Inserts or replaces a message by id; status never goes backwards. */
  putMessage(room: string, message: StoredMessage): Promise<void> {
    return this.#run(() => {
      const { messages } = this.#room(room);
      messages.set(message.id, mergeMessage(messages.get(message.id), message));
    });
  }

  /** Stores an own message and its outbox entry together. */
  putOwn(room: string, message: StoredMessage, entry: OutboxEntry): Promise<void> {
    return this.#run(() => {
      const data = this.#room(room);
      data.messages.set(message.id, mergeMessage(data.messages.get(message.id), message));
      data.outbox.set(entry.id, copyOutbox(entry));
    });
  }

  /** One message by id, or undefined. */
  getMessage(room: string, id: string): Promise<StoredMessage | undefined> {
    return this.#run(() => {
      const found = this.#room(room).messages.get(id);
      return found && { ...found };
    });
  }

  /** History sorted by order key; the newest `limit` when given. */
  listMessages(room: string, options: ListOptions = {}): Promise<StoredMessage[]> {
    return this.#run(() => {
      const all = [...this.#room(room).messages.values()].sort(byOrder);
      const kept = options.limit === undefined ? all : all.slice(Math.max(0, all.length - options.limit));
      return kept.map((message) => ({ ...message }));
    });
  }

  /** Raises a message's status; false when the id is unknown. */
  setStatus(room: string, id: string, status: MessageStatus, seq?: number): Promise<boolean> {
    return this.#run(() => {
      const { messages } = this.#room(room);
      const found = messages.get(id);
      if (!found) return false;
      const next = { ...found, status: maxStatus(found.status, status) };
      if (seq !== undefined) next.seq = seq;
      messages.set(id, next);
      return true;
    });
  }

  /** Inserts or replaces an outbox entry by id. */
  putOutbox(room: string, entry: OutboxEntry): Promise<void> {
    return this.#run(() => {
      this.#room(room).outbox.set(entry.id, copyOutbox(entry));
    });
  }

  /** Outbox sorted by order key. */
  listOutbox(room: string): Promise<OutboxEntry[]> {
    return this.#run(() => [...this.#room(room).outbox.values()].sort(byOrder).map(copyOutbox));
  }

  /** Removes an outbox entry; a missing id is a no-op. */
  deleteOutbox(room: string, id: string): Promise<void> {
    return this.#run(() => {
      this.#room(room).outbox.delete(id);
    });
  }

  /** Ids of the rooms that have a saved state, for the landing page's list of chats. */
  listRooms(): Promise<string[]> {
    return this.#run(() => [...this.#rooms].filter(([, data]) => Object.keys(data.state).length > 0).map(([id]) => id));
  }

  /** The room's small state. */
  getState(room: string): Promise<RoomState> {
    return this.#run(() => ({ ...this.#room(room).state }));
  }

  /** Merges fields into the room's state. */
  patchState(room: string, patch: Partial<RoomState>): Promise<RoomState> {
    return this.#run(() => {
      const data = this.#room(room);
      data.state = applyStatePatch(data.state, patch);
      return { ...data.state };
    });
  }

  /** Forgets everything about a room. */
  clearRoom(room: string): Promise<void> {
    return this.#run(() => {
      this.#room(room);
      this.#rooms.delete(room);
    });
  }

  /** Marks the store closed; later calls throw. */
  close(): void {
    this.#closed = true;
  }

  /** As constructed: true when this store stands for a disk that outlives its clients. */
  durable(): boolean {
    return this.#durable;
  }
}
