/**
 * Server options, read from the environment with every default in one place.
 * Durations in env are whole seconds; in `ServerConfig` they are milliseconds.
 * A value that makes no sense (zero peers per room, a fractional burst, a log
 * smaller than one frame) stops the server at start with a `ConfigError`
 * naming the variable, instead of failing a user's socket later.
 * @module
 */
import { FORWARDED_HEADERS, type ForwardedHeader, parseTrustedProxies } from "./client_address.ts";

/**
 * Which cross-instance bus to use: `auto` (BroadcastChannel, plus Deno KV while
 * instances exist that BroadcastChannel does not reach), or one of them always.
 */
export type BusKind = "auto" | "broadcast" | "kv";

/** The values `BUS` accepts. */
export const BUS_KINDS: readonly BusKind[] = ["auto", "broadcast", "kv"];

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
  /**
   * The most log commits per second one room makes, after a burst (`ROOM_LOG_COMMIT_RATE`,
   * `ROOM_LOG_COMMIT_BURST`): frames that come faster go in fewer, bigger commits.
   */
  logCommitRate: RateOptions;
  /** Entries read per page while streaming a backlog: bounds memory per joining peer. */
  backlogPageSize: number;
  /** The largest frame accepted, in UTF-8 bytes; larger closes with 1009 (`MAX_FRAME_BYTES`). */
  maxFrameBytes: number;
  /**
   * WebSocket idle timeout (`WS_IDLE_TIMEOUT`, s). Deno pings a socket that sent nothing for half of
   * it and closes it when nothing (a pong) follows within the other half. 60 s: Parley clients ping
   * at least every 25 s while visible, so the server never pings them on top (one radio wake-up per
   * period, not two); a client that does not ping still hears from the server every 30 s (carrier
   * NAT mappings often last 30-60 s); a dead phone is found within 60 s.
   */
  idleTimeoutS: number;
  /** How long a new socket may wait before its `hello` (`HELLO_TIMEOUT`, s). */
  helloTimeoutMs: number;
  /**
   * How long `accepted` may wait for a receiver's `ack` of the same message to ride along
   * (`ACCEPTED_DELAY`, ms; 0 sends it at once): one frame and one packet fewer per message.
   */
  acceptedDelayMs: number;
  /** Frames per connection (`RATE_CONN`, `RATE_CONN_BURST`). */
  rateConnection: RateOptions;
  /**
   * Bytes (characters) per connection, every frame counted by its length (`RATE_CONN_BYTES` per second,
   * `RATE_CONN_BYTES_BURST`, at least `MAX_FRAME_BYTES`): past it frames are refused like past the frame rate.
   */
  rateConnectionBytes: RateOptions;
  /** Frames per client address, over all its sockets (`RATE_ADDR`, `RATE_ADDR_BURST`). */
  rateAddress: RateOptions;
  /**
   * Bytes (characters) per client address, over all its sockets (`RATE_ADDR_BYTES` per second,
   * `RATE_ADDR_BYTES_BURST`, at least `MAX_FRAME_BYTES`): a new socket brings no new bytes.
   */
  rateAddressBytes: RateOptions;
  /**
   * Frames refused by the rate limits, less the frames accepted since, before the socket is closed with 1008
   * (`RATE_STRIKES`): a burst past a limit is forgiven, a socket that keeps sending several times its rate is not.
   */
  rateStrikes: number;
  /** The most peers (online or away) in one room (`MAX_PEERS_PER_ROOM`). */
  maxPeersPerRoom: number;
  /** The most rooms one client address may have open on this instance (`MAX_ROOMS_PER_ADDRESS`). */
  maxRoomsPerAddress: number;
  /** Origins allowed to open sockets (`ALLOWED_ORIGINS`, comma list, `*` for any); null = same origin as Host. */
  allowedOrigins: string[] | null;
  /** Deno KV path (`KV_PATH`); undefined = the platform default (Deno Deploy's KV, or Deno's local default). */
  kvPath: string | undefined;
  /** Cross-instance bus (`BUS`: `auto`, `broadcast` or `kv`). */
  bus: BusKind;
  /**
   * The most bytes waiting to be written on one socket (`SEND_QUEUE_BYTES`); more closes it with
   * 4008. At least two frames; a backlog streams in windows of half of it.
   */
  sendQueueBytes: number;
  /** How long bytes may wait on a socket with no write completing before it closes with 4008 (`SEND_STALL_TIMEOUT`, s). */
  sendStallMs: number;
  /**
   * The most bytes waiting to be written on all sockets together (`SEND_QUEUE_TOTAL_BYTES`): past it, a
   * socket that already has bytes waiting closes with 4008 instead of taking more. At least `sendQueueBytes`.
   */
  sendQueueTotalBytes: number;
  /**
   * The most hellos this instance works on at once, admission and join up to the welcome (`HELLOS_IN_FLIGHT`);
   * the rest wait their turn, per address group.
   */
  hellosInFlight: number;
  /** The most hellos of one address group waiting for their turn (`HELLOS_QUEUED_PER_ADDRESS`); more: `busy`. */
  hellosQueuedPerAddress: number;
  /** The most open sockets of one address group on this instance (`MAX_SOCKETS_PER_ADDRESS`); more: HTTP 429 `busy`. */
  maxSocketsPerAddress: number;
  /**
   * The most sockets of one address group not welcomed yet on this instance (`MAX_PENDING_PER_ADDRESS`); more:
   * HTTP 429 `busy`.
   */
  maxPendingPerAddress: number;
  /**
   * Sockets of one address group refused for abuse within a minute (a wrong proof, an oversized or binary frame,
   * no hello in time, a rate-limit close) that start its cool-down (`ABUSE_STRIKES`).
   */
  abuseStrikes: number;
  /** How long an address group in its cool-down has its new sockets refused (`ABUSE_COOLDOWN`, s; HTTP 429 `busy`). */
  abuseCooldownMs: number;
  /** CIDRs of reverse proxies whose forwarding header is believed (`TRUSTED_PROXIES`); empty = none. */
  trustedProxies: string[];
  /** The header those proxies append the client's address to (`FORWARDED_HEADER`). */
  forwardedHeader: ForwardedHeader;
  /** The bearer token `/metrics` requires (`METRICS_TOKEN`); null = `/metrics` is open. */
  metricsToken: string | null;
  /** About the most bytes of log data read per backlog page (`BACKLOG_PAGE_BYTES`): bounds memory per join. */
  backlogPageBytes: number;
  /** The most rooms the deployment keeps in KV (`STORAGE_MAX_ROOMS`); more: `storage_full`. */
  storageMaxRooms: number;
  /** The most log bytes the deployment keeps in KV (`STORAGE_MAX_BYTES`); more: `storage_full`. */
  storageMaxBytes: number;
  /** The most rooms one address group (IPv4 address, IPv6 /64) may register per window (`BUDGET_ADDR_ROOMS`). */
  budgetAddressRooms: number;
  /**
   * Hellos one address group may send to rooms without a verifier (new rooms) on this instance, as a token
   * bucket (`NEW_ROOM_RATE_ADDR` per second, `NEW_ROOM_RATE_ADDR_BURST`): the window's budget of new rooms, not
   * all at once. Checked right after the verifier lookup, before the rest of the KV work.
   */
  newRoomRate: RateOptions;
  /**
   * Pace of admitted hellos (new sessions and resumes) per client address group on one instance, as a token bucket
   * (`JOIN_RATE_ADDR` per second, `JOIN_RATE_ADDR_BURST`): each reads the room's seats and writes a presence, so
   * sessions churned in a loop would keep the KV writing. Past it: `busy`, close 1013, and the client retries.
   */
  joinRate: RateOptions;
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
  // People chatting commit a few times a second; a room flooding within its frame limits (50/s per socket) is held
  // to 20 KV commits a second however many sockets it uses.
  logCommitRate: { perSecond: 20, burst: 10 },
  backlogPageSize: 200,
  maxFrameBytes: 64 * 1024,
  idleTimeoutS: 60,
  helloTimeoutMs: 10_000,
  // A receiver's ack comes back within a round trip or two of the relayed chat frame, even on a slow phone link.
  acceptedDelayMs: 500,
  rateConnection: { perSecond: 50, burst: 200 },
  // 256 KiB a second is hundreds of messages; the burst takes the longest paste (65,536 characters: 9 frames of
  // about 61 KB) several times. Without it, one socket could log 50 frames of 64 KiB a second (3.2 MB/s).
  rateConnectionBytes: { perSecond: 256 * 1024, burst: 4 * 1024 * 1024 },
  // Carrier-grade NAT puts many phones behind one address: per-address limits
  // stop a flood from one host without refusing a whole carrier's users.
  rateAddress: { perSecond: 1_000, burst: 4_000 },
  // Four sockets' worth: carrier-grade NAT shares it; opening sockets (or reconnecting) gets no more of it.
  rateAddressBytes: { perSecond: 1024 * 1024, burst: 16 * 1024 * 1024 },
  rateStrikes: 50,
  maxPeersPerRoom: 32,
  maxRoomsPerAddress: 256,
  allowedOrigins: null,
  kvPath: undefined,
  bus: "auto",
  // 1 MiB (16 full frames) on top of the kernel's own send buffer, which is about 4 MB on Linux.
  sendQueueBytes: 1024 * 1024,
  sendStallMs: 10_000,
  // 8 full send queues: a reading client has nothing waiting here (the kernel's buffer takes it), so this
  // is what non-reading clients can make the process hold, however many sockets they open.
  sendQueueTotalBytes: 8 * 1024 * 1024,
  // A join is a few KV round trips one after the other: 4 in flight keep up with hundreds of joins a second,
  // while a flood of hellos can only put 4 requests at a time in the KV's queue, ahead of members' messages.
  hellosInFlight: 4,
  // Carrier-grade NAT: many phones behind one address may reconnect at once; they wait, up to this many.
  hellosQueuedPerAddress: 64,
  // Carrier-grade NAT again: generous; what non-reading sockets can make the process hold is bounded on its own.
  maxSocketsPerAddress: 2_048,
  // A socket is pending for one round trip and a proof; 128 at once is a crowd reconnecting behind one address.
  maxPendingPerAddress: 128,
  // A wrong link is refused once and the client does not retry it: 20 a minute is a flood, not a mistake.
  abuseStrikes: 20,
  abuseCooldownMs: 60_000,
  trustedProxies: [],
  forwardedHeader: "x-forwarded-for",
  metricsToken: null,
  backlogPageBytes: 256 * 1024,
  storageMaxRooms: 100_000,
  storageMaxBytes: 1024 * 1024 * 1024,
  // Carrier-grade NAT puts many phones behind one IPv4 address: generous, the global budget is the backstop.
  budgetAddressRooms: 1_000,
  // The hourly budget's pace (900 an hour), 50 at once (a classroom behind one address): a new room costs a
  // dozen KV round trips, so a walk through fresh rooms is paced before any of them.
  newRoomRate: { perSecond: 0.25, burst: 50 },
  // Carrier-grade NAT again: a restart brings every phone behind one address back at once. 60 at once and 5 a
  // second after that bound a member's churn to about 15 KV writes a second while a crowd is back within seconds.
  joinRate: { perSecond: 5, burst: 60 },
  budgetAddressBytes: 256 * 1024 * 1024,
  budgetWindowMs: 3600_000,
});

