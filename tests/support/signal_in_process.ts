/**
 * Signaling instances inside the test's own process, on loopback ports, sharing
 * one in-memory KV (so the test can read and plant sessions, verifiers and log
 * entries) and one local bus (so two instances act as one deployment). The
 * clock is injectable: verifier and session lifetimes run on fake time.
 * @module
 */
import { type ServerConfig, SignalService } from "../../lib/server/mod.ts";
import { DEFAULT_CONFIG } from "../../lib/server/config.ts";
import type { IceServers } from "../../lib/server/ice_servers.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { KvRoomLog } from "../../lib/server/room_log_kv.ts";
import { SessionStore } from "../../lib/server/session_store.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";

/** Options of {@link startInProcess}. */
export interface InProcessOptions {
  /** Config overrides on top of the defaults. */
  config?: Partial<ServerConfig>;
  /** How many instances share the KV and the bus; default 1. */
  instances?: number;
  /** The clock of every instance, its log and its sessions; default `Date.now`. */
  now?: () => number;
  /** ICE servers handed to admitted sessions; default none. */
  ice?: IceServers;
}

/** One instance: its service and where it listens. */
export interface InProcessInstance {
  /** The service. */
  service: SignalService;
  /** Its port on 127.0.0.1. */
  port: number;
  /** The signaling URL of `room` on this instance. */
  signalUrl(room: string): string;
  /** The `/api/ice` URL of this instance. */
  iceUrl(room?: string): string;
}

/** Running instances and the state they share. */
export interface InProcessServer {
  /** The instances, in start order. */
  instances: InProcessInstance[];
  /** The first instance's signaling URL of `room`. */
  signalUrl(room: string): string;
  /** The shared KV (in memory). */
  kv: Deno.Kv;
  /** The shared room log. */
  log: KvRoomLog;
  /** A session store over the shared KV, with the instances' clock and retention, for checks. */
  store: SessionStore;
  /** The config in force. */
  config: ServerConfig;
  /** Shuts every instance down and releases the KV. */
  stop(): Promise<void>;
}

/** Starts in-process signaling instances. */
export async function startInProcess(options: InProcessOptions = {}): Promise<InProcessServer> {
  const config: ServerConfig = { ...DEFAULT_CONFIG, ...options.config };
  const now = options.now ?? Date.now;
  const kv = await Deno.openKv(":memory:");
  const log = new KvRoomLog(kv, {
    ttlMs: config.roomTtlMs,
    maxEntries: config.logMaxEntries,
    maxBytes: config.logMaxBytes,
    now,
  });
  const network = new LocalBusNetwork();
  const buses: ReturnType<LocalBusNetwork["join"]>[] = [];
  const servers: Deno.HttpServer[] = [];
  const instances: InProcessInstance[] = [];
  for (let i = 0; i < (options.instances ?? 1); i++) {
    const bus = network.join(`instance-${i}`);
    buses.push(bus);
    const service = new SignalService({ config, kv, log, bus, now, ice: options.ice });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => {
      const path = new URL(req.url).pathname;
      if (path === "/api/signal") return service.handle(req, info.remoteAddr);
      if (path === "/api/ice") return service.iceAccess.answerRequest(req);
      return new Response("not found", { status: 404 });
    });
    servers.push(server);
    const port = (server.addr as Deno.NetAddr).port;
    instances.push({
      service,
      port,
      signalUrl: (room) => `ws://127.0.0.1:${port}/api/signal?v=${PROTOCOL_VERSION}&room=${room}`,
      iceUrl: (room) => `http://127.0.0.1:${port}/api/ice${room === undefined ? "" : `?room=${room}`}`,
    });
  }
  const store = new SessionStore(kv, { ttlMs: config.roomTtlMs, now });
  return {
    instances,
    signalUrl: (room) => instances[0].signalUrl(room),
    kv,
    log,
    store,
    config,
    async stop() {
      for (const instance of instances) await instance.service.shutdown("test over");
      for (const server of servers) await server.shutdown();
      for (const bus of buses) await bus.close();
      await store.flush();
      log.close();
      kv.close();
    },
  };
}
