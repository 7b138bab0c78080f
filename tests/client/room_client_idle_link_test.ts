/**
 * An idle peer link, end to end: two room clients on a real (in-process)
 * server, over the fake WebRTC network. Their DataChannel closes after the
 * idle time on both sides, chat goes on over the relay, and the next message
 * opens P2P again, delivered once.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { createRoomClient, type RoomClient } from "../../lib/client/room/mod.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { newRoomId } from "../../lib/protocol/mod.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { until } from "../support/until.ts";
import { FakeNetwork } from "./_fake_rtc.ts";

/** The idle time under test: short, so the test runs in real time. */
const IDLE_MS = 1_500;

Deno.test("an idle DataChannel closes on both sides; the relay carries the next message, which opens P2P again", async () => {
  const server = await startInProcess();
  const network = new FakeNetwork({ setTimeout: (fn, ms) => setTimeout(fn, ms) });
  const room = newRoomId();
  const key = crypto.getRandomValues(new Uint8Array(32));
  const origin = `http://127.0.0.1:${server.instances[0].port}`;
  const open = (owner: string): Promise<RoomClient> =>
    createRoomClient({
      origin,
      room,
      keyBytes: key,
      store: new MemoryStore(),
      createWebSocket: (url) => new WebSocket(url),
      createPeerConnection: network.factory(owner),
      profileOverrides: { reconnectBaseMs: 50, reconnectCapMs: 500, p2pIdleCloseMs: IDLE_MS },
    });
  const alice = await open("alice");
  const bob = await open("bob");
  const pathTo = (client: RoomClient) => client.peers.value[0]?.path;
  const bodies = (client: RoomClient) => client.messages.value.map((m) => m.body);
  try {
    await until(() => pathTo(alice) === "p2p" && pathTo(bob) === "p2p", { what: "P2P both ways", timeoutMs: 10_000 });
    await alice.send("over p2p");
    await until(() => bodies(bob).includes("over p2p"), { what: "the first message", timeoutMs: 10_000 });

    await until(() => pathTo(alice) === "relay" && pathTo(bob) === "relay", {
      what: "both links closed for idleness",
      timeoutMs: 10 * IDLE_MS,
    });
    assertEquals(network.connections.filter((pc) => !pc.closed).length, 0, "no live connection left");
    const built = network.connections.length;
    await new Promise((resolve) => setTimeout(resolve, 2 * IDLE_MS));
    assertEquals(network.connections.length, built, "an idle link waits for chat: no retry");

    await bob.send("wakes it");
    await until(() => bodies(alice).includes("wakes it"), { what: "the waking message", timeoutMs: 10_000 });
    await until(() => pathTo(alice) === "p2p" && pathTo(bob) === "p2p", { what: "P2P again", timeoutMs: 10_000 });
    assert(network.connections.length > built, "new connections");
    await alice.send("p2p again");
    await until(() => bodies(bob).includes("p2p again"), { what: "a message on the new link", timeoutMs: 10_000 });
    assertEquals(bodies(bob).filter((b) => b === "wakes it").length, 1, "shown once");
    assertEquals(bodies(alice).filter((b) => b === "wakes it").length, 1, "shown once");
  } finally {
    alice.close();
    bob.close();
    await server.stop();
  }
});
