/**
 * The browser {@link Store}: IndexedDB through `idb`, so history, outbox and
 * session survive a reload, a crash or a closed tab. Same semantics as
 * `MemoryStore` (the tests run one suite against both).
 *
 * Schema (version 1): `messages` and `outbox` keyed by [room, id] with an
 * index on [room, order, id] (so lists come back in order without sorting);
 * `state` keyed by room.
 *
 * A failed commit (quota, disk full, a lost connection) rejects the call with
 * the browser's error, never as an unhandled rejection; `ResilientStore`
 * (`store_resilient.ts`) turns such failures into a room that goes on in memory.
 * @module
 */
import { type DBSchema, type IDBPDatabase, type IDBPTransaction, openDB } from "idb";
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
import { IDB_NAME } from "./store.ts";

export { IDB_NAME };
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

/**
 * Runs `work` inside `tx` and waits for the commit. The commit's failure is the call's failure. When `work` fails
 * first (a request error aborts the transaction), the transaction's own error is thrown when it has one: it names
 * the cause (QuotaExceededError, UnknownError), where the request's says only AbortError.
 */
async function committed<T>(tx: { done: Promise<void> }, work: () => Promise<T>): Promise<T> {
  const done = tx.done;
  let result: T;
  try {
    result = await work();
  } catch (error) {
    const cause = await done.then(() => undefined, (txError: unknown) => txError);
    throw isAbortOnly(error) && cause ? cause : error;
  }
  await done;
  return result;
}

/** Whether an error says only that the transaction was aborted, not why. */
function isAbortOnly(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "AbortError";
}

/** What a room's in-memory copy holds that the database may lack, written back in one transaction. */
export interface RoomChanges {
  /** The room was cleared while the database was away: clear it before writing the rest. */
  cleared: boolean;
  /** Messages to merge in (a stored status or seq is never lost). */
  messages: StoredMessage[];
  /** Outbox entries to put. */
  outbox: OutboxEntry[];
  /** Outbox ids to delete (acknowledged while the database was away). */
  outboxDeleted: string[];
  /** State fields to set; a field set to undefined is removed. */
  state: Partial<RoomState>;
}

/** Why an open database went away on its own. */
export type IdbLoss = "closed" | "version";

/** Options of {@link openIdbStore}. */
export interface OpenIdbOptions {
  /**
   * Called once when the connection goes away without `close()`: "closed" when the browser closed it (site data
   * cleared, backing store failure, disk full), "version" when another tab needs a newer schema (this connection
   * closes itself so that tab can upgrade).
   */
  onLost?(reason: IdbLoss): void;
}

/** A {@link Store} on IndexedDB. */
export class IdbStore implements Store {
  #db: IDBPDatabase<ParleyDB>;
  #closed = false;

  /** Wraps an open database; use {@link openIdbStore}. */
  constructor(db: IDBPDatabase<ParleyDB>) {
    this.#db = db;
  }

  /** Inserts or replaces a message by id; status never goes backwards. */
  async putMessage(room: string, message: StoredMessage): Promise<void> {
    const tx = this.#db.transaction("messages", "readwrite");
    await committed(tx, async () => {
      const old = await tx.store.get([room, message.id]);
      await tx.store.put({ ...mergeMessage(old && stripRoom(old), message), room });
    });
  }

  /** Stores an own message and its outbox entry in one transaction. */
  async putOwn(room: string, message: StoredMessage, entry: OutboxEntry): Promise<void> {
    const tx = this.#db.transaction(["messages", "outbox"], "readwrite");
    await committed(tx, async () => {
      const messages = tx.objectStore("messages");
      const old = await messages.get([room, message.id]);
      await messages.put({ ...mergeMessage(old && stripRoom(old), message), room });
      await tx.objectStore("outbox").put({ ...copyOutbox(entry), room });
    });
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
    const limit = options.limit;
    if (limit <= 0) return out;
    const tx = this.#db.transaction("messages", "readonly");
    await committed(tx, async () => {
      let cursor = await tx.store.index("order").openCursor(roomRange(room), "prev");
      while (cursor && out.length < limit) {
        out.push(stripRoom(cursor.value));
        cursor = await cursor.continue();
      }
    });
    return out.reverse();
  }

