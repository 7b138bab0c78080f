/**
 * The browser {@link Store}: IndexedDB through `idb`, so history, outbox and
 * session survive a reload, a crash or a closed tab. Same semantics as
 * `MemoryStore` (the tests run one suite against both).
 *
 * Schema (version 1): `messages` and `outbox` keyed by [room, id] with an
 * index on [room, order, id] (so lists come back in order without sorting);
 * `state` keyed by room.
 * @module
 */
import { type DBSchema, type IDBPDatabase, openDB } from "idb";
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
import { MemoryStore } from "./store_memory.ts";

/** Default database name. */
export const IDB_NAME = "parley";
/** Schema version; bump with an upgrade step when the layout changes. */
export const IDB_VERSION = 1;

type MessageRow = StoredMessage & { room: string };
type OutboxRow = OutboxEntry & { room: string };
type StateRow = RoomState & { room: string };

interface ParleyDB extends DBSchema {
  messages: { key: [string, string]; value: MessageRow; indexes: { order: [string, string, string] } };
  outbox: { key: [string, string]; value: OutboxRow; indexes: { order: [string, string, string] } };
  state: { key: string; value: StateRow };
}

/** Every [room, order, id] key of one room: arrays sort after strings, so [room, []] is above them all. */
function roomRange(room: string): IDBKeyRange {
  return IDBKeyRange.bound([room], [room, []]);
}

function stripRoom<T extends { room: string }>(row: T): Omit<T, "room"> {
  const { room: _room, ...rest } = row;
  return rest;
}

/** A {@link Store} on IndexedDB. */
export class IdbStore implements Store {
  #db: IDBPDatabase<ParleyDB>;

  /** Wraps an open database; use {@link openIdbStore}. */
  constructor(db: IDBPDatabase<ParleyDB>) {
    this.#db = db;
  }

  /** Inserts or replaces a message by id; status never goes backwards. */
  async putMessage(room: string, message: StoredMessage): Promise<void> {
    const tx = this.#db.transaction("messages", "readwrite");
    const old = await tx.store.get([room, message.id]);
    await tx.store.put({ ...mergeMessage(old && stripRoom(old), message), room });
    await tx.done;
  }

  /** Stores an own message and its outbox entry in one transaction. */
  async putOwn(room: string, message: StoredMessage, entry: OutboxEntry): Promise<void> {
    const tx = this.#db.transaction(["messages", "outbox"], "readwrite");
    const messages = tx.objectStore("messages");
    const old = await messages.get([room, message.id]);
    await messages.put({ ...mergeMessage(old && stripRoom(old), message), room });
    await tx.objectStore("outbox").put({ ...copyOutbox(entry), room });
    await tx.done;
  }

  /** One message by id, or undefined. */
  async getMessage(room: string, id: string): Promise<StoredMessage | undefined> {
    const row = await this.#db.get("messages", [room, id]);
    return row && stripRoom(row);
  }

  /** History sorted by order key; the newest `limit` when given. */
  async listMessages(room: string, options: ListOptions = {}): Promise<StoredMessage[]> {
    if (options.limit === undefined) {
      return (await this.#db.getAllFromIndex("messages", "order", roomRange(room))).map(stripRoom);
    }
    const out: StoredMessage[] = [];
    if (options.limit <= 0) return out;
    const tx = this.#db.transaction("messages", "readonly");
    let cursor = await tx.store.index("order").openCursor(roomRange(room), "prev");
    while (cursor && out.length < options.limit) {
      out.push(stripRoom(cursor.value));
      cursor = await cursor.continue();
    }
    await tx.done;
    return out.reverse();
  }

  /** Raises a message's status; false when the id is unknown. */
  async setStatus(room: string, id: string, status: MessageStatus, seq?: number): Promise<boolean> {
    const tx = this.#db.transaction("messages", "readwrite");
    const row = await tx.store.get([room, id]);
    if (!row) {
      await tx.done;
      return false;
    }
    row.status = maxStatus(row.status, status);
    if (seq !== undefined) row.seq = seq;
    await tx.store.put(row);
    await tx.done;
    return true;
  }

  /** Inserts or replaces an outbox entry by id. */
  async putOutbox(room: string, entry: OutboxEntry): Promise<void> {
    await this.#db.put("outbox", { ...copyOutbox(entry), room });
  }

  /** Outbox sorted by order key. */
  async listOutbox(room: string): Promise<OutboxEntry[]> {
    return (await this.#db.getAllFromIndex("outbox", "order", roomRange(room))).map(stripRoom);
  }

  /** Removes an outbox entry; a missing id is a no-op. */
  async deleteOutbox(room: string, id: string): Promise<void> {
    await this.#db.delete("outbox", [room, id]);
  }

  /** The room's small state. */
  async getState(room: string): Promise<RoomState> {
    const row = await this.#db.get("state", room);
    return row ? stripRoom(row) : {};
  }

  /** Merges fields into the room's state. */
  async patchState(room: string, patch: Partial<RoomState>): Promise<RoomState> {
    const tx = this.#db.transaction("state", "readwrite");
    const row = await tx.store.get(room);
    const next = applyStatePatch(row ? stripRoom(row) : {}, patch);
    await tx.store.put({ ...next, room });
    await tx.done;
    return next;
  }

  /** Forgets everything about a room. */
  async clearRoom(room: string): Promise<void> {
    const tx = this.#db.transaction(["messages", "outbox", "state"], "readwrite");
    const range = IDBKeyRange.bound([room], [room, []]);
    await Promise.all([
      tx.objectStore("messages").delete(range),
      tx.objectStore("outbox").delete(range),
      tx.objectStore("state").delete(room),
      tx.done,
    ]);
  }

  /** Closes the database connection. */
  close(): void {
    this.#db.close();
  }
}

/** Opens (and creates or upgrades) the database and returns a store on it. */
export async function openIdbStore(name: string = IDB_NAME): Promise<IdbStore> {
  const db = await openDB<ParleyDB>(name, IDB_VERSION, {
    upgrade(db) {
      const messages = db.createObjectStore("messages", { keyPath: ["room", "id"] });
      messages.createIndex("order", ["room", "order", "id"]);
      const outbox = db.createObjectStore("outbox", { keyPath: ["room", "id"] });
      outbox.createIndex("order", ["room", "order", "id"]);
      db.createObjectStore("state", { keyPath: "room" });
    },
  });
  return new IdbStore(db);
}

/** The outcome of {@link openStore}: a store, and whether it survives a reload. */
export interface OpenedStore {
  /** The store to use. */
  store: Store;
  /** False when IndexedDB was unavailable and history lives in memory only (the UI should say so). */
  persistent: boolean;
  /** Why IndexedDB could not be used, when it could not. */
  error?: unknown;
}

/** Opens the IndexedDB store, or falls back to memory (private modes, disabled storage) and reports why. */
export async function openStore(name: string = IDB_NAME): Promise<OpenedStore> {
  if (typeof indexedDB === "undefined") {
    return { store: new MemoryStore(), persistent: false, error: new Error("IndexedDB is not available") };
  }
  try {
    return { store: await openIdbStore(name), persistent: true };
  } catch (error) {
    return { store: new MemoryStore(), persistent: false, error };
  }
}
