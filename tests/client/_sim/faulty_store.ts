/**
 * A store for tests that fails on purpose: writes that throw (with a given
 * probability, or all of them), and stretches where it is "not durable" (as
 * a resilient store running in memory after a storage failure reports). Reads
 * and successful writes go to an inner `MemoryStore`.
 * @module
 */
import type {
  ListOptions,
  MessageStatus,
  OutboxEntry,
  RoomState,
  Store,
  StoredMessage,
} from "../../../lib/client/store.ts";
import { MemoryStore } from "../../../lib/client/store_memory.ts";

/** A {@link Store} with injectable write failures and durability. */
export class FaultyStore implements Store {
  /** The store underneath. */
  readonly inner: MemoryStore;
  /** Decides per write whether it throws; default never. */
  failWrite: (method: string) => boolean = () => false;
  /** What {@link durable} reports. */
  isDurable = true;
  /** Writes that threw. */
  failures = 0;
  /** Writes held until {@link release}. */
  #held: (() => void)[] = [];
  /** Decides per write (method, message or entry id) whether it waits for {@link release}; default never. */
  holdWrite: (method: string, id?: string) => boolean = () => false;

  /** Wraps a memory store (a new one by default). */
  constructor(inner: MemoryStore = new MemoryStore()) {
    this.inner = inner;
  }

  /** Lets every held write go on. */
  release(): void {
    for (const go of this.#held.splice(0)) go();
  }

  /** Writes waiting for {@link release}. */
  get held(): number {
    return this.#held.length;
  }

  async #write<T>(method: string, fn: () => Promise<T>, id?: string): Promise<T> {
    if (this.holdWrite(method, id)) await new Promise<void>((resolve) => this.#held.push(resolve));
    if (this.failWrite(method)) {
      this.failures++;
      throw new Error(`${method}: storage failed (injected)`);
    }
    return fn();
  }

  /** See {@link Store.durable}. */
  durable(): boolean {
    return this.isDurable;
  }

  /** See {@link Store.putMessage}. */
  putMessage(room: string, message: StoredMessage): Promise<void> {
    return this.#write("putMessage", () => this.inner.putMessage(room, message), message.id);
  }

  /** See {@link Store.putOwn}. */
  putOwn(room: string, message: StoredMessage, entry: OutboxEntry): Promise<void> {
    return this.#write("putOwn", () => this.inner.putOwn(room, message, entry), message.id);
  }

  /** See {@link Store.getMessage}. */
  getMessage(room: string, id: string): Promise<StoredMessage | undefined> {
    return this.inner.getMessage(room, id);
  }

  /** See {@link Store.listMessages}. */
  listMessages(room: string, options?: ListOptions): Promise<StoredMessage[]> {
    return this.inner.listMessages(room, options);
  }

  /** See {@link Store.setStatus}. */
  setStatus(room: string, id: string, status: MessageStatus, seq?: number): Promise<boolean> {
    return this.#write("setStatus", () => this.inner.setStatus(room, id, status, seq));
  }

  /** See {@link Store.putOutbox}. */
  putOutbox(room: string, entry: OutboxEntry): Promise<void> {
    return this.#write("putOutbox", () => this.inner.putOutbox(room, entry));
  }

  /** See {@link Store.listOutbox}. */
  listOutbox(room: string): Promise<OutboxEntry[]> {
    return this.inner.listOutbox(room);
  }

  /** See {@link Store.deleteOutbox}. */
  deleteOutbox(room: string, id: string): Promise<void> {
    return this.#write("deleteOutbox", () => this.inner.deleteOutbox(room, id));
  }

  /** See {@link Store.getState}. */
  getState(room: string): Promise<RoomState> {
    return this.inner.getState(room);
  }

  /** See {@link Store.patchState}. */
  patchState(room: string, patch: Partial<RoomState>): Promise<RoomState> {
    return this.#write("patchState", () => this.inner.patchState(room, patch));
  }

  /** See {@link Store.clearRoom}. */
  clearRoom(room: string): Promise<void> {
    return this.inner.clearRoom(room);
  }

  /** See {@link Store.close}. */
  close(): void {
    this.inner.close();
  }
}