/** Reads an environment variable; injectable for tests. */
export type EnvReader = (name: string) => string | undefined;

/** A setting that makes no sense: which variable, what it held, and what it must be. */
export class ConfigError extends Error {
  /** The environment variable at fault. */
  readonly variable: string;
  /** Its value as read. */
  readonly value: string;

  /** Builds the error; the message reads `VARIABLE must be ..., got "value"`. */
  constructor(variable: string, value: string, requirement: string) {
    super(`${variable} must be ${requirement}, got "${value}"`);
    this.name = "ConfigError";
    this.variable = variable;
    this.value = value;
  }
}

/** The longest duration a timer can wait (setTimeout's 2^31-1 ms), in whole seconds. */
const MAX_TIMER_S = 2_147_483;
/** The shortest metrics token: guessable tokens protect nothing. */
const METRICS_TOKEN_MIN_CHARS = 16;

function denoEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (error) {
    // Without --allow-env every variable reads as unset: defaults apply.
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) return undefined;
    throw error;
  }
}

/** The raw value, or undefined when unset or blank. */
function read(env: EnvReader, name: string): string | undefined {
  const raw = env(name);
  return raw === undefined || raw.trim() === "" ? undefined : raw.trim();
}

/** A whole number from `min` to `max` (digits only: no sign, fraction, exponent or hex). */
function whole(env: EnvReader, name: string, fallback: number, min: number, max: number, unit = ""): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    throw new ConfigError(name, raw, `a whole number${unit} from ${min} to ${max}`);
  }
  return value;
}

