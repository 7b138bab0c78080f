/**
 * Keeps the store in step with the courier's memory. Each record (a message,
 * an outbox entry, the room state) has one slot holding the latest wanted
 * write: writes of one record never overtake each other, a failed write is
 * retried (the latest wanted version, not the failed one) when the courier's
 * timer asks, and a caller is told (synchronously, inside the tracked write)
 * when its version is stored and whether the store was durable then. A record
 * written while the store was not durable is written again once it is.
 *
 * Nothing here waits on a failed write: the courier's `settled` means "no step
 * can progress without time passing", so fake-time tests never deadlock.
 * @module
 */
import type { Store } from "../store.ts";

/** Told once a version is stored, with the store's durability then. */
export type OnStored = (durable: boolean) => void;

interface Slot {
  /** The latest wanted write. */
  op: () => Promise<unknown>;
  /** What it is, for error reports. */
  context: string;
  /** Version of the latest wanted write. */
  version: number;
  /** A write is in flight. */
  running: boolean;
  /** The last write failed; waiting for {@link Persister.retry}. */
  failing: boolean;
  /** The last write succeeded while the store was not durable; written again by {@link Persister.recover}. */
  volatile: boolean;
  /** Callers waiting for their version (or a later one) to be stored. */
  waiters: { version: number; onStored: OnStored }[];
}

/** What a persister needs. */
export interface PersisterOptions {
  /** The store. */
  store: Store;
  /** Counts an async step (for the courier's `settled`). */
  track: (work: Promise<unknown>, context: string) => void;
  /** Reports a failed write (once per run of failures of one record). */
  fail: (context: string, error: unknown) => void;
  /** A write failed, or one was made while the store was not durable: the courier's timer must come back. */
  arm: () => void;
}

/** Serialised, retried writes per record. */
export class Persister {
  #o: PersisterOptions;
  #slots = new Map<string, Slot>();
  #failing = new Set<string>();
  #closed = false;

  /** A persister over a store. */
  constructor(options: PersisterOptions) {
    this.#o = options;
  }

  /** Whether the store reaches durable storage now (see `Store.durable`). */
  durable(): boolean {
    try {
      return this.#o.store.durable?.() ?? true;
    } catch {
      return false;
    }
  }

  /** Records whose last write failed and waits for a retry. */
  get failing(): number {
    return this.#failing.size;
  }

  /** Records written while the store was not durable, to be written again once it is. */
  get volatile(): number {
    let count = 0;
    for (const slot of this.#slots.values()) if (slot.volatile) count++;
    return count;
  }

  /**
   * Wants record `key` written by `op` (replacing any wanted write not yet
   * started); `onStored` is told once this version or a later one is stored.
   * The promise settles after this version's first attempt, stored or not.
   */
  write(key: string, context: string, op: () => Promise<unknown>, onStored?: OnStored): Promise<void> {
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { op, context, version: 0, running: false, failing: false, volatile: false, waiters: [] };
      this.#slots.set(key, slot);
    }
    slot.op = op;
    slot.context = context;
    const version = ++slot.version;
    let attempted!: () => void;
    const first = new Promise<void>((resolve) => attempted = resolve);
    slot.waiters.push({ version, onStored: (durable) => onStored?.(durable) });
    slot.waiters.push({ version: -version, onStored: () => attempted() });
    if (!slot.running && !this.#closed) this.#run(key, slot);
    else if (this.#closed) attempted();
    return first;
  }

  /** Tells `onStored` once record `key` is durable: at once when its last write was, else after its next write. */
  whenDurable(key: string, onStored: OnStored): void {
    const slot = this.#slots.get(key);
    if (!slot || (!slot.volatile && !slot.running && !slot.failing)) {
      onStored(true);
      return;
    }
    slot.waiters.push({ version: slot.version, onStored });
  }

  /** Writes again every record last written while the store was not durable, if it is durable now. */
  recover(): void {
    if (this.#closed || !this.durable()) return;
    for (const [key, slot] of this.#slots) if (slot.volatile && !slot.running) this.#run(key, slot);
  }

  /** Retries every record whose last write failed. */
  retry(): void {
    if (this.#closed) return;
    for (const key of [...this.#failing]) {
      const slot = this.#slots.get(key);
      if (slot && !slot.running) this.#run(key, slot);
    }
  }

  /** Stops starting writes (those in flight finish). */
  close(): void {
    this.#closed = true;
  }

  #run(key: string, slot: Slot): void {
    slot.running = true;
    const version = slot.version;
    let work: Promise<unknown>;
    try {
      work = slot.op();
    } catch (error) {
      work = Promise.reject(error);
    }
    const done = work.then(() => {
      slot.running = false;
      if (slot.failing) this.#failing.delete(key);
      slot.failing = false;
      const durable = this.durable();
      slot.volatile = !durable;
      this.#tell(slot, (v) => Math.abs(v) <= version, durable);
      if (!durable) this.#o.arm();
      if (slot.version !== version) {
        if (!this.#closed) this.#run(key, slot);
      } else if (durable && slot.waiters.length === 0 && this.#slots.get(key) === slot) this.#slots.delete(key);
    }, (error) => {
      slot.running = false;
      if (!slot.failing) this.#o.fail(slot.context, error);
      slot.failing = true;
      this.#failing.add(key);
      // First attempts are over (the callers of `write` go on); stored-waiters wait for the retry.
      this.#tell(slot, (v) => v < 0 && -v <= version, false);
      this.#o.arm();
    });
    this.#o.track(done, slot.context);
  }

  /** Tells (and removes) the waiters whose version matches. */
  #tell(slot: Slot, matches: (version: number) => boolean, durable: boolean): void {
    const told = slot.waiters.filter((waiter) => matches(waiter.version));
    slot.waiters = slot.waiters.filter((waiter) => !matches(waiter.version));
    for (const waiter of told) waiter.onStored(durable);
  }
}
