/**
 * The bus over Deno KV (`BUS=kv`), for platforms where BroadcastChannel does
 * not cross instances, and for separate processes sharing one KV file.
 *
 * Each instance publishes into its own stream, so no key is shared by
 * writers and no write is ever compared-and-swapped:
 * - `[ns, channel, "s", instance]` → `{ n, from }`: the stream's head: the
 *   last number written, and the first number of its current run (a reader
 *   meeting the stream for the first time starts there);
 * - `[ns, channel, "m", instance, n]` → a message (`n` = 1, 2, 3... in publish
 *   order), continued in `[..., n, part]` when bigger than a KV value;
 * - `[ns, channel, "bell", k]` → rung (a blind write) by every commit of the
 *   instances hashed to bell `k`, so `kv.watch` of the few bells wakes readers.
 * Everything expires after `messageTtlMs`. A publisher commits its queued
 * messages in order, one group per atomic (messages, head and bell together),
 * so every instance sees each publisher's messages in publish order (there is
 * no order between publishers, as with BroadcastChannel).
 *
 * Readers list the heads (one small list), then the messages of each stream
 * that moved, from their cursor.
 *
 * Latency: `kv.watch` on the bells wakes readers at once where it sees other
 * writers (Deno Deploy). On local SQLite it does not see other processes'
 * writes, so readers also poll every `pollIntervalMs` (default 100 ms): a
 * message then waits half that on average, at the cost of one KV read per
 * interval per instance even when idle (on Deploy, reads are billed: raise the
 * interval there, watch carries the latency). BroadcastChannel, where it
 * works, is faster and free.
 *
 * Failures and bounds: a commit that fails is retried after an exponential,
 * jittered pause. Meanwhile the outbox is bounded (`maxOutboxMessages`,
 * `maxOutboxBytes`): when full, the **oldest** queued messages are dropped,
 * counted in `parley_bus_dropped_total` and reported once per episode through
 * `onError`. The hub survives a dropped message: chat frames are durable in the
 * room log (other instances fill a missing position from it when the next one
 * arrives), presence is re-read from KV on every join and by the lease sweep.
 * @module
 */
import type { Bus, BusEnvelope } from "./bus.ts";
import { DEFAULT_BUS_CHANNEL } from "./bus_broadcast.ts";
import { jitteredPause } from "./jitter.ts";
import { retryKvBusy } from "./kv_busy.ts";
import { metrics } from "./metrics.ts";
import { serializedLength } from "./text_size.ts";
import { KV_GROUP_MAX_BYTES, KV_KEY_OVERHEAD, piece, pieceCount } from "./kv_limits.ts";

/** Options of the KV bus. */
export interface KvBusOptions {
  /** The name instances of one deployment meet on; other deployments sharing the KV stay apart. */
  channel?: string;
  /** First key part, so the bus can share a KV with the room log. */
  namespace?: string;
  /** This instance's id; random by default. */
  instanceId?: string;
  /** How often to look for new messages, in ms: the latency floor where `kv.watch` does not see other writers. */
  pollIntervalMs?: number;
  /** How long a message stays in KV, in ms: an instance stalled longer than this misses messages. */
  messageTtlMs?: number;
  /** Whether to also wake on `kv.watch` of the bells, which is instant where it works. */
  watch?: boolean;
  /** The most messages queued while KV is failing or slow; beyond it the oldest are dropped. */
  maxOutboxMessages?: number;
  /** The most bytes (of JSON) queued while KV is failing or slow; beyond it the oldest are dropped. */
  maxOutboxBytes?: number;
  /** Where background errors go (KV failures while publishing or polling, throwing handlers, drops). */
  onError?: (error: unknown, context: string) => void;
  /** Random source in [0, 1) for retry jitter, injectable for tests. */
  random?: () => number;
  /** The clock (when a stream's run starts again), injectable for tests. */
  now?: () => number;
  /** Timer functions (polling, retry pauses), injectable for tests. */
  setTimeout?: (fn: () => void, ms: number) => ReturnType<typeof setTimeout>;
  /** Cancels a timer of `setTimeout`. */
  clearTimeout?: (id: ReturnType<typeof setTimeout>) => void;
}

/** Defaults of every option. */
const DEFAULTS = {
  channel: DEFAULT_BUS_CHANNEL,
  namespace: "bus",
  pollIntervalMs: 100,
  messageTtlMs: 60_000,
  watch: true,
  maxOutboxMessages: 10_000,
  maxOutboxBytes: 8 * 1024 * 1024,
  onError: (error: unknown, context: string) => console.error(`KV bus: ${context}:`, error),
};

