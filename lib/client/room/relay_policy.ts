/**
 * When chat may use the server relay. Parley sends on the relay at once
 * ({@link RELAY_AT_ONCE}); benchmarks swap in the seed's policy
 * (`lib/client/relay_hold.ts`), which holds chat until P2P had its chance.
 * The room calls the hooks; it never knows which policy it runs.
 * @module
 */

/** Decides when relay chat goes out. */
export interface RelayPolicy {
  /** How long chat waits for P2P before the relay, in ms (0: never waits), for the event log. */
  readonly holdMs: number;
  /** Sends one relay frame carrying chat now, or later. */
  relay(send: () => void): void;
  /** A P2P attempt to a peer starts. */
  linkStarting(): void;
  /** A DataChannel opened. */
  linkOpened(): void;
  /** The room closes: drop timers and anything held. */
  close(): void;
}

/** Relay first: chat never waits for P2P. */
export const RELAY_AT_ONCE: RelayPolicy = {
  holdMs: 0,
  relay: (send) => send(),
  linkStarting() {},
  linkOpened() {},
  close() {},
};
