/**
 * A full room is not a silent dead end: a tab refused a seat (`room_full`)
 * says so, keeps trying, and joins once a place is free, the notice then
 * gone. Real room clients against the real signaling server, in a process of
 * its own with 2 seats per room (one address: the seats are first come, first
 * served).
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { effect } from "@preact/signals-core";
import { createRoomClient, memorySessionSlot, type RoomClient } from "../../lib/client/room/mod.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { newRoomId } from "../../lib/protocol/mod.ts";
import { ServerProcess } from "../support/server_process.ts";
import { until as poll } from "../support/until.ts";

const FAST = { reconnectBaseMs: 50, reconnectCapMs: 500, resendIntervalMs: 300 };

function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  return poll(check, { what, timeoutMs, intervalMs: 20 });
}

function open(origin: string, room: string, key: Uint8Array): Promise<RoomClient> {
  return createRoomClient({
    origin,
    room,
    keyBytes: key,
    store: new MemoryStore(),
    session: memorySessionSlot(),
    createWebSocket: (url) => new WebSocket(url),
    fetchIce: () => Promise.resolve({ iceServers: [], ttl: 600, expiresAt: Date.now() + 600_000 }),
    profileOverrides: FAST,
  });
}

Deno.test({
  name: "a tab refused a seat in a full room says so, keeps trying, and joins once a place is free",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await ServerProcess.start({ env: { MAX_PEERS_PER_ROOM: "2" } });
    const room = newRoomId();
    const key = crypto.getRandomValues(new Uint8Array(32));
    const clients: RoomClient[] = [];
    try {
      const alice = await open(server.httpUrl, room, key);
      clients.push(alice);
      await until("alice connected", () => alice.connection.value.kind === "connected");
      const bob = await open(server.httpUrl, room, key);
      clients.push(bob);
      await until("bob connected", () => bob.connection.value.kind === "connected");

      const carol = await open(server.httpUrl, room, key);
      clients.push(carol);
      const shown: string[] = [];
      const stop = effect(() => void shown.push(carol.connection.value.kind));
      await until("carol told the room is full", () => carol.notice?.value?.code === "room_full");
      // It keeps trying: several refused attempts, never a dead end ("refused" is for a wrong link).
      await until("a few more attempts", () => shown.filter((kind) => kind === "reconnecting").length >= 3);
      assert(!shown.includes("refused") && !shown.includes("connected"), shown.join(" "));

      bob.leave();
      await until("carol joined once bob left", () => carol.connection.value.kind === "connected");
      assertEquals(carol.notice?.value ?? null, null, "the notice is gone once in");
      await alice.send("hello carol");
      await until("carol has it", () => carol.messages.value.some((m) => m.body === "hello carol"));
      stop();
    } finally {
      for (const client of clients) client.close();
      await server.stop("SIGTERM");
    }
  },
});
