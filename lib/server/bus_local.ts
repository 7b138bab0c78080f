/**
 * An in-process bus: instances created on one `LocalBusNetwork` reach each
 * other synchronously-ish (on a microtask), as BroadcastChannel would, with
 * no channel to leak. For the hub's unit tests and for a single instance
 * (a network with one member delivers nothing).
 * @module
 */
import type { Bus, BusEnvelope } from "./bus.ts";

/** The members that reach each other, as one deployment's instances would. */
export class LocalBusNetwork {
  #members = new Set<LocalBus>();

  /** Adds a new instance to this network. */
  join(instanceId: string = crypto.randomUUID()): LocalBus {
    const bus = new LocalBus(instanceId, this.#members);
    this.#members.add(bus);
    return bus;
  }
}

/** One member of a `LocalBusNetwork`. */
export class LocalBus implements Bus {
  /** This instance's id. */
  readonly instanceId: string;
  #members: Set<LocalBus>;
  #handlers = new Set<(envelope: BusEnvelope) => void>();
  #closed = false;

  /** Use `LocalBusNetwork.join` instead. */
  constructor(instanceId: string, members: Set<LocalBus>) {
    this.instanceId = instanceId;
    this.#members = members;
  }

  /** Sends `body` about `room` to every other member, on a microtask, cloned as a channel would. */
  publish(room: string, body: unknown): void {
    if (this.#closed) throw new Error("bus is closed");
    const envelope: BusEnvelope = { room, origin: this.instanceId, body: structuredClone(body) };
    queueMicrotask(() => {
      for (const member of this.#members) {
        if (member !== this) member.#deliver(envelope);
      }
    });
  }

  /** Calls `handler` for every envelope from another member; returns an unsubscribe function. */
  subscribe(handler: (envelope: BusEnvelope) => void): () => void {
    this.#handlers.add(handler);
    return () => void this.#handlers.delete(handler);
  }

  /** Leaves the network. */
  close(): Promise<void> {
    this.#closed = true;
    this.#handlers.clear();
    this.#members.delete(this);
    return Promise.resolve();
  }

  #deliver(envelope: BusEnvelope): void {
    if (this.#closed) return;
    for (const handler of this.#handlers) handler(envelope);
  }
}