  /** Raises a message's status; false when the id is unknown. */
  async setStatus(room: string, id: string, status: MessageStatus, seq?: number): Promise<boolean> {
    const tx = this.#db.transaction("messages", "readwrite");
    return await committed(tx, async () => {
      const row = await tx.store.get([room, id]);
      if (!row) return false;
      row.status = maxStatus(row.status, status);
      if (seq !== undefined) row.seq = seq;
      await tx.store.put(row);
      return true;
    });
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
    return await committed(tx, async () => {
      const row = await tx.store.get(room);
      const next = applyStatePatch(row ? stripRoom(row) : {}, patch);
      await tx.store.put({ ...next, room });
      return next;
    });
  }

  /** Ids of the rooms that have a saved state, for the landing page's list of chats. */
  async listRooms(): Promise<string[]> {
    return await this.#db.getAllKeys("state");
  }

  /** Forgets everything about a room. */
  async clearRoom(room: string): Promise<void> {
    const tx = this.#db.transaction(["messages", "outbox", "state"], "readwrite");
    await committed(tx, () => clearIn(tx, room));
  }

  /** Writes back what a room's in-memory copy holds, in one transaction: all of it lands, or none. */
  async writeBack(room: string, changes: RoomChanges): Promise<void> {
    const tx = this.#db.transaction(["messages", "outbox", "state"], "readwrite");
    await committed(tx, async () => {
      if (changes.cleared) await clearIn(tx, room);
      const messages = tx.objectStore("messages");
      for (const message of changes.messages) {
        const old = await messages.get([room, message.id]);
        await messages.put({ ...mergeMessage(old && stripRoom(old), message), room });
      }
      const outbox = tx.objectStore("outbox");
      for (const entry of changes.outbox) await outbox.put({ ...copyOutbox(entry), room });
      for (const id of changes.outboxDeleted) await outbox.delete([room, id]);
      if (Object.keys(changes.state).length > 0) {
        const state = tx.objectStore("state");
        const row = await state.get(room);
        const stored = row ? stripRoom(row) : {};
        // A member key pair already stored stays: a page makes its own only when it could not read the stored one
        // (another tab stored it meanwhile), and replacing it would make this device another member after a reload.
        const { identity: _made, ...rest } = changes.state;
        const patch = stored.identity !== undefined && "identity" in changes.state ? rest : changes.state;
        await state.put({ ...applyStatePatch(stored, patch), room });
      }
    });
  }

  /** Closes the database connection. */
  close(): void {
    this.#closed = true;
    this.#db.close();
  }

  /** True until closed: writes that resolve are committed to IndexedDB. */
  durable(): boolean {
    return !this.#closed;
  }
}

/** Deletes a room's rows inside a transaction over all three stores. */
async function clearIn(
  tx: IDBPTransaction<ParleyDB, ("messages" | "outbox" | "state")[], "readwrite">,
  room: string,
): Promise<void> {
  const range = roomRange(room);
  await Promise.all([
    tx.objectStore("messages").delete(range),
    tx.objectStore("outbox").delete(range),
    tx.objectStore("state").delete(room),
  ]);
}

/** Opens (and creates or upgrades) the database and returns a store on it; rejects when IndexedDB cannot open. */
export async function openIdbStore(name: string = IDB_NAME, options: OpenIdbOptions = {}): Promise<IdbStore> {
  let lost = false;
  const loseOnce = (reason: IdbLoss) => {
    if (lost) return;
    lost = true;
    options.onLost?.(reason);
  };
  const db = await openDB<ParleyDB>(name, IDB_VERSION, {
    upgrade(db) {
      const messages = db.createObjectStore("messages", { keyPath: ["room", "id"] });
      messages.createIndex("order", ["room", "order", "id"]);
      const outbox = db.createObjectStore("outbox", { keyPath: ["room", "id"] });
      outbox.createIndex("order", ["room", "order", "id"]);
      db.createObjectStore("state", { keyPath: "room" });
    },
    blocking() {
      // Another tab opens a newer schema: step aside so it can upgrade, and say the connection is gone.
      db.close();
      loseOnce("version");
    },
    terminated() {
      loseOnce("closed");
    },
  });
  return new IdbStore(db);
}
