/**
 * The delivery policy the server asks its pages to use. Production always
 * uses relay first (hold 0). The other values exist so the network lab can
 * measure the seed's policy and a P2P-only design with the same client code.
 * An operator may also set how long an idle DataChannel stays open.
 * @module
 */

/** How long chat waits for P2P before using the relay: 0, a number of ms, or "never" (P2P only). */
export type RelayHold = number | "never";

/** Reads `CLIENT_RELAY_HOLD_MS` (default 0); throws a clear error for anything else. */
export function relayHoldFromEnv(get: (name: string) => string | undefined = (n) => Deno.env.get(n)): RelayHold {
  const raw = get("CLIENT_RELAY_HOLD_MS")?.trim();
  if (!raw) return 0;
  if (raw === "never") return "never";
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0 || ms > 600_000) {
    throw new Error(`CLIENT_RELAY_HOLD_MS must be 0-600000 ms or "never", got "${raw}"`);
  }
  return ms;
}

/** The most `CLIENT_P2P_IDLE_MS` may be: a day. */
const MAX_P2P_IDLE_MS = 86_400_000;

/**
 * Reads `CLIENT_P2P_IDLE_MS`: how long a DataChannel may carry no chat before pages close it, in ms (1000 to a day);
 * undefined when unset (pages use their network profile's: 2 minutes on phones, 10 on desktops). Throws a clear error
 * for anything else.
 */
export function p2pIdleFromEnv(get: (name: string) => string | undefined = (n) => Deno.env.get(n)): number | undefined {
  const raw = get("CLIENT_P2P_IDLE_MS")?.trim();
  if (!raw) return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1_000 || ms > MAX_P2P_IDLE_MS) {
    throw new Error(`CLIENT_P2P_IDLE_MS must be 1000-${MAX_P2P_IDLE_MS} ms, got "${raw}"`);
  }
  return ms;
}