/** A number above zero, fractions allowed (a rate of 0.5 frames per second is a rate). */
function positive(env: EnvReader, name: string, fallback: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(value > 0 && value <= max)) throw new ConfigError(name, raw, `a number above 0 and at most ${max}`);
  return value;
}

/** `*` or origins exactly as browsers send them (`https://host[:port]`, no path or trailing slash). */
function parseOrigins(raw: string): string[] {
  const origins = raw.split(",").map((o) => o.trim()).filter((o) => o !== "");
  for (const origin of origins) {
    let exact = origin === "*";
    try {
      exact ||= new URL(origin).origin === origin;
    } catch { /* not a URL */ }
    if (!exact) {
      throw new ConfigError("ALLOWED_ORIGINS", raw, `"*" or origins such as https://chat.example (${origin}?)`);
    }
  }
  return origins;
}

/** Builds the server config from the environment, overridden by `overrides`; throws `ConfigError`. */
export function configFromEnv(env: EnvReader = denoEnv, overrides: Partial<ServerConfig> = {}): ServerConfig {
  const d = DEFAULT_CONFIG;
  const bus = read(env, "BUS") ?? d.bus;
  if (!BUS_KINDS.includes(bus as BusKind)) throw new ConfigError("BUS", bus, `one of ${BUS_KINDS.join(", ")}`);
  const origins = env("ALLOWED_ORIGINS");
  const header = (read(env, "FORWARDED_HEADER") ?? d.forwardedHeader).toLowerCase();
  if (!FORWARDED_HEADERS.includes(header as ForwardedHeader)) {
    throw new ConfigError("FORWARDED_HEADER", header, `one of ${FORWARDED_HEADERS.join(", ")}`);
  }
  let trustedProxies = [...d.trustedProxies];
  const proxies = read(env, "TRUSTED_PROXIES");
  if (proxies !== undefined) {
    try {
      trustedProxies = parseTrustedProxies(proxies);
    } catch (error) {
      throw new ConfigError(
        "TRUSTED_PROXIES",
        proxies,
        `a comma-separated list of addresses and CIDRs (${(error as Error).message})`,
      );
    }
  }
  const metricsToken = read(env, "METRICS_TOKEN") ?? d.metricsToken;
  if (metricsToken !== null && (metricsToken.length < METRICS_TOKEN_MIN_CHARS || /[\s,]/.test(metricsToken))) {
    throw new ConfigError(
      "METRICS_TOKEN",
      "(hidden)",
      `at least ${METRICS_TOKEN_MIN_CHARS} characters without spaces or commas`,
    );
  }
  const seconds = (name: string, fallbackMs: number, min: number, max: number) =>
    whole(env, name, fallbackMs / 1000, min, max, " of seconds") * 1000;
  const roomTtlMs = seconds("ROOM_TTL", d.roomTtlMs, 60, 10 * 365 * 86_400);
  const resumeWindowMs = seconds("RESUME_WINDOW", d.resumeWindowMs, 1, MAX_TIMER_S - 60);
  if (resumeWindowMs > roomTtlMs) {
    throw new ConfigError("RESUME_WINDOW", String(resumeWindowMs / 1000), `at most ROOM_TTL (${roomTtlMs / 1000})`);
  }
  const maxFrameBytes = whole(env, "MAX_FRAME_BYTES", d.maxFrameBytes, 1_024, 512 * 1024);
  const logMaxBytes = whole(env, "ROOM_LOG_MAX_BYTES", d.logMaxBytes, 1, Number.MAX_SAFE_INTEGER);
  if (logMaxBytes < maxFrameBytes) {
    // An entry larger than the log's bound can never be stored: every such frame would fail.
    throw new ConfigError(
      "ROOM_LOG_MAX_BYTES",
      String(logMaxBytes),
      `at least MAX_FRAME_BYTES (${maxFrameBytes}), or no frame of that size could be logged`,
    );
  }
  const config: ServerConfig = {
    resumeWindowMs,
    roomTtlMs,
    logMaxEntries: whole(env, "ROOM_LOG_MAX_ENTRIES", d.logMaxEntries, 1, 1_000_000_000),
    logMaxBytes,
    logCommitRate: {
      perSecond: positive(env, "ROOM_LOG_COMMIT_RATE", d.logCommitRate.perSecond, 1e12),
      burst: whole(env, "ROOM_LOG_COMMIT_BURST", d.logCommitRate.burst, 1, 1e12),
    },
    backlogPageSize: d.backlogPageSize,
    maxFrameBytes,
    idleTimeoutS: whole(env, "WS_IDLE_TIMEOUT", d.idleTimeoutS, 1, 3_600, " of seconds"),
    helloTimeoutMs: seconds("HELLO_TIMEOUT", d.helloTimeoutMs, 1, 3_600),
    acceptedDelayMs: whole(env, "ACCEPTED_DELAY", d.acceptedDelayMs, 0, 10_000, " of milliseconds"),
    rateConnection: {
      perSecond: positive(env, "RATE_CONN", d.rateConnection.perSecond, 1e12),
      burst: whole(env, "RATE_CONN_BURST", d.rateConnection.burst, 1, 1e12),
    },
    rateConnectionBytes: {
      perSecond: positive(env, "RATE_CONN_BYTES", d.rateConnectionBytes.perSecond, 1e15),
      burst: whole(env, "RATE_CONN_BYTES_BURST", d.rateConnectionBytes.burst, 1, Number.MAX_SAFE_INTEGER),
    },
    rateAddress: {
      perSecond: positive(env, "RATE_ADDR", d.rateAddress.perSecond, 1e12),
      burst: whole(env, "RATE_ADDR_BURST", d.rateAddress.burst, 1, 1e12),
    },
    rateAddressBytes: {
      perSecond: positive(env, "RATE_ADDR_BYTES", d.rateAddressBytes.perSecond, 1e15),
      burst: whole(env, "RATE_ADDR_BYTES_BURST", d.rateAddressBytes.burst, 1, Number.MAX_SAFE_INTEGER),
    },
    rateStrikes: whole(env, "RATE_STRIKES", d.rateStrikes, 0, 1_000_000),
    maxPeersPerRoom: whole(env, "MAX_PEERS_PER_ROOM", d.maxPeersPerRoom, 2, 10_000),
    maxRoomsPerAddress: whole(env, "MAX_ROOMS_PER_ADDRESS", d.maxRoomsPerAddress, 1, 1e12),
    allowedOrigins: origins === undefined || origins.trim() === "" ? null : parseOrigins(origins),
    kvPath: env("KV_PATH") || undefined,
    bus: bus as BusKind,
    trustedProxies,
    forwardedHeader: header as ForwardedHeader,
    metricsToken,
    sendQueueBytes: whole(env, "SEND_QUEUE_BYTES", d.sendQueueBytes, 2 * 1024, Number.MAX_SAFE_INTEGER),
    sendStallMs: seconds("SEND_STALL_TIMEOUT", d.sendStallMs, 1, 3_600),
    hellosInFlight: whole(env, "HELLOS_IN_FLIGHT", d.hellosInFlight, 1, 100_000),
    hellosQueuedPerAddress: whole(env, "HELLOS_QUEUED_PER_ADDRESS", d.hellosQueuedPerAddress, 1, 1_000_000),
    abuseStrikes: whole(env, "ABUSE_STRIKES", d.abuseStrikes, 1, 1e9),
    abuseCooldownMs: seconds("ABUSE_COOLDOWN", d.abuseCooldownMs, 1, 86_400),
    maxSocketsPerAddress: whole(env, "MAX_SOCKETS_PER_ADDRESS", d.maxSocketsPerAddress, 1, 1e9),
    maxPendingPerAddress: whole(env, "MAX_PENDING_PER_ADDRESS", d.maxPendingPerAddress, 1, 1e9),
    sendQueueTotalBytes: whole(env, "SEND_QUEUE_TOTAL_BYTES", d.sendQueueTotalBytes, 2 * 1024, Number.MAX_SAFE_INTEGER),
    backlogPageBytes: whole(env, "BACKLOG_PAGE_BYTES", d.backlogPageBytes, 1, Number.MAX_SAFE_INTEGER),
    storageMaxRooms: whole(env, "STORAGE_MAX_ROOMS", d.storageMaxRooms, 1, 1e12),
    storageMaxBytes: whole(env, "STORAGE_MAX_BYTES", d.storageMaxBytes, 1, Number.MAX_SAFE_INTEGER),
    budgetAddressRooms: whole(env, "BUDGET_ADDR_ROOMS", d.budgetAddressRooms, 1, 1e12),
    joinRate: {
      perSecond: positive(env, "JOIN_RATE_ADDR", d.joinRate.perSecond, 1e12),
      burst: whole(env, "JOIN_RATE_ADDR_BURST", d.joinRate.burst, 1, 1e12),
    },
    newRoomRate: {
      perSecond: positive(env, "NEW_ROOM_RATE_ADDR", d.newRoomRate.perSecond, 1e12),
      burst: whole(env, "NEW_ROOM_RATE_ADDR_BURST", d.newRoomRate.burst, 1, 1e12),
    },
    budgetAddressBytes: whole(env, "BUDGET_ADDR_BYTES", d.budgetAddressBytes, 1, Number.MAX_SAFE_INTEGER),
    budgetWindowMs: seconds("BUDGET_WINDOW", d.budgetWindowMs, 1, 366 * 86_400),
  };
  const merged = { ...config, ...overrides };
  if (merged.sendQueueBytes < 2 * merged.maxFrameBytes) {
    throw new ConfigError(
      "SEND_QUEUE_BYTES",
      String(merged.sendQueueBytes),
      `at least twice MAX_FRAME_BYTES (${2 * merged.maxFrameBytes})`,
    );
  }
  if (merged.rateConnectionBytes.burst < merged.maxFrameBytes) {
    // A frame bigger than the burst could never pass.
    throw new ConfigError(
      "RATE_CONN_BYTES_BURST",
      String(merged.rateConnectionBytes.burst),
      `at least MAX_FRAME_BYTES (${merged.maxFrameBytes})`,
    );
  }
  if (merged.rateAddressBytes.burst < merged.maxFrameBytes) {
    throw new ConfigError(
      "RATE_ADDR_BYTES_BURST",
      String(merged.rateAddressBytes.burst),
      `at least MAX_FRAME_BYTES (${merged.maxFrameBytes})`,
    );
  }
  if (merged.sendQueueTotalBytes < merged.sendQueueBytes) {
    throw new ConfigError(
      "SEND_QUEUE_TOTAL_BYTES",
      String(merged.sendQueueTotalBytes),
      `at least SEND_QUEUE_BYTES (${merged.sendQueueBytes})`,
    );
  }
  return merged;
}
