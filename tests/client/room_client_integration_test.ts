/**
 * The client core against the real server over real WebSockets, with no
 * DataChannel: chat flows on the relay alone, and a server killed mid-stream
 * and restarted on the same KV loses nothing.
 * @module
 */
import { assertEquals } from "@std/assert";
import { createRoomClient, type RoomClient } from "../../lib/client/room/mod.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { newRoomId } from "../../lib/protocol/mod.ts";
import { ServerProcess } from "../support/server_process.ts";
import { until as poll } from "../support/until.ts";

const FAST = {
  reconnectBaseMs: 50,
  reconnectCapMs: 500,
  resendIntervalMs: 300,
  heartbeatIntervalMs: 2_000,
  heartbeatTimeoutMs: 1_000,
};

/** Waits for `check`, polling every 20 ms. */
function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  return poll(check, { what, timeoutMs, intervalMs: 20 });
}

function client(origin: string, room: string, keyBytes: Uint8Array, store = new MemoryStore()): Promise<RoomClient> {
  return createRoomClient({
    origin,
    room,
    keyBytes,
    store,
    createWebSocket: (url) => new WebSocket(url),
    fetchIce: () => Promise.resolve({ iceServers: [], ttl: 600, expiresAt: Date.now() + 600_000 }),
    profileOverrides: FAST,
  });
}

function bodies(c: RoomClient): string[] {
  return c.messages.value.map((m) => m.body);
}

Deno.test("relay-only chat: every message once, same order, all delivered, across a server SIGKILL", async (t) => {
  const kvDir = await Deno.makeTempDir();
  const kvPath = `${kvDir}/kv.sqlite3`;
  let server = await ServerProcess.start({ kvPath });
  const port = server.port;
  const origin = server.httpUrl;
  const room = newRoomId();
  const key = crypto.getRandomValues(new Uint8Array(32));
  let alice = await client(origin, room, key);
  const bobStore = new MemoryStore();
  let bob = await client(origin, room, key, bobStore);
  try {
    await t.step("both connect and see each other", async () => {
      await until(
        "both connected",
        () => alice.connection.value.kind === "connected" && bob.connection.value.kind === "connected",
      );
      await until("presence", () => alice.peers.value.length === 1 && bob.peers.value.length === 1);
      assertEquals(alice.peers.value[0].path, "relay");
    });

    await t.step("messages flow both ways on the relay and reach Delivered", async () => {
      for (let i = 0; i < 10; i++) {
        await alice.send(`a${i}`);
        await bob.send(`b${i}`);
      }
      await until("20 messages each side", () => bodies(alice).length === 20 && bodies(bob).length === 20);
      assertEquals(bodies(alice), bodies(bob), "the same order on both sides");
      await until(
        "all delivered",
        () => [...alice.messages.value, ...bob.messages.value].every((m) => !m.own || m.status === "delivered"),
      );
    });

    await t.step("the server is killed mid-stream and restarted on the same KV: nothing is lost", async () => {
      const sending = (async () => {
        for (let i = 0; i < 30; i++) {
          await alice.send(`k${i}`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 80));
      await server.stop("SIGKILL");
      await until("alice sees the drop", () => alice.connection.value.kind !== "connected");
      await sending;
      server = await ServerProcess.start({ kvPath, port });
      await until("50 messages on both sides", () => bodies(alice).length === 50 && bodies(bob).length === 50, 30_000);
      assertEquals(bodies(alice), bodies(bob));
      const expected = new Set([...Array(10).keys()].flatMap((i) => [`a${i}`, `b${i}`]));
      for (let i = 0; i < 30; i++) expected.add(`k${i}`);
      assertEquals(new Set(bodies(bob)), expected, "every message, none twice");
      await until(
        "all delivered after the restart",
        () => alice.messages.value.every((m) => !m.own || m.status === "delivered"),
      );
    });

    await t.step(
      "the room log restarts empty: a phone that was away reads the new log and misses nothing",
      async () => {
        bob.close();
        await server.stop("SIGKILL");
        // A new KV: the log starts over at seq 1 under a new epoch, far below bob's `since`.
        server = await ServerProcess.start({ kvPath: `${kvDir}/fresh.sqlite3`, port });
        const after = ["r0", "r1", "r2"];
        for (const body of after) await alice.send(body);
        await until(
          "alice's new messages are in the new log",
          () => alice.messages.value.filter((m) => after.includes(m.body)).every((m) => m.status !== "pending"),
        );
        // Alice leaves: only the log can tell bob what he missed.
        alice.close();
        bob = await client(origin, room, key, bobStore);
        await until("bob has the messages written after the reset", () => after.every((b) => bodies(bob).includes(b)));
        alice = await client(origin, room, key);
        await until("alice is back", () => alice.connection.value.kind === "connected");
      },
    );
  } finally {
    alice.close();
    bob.close();
    await server.stop("SIGTERM");
    await Deno.remove(kvDir, { recursive: true });
  }
});
