/**
 * Relay-first versus the seed's policy when P2P never succeeds: time from
 * "both peers connected to the server" to "first message delivered", with
 * the same client code, the seed policy configured to hold chat for P2P up
 * to 10 s first. Real server, real WebSockets, a WebRTC that never connects.
 * @module
 */
import { createRoomClient, type RoomClient } from "../../lib/client/room/mod.ts";
import { createRelayHold } from "../../lib/client/relay_hold.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { newRoomId } from "../../lib/protocol/mod.ts";
import { FakeNetwork } from "../client/_fake_rtc.ts";
import { ServerProcess } from "../support/server_process.ts";
import { until as poll } from "../support/until.ts";

const RUNS = 3;
const REQUIRED_RATIO = 10;
const SEED_HOLD_MS = 10_000;

/** Polls every 2 ms, so the measured times carry at most 2 ms of polling error. */
function until(what: string, check: () => boolean): Promise<void> {
  return poll(check, { what, timeoutMs: 60_000, intervalMs: 2 });
}

async function firstDelivery(origin: string, relayHoldMs: number): Promise<number> {
  const network = new FakeNetwork({ setTimeout: (fn, ms) => setTimeout(fn, ms) });
  network.reachable = false;
  const room = newRoomId();
  const key = crypto.getRandomValues(new Uint8Array(32));
  const open = (name: string) =>
    createRoomClient({
      origin,
      room,
      keyBytes: key,
      store: new MemoryStore(),
      createWebSocket: (url) => new WebSocket(url),
      createPeerConnection: network.factory(name),
      fetchIce: () => Promise.resolve({ iceServers: [], ttl: 600, expiresAt: Date.now() + 600_000 }),
      relayPolicy: relayHoldMs ? createRelayHold({ holdMs: relayHoldMs }) : undefined,
    });
  const clients: RoomClient[] = [await open("a"), await open("b")];
  const [alice, bob] = clients;
  try {
    await until(
      "both peers connected",
      () => clients.every((c) => c.connection.value.kind === "connected" && c.peers.value.length === 1),
    );
    const start = performance.now();
    await alice.send("hello");
    await until(
      "the first message delivered",
      () => bob.messages.value.length === 1 && alice.messages.value[0]?.status === "delivered",
    );
    return performance.now() - start;
  } finally {
    for (const c of clients) c.close();
  }
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/** Runs the benchmark and prints the comparison. */
export async function runDeliveryBench(): Promise<{ ok: boolean }> {
  const kvDir = await Deno.makeTempDir();
  const server = await ServerProcess.start({ kvPath: `${kvDir}/kv.sqlite3` });
  try {
    const relayFirst: number[] = [];
    const seed: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      relayFirst.push(await firstDelivery(server.httpUrl, 0));
      seed.push(await firstDelivery(server.httpUrl, SEED_HOLD_MS));
    }
    const ours = median(relayFirst);
    const theirs = median(seed);
    const ratio = theirs / ours;
    console.log(`\n## First message delivered after both peers connect, P2P never succeeding (median of ${RUNS})`);
    console.log(`  Parley, relay first           ${ours.toFixed(1).padStart(9)} ms`);
    console.log(`  seed policy (wait 10 s P2P)   ${theirs.toFixed(1).padStart(9)} ms`);
    console.log(`  ratio seed/Parley             ${ratio.toFixed(0).padStart(9)}x (required: >= ${REQUIRED_RATIO}x)`);
    return { ok: ratio >= REQUIRED_RATIO };
  } finally {
    await server.stop("SIGTERM");
    await Deno.remove(kvDir, { recursive: true });
  }
}

if (import.meta.main) {
  const { ok } = await runDeliveryBench();
  if (!ok) Deno.exit(1);
}
