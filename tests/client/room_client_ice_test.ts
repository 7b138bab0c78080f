/**
 * The room client's peer links against a real (in-process) server, over the
 * fake WebRTC network: the client is admitted by challenge-response, registers
 * a new room, and its links get their TURN credentials over the signaling
 * socket, with nothing fetched over HTTP. An idle DataChannel closes on both
 * sides, chat goes on over the relay, and the next message opens P2P again.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { createRoomClient, type RoomClient } from "../../lib/client/room/mod.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import type { NetworkTimings } from "../../lib/client/network_profile.ts";
import { newRoomId } from "../../lib/protocol/mod.ts";
import { IceServers, parseIceConfig } from "../../lib/server/ice_servers.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { until } from "../support/until.ts";
import { FakeNetwork } from "./_fake_rtc.ts";

/** Opens room clients of one new room on `port`, each on the fake network under its owner's name. */
function opener(port: number, network: FakeNetwork, overrides: Partial<NetworkTimings> = {}) {
  const room = newRoomId();
  const key = crypto.getRandomValues(new Uint8Array(32));
  return {
    room,
    open: (owner: string): Promise<RoomClient> =>
      createRoomClient({
        origin: `http://127.0.0.1:${port}`,
        room,
        keyBytes: key,
        store: new MemoryStore(),
        createWebSocket: (url) => new WebSocket(url),
        createPeerConnection: network.factory(owner),
        profileOverrides: { reconnectBaseMs: 50, reconnectCapMs: 500, ...overrides },
      }),
  };
}

Deno.test("two room clients are admitted, and their peer links get TURN credentials over the socket", async () => {
  const env: Record<string, string> = {
    TURN_URLS: "turn:turn.example.org:3478?transport=udp",
    TURN_SECRET: "s3cret-that-must-never-leave-the-server",
  };
  const server = await startInProcess({ ice: new IceServers(parseIceConfig((name) => env[name])) });
  const network = new FakeNetwork({ setTimeout: (fn, ms) => setTimeout(fn, ms) });
  const { room, open } = opener(server.instances[0].port, network);
  const fetched: string[] = [];
  const fetchBefore = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    fetched.push(String(input));
    return fetchBefore(input, init);
  };
  const alice = await open("alice");
  const bob = await open("bob");
  try {
    await until(() => network.connections.length >= 2, { what: "both peer links built", timeoutMs: 10_000 });
    for (const pc of network.connections) {
      const turn = pc.config.iceServers?.find((s) => String(s.urls).startsWith("turn:"));
      assert(turn, `no TURN server in ${JSON.stringify(pc.config)}`);
      const self = pc.owner === "alice" ? alice.self.value.id : bob.self.value.id;
      assertEquals(String(turn.username).split(":")[1], self, "a credential minted for this peer's session");
    }
    assertEquals(fetched, [], "nothing went over HTTP");
    assert(await server.store.verifier(room) !== null, "the first client registered the room");
  } finally {
    globalThis.fetch = fetchBefore;
    alice.close();
    bob.close();
    await server.stop();
  }
});

/** The idle time under test: short, so the test runs in real time. */
const IDLE_MS = 1_500;

Deno.test("an idle DataChannel closes on both sides; the relay carries the next message, which opens P2P again", async () => {
  const server = await startInProcess();
  const network = new FakeNetwork({ setTimeout: (fn, ms) => setTimeout(fn, ms) });
  const { open } = opener(server.instances[0].port, network, { p2pIdleCloseMs: IDLE_MS });
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
