/**
 * The bus over Deno KV (`BUS=kv`), for platforms where BroadcastChannel does
 * not cross instances, and for separate processes sharing one KV file.
 *
 * Messages go to an append-only log: `[ns, channel, "m", n]` with a short
 * `expireIn`, where `n` comes from the head `[ns, channel, "head"]`, bumped in
 * the same atomic under a versionstamp check, so numbers are unique, gapless
 * and in commit order. Each instance keeps a cursor, lists what lies after
 * it, and skips its own messages. A publisher commits its queued messages in
 * order, one group per atomic, so every instance sees them in publish order.
 *
 * Latency: `kv.watch` on the head wakes readers at once where it sees other
 * writers (Deno Deploy). On local SQLite it does not see other processes'
 * writes, so readers also poll every `pollIntervalMs` (default 100 ms): a
 * message then waits half that on average, at the cost of one KV read per
 * interval per instance even when idle (on Deploy, reads are billed: raise the
 * interval there, watch carries the latency). BroadcastChannel, where it
 * works, is faster and free.
 * @module
 */
import type { Bus, BusEnvelope } from "./bus.ts";
import { DEFAULT_BUS_CHANNEL } from "./bus_broadcast.ts";
import { retryKvBusy } from "./kv_busy.ts";
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
  /** Whether to also wake on `kv.watch` of the head, which is instant where it works. */
  watch?: boolean;
  /** Where background errors go (KV failures while publishing or polling, throwing handlers). */
  onError?: (error: unknown, context: string) => void;
}

/** Defaults of every option. */
const DEFAULTS = {
  channel: DEFAULT_BUS_CHANNEL,
  namespace: "bus",
  pollIntervalMs: 100,
  messageTtlMs: 60_000,
  watch: true,
  onError: (error: unknown, context: string) => console.error(`KV bus: ${context}:`, error),
};

/** KV allows 1000 mutations per atomic; keep a margin. */
const GROUP_MAX_MUTATIONS = 900;
/** Messages listed per KV round trip while polling. */
const LIST_BATCH = 256;
/** The longest pause between publish retries after a KV failure, in ms. */
const MAX_RETRY_PAUSE_MS = 1_000;
/** Publish attempts still made for the outbox once the bus is closing. */
const CLOSING_ATTEMPTS = 3;

/** A message as stored: origin, room, JSON of the body (first piece), number of pieces. */
interface StoredMessage {
  o: string;
  r: string;
  j: string;
  p: number;
}

interface Outgoing {
  room: string;
  json: string;
}

/** Opens the KV at `path` and a bus on it that closes the KV when it closes. */
export async function openKvBus(path: string | undefined, options: KvBusOptions = {}): Promise<KvBus> {
  const kv = await Deno.openKv(path);
  try {
    return await KvBus.open(kv, options, true);
  } catch (error) {
    kv.close();
    throw error;
  }
}

/** A bus whose messages travel through a log in Deno KV. */
export class KvBus implements Bus {
  /** This instance's id, random per process or worker. */
  readonly instanceId: string;
  #kv: Deno.Kv;
  #ownsKv: boolean;
  #options: Required<Omit<KvBusOptions, "instanceId">>;
  #headKey: Deno.KvKey;
  #messagePrefix: Deno.KvKey;
  #handlers = new Set<(envelope: BusEnvelope) => void>();
  #cursor: number;
  #outbox: Outgoing[] = [];
  #flushing: Promise<void> | null = null;
  #polling: Promise<void> | null = null;
  #pollAgain = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #watch: ReadableStreamDefaultReader<Deno.KvEntryMaybe<unknown>[]> | null = null;
  #watching: Promise<void> | null = null;
  #closed = false;

  /** Starts a bus on `kv` reading from its current head; closes `kv` on `close()` only when `ownsKv`. */
  static async open(kv: Deno.Kv, options: KvBusOptions = {}, ownsKv = false): Promise<KvBus> {
    const channel = options.channel ?? DEFAULTS.channel;
    const namespace = options.namespace ?? DEFAULTS.namespace;
    const head = await retryKvBusy(() => kv.get<number>([namespace, channel, "head"]));
    return new KvBus(kv, options, ownsKv, head.value ?? 0);
  }

  private constructor(kv: Deno.Kv, options: KvBusOptions, ownsKv: boolean, cursor: number) {
    this.#kv = kv;
    this.#ownsKv = ownsKv;
    this.instanceId = options.instanceId ?? crypto.randomUUID();
    this.#options = {
      channel: options.channel ?? DEFAULTS.channel,
      namespace: options.namespace ?? DEFAULTS.namespace,
      pollIntervalMs: options.pollIntervalMs ?? DEFAULTS.pollIntervalMs,
      messageTtlMs: options.messageTtlMs ?? DEFAULTS.messageTtlMs,
      watch: options.watch ?? DEFAULTS.watch,
      onError: options.onError ?? DEFAULTS.onError,
    };
    const { namespace, channel } = this.#options;
    this.#headKey = [namespace, channel, "head"];
    this.#messagePrefix = [namespace, channel, "m"];
    this.#cursor = cursor;
    this.#schedule();
    if (this.#options.watch) this.#watching = this.#watchHead();
  }