/** KV allows 1000 mutations per atomic; keep a margin for the head and the bell. */
const GROUP_MAX_MUTATIONS = 900;
/** Messages listed per KV round trip while polling. */
const LIST_BATCH = 256;
/** Bells readers watch (`kv.watch` takes at most 10 keys). */
const BELLS = 8;
/** Backoff between publish retries after a KV failure. */
const RETRY_PAUSE = { firstMs: 20, maxMs: 2_000 };
/** Publish attempts still made for the outbox once the bus is closing. */
const CLOSING_ATTEMPTS = 3;

const dropped = metrics.counter("parley_bus_dropped_total", "KV bus messages dropped because the outbox was full.");

/** A message as stored: room, JSON of the body (first piece), number of pieces. */
interface StoredMessage {
  r: string;
  j: string;
  p: number;
}

/** A stream's head: the last number written and the first of the current run. */
interface StreamHead {
  n: number;
  from: number;
}

interface Outgoing {
  room: string;
  json: string;
}

/** Raised (through `onError`) when the outbox overflowed and messages were dropped. */
export class BusOverflowError extends Error {
  /** How many messages were dropped in this episode so far. */
  readonly dropped: number;

  /** Describes an overflow that dropped `dropped` messages. */
  constructor(dropped: number) {
    super(`outbox full: dropped ${dropped} oldest message(s)`);
    this.name = "BusOverflowError";
    this.dropped = dropped;
  }
}

/** Opens the KV at `path` and a bus on it that closes the KV when it closes. */
export async function openKvBus(path: string | undefined, options: KvBusOptions = {}): Promise<KvBus> {
  const kv = await retryKvBusy(() => Deno.openKv(path));
  try {
    return await KvBus.open(kv, options, true);
  } catch (error) {
    kv.close();
    throw error;
  }
}

/** A bus whose messages travel through per-instance streams in Deno KV. */
export class KvBus implements Bus {
  /** This instance's id, random per process or worker. */
  readonly instanceId: string;
  #kv: Deno.Kv;
  #ownsKv: boolean;
  #options: Required<Omit<KvBusOptions, "instanceId">>;
  #headPrefix: Deno.KvKey;
  #messagePrefix: Deno.KvKey;
  #ownHead: Deno.KvKey;
  #bells: Deno.KvKey[];
  #bell: Deno.KvKey;
  #handlers = new Set<(envelope: BusEnvelope) => void>();
  /** The last number read from each other instance's stream. */
  #cursors: Map<string, number>;
  /** The last number this instance wrote, and the first of its current run. */
  #n = 0;
  #from = 1;
  #lastCommitAt = -Infinity;
  #outbox: Outgoing[] = [];
  #outboxBytes = 0;
  /** Messages dropped since the outbox last had room (reported once per episode). */
  #dropping = 0;
  #flushing: Promise<void> | null = null;
  #polling: Promise<void> | null = null;
  #pollAgain = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #watch: ReadableStreamDefaultReader<Deno.KvEntryMaybe<unknown>[]> | null = null;
  #watching: Promise<void> | null = null;
  #closed = false;

  /** Starts a bus on `kv`, reading what other instances publish from now on; closes `kv` on `close()` only when `ownsKv`. */
  static async open(kv: Deno.Kv, options: KvBusOptions = {}, ownsKv = false): Promise<KvBus> {
    const channel = options.channel ?? DEFAULTS.channel;
    const namespace = options.namespace ?? DEFAULTS.namespace;
    const cursors = new Map<string, number>();
    await retryKvBusy(async () => {
      for await (const entry of kv.list<StreamHead>({ prefix: [namespace, channel, "s"] })) {
        cursors.set(entry.key[3] as string, entry.value.n);
      }
    });
    return new KvBus(kv, options, ownsKv, cursors);
  }

