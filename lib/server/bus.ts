/**
 * The cross-instance bus contract: how server instances serving peers of one
 * room reach each other. Implementations: `bus_broadcast.ts`
 * (BroadcastChannel: Deno Deploy isolates, `deno serve --parallel` workers)
 * and `bus_kv.ts` (Deno KV, where BroadcastChannel does not cross instances).
 * @module
 */

/** A message published on the bus, delivered to every other instance. */
export interface BusEnvelope {
  /** The room it concerns; instances with no peer in it may ignore it cheaply. */
  room: string;
  /** The id of the publishing instance. */
  origin: string;
  /** The payload: any structured-clonable, JSON-serialisable value. */
  body: unknown;
}

/** A channel between the server instances of one deployment. */
export interface Bus {
  /** This instance's id, random per process or worker. */
  readonly instanceId: string;
  /** Sends `body` about `room` to every other instance (never back to this one). */
  publish(room: string, body: unknown): void;
  /** Calls `handler` for every envelope from another instance; returns an unsubscribe function. */
  subscribe(handler: (envelope: BusEnvelope) => void): () => void;
  /** Stops delivery and releases the channel. */
  close(): Promise<void>;
}
