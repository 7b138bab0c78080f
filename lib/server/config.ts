/**
 * Server options, read from the environment with every default in one place.
 * Durations in env are seconds; in `ServerConfig` they are milliseconds.
 * @module
 */

/** Which cross-instance bus to use. */
export type BusKind = "broadcast" | "kv";

/** A token bucket's shape. */
export interface RateOptions {
  /** Tokens (frames) added per second: the sustained rate. */
  perSecond: number;
  /** Bucket size: the burst allowed after a quiet spell (ICE candidates come in bursts). */
  burst: number;
}

/** Every tunable of the signaling server. */
export interface ServerConfig {
  /** How long a dropped peer keeps its id and stays "away" before "left" (`RESUME_WINDOW`, s). */
  resumeWindowMs: number;
  /** How long room log entries, sessions and verifiers are kept (`ROOM_TTL`, s). */
  roomTtlMs: number;
  /** The most entries one room's log keeps; the oldest go first (`ROOM_LOG_MAX_ENTRIES`). */
  logMaxEntries: number;
  /** The most ciphertext bytes one room's log keeps (`ROOM_LOG_MAX_BYTES`). */
  logMaxBytes: number;
  /** Entries read per page while streaming a backlog: bounds memory per joining peer. */
  backlogPageSize: number;
  /** The largest frame accepted, in UTF-8 bytes; larger closes with 1009 (`MAX_FRAME_BYTES`). */
  maxFrameBytes: number;
  /**
   * WebSocket idle timeout (`WS_IDLE_TIMEOUT`, s). Deno pings an idle socket after this long and
   * closes it if no pong follows. 20 s keeps carrier NAT/firewall mappings (often 30-60 s on
   * mobile) refreshed and finds dead phones within ~40 s, for about 2 small frames a minute.
   */
  idleTimeoutS: number;
  /** How long a new socket may wait before its `hello` (`HELLO_TIMEOUT`, s). */
  helloTimeoutMs: number;
  /** Frames per connection (`RATE_CONN`, `RATE_CONN_BURST`). */
  rateConnection: RateOptions;
  /** Frames per client address, over all its sockets (`RATE_ADDR`, `RATE_ADDR_BURST`). */
  rateAddress: RateOptions;
  /** Frames refused in a row by the rate limit before the socket is closed with 1008 (`RATE_STRIKES`). */
  rateStrikes: number;
  /** The most peers (online or away) in one room (`MAX_PEERS_PER_ROOM`). */
  maxPeersPerRoom: number;
  /** The most rooms one client address may have open on this instance (`MAX_ROOMS_PER_ADDRESS`). */
  maxRoomsPerAddress: number;
  /** Origins allowed to open sockets (`ALLOWED_ORIGINS`, comma list, `*` for any); null = same origin as Host. */
  allowedOrigins: string[] | null;
  /** Deno KV path (`KV_PATH`); undefined = the platform default (Deno Deploy's KV, or Deno's local default). */
  kvPath: string | undefined;
  /** Cross-instance bus (`BUS`: `broadcast` or `kv`). */
  bus: BusKind;
  /** About the most bytes of log data read per backlog page (`BACKLOG_PAGE_BYTES`): bounds memory per join. */
  backlogPageBytes: number;
  /** The most rooms the deployment keeps in KV (`STORAGE_MAX_ROOMS`); more: `storage_full`. */
  storageMaxRooms: number;
  /** The most log bytes the deployment keeps in KV (`STORAGE_MAX_BYTES`); more: `storage_full`. */
  storageMaxBytes: number;
  /** The most rooms one address group (IPv4 address, IPv6 /64) may register per window (`BUDGET_ADDR_ROOMS`). */
  budgetAddressRooms: number;
  /** The most log bytes one address group may append per window (`BUDGET_ADDR_BYTES`). */
  budgetAddressBytes: number;
  /** The per-address budget window (`BUDGET_WINDOW`, s). */
  budgetWindowMs: number;
}

