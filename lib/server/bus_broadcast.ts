/**
 * The bus over BroadcastChannel: one channel per deployment, which Deno
 * Deploy carries between its isolates and Deno carries between the workers
 * of `deno serve --parallel` (and any Web Workers of one process). It does not
 * cross separate processes: use `bus_kv.ts` there.
 * @module
 */
import type { Bus, BusEnvelope } from "./bus.ts";

/** Options of the BroadcastChannel bus. */
export interface BroadcastBusOptions {
  /** The channel's name: instances of one deployment meet on it, other deployments stay apart. */
  channel?: string;
  /** This instance's id; random by default, fixed in tests that need to know it. */
  instanceId?: string;
}

/** The channel every instance of a deployment shares by default. */
export const DEFAULT_BUS_CHANNEL = "parley-bus";

/** A bus whose messages travel on a BroadcastChannel. */
export class BroadcastBus implements Bus {
  /** This instance's id, random per process or worker. */
  readonly instanceId: string;
  #channel: BroadcastChannel;
  #handlers = new Set<(envelope: BusEnvelope) => void>();
  #closed = false;

  /** Joins the deployment's channel. */
  constructor(options: BroadcastBusOptions = {}) {
    this.instanceId = options.instanceId ?? crypto.randomUUID();
    this.#channel = new BroadcastChannel(options.channel ?? DEFAULT_BUS_CHANNEL);
    this.#channel.onmessage = (event: MessageEvent<BusEnvelope>) => this.#deliver(event.data);
    this.#channel.onmessageerror = (event) => {
      throw new Error(`bus ${this.instanceId} received a message it cannot deserialise: ${event}`);
    };
  }

  /** Sends `body` about `room` to every other instance. */
  publish(room: string, body: unknown): void {
    if (this.#closed) throw new Error("bus is closed");
    const envelope: BusEnvelope = { room, origin: this.instanceId, body };
    this.#channel.postMessage(envelope);
  }

  /** Calls `handler` for every envelope from another instance; returns an unsubscribe function. */
  subscribe(handler: (envelope: BusEnvelope) => void): () => void {
    this.#handlers.add(handler);
    return () => void this.#handlers.delete(handler);
  }

  /** Stops delivery and closes the channel. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#handlers.clear();
      this.#channel.close();
    }
    return Promise.resolve();
  }

  #deliver(envelope: BusEnvelope): void {
    // Another BroadcastBus in this same worker with our id cannot exist, but a
    // second deployment sharing the name could echo: ignore our own either way.
    if (this.#closed || envelope.origin === this.instanceId) return;
    for (const handler of this.#handlers) handler(envelope);
  }
}
