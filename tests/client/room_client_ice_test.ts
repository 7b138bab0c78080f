/**
 * The room client against a real (in-process) server: it is admitted by
 * challenge-response, registers a new room, and its peer links get their TURN
 * credentials over the signaling socket, with nothing fetched over HTTP.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { createRoomClient, type RoomClient } from "../../lib/client/room/mod.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { newRoomId } from "../../lib/protocol/mod.ts";
import { IceServers, parseIceConfig } from "../../lib/server/ice_servers.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { until } from "../support/until.ts";
import { FakeNetwork } from "./_fake_rtc.ts";

Deno.test("two room clients are admitted, and their peer links get TURN credentials over the socket", async () => {
  const env: Record<string, string> = {
    TURN_URLS: "turn:turn.example.org:3478?transport=udp",
    TURN_SECRET: "s3cret-that-must-never-leave-the-server",
  };
  const server = await startInProcess({ ice: new IceServers(parseIceConfig((name) => env[name])) });
  const network = new FakeNetwork({ setTimeout: (fn, ms) => setTimeout(fn, ms) });
  const room = newRoomId();
  const key = crypto.getRandomValues(new Uint8Array(32));
  const origin = `http://127.0.0.1:${server.instances[0].port}`;
  const fetched: string[] = [];
  const open = (owner: string): Promise<RoomClient> =>
    createRoomClient({
      origin,
      room,
      keyBytes: key,
      store: new MemoryStore(),
      createWebSocket: (url) => new WebSocket(url),
      createPeerConnection: network.factory(owner),
      profileOverrides: { reconnectBaseMs: 50, reconnectCapMs: 500 },
    });
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