/** The defaults, in one place. */
export const DEFAULT_CONFIG: Readonly<ServerConfig> = Object.freeze({
  resumeWindowMs: 120_000,
  roomTtlMs: 24 * 3600_000,
  logMaxEntries: 2_000,
  logMaxBytes: 8 * 1024 * 1024,
  backlogPageSize: 200,
  maxFrameBytes: 64 * 1024,
  idleTimeoutS: 20,
  helloTimeoutMs: 10_000,
  rateConnection: { perSecond: 50, burst: 200 },
  // Carrier-grade NAT puts many phones behind one address: per-address limits
  // stop a flood from one host without refusing a whole carrier's users.
  rateAddress: { perSecond: 1_000, burst: 4_000 },
  rateStrikes: 50,
  maxPeersPerRoom: 32,
  maxRoomsPerAddress: 256,
  allowedOrigins: null,
  kvPath: undefined,
  bus: "broadcast",
  backlogPageBytes: 256 * 1024,
  storageMaxRooms: 100_000,
  storageMaxBytes: 1024 * 1024 * 1024,
  budgetAddressRooms: 100,
  budgetAddressBytes: 64 * 1024 * 1024,
  budgetWindowMs: 3600_000,
});

/** Reads an environment variable; injectable for tests. */
export type EnvReader = (name: string) => string | undefined;

function denoEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (error) {
    // Without --allow-env every variable reads as unset: defaults apply.
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) return undefined;
    throw error;
  }
}

function number(env: EnvReader, name: string, fallback: number, scale = 1): number {
  const raw = env(name);
  if (raw === undefined || raw.trim() === "") return fallback * scale;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return value * scale;
}

/** Builds the server config from the environment, overridden by `overrides`. */
export function configFromEnv(env: EnvReader = denoEnv, overrides: Partial<ServerConfig> = {}): ServerConfig {
  const d = DEFAULT_CONFIG;
  const bus = env("BUS") ?? d.bus;
  if (bus !== "broadcast" && bus !== "kv") throw new Error(`BUS must be "broadcast" or "kv", got ${bus}`);
  const origins = env("ALLOWED_ORIGINS");
  const config: ServerConfig = {
    resumeWindowMs: number(env, "RESUME_WINDOW", d.resumeWindowMs / 1000, 1000),
    roomTtlMs: number(env, "ROOM_TTL", d.roomTtlMs / 1000, 1000),
    logMaxEntries: number(env, "ROOM_LOG_MAX_ENTRIES", d.logMaxEntries),
    logMaxBytes: number(env, "ROOM_LOG_MAX_BYTES", d.logMaxBytes),
    backlogPageSize: d.backlogPageSize,
    maxFrameBytes: number(env, "MAX_FRAME_BYTES", d.maxFrameBytes),
    idleTimeoutS: number(env, "WS_IDLE_TIMEOUT", d.idleTimeoutS),
    helloTimeoutMs: number(env, "HELLO_TIMEOUT", d.helloTimeoutMs / 1000, 1000),
    rateConnection: {
      perSecond: number(env, "RATE_CONN", d.rateConnection.perSecond),
      burst: number(env, "RATE_CONN_BURST", d.rateConnection.burst),
    },
    rateAddress: {
      perSecond: number(env, "RATE_ADDR", d.rateAddress.perSecond),
      burst: number(env, "RATE_ADDR_BURST", d.rateAddress.burst),
    },
    rateStrikes: number(env, "RATE_STRIKES", d.rateStrikes),
    maxPeersPerRoom: number(env, "MAX_PEERS_PER_ROOM", d.maxPeersPerRoom),
    maxRoomsPerAddress: number(env, "MAX_ROOMS_PER_ADDRESS", d.maxRoomsPerAddress),
    allowedOrigins: origins === undefined || origins.trim() === ""
      ? null
      : origins.split(",").map((o) => o.trim()).filter((o) => o !== ""),
    kvPath: env("KV_PATH") || undefined,
    bus,
    backlogPageBytes: number(env, "BACKLOG_PAGE_BYTES", d.backlogPageBytes),
    storageMaxRooms: number(env, "STORAGE_MAX_ROOMS", d.storageMaxRooms),
    storageMaxBytes: number(env, "STORAGE_MAX_BYTES", d.storageMaxBytes),
    budgetAddressRooms: number(env, "BUDGET_ADDR_ROOMS", d.budgetAddressRooms),
    budgetAddressBytes: number(env, "BUDGET_ADDR_BYTES", d.budgetAddressBytes),
    budgetWindowMs: number(env, "BUDGET_WINDOW", d.budgetWindowMs / 1000, 1000),
  };
  return { ...config, ...overrides };
}