  private constructor(kv: Deno.Kv, options: KvBusOptions, ownsKv: boolean, cursors: Map<string, number>) {
    this.#kv = kv;
    this.#ownsKv = ownsKv;
    this.instanceId = options.instanceId ?? crypto.randomUUID();
    this.#options = {
      channel: options.channel ?? DEFAULTS.channel,
      namespace: options.namespace ?? DEFAULTS.namespace,
      pollIntervalMs: options.pollIntervalMs ?? DEFAULTS.pollIntervalMs,
      messageTtlMs: options.messageTtlMs ?? DEFAULTS.messageTtlMs,
      watch: options.watch ?? DEFAULTS.watch,
      maxOutboxMessages: Math.max(1, options.maxOutboxMessages ?? DEFAULTS.maxOutboxMessages),
      maxOutboxBytes: options.maxOutboxBytes ?? DEFAULTS.maxOutboxBytes,
      onError: options.onError ?? DEFAULTS.onError,
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
      setTimeout: options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms)),
      clearTimeout: options.clearTimeout ?? ((id) => clearTimeout(id)),
    };
    const { namespace, channel } = this.#options;
    this.#headPrefix = [namespace, channel, "s"];
    this.#messagePrefix = [namespace, channel, "m"];
    this.#ownHead = [...this.#headPrefix, this.instanceId];
    this.#bells = Array.from({ length: BELLS }, (_, k) => [namespace, channel, "bell", k]);
    this.#bell = this.#bells[hash(this.instanceId) % BELLS];
    this.#cursors = cursors;
    this.#cursors.delete(this.instanceId);
    this.#schedule();
    if (this.#options.watch) this.#watching = this.#watchBells();
  }

  /** Messages queued and not yet committed. */
  get outboxSize(): number {
    return this.#outbox.length;
  }

  /** Queues `body` about `room` for every other instance; it is committed in order, soon. */
  publish(room: string, body: unknown): void {
    if (this.#closed) throw new Error("bus is closed");
    const json = JSON.stringify(body);
    if (json === undefined) throw new TypeError("bus message body is not JSON-serialisable");
    this.#outbox.push({ room, json });
    this.#outboxBytes += json.length;
    this.#bound();
    this.#flushing ??= this.#flush();
  }

  /** Calls `handler` for every envelope from another instance; returns an unsubscribe function. */
  subscribe(handler: (envelope: BusEnvelope) => void): () => void {
    this.#handlers.add(handler);
    return () => void this.#handlers.delete(handler);
  }

  /** Commits what is still queued, stops polling and watching, and closes the KV if it owns it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#options.clearTimeout(this.#timer);
    await this.#flushing;
    await this.#polling;
    this.#handlers.clear();
    if (this.#watch) await this.#watch.cancel();
    await this.#watching;
    if (this.#ownsKv) this.#kv.close();
  }

  /** Drops the oldest queued messages while the outbox is over a bound. */
  #bound(): void {
    const { maxOutboxMessages, maxOutboxBytes } = this.#options;
    let count = 0;
    while (
      this.#outbox.length - count > 1 &&
      (this.#outbox.length - count > maxOutboxMessages || this.#outboxBytes > maxOutboxBytes)
    ) {
      this.#outboxBytes -= this.#outbox[count].json.length;
      count++;
    }
    if (count === 0) {
      if (this.#outbox.length <= maxOutboxMessages / 2) this.#dropping = 0;
      return;
    }
    this.#outbox.splice(0, count);
    dropped.inc(undefined, count);
    if (this.#dropping === 0) this.#options.onError(new BusOverflowError(count), "publishing");
    this.#dropping += count;
  }

  /** Commits the outbox group by group, retrying KV failures after a jittered pause. */
  async #flush(): Promise<void> {
    let failures = 0;
    while (this.#outbox.length) {
      // Taken out while in flight: dropping the oldest queued ones never touches it.
      const group = this.#outbox.splice(0, groupSize(this.#outbox));
      let bytes = 0;
      for (const message of group) bytes += message.json.length;
      this.#outboxBytes -= bytes;
      try {
        await retryKvBusy(() => this.#commit(group));
        failures = 0;
        if (this.#outbox.length <= this.#options.maxOutboxMessages / 2) this.#dropping = 0;
      } catch (error) {
        failures++;
        this.#options.onError(error, `publishing ${group.length} message(s), attempt ${failures}`);
        if (this.#closed && failures > CLOSING_ATTEMPTS) {
          this.#options.onError(error, `closing: gave up on ${group.length + this.#outbox.length} message(s)`);
          this.#outbox.length = 0;
          this.#outboxBytes = 0;
          break;
        }
        this.#outbox.unshift(...group);
        this.#outboxBytes += bytes;
        this.#bound();
        await new Promise((resolve) =>
          this.#options.setTimeout(
            () => resolve(undefined),
            jitteredPause(failures - 1, RETRY_PAUSE, this.#options.random),
          )
        );
      }
    }
    this.#flushing = null;
  }

  /** Commits one group under this stream's next numbers: a blind write, nobody else writes these keys. */
  async #commit(group: Outgoing[]): Promise<void> {
    const { messageTtlMs } = this.#options;
    const now = this.#options.now();
    // A head idle for half its lifetime may be gone for readers: start a new run they can begin at.
    const from = now - this.#lastCommitAt >= messageTtlMs / 2 ? this.#n + 1 : this.#from;
    const base = this.#n;
    const atomic = this.#kv.atomic();
    for (let i = 0; i < group.length; i++) {
      const { room, json } = group[i];
      const key = [...this.#messagePrefix, this.instanceId, base + 1 + i];
      const pieces = pieceCount(json);
      const value: StoredMessage = { r: room, j: piece(json, 0), p: pieces };
      atomic.set(key, value, { expireIn: messageTtlMs });
      for (let part = 1; part < pieces; part++) {
        atomic.set([...key, part], piece(json, part), { expireIn: messageTtlMs });
      }
    }
    const head: StreamHead = { n: base + group.length, from };
    atomic.set(this.#ownHead, head, { expireIn: messageTtlMs });
    atomic.set(this.#bell, head.n, { expireIn: messageTtlMs });
    const result = await atomic.commit();
    // Unchecked atomics only fail by throwing; this narrows the type.
    if (!result.ok) throw new Error("bus group was not committed");
    this.#n = head.n;
    this.#from = from;
    this.#lastCommitAt = now;
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) this.#options.clearTimeout(this.#timer);
    this.#timer = this.#options.setTimeout(() => this.#wake(), this.#options.pollIntervalMs);
  }

  /** Polls now, or right after the poll in flight. */
  #wake(): void {
    if (this.#closed) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    this.#polling = this.#poll();
  }

  async #poll(): Promise<void> {
    do {
      this.#pollAgain = false;
      try {
        await retryKvBusy(() => this.#readNew());
      } catch (error) {
        if (!this.#closed) this.#options.onError(error, "polling");
      }
    } while (this.#pollAgain && !this.#closed);
    this.#polling = null;
    this.#schedule();
  }

  /** Reads the streams' heads, then delivers what each moved stream holds after its cursor. */
  async #readNew(): Promise<void> {
    const heads = new Map<string, StreamHead>();
    for await (const entry of this.#kv.list<StreamHead>({ prefix: this.#headPrefix })) {
      const instance = entry.key[3] as string;
      if (instance !== this.instanceId) heads.set(instance, entry.value);
    }
    // A stream whose head expired is gone; if it comes back, its new run says where to start.
    for (const instance of this.#cursors.keys()) if (!heads.has(instance)) this.#cursors.delete(instance);
    for (const [instance, head] of heads) {
      if (this.#closed) return;
      const cursor = this.#cursors.get(instance) ?? head.from - 1;
      if (head.n > cursor) await this.#readStream(instance, cursor);
      // Written with the head, so listed unless expired: what was not found is gone, do not look again.
      this.#cursors.set(instance, Math.max(this.#cursors.get(instance) ?? cursor, head.n));
    }
  }

  /** Delivers one stream's messages after `cursor`, in order. */
  async #readStream(instance: string, cursor: number): Promise<void> {
    const prefix = [...this.#messagePrefix, instance];
    const iter = this.#kv.list<StoredMessage | string>({ prefix, start: [...prefix, cursor + 1] }, {
      batchSize: LIST_BATCH,
    });
    let current: { n: number; message: StoredMessage; pieces: string[] } | null = null;
    this.#cursors.set(instance, cursor);
    for await (const { key, value } of iter) {
      if (this.#closed) return;
      if (key.length === 6) {
        if (current && key[4] === current.n) current.pieces.push(value as string);
        continue;
      }
      if (current) this.#deliver(instance, current.n, current.message, current.pieces);
      current = { n: key[4] as number, message: value as StoredMessage, pieces: [] };
    }
    if (current && !this.#closed) this.#deliver(instance, current.n, current.message, current.pieces);
  }

  #deliver(instance: string, n: number, message: StoredMessage, pieces: string[]): void {
    this.#cursors.set(instance, n);
    const json = pieces.length ? message.j + pieces.join("") : message.j;
    const envelope: BusEnvelope = { room: message.r, origin: instance, body: JSON.parse(json) };
    for (const handler of this.#handlers) {
      try {
        handler(envelope);
      } catch (error) {
        this.#options.onError(error, `a handler threw on a message about room ${message.r}`);
      }
    }
  }

  /** Wakes the poller whenever a bell rings, where `kv.watch` sees the change. */
  async #watchBells(): Promise<void> {
    try {
      this.#watch = this.#kv.watch(this.#bells).getReader();
      for (;;) {
        const { done } = await this.#watch.read();
        if (done || this.#closed) return;
        this.#wake();
      }
    } catch (error) {
      if (!this.#closed) this.#options.onError(error, "watching the bells");
    }
  }
}

/** How many messages from the front of `outbox` fit one atomic (with the head and the bell). */
function groupSize(outbox: Outgoing[]): number {
  let mutations = 2;
  let bytes = 0;
  let count = 0;
  while (count < outbox.length) {
    const { json, room } = outbox[count];
    const pieces = pieceCount(json);
    const cost = serializedLength(json) + serializedLength(room) + KV_KEY_OVERHEAD * pieces;
    if (count > 0 && (mutations + pieces > GROUP_MAX_MUTATIONS || bytes + cost > KV_GROUP_MAX_BYTES)) break;
    mutations += pieces;
    bytes += cost;
    count++;
  }
  return count;
}

/** A small stable hash of a string (FNV-1a), to spread instances over the bells. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
