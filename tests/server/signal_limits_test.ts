import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { ServerProcess } from "../support/server_process.ts";
import { TestClient } from "../support/signal_test_client.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";

Deno.test("limits and bad requests get their documented errors and close codes", async (t) => {
  const server = await ServerProcess.start({
    env: {
      // Practically no refill, so the count of frames decides; each socket has a burst of 5.
      RATE_CONN: "0.001",
      RATE_CONN_BURST: "5",
      RATE_STRIKES: "3",
      MAX_PEERS_PER_ROOM: "2",
      MAX_ROOMS_PER_ADDRESS: "3",
      HELLO_TIMEOUT: "1",
    },
  });
  const clients: TestClient[] = [];
  const connect = async (url = server.signalUrl(newRoomId())) => {
    const client = await TestClient.connect(url);
    clients.push(client);
    return client;
  };
  const closeAll = async () => {
    for (const client of clients.splice(0)) await client.close();
  };
  try {
    await t.step("a plain HTTP request gets 426 with a JSON error", async () => {
      const response = await fetch(`${server.httpUrl}/api/signal?v=${PROTOCOL_VERSION}&room=${newRoomId()}`);
      assertEquals(response.status, 426);
      assertEquals(response.headers.get("upgrade"), "websocket");
      assertEquals((await response.json()).error.code, "not_websocket");
    });

    await t.step("a foreign Origin is refused with 403; the same origin is let in", async () => {
      const url = server.signalUrl(newRoomId());
      const error = await assertRejects(() => TestClient.connect(url, { headers: { origin: "https://evil.example" } }));
      assertStringIncludes(String((error as Error).message), "could not connect");
      const same = await TestClient.connect(url, { headers: { origin: server.httpUrl } });
      clients.push(same);
      await same.hello();
    });

    await t.step("a bad version or room id: error frame, then close 4400", async () => {
      const old = await connect(server.signalUrl(newRoomId(), "99"));
      assertEquals((await old.nextOf("error")).code, "bad_version");
      assertEquals((await old.waitClosed()).code, 4400);
      const guessable = await connect(server.signalUrl("room1"));
      assertEquals((await guessable.nextOf("error")).code, "bad_room");
      assertEquals((await guessable.waitClosed()).code, 4400);
    });

    await t.step("a frame before hello: hello_required, then close 4400", async () => {
      const eager = await connect();
      eager.send({ type: "chat", id: "x", data: "eA" });
      assertEquals((await eager.nextOf("error")).code, "hello_required");
      assertEquals((await eager.waitClosed()).code, 4400);
    });

    await t.step("no hello in time: hello_timeout, then close 4001", async () => {
      const silent = await connect();
      assertEquals((await silent.nextOf("error")).code, "hello_timeout");
      assertEquals((await silent.waitClosed()).code, 4001);
    });

    await t.step("an oversized frame closes with 1009", async () => {
      const big = await connect();
      await big.hello();
      big.send({ type: "chat", id: "big", data: "A".repeat(64 * 1024) });
      assertEquals((await big.nextOf("error")).code, "too_big");
      assertEquals((await big.waitClosed()).code, 1009);
    });

    await t.step("a binary frame is refused with 1003", async () => {
      const binary = await connect();
      await binary.hello();
      binary.send(new Uint8Array([1, 2, 3]));
      assertEquals((await binary.nextOf("error")).code, "binary_refused");
      assertEquals((await binary.waitClosed()).code, 1003);
    });

    await closeAll();

    await t.step("a flood gets rate_limited once, then close 1008", async () => {
      const flood = await connect();
      await flood.hello(); // two tokens of the burst of 5: the hello, and again with the new room's verifier
      // 3 pings pass, the 4th gets rate_limited, strikes 2-3 are dropped, the 4th strike closes.
      // (Sending on after the close frame would make Deno abort the TCP connection: 1006, not 1008.)
      for (let i = 0; i < 7; i++) flood.send({ type: "ping", n: i });
      const closed = await flood.waitClosed();
      assertEquals(closed, { code: 1008, reason: "rate limit exceeded" });
      const errors = flood.all.filter((f) => f.type === "error");
      assertEquals(errors.map((e) => e.code), ["verifier_required", "rate_limited"]); // the room was new
      assertEquals(flood.all.filter((f) => f.type === "pong").map((f) => f.n), [0, 1, 2]);
    });

    await closeAll();

    await t.step("a full room refuses the next peer with room_full and 4409", async () => {
      const room = newRoomId();
      await (await connect(server.signalUrl(room))).hello();
      await (await connect(server.signalUrl(room))).hello();
      const third = await connect(server.signalUrl(room));
      third.send(await third.helloFrame());
      assertEquals((await third.nextOf("error")).code, "room_full");
      assertEquals((await third.waitClosed()).code, 4409);
    });

    await t.step("an address with too many rooms open gets too_many_rooms and 4429", async () => {
      await (await connect()).hello();
      await (await connect()).hello();
      const fourth = await connect();
      fourth.send(await fourth.helloFrame({ verifier: fourth.verifier }));
      assertEquals((await fourth.nextOf("error")).code, "too_many_rooms");
      assertEquals((await fourth.waitClosed()).code, 4429);
    });
  } finally {
    await closeAll();
    await server.stop();
  }
});
