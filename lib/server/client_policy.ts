/**
 * The delivery policy the server asks its pages to use. Production always
 * uses relay first (hold 0). The other values exist so the network lab can
 * measure the seed's policy and a P2P-only design with the same client code.
 * An operator may also set how long an idle DataChannel stays open.
 * @module
 */

/** How long chat waits for P2P before using the relay: 0, a number of ms, or "never" (P2P only). */
export type RelayHold = number | "never";

/** Reads an environment variable. */
type EnvGetter = (name: string) => string | undefined;

const DENO_ENV: EnvGetter = (name) => Deno.env.get(name);

/**
 * A whole number of ms from `min` to `max` in the variable `name` (undefined when unset or blank); throws a clear error
 * naming the variable for anything else (`or` adds another accepted spelling to the message).
 */
function msFromEnv(get: EnvGetter, name: string, min: number, max: number, or = ""): number | undefined {
  const raw = get(name)?.trim();
  if (!raw) return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < min || ms > max) {
    throw new Error(`${name} must be ${min}-${max} ms${or}, got "${raw}"`);
  }
  return ms;
}

/** Reads `CLIENT_RELAY_HOLD_MS` (default 0); throws a clear error for anything else. */
export function relayHoldFromEnv(get: EnvGetter = DENO_ENV): RelayHold {
  if (get("CLIENT_RELAY_HOLD_MS")?.trim() === "never") return "never";
  return msFromEnv(get, "CLIENT_RELAY_HOLD_MS", 0, 600_000, ' or "never"') ?? 0;
}

/** The most `CLIENT_P2P_IDLE_MS` may be: a day. */
const MAX_P2P_IDLE_MS = 86_400_000;

/**
 * Reads `CLIENT_P2P_IDLE_MS`: how long a DataChannel may carry no chat before pages close it, in ms (1000 to a day);
 * undefined when unset (pages use their network profile's: 2 minutes on phones, 10 on desktops). Throws a clear error
 * for anything else.
 */
export function p2pIdleFromEnv(get: EnvGetter = DENO_ENV): number | undefined {
  return msFromEnv(get, "CLIENT_P2P_IDLE_MS", 1_000, MAX_P2P_IDLE_MS);
}
