/**
 * Hubs for unit tests: one or more instances sharing an in-memory KV, a room
 * log and a local bus, with sockets that record what they are sent. Joining
 * goes through one helper, so a change of the hello handshake is made here.
 * @module
 */
import type { HelloFrame } from "../../lib/protocol/frames.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { configFromEnv, type ServerConfig } from "../../lib/server/config.ts";
import { Hub, type JoinAdmission, type JoinResult } from "../../lib/server/hub.ts";
import type { StorageBudget } from "../../lib/server/kv_budget.ts";
import type { PeerSocket } from "../../lib/server/room.ts";
import type { RoomLog } from "../../lib/server/room_log.ts";
import { MemoryRoomLog } from "../../lib/server/room_log_memory.ts";
import { SessionStore } from "../../lib/server/session_store.ts";

/** A socket that records what the hub sends. */
export class FakeSocket implements PeerSocket {
  /** Frames sent, parsed. */
  sent: Record<string, unknown>[] = [];
  /** The close, once closed. */
  closed: { code: number; reason: string } | null = null;
  /** Records a frame. */
  send(text: string): void {
    this.sent.push(JSON.parse(text));
  }
  /** Records the close. */
  close(code: number, reason: string): void {
    this.closed ??= { code, reason };
  }
  /** Frames of one type. */
  of(type: string): Record<string, unknown>[] {
    return this.sent.filter((frame) => frame.type === type);
  }
}

/** What `openHubs` builds. */
export interface HubHarness {
  /** The shared KV. */
  kv: Deno.Kv;
  /** The config every hub uses. */
  config: ServerConfig;
  /** The shared room log. */
  log: RoomLog;
  /** One session store per hub (all on `kv`). */
  stores: SessionStore[];
  /** The hubs: separate instances of one deployment. */
  hubs: Hub[];
  /** Shuts every hub down and releases the KV. */
  close(): Promise<void>;
}

/** Options of `openHubs`. */
export interface HubHarnessOptions {
  /** How many instances (default 1). */
  count?: number;
  /** Config overrides. */
  config?: Partial<ServerConfig>;
  /** The room log (default: an in-memory one). */
  log?: RoomLog;
  /** Session stores to use instead of plain ones, by hub index. */
  store?: (kv: Deno.Kv, config: ServerConfig) => SessionStore;
  /** The storage budget of every hub (default: none). */
  budget?: StorageBudget;
  /** The clock. */
  now?: () => number;
  /** A KV to use (not closed by the harness). */
  kv?: Deno.Kv;
}

/** Builds hubs sharing one KV, log and bus network. */
export async function openHubs(options: HubHarnessOptions = {}): Promise<HubHarness> {
  const config = configFromEnv(() => undefined, options.config ?? {});
  const kv = options.kv ?? await Deno.openKv(":memory:");
  const log = options.log ?? new MemoryRoomLog({ ttlMs: config.roomTtlMs, maxEntries: 1000, maxBytes: 1 << 20 });
  const network = new LocalBusNetwork();
  const stores: SessionStore[] = [];
  const hubs: Hub[] = [];
  for (let i = 0; i < (options.count ?? 1); i++) {
    const store = options.store?.(kv, config) ?? new SessionStore(kv, { ttlMs: config.roomTtlMs, now: options.now });
    stores.push(store);
    hubs.push(new Hub({ config, store, log, bus: network.join(`inst${i}`), budget: options.budget, now: options.now }));
  }
  return {
    kv,
    config,
    log,
    stores,
    hubs,
    async close() {
      for (const hub of hubs) await hub.shutdown();
      if (!options.log) log.close();
      if (!options.kv) kv.close();
    },
  };
}

/** A made-up proof of the room key, the same for everyone who has it. */
export const PROOF = "cHJvb2Ytb2YtdGhlLXJvb20ta2V5LWZvci10ZXN0cw";

/**
 * Joins `room` on `hub` from `address` with a fresh socket. Admission (checked by the signal service,
 * before the hub) is taken as passed; `admission` says what it decided, e.g. `{ registers: true }` for
 * the creator of a new room.
 */
export async function join(
  hub: Hub,
  room: string,
  address = "10.0.0.1",
  hello: Partial<HelloFrame> = {},
  admission: JoinAdmission = {},
): Promise<{ socket: FakeSocket; result: JoinResult }> {
  const socket = new FakeSocket();
  const frame: HelloFrame = { type: "hello", v: 1, proof: PROOF, ...hello };
  const result = await hub.join(socket, address, room, frame, () => true, undefined, admission);
  return { socket, result };
}
