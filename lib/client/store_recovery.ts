/**
 * The rare half of `store_resilient.ts`: bringing IndexedDB back after a
 * failure. A reopen writes back what only the in-memory copy holds (one
 * transaction per room) and takes in the database's content of rooms that
 * started empty, until nothing is left; only then is the store durable again.
 * The page loads this module on the first reopen that has work to do (so a
 * visit whose storage never fails never does), and prefetches it once the
 * room has settled, so it is at hand offline too.
 * @module
 */
import { mergeMessage, type OutboxEntry, type RoomState, type StoredMessage } from "./store.ts";
import type { RoomChanges } from "./store_idb.ts";
import type { MemoryStore } from "./store_memory.ts";
import type { PersistentStore } from "./store_resilient.ts";

/** Keys a room's copy holds that the database may lack. */
export interface Dirty {
  /** The room was cleared. */
  cleared: boolean;
  /** Every key of the copy, not only those below (the database may have lost them: a closed connection). */
  all: boolean;
  /** Message ids written. */
  messages: Set<string>;
  /** Outbox ids written or deleted. */
  outbox: Set<string>;
  /** State fields written or removed. */
  state: Set<keyof RoomState>;
}

/** A room's content as the database holds it. */
export interface RoomSnapshot {
  /** Its state. */
  state: RoomState;
  /** Its history. */
  messages: StoredMessage[];
  /** Its outbox. */
  outbox: OutboxEntry[];
}

/** What a reopen reads and changes of the resilient store. */
export interface RecoveryHost {
  /** The in-memory copy of every room. */
  copy: MemoryStore;
  /** Keys per room the database may lack. */
  dirty: Map<string, Dirty>;
  /** Rooms loaded (or loading). */
  loads: Map<string, Promise<void>>;
  /** Rooms whose copy started from the database's content. */
  based: Set<string>;
  /** An operation bounded by the stall time. */
  watch<T>(operation: Promise<T>): Promise<T>;
  /** A room's content in the database. */
  snapshot(db: PersistentStore, room: string): Promise<RoomSnapshot>;
  /** The room's dirty keys, made empty when there are none. */
  dirtyOf(room: string): Dirty;
  /** The error of a connection that went away during the reopen, if it did. */
  lost(): DOMException | undefined;
}

/** Folds `from` (older) into `into` (newer): both sets of keys stay dirty. */
function mergeDirty(into: Dirty, from: Dirty): void {
  into.cleared ||= from.cleared;
  into.all ||= from.all;
  for (const id of from.messages) into.messages.add(id);
  for (const id of from.outbox) into.outbox.add(id);
  for (const field of from.state) into.state.add(field);
}

/**
 * Writes back into `db` until nothing is dirty, and rebases rooms that started empty, then calls `durable` in the
 * same step as the check that nothing is left (so no write can fall in between); throws (the dirty keys kept) when
 * the database fails again or went away meanwhile.
 */
export async function writeBack(host: RecoveryHost, db: PersistentStore, durable: () => void): Promise<void> {
  for (;;) {
    const lost = host.lost();
    if (lost) throw lost;
    const pending = [...host.dirty];
    const unbased = [...host.loads.keys()].filter((room) => !host.based.has(room));
    if (pending.length === 0 && unbased.length === 0) return durable();
    host.dirty.clear();
    for (let i = 0; i < pending.length; i++) {
      const [room, dirty] = pending[i];
      try {
        await host.watch(db.writeBack(room, await changes(host.copy, room, dirty)));
      } catch (error) {
        for (const [left, keys] of pending.slice(i)) mergeDirty(host.dirtyOf(left), keys);
        throw error;
      }
    }
    for (const room of unbased) {
      await absorb(host, room, await host.watch(host.snapshot(db, room)));
      host.based.add(room);
    }
  }
}

/**
 * Merges the database's content of a room into its copy. Keys the copy wrote and has not written back yet keep
 * the copy's value; a message in both keeps the copy's fields with the higher status.
 */
async function absorb(host: RecoveryHost, room: string, snapshot: RoomSnapshot): Promise<void> {
  const copy = host.copy;
  const [messages, outbox, state] = await Promise.all([
    copy.listMessages(room),
    copy.listOutbox(room),
    copy.getState(room),
  ]);
  // From here on nothing awaits: a write that landed since the reads above marked its key dirty, and is skipped.
  const dirty = host.dirtyOf(room);
  if (dirty.cleared) return;
  const mine = new Map(messages.map((message) => [message.id, message]));
  const mineOutbox = new Set(outbox.map((entry) => entry.id));
  for (const message of snapshot.messages) {
    if (dirty.messages.has(message.id)) continue;
    const current = mine.get(message.id);
    void copy.putMessage(room, current ? mergeMessage(message, current) : message);
  }
  for (const entry of snapshot.outbox) {
    if (!dirty.outbox.has(entry.id) && !mineOutbox.has(entry.id)) void copy.putOutbox(room, entry);
  }
  const patch: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(snapshot.state)) {
    if (!dirty.state.has(field as keyof RoomState) && state[field as keyof RoomState] === undefined) {
      patch[field] = value;
    }
  }
  if (Object.keys(patch).length > 0) void copy.patchState(room, patch as Partial<RoomState>);
}

/** What a room's copy holds for its dirty keys, read from the copy now. */
async function changes(copy: MemoryStore, room: string, dirty: Dirty): Promise<RoomChanges> {
  const messages = await copy.listMessages(room);
  const outbox = await copy.listOutbox(room);
  const state = await copy.getState(room);
  const outboxIds = new Set(outbox.map((entry) => entry.id));
  const result: RoomChanges = {
    cleared: dirty.cleared,
    messages: dirty.all ? messages : messages.filter((m) => dirty.messages.has(m.id)),
    outbox: dirty.all ? outbox : outbox.filter((entry) => dirty.outbox.has(entry.id)),
    outboxDeleted: [...dirty.outbox].filter((id) => !outboxIds.has(id)),
    state: {},
  };
  const fields = new Set<keyof RoomState>(dirty.state);
  if (dirty.all) { for (const field of Object.keys(state) as (keyof RoomState)[]) fields.add(field); }
  for (const field of fields) (result.state as Record<string, unknown>)[field] = state[field];
  return result;
}
