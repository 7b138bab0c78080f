import { assert, assertEquals, assertMatch } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { ServerProcess } from "../support/server_process.ts";
import { TestClient } from "../support/signal_test_client.ts";

Deno.test("relay carries chat both ways, stamps the sender and acknowledges each frame", async (t) => {
  const server = await ServerProcess.start();
  const room = newRoomId();
  const alice = await TestClient.connect(server.signalUrl(room));
  const bob = await TestClient.connect(server.signalUrl(room));
  try {
    const a = await alice.hello();
    const b = await bob.hello();

    await t.step("ids are server-assigned and the welcome lists the room", () => {
      assertMatch(a.peer, /^[A-Za-z0-9_-]{12}$/);
      assertMatch(a.token, /^[A-Za-z0-9_-]{55}$/);
      assert(a.peer !== b.peer);
      assertEquals(a.peers, []);
      assertEquals(b.peers, [{ id: a.peer, presence: "online" }]);
      assertEquals(a.resumeWindowMs, 120_000);
    });

    await t.step("alice hears bob join", async () => {
      assertEquals(await alice.nextOf("presence"), { type: "presence", peer: b.peer, state: "joined" });
    });

    await t.step("alice to bob: bob receives it stamped, alice gets accepted with the same seq", async () => {
      alice.send({ type: "chat", id: "m1", data: "Y2lwaGVy" });
      const accepted = await alice.nextOf("accepted");
      const chat = await bob.nextOf("chat");
      assertEquals(chat, { type: "chat", id: "m1", data: "Y2lwaGVy", from: a.peer, seq: chat.seq as number });
      assertEquals(accepted, { type: "accepted", id: "m1", seq: chat.seq as number });
    });

    await t.step("bob to alice, addressed to her only", async () => {
      bob.send({ type: "chat", id: "m2", to: a.peer, data: "YmFjaw" });
      const chat = await alice.nextOf("chat");
      assertEquals([chat.from, chat.to, chat.data], [b.peer, a.peer, "YmFjaw"]);
      assertEquals((await bob.nextOf("accepted")).id, "m2");
    });

    await t.step("a forged from is refused and nothing is relayed", async () => {
      alice.send({ type: "chat", id: "m3", data: "Zm9yZ2Vk", from: b.peer });
      const error = await alice.nextOf("error");
      assertEquals([error.code, error.ref], ["bad_frame", "m3"]);
      alice.send({ type: "signal", to: b.peer, data: { sdp: "v=0" }, from: b.peer });
      assertEquals((await alice.nextOf("error")).code, "bad_frame");
      // A frame sent after the forged ones arrives next: the forged ones never did.
      alice.send({ type: "chat", id: "m4", data: "bmV4dA" });
      const chat = await bob.nextOf("chat");
      assertEquals([chat.id, chat.from], ["m4", a.peer]);
    });

    await t.step("signals go to exactly one peer, stamped, with their data untouched", async () => {
      const carol = await TestClient.connect(server.signalUrl(room));
      try {
        const c = await carol.hello();
        const data = { type: "offer", sdp: 'v=0\r\no=- "quoted" \u00e9', n: [1, 2.5, null] };
        bob.send({ type: "signal", to: c.peer, data });
        const signal = await carol.nextOf("signal");
        assertEquals(signal, { type: "signal", to: c.peer, data, from: b.peer });
        carol.send({ type: "signal", to: b.peer, data: { candidate: "c1" } });
        assertEquals((await bob.nextOf("signal")).from, c.peer);
        alice.send({ type: "ping", n: 7 });
        assertEquals(await alice.nextOf("pong"), { type: "pong", n: 7 });
        assert(!alice.all.some((f) => f.type === "signal"), "alice got a signal meant for others");
      } finally {
        await carol.close();
      }
    });

    await t.step("a signal to nobody is refused with unknown_peer", async () => {
      alice.send({ type: "signal", to: "nobody", data: 1 });
      assertEquals((await alice.nextOf("error")).code, "unknown_peer");
    });

    await t.step("bad frames get documented errors and the socket stays usable", async () => {
      for (
        const [frame, code] of [["not json", "bad_frame"], ["[1]", "bad_frame"], ['{"type":"dance"}', "unknown_type"], [
          '{"type":"chat","id":"x","data":"not base64!"}',
          "bad_frame",
        ], ['{"type":"hello","v":1}', "hello_required"]]
      ) {
        alice.send(frame);
        assertEquals((await alice.nextOf("error")).code, code, frame);
      }
      alice.send({ type: "ping" });
      assertEquals(await alice.nextOf("pong"), { type: "pong" });
    });

    await t.step("metrics count connections, rooms, relayed frames and errors by code", async () => {
      const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
      assertMatch(text, /^parley_chat_frames_relayed_total [1-9]/m);
      assertMatch(text, /^parley_signal_frames_relayed_total [1-9]/m);
      assertMatch(text, /^parley_errors_total\{code="bad_frame"\} [1-9]/m);
      assertMatch(text, /^parley_errors_total\{code="unknown_peer"\} 1$/m);
      assertMatch(text, /^parley_connections 2$/m);
      assertMatch(text, /^parley_rooms 1$/m);
    });
  } finally {
    await alice.close();
    await bob.close();
    await server.stop();
  }
});

Deno.test("a p2p chat copy is logged and accepted, relayed live to nobody, and read from the log by a later joiner", async () => {
  const server = await ServerProcess.start();
  const room = newRoomId();
  const alice = await TestClient.connect(server.signalUrl(room));
  const bob = await TestClient.connect(server.signalUrl(room));
  let carol: TestClient | undefined;
  try {
    const a = await alice.hello();
    await bob.hello();
    await alice.nextOf("presence");
    // Bob has it over his DataChannel: the copy is for the room log only.
    alice.send({ type: "chat", id: "p1", data: "cDJw", p2p: true });
    const accepted = await alice.nextOf("accepted");
    assertEquals(accepted.id, "p1");
    alice.send({ type: "chat", id: "r1", data: "cmVsYXk" });
    const live = await bob.nextOf("chat");
    assertEquals(live.id, "r1", "the first chat bob is sent live is the relayed one: the p2p copy went to nobody");
    // A friend who opens the link later reads both from the log, in order.
    carol = await TestClient.connect(server.signalUrl(room));
    await carol.hello({ since: 0 });
    const backlog = [await carol.nextOf("chat"), await carol.nextOf("chat")];
    assertEquals(backlog.map((frame) => [frame.id, frame.from, frame.p2p]), [["p1", a.peer, true], [
      "r1",
      a.peer,
      undefined,
    ]]);
    assertEquals(backlog[0].seq, accepted.seq);
    // Only `true` is a p2p mark.
    alice.send({ type: "chat", id: "p2", data: "eA", p2p: false });
    assertEquals([(await alice.nextOf("error")).code], ["bad_frame"]);
  } finally {
    for (const client of [alice, bob, carol]) await client?.close();
    await server.stop();
  }
});
