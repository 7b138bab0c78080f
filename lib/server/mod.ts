/**
 * The server folder's face: build the signaling service from the
 * environment, get the process's one instance, and shut it down.
 * @module
 */
import type { Bus } from "./bus.ts";
import { openBus } from "./bus_select.ts";
import { clientAddressResolver } from "./client_address.ts";
import { configFromEnv, type ServerConfig } from "./config.ts";
import { type IceServers, iceServersFromEnv } from "./ice_servers.ts";
import type { RoomLog } from "./room_log.ts";
import { KvRoomLog } from "./room_log_kv.ts";
import { KvBudget } from "./kv_budget.ts";
import { retryKvBusy } from "./kv_busy.ts";
import { SignalService } from "./signal_service.ts";

export { ConfigError, configFromEnv, DEFAULT_CONFIG } from "./config.ts";
export type { ServerConfig } from "./config.ts";
export { SignalService } from "./signal_service.ts";
export { metrics } from "./metrics.ts";

/** Options of `createSignalServer`; everything not given is built from the config. */
export interface SignalServerOptions {
  /** The config; default: `configFromEnv()`. */
  config?: ServerConfig;
  /** A KV to use (not closed on shutdown); default: `Deno.openKv(config.kvPath)`, closed on shutdown. */
  kv?: Deno.Kv;
  /** A room log to use (not closed on shutdown); default: the KV room log. */
  log?: RoomLog;
  /** A bus to use (not closed on shutdown); default: per `config.bus`. */
  bus?: Bus;
  /** ICE servers for admitted sessions; default: from `STUN_URLS`, `TURN_URLS`, `TURN_SECRET`... */
  ice?: IceServers;
}

/** A running signaling server: the request handler and its shutdown. */
export interface SignalServer {
  /** The config in force. */
  config: ServerConfig;
  /** The service, for tests and metrics. */
  service: SignalService;
  /** Answers a request to `/api/signal`; `remote` is the socket's peer (a trusted proxy's header may name the client). */
  handle(req: Request, remote: Deno.NetAddr | { hostname: string }): Response;
  /** Answers a request to `/api/ice` (see ice_access.ts); `remote` as for `handle`. */
  ice(req: Request, remote: Deno.NetAddr | { hostname: string }): Promise<Response>;
  /** Graceful stop: refuse new sockets, flush the log, close sockets with 1012, release KV and bus. */
  shutdown(reason?: string): Promise<void>;
}

/** Builds a signaling server and the KV, room log and bus it needs. */
export async function createSignalServer(options: SignalServerOptions = {}): Promise<SignalServer> {
  const config = options.config ?? configFromEnv();
  // Checked before anything opens: a bad ICE variable stops the server at start-up.
  const ice = options.ice ?? iceServersFromEnv();
  // Workers of `deno serve --parallel` open the one file at once, and SQLite may say "locked" to all but one.
  const kv = options.kv ?? await retryKvBusy(() => Deno.openKv(config.kvPath));
  const budget = new KvBudget(kv, {
    maxRooms: config.storageMaxRooms,
    maxBytes: config.storageMaxBytes,
    addressRooms: config.budgetAddressRooms,
    addressBytes: config.budgetAddressBytes,
    windowMs: config.budgetWindowMs,
    retentionMs: config.roomTtlMs,
  });
  const log = options.log ?? new KvRoomLog(kv, {
    ttlMs: config.roomTtlMs,
    maxEntries: config.logMaxEntries,
    maxBytes: config.logMaxBytes,
    onStored: budget.recordStored,
    commitRate: config.logCommitRate,
  });
  let bus: Bus;
  try {
    bus = options.bus ?? await openBus(config.bus, kv);
  } catch (error) {
    if (!options.log) log.close();
    if (!options.kv) kv.close();
    throw error;
  }
  const service = new SignalService({ config, kv, log, bus, ice, budget });
  const clientAddress = clientAddressResolver({
    trustedProxies: config.trustedProxies,
    header: config.forwardedHeader,
  });
  let stopping: Promise<void> | null = null;
  return {
    config,
    service,
    handle: (req, remote) => {
      const hostname = clientAddress(req.headers, remote.hostname);
      return service.handle(req, hostname === remote.hostname ? remote : { hostname });
    },
    ice: (req, remote) => service.iceAccess.answerRequest(req, clientAddress(req.headers, remote.hostname)),
    shutdown(reason) {
      stopping ??= (async () => {
        await service.shutdown(reason);
        await budget.close().catch((error) => console.error("signal: writing the storage budget failed", error));
        if (!options.bus) await bus.close();
        if (!options.log) log.close();
        if (!options.kv) kv.close();
      })();
      return stopping;
    },
  };
}

let current: Promise<SignalServer> | null = null;
let currentConfig: ServerConfig | null = null;

/** The process's configuration, read from the environment once; throws `ConfigError` on nonsense. */
export function serverConfig(): ServerConfig {
  currentConfig ??= configFromEnv();
  return currentConfig;
}

/** The process's signaling server once it has started (pages never wait for it to start). */
let started: SignalServer | null = null;

/** The process's signaling server, created from the environment on first use. */
export function getServer(): Promise<SignalServer> {
  current ??= (async () => started = await createSignalServer({ config: serverConfig() }))();
  return current;
}

/**
 * A page nonce for a page of `room` (its socket's early hello proves the key over it; see "Early hello" in
 * lib/protocol/README.md), or null when the process's signaling server has not started yet or cannot make one:
 * the page then connects by challenge, as a page from a cache does.
 */
export async function pageNonce(room: string): Promise<string | null> {
  if (!started) return null;
  try {
    return await started.service.pageNonces.issue(room);
  } catch (error) {
    console.error("signal: a page nonce could not be made", error);
    return null;
  }
}

/** Shuts the process's signaling server down, if it was started. */
export async function shutdown(reason?: string): Promise<void> {
  if (!current) return;
  const server = await current;
  await server.shutdown(reason);
}

/**
 * Shuts down gracefully on SIGINT/SIGTERM (Deno Deploy sends SIGINT before
 * eviction), then exits. Returns a function removing the listeners.
 */
export function shutdownOnSignals(exit: (code: number) => void = Deno.exit): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const onSignal = () => {
    shutdown("server restart").then(
      () => exit(0),
      (error) => {
        console.error("signal: shutdown failed", error);
        exit(1);
      },
    );
  };
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  return () => {
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  };
}