  /** Queues `body` about `room` for every other instance; it is committed in order, soon. */
  publish(room: string, body: unknown): void {
    if (this.#closed) throw new Error("bus is closed");
    const json = JSON.stringify(body);
    if (json === undefined) throw new TypeError("bus message body is not JSON-serialisable");
    this.#outbox.push({ room, json });
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
    clearTimeout(this.#timer);
    await this.#flushing;
    await this.#polling;
    this.#handlers.clear();
    if (this.#watch) await this.#watch.cancel();
    await this.#watching;
    if (this.#ownsKv) this.#kv.close();
  }

  /** Commits the outbox group by group, retrying KV failures so nothing published is lost. */
  async #flush(): Promise<void> {
    let failures = 0;
    while (this.#outbox.length) {
      const count = groupSize(this.#outbox);
      try {
        await retryKvBusy(() => this.#commit(this.#outbox, count));
        this.#outbox.splice(0, count);
        failures = 0;
      } catch (error) {
        failures++;
        this.#options.onError(error, `publishing ${count} message(s), attempt ${failures}`);
        if (this.#closed && failures > CLOSING_ATTEMPTS) {
          this.#options.onError(error, `closing: gave up on ${this.#outbox.length} message(s)`);
          this.#outbox.length = 0;
          break;
        }
        const pause = Math.min(MAX_RETRY_PAUSE_MS, 10 * 2 ** Math.min(failures, 7));
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
    this.#flushing = null;
  }

  /** Commits the first `count` outgoing messages under the next numbers, retrying lost races. */
  async #commit(outbox: Outgoing[], count: number): Promise<void> {
    const { messageTtlMs } = this.#options;
    for (;;) {
      const head = await this.#kv.get<number>(this.#headKey);
      const base = head.value ?? 0;
      const atomic = this.#kv.atomic()
        .check({ key: this.#headKey, versionstamp: head.versionstamp })
        .set(this.#headKey, base + count);
      for (let i = 0; i < count; i++) {
        const { room, json } = outbox[i];
        const key = [...this.#messagePrefix, base + 1 + i];
        const pieces = pieceCount(json);
        const value: StoredMessage = { o: this.instanceId, r: room, j: piece(json, 0), p: pieces };
        atomic.set(key, value, { expireIn: messageTtlMs });
        for (let part = 1; part < pieces; part++) {
          atomic.set([...key, part], piece(json, part), {
            expireIn: messageTtlMs,
          });
        }
      }
      if ((await atomic.commit()).ok) return;
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#wake(), this.#options.pollIntervalMs);
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

  /** Delivers every message after the cursor, in order, and moves the cursor past them. */
  async #readNew(): Promise<void> {
    const iter = this.#kv.list<StoredMessage | string>({
      prefix: this.#messagePrefix,
      start: [...this.#messagePrefix, this.#cursor + 1],
    }, { batchSize: LIST_BATCH });
    let current: { n: number; message: StoredMessage; pieces: string[] } | null = null;
    for await (const { key, value } of iter) {
      if (this.#closed) return;
      if (key.length === 5) {
        if (current && key[3] === current.n) current.pieces.push(value as string);
        continue;
      }
      if (current) this.#deliver(current.n, current.message, current.pieces);
      current = { n: key[3] as number, message: value as StoredMessage, pieces: [] };
    }
    if (current && !this.#closed) this.#deliver(current.n, current.message, current.pieces);
  }

  #deliver(n: number, message: StoredMessage, pieces: string[]): void {
    this.#cursor = n;
    if (message.o === this.instanceId) return;
    const json = pieces.length ? message.j + pieces.join("") : message.j;
    const envelope: BusEnvelope = { room: message.r, origin: message.o, body: JSON.parse(json) };
    for (const handler of this.#handlers) {
      try {
        handler(envelope);
      } catch (error) {
        this.#options.onError(error, `a handler threw on a message about room ${message.r}`);
      }
    }
  }

  /** Wakes the poller whenever the head changes, where `kv.watch` sees the change. */
  async #watchHead(): Promise<void> {
    try {
      this.#watch = this.#kv.watch([this.#headKey]).getReader();
      for (;;) {
        const { done } = await this.#watch.read();
        if (done || this.#closed) return;
        this.#wake();
      }
    } catch (error) {
      if (!this.#closed) this.#options.onError(error, "watching the head");
    }
  }
}

/** How many messages from the front of `outbox` fit one atomic. */
function groupSize(outbox: Outgoing[]): number {
  let mutations = 1;
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
