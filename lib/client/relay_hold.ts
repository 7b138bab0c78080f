/**
 * The seed's relay policy, for the baseline benchmarks only (never loaded by
 * production pages unless `CLIENT_RELAY_HOLD_MS` asks for it): chat, history
 * sync included, waits on the relay until P2P had its chance, and each new
 * P2P attempt gets the full wait again. With `Infinity` chat never uses the
 * relay (a P2P-only design: the courier re-sends over the DataChannel).
 * WebRTC negotiation itself is never held.
 * @module
 */
import type { RelayPolicy } from "./room/relay_policy.ts";
import { GLOBAL_TIMERS, type Timers, TimerSet } from "./timer_set.ts";

/** Options of {@link createRelayHold}. */
export interface RelayHoldOptions {
  /** How long chat waits for P2P, in ms; `Infinity`: forever (P2P only). */
  holdMs: number;
  /** Timers; default to the global ones. */
  timers?: Timers;
  /** Wall clock. */
  now?(): number;
}

/** The seed policy: hold relay chat while a P2P attempt has its chance. */
export function createRelayHold(options: RelayHoldOptions): RelayPolicy {
  const { holdMs } = options;
  const now = options.now ?? Date.now;
  const timers = new TimerSet<"hold">(options.timers ?? GLOBAL_TIMERS);
  let holdUntil = 0;
  const held: (() => void)[] = [];

  function flush(): void {
    timers.clear("hold");
    const sends = held.splice(0);
    // A P2P-only design never uses the relay for chat: the courier re-sends over the DataChannel.
    if (holdMs === Infinity) return;
    holdUntil = 0;
    for (const send of sends) send();
  }

  return {
    holdMs,
    relay(send) {
      if (now() < holdUntil) held.push(send);
      else send();
    },
    linkStarting() {
      if (!(holdMs > 0)) return;
      holdUntil = Math.max(holdUntil, now() + holdMs);
      if (Number.isFinite(holdMs)) timers.set("hold", holdUntil - now(), flush);
    },
    // P2P is up: anything held goes now (duplicates are dropped by id).
    linkOpened: flush,
    close() {
      timers.clearAll();
      held.length = 0;
    },
  };
}
