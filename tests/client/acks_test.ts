/**
 * End-to-end acks on the relay: a small `ack` frame with a MAC the server
 * cannot make, coalesced per peer like Nagle coalesces segments, carrying
 * the sender's `accepted`; a forged one never makes "Delivered".
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { AckQueue } from "../../lib/client/courier/ack_queue.ts";
import { directAck } from "../../lib/client/courier/mod.ts";
import { ackMac } from "../../lib/client/room/acks.ts";
import { createRoomClient, type RoomClient } from "../../lib/client/room/mod.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { newRoomId } from "../../lib/protocol/mod.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { until } from "../support/until.ts";
import { FakeTime, payloadOf, Rig, ROOM } from "./_sim/rig.ts";
import { newMember, signed } from "./_sim/signers.ts";

Deno.test("an ack MAC binds room key, sender, ids and volatility, in 11 characters", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const mac = await ackMac(key, ROOM);
  const good = await mac.sign("peerA", ["m1", "m2"], false);
  assertEquals(good.length, 11);
  assert(await mac.check("peerA", ["m1", "m2"], false, good));
  const otherKey = await ackMac(crypto.getRandomValues(new Uint8Array(32)), ROOM);
  const otherRoom = await ackMac(key, "otherroomotherroomothe");
  const refused: [string, Promise<boolean>][] = [
    ["another sender", mac.check("peerB", ["m1", "m2"], false, good)],
    ["other ids", mac.check("peerA", ["m1"], false, good)],
    ["ids reordered", mac.check("peerA", ["m2", "m1"], false, good)],
    ["volatile", mac.check("peerA", ["m1", "m2"], true, good)],
    ["another room key", otherKey.check("peerA", ["m1", "m2"], false, good)],
    ["another room", otherRoom.check("peerA", ["m1", "m2"], false, good)],
    ["a guess", mac.check("peerA", ["m1", "m2"], false, "AAAAAAAAAAA")],
    ["not a string", mac.check("peerA", ["m1", "m2"], false, 7 as unknown as string)],
  ];
  for (const [what, result] of refused) assertEquals(await result, false, what);
});

Deno.test("acks to a peer go at once, and those that follow within the delay go together", () => {
  const time = new FakeTime();
  const sent: string[] = [];
  const queue = new AckQueue({
    delayMs: 50,
    now: () => time.now,
    timers: time,
    send: (peer, ids, volatile) => sent.push(`${peer} ${ids.join(",")}${volatile ? " volatile" : ""}`),
  });
  queue.add("bob", ["m1"], false);
  assertEquals(sent, ["bob m1"], "the first at once");
  queue.add("bob", ["m2"], false);
  queue.add("bob", ["m3"], true);
  queue.add("carol", ["m2"], false);
  time.advance(10);
  queue.add("bob", ["m4", "m2"], false);
  assertEquals(sent, ["bob m1", "carol m2"], "bob's wait; carol's is her first");
  time.advance(40);
  assertEquals(sent, ["bob m1", "carol m2", "bob m2,m4", "bob m3 volatile"], "together, once the delay is up");
  time.advance(100);
  queue.add("bob", ["m5"], false);
  assertEquals(sent.at(-1), "bob m5", "after a quiet spell: at once again");
  queue.add("bob", Array.from({ length: 450 }, (_, i) => `x${i}`), false);
  queue.close();
  time.advance(100);
  assertEquals(sent.at(-1), "bob m5", "nothing after close");
  const unbounded: number[] = [];
  const batches = new AckQueue({
    delayMs: 0,
    now: () => time.now,
    timers: time,
    send: (_, ids) => unbounded.push(ids.length),
  });
  batches.add("bob", Array.from({ length: 450 }, (_, i) => `x${i}`), false);
  assertEquals(unbounded, [400, 50], "at most 400 ids a frame");
});

/** Two room clients on a real server, with A's incoming frames recorded and injectable. */
async function roomPair() {
  const server = await startInProcess();
  const room = newRoomId();
  const keyBytes = crypto.getRandomValues(new Uint8Array(32));
  const origin = `http://127.0.0.1:${server.instances[0].port}`;
  const frames: { a: Record<string, unknown>[]; b: Record<string, unknown>[] } = { a: [], b: [] };
  let socketA: WebSocket | undefined;
  const open = (who: "a" | "b"): Promise<RoomClient> =>
    createRoomClient({
      origin,
      room,
      keyBytes,
      store: new MemoryStore(),
      createWebSocket(url) {
        const ws = new WebSocket(url);
        if (who === "a") socketA = ws;
        const send = ws.send.bind(ws);
        ws.send = (data) => {
          frames[who].push({ out: JSON.parse(String(data)) });
          send(data);
        };
        ws.addEventListener("message", (event) => frames[who].push({ in: JSON.parse(String(event.data)) }));
        return ws;
      },
      fetchIce: () => Promise.resolve({ iceServers: [], ttl: 600, expiresAt: Date.now() + 600_000 }),
    });
  const a = await open("a");
  await until(() => a.connection.value.kind === "connected", { what: "A connected" });
  const b = await open("b");
  await until(() => a.peers.value.length === 1 && b.connection.value.kind === "connected", { what: "both in" });
  return {
    a,
    b,
    frames,
    keyBytes,
    room,
    /** Hands A a frame as if the server sent it. */
    inject: (frame: unknown) => socketA!.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(frame) })),
    async close() {
      a.close();
      b.close();
      await server.stop();
    },
  };
}

Deno.test("a delivered message costs four frames: chat up and down, ack up and down, the accepted riding on it", async () => {
  const pair = await roomPair();
  try {
    // The first message waits for the history sync of the join to be over.
    await pair.a.send("warm-up");
    await until(() => pair.a.messages.value.at(-1)?.status === "delivered", { what: "warm-up delivered" });
    await Promise.all([pair.a.courier.settled(), pair.b.courier.settled()]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const f of Object.values(pair.frames)) f.length = 0;
    await pair.a.send("On my way, be there in 10 minutes!");
    await until(() => pair.a.messages.value.at(-1)?.status === "delivered", { what: "delivered" });
    const kinds = (list: Record<string, unknown>[]) =>
      list.map((f) => `${f.out ? "out" : "in"} ${((f.out ?? f.in) as { type: string }).type}`);
    assertEquals(kinds(pair.frames.a), ["out chat", "in ack"]);
    assertEquals(kinds(pair.frames.b), ["in chat", "out ack"]);
    const ack = pair.frames.a[1].in as Record<string, unknown>;
    const seq = (pair.frames.b[0].in as { seq: number }).seq;
    assertEquals(ack.acc, [seq], "the log position came with the ack");
    assertEquals(pair.a.courier.messages.at(-1)!.seq, seq, "and was recorded");
  } finally {
    await pair.close();
  }
});

Deno.test("an ack the server made up never makes Delivered; one with the room's MAC does", async () => {
  const pair = await roomPair();
  try {
    const bobPeer = pair.b.self.value.id!;
    pair.b.close(); // bob goes away: nobody acknowledges for real
    await until(() => pair.a.peers.value.every((p) => p.presence !== "online"), { what: "bob away" });
    await pair.a.send("are you there?");
    await until(() => pair.a.messages.value.at(-1)?.status === "sent", { what: "logged" });
    const id = pair.a.messages.value.at(-1)!.id;
    pair.inject({ type: "ack", ids: [id], mac: "AAAAAAAAAAA", from: bobPeer });
    const mac = await ackMac(pair.keyBytes, pair.room);
    pair.inject({ type: "ack", ids: [id], mac: await mac.sign("someone-else", [id], false), from: bobPeer });
    pair.inject({ type: "ack", ids: [id], mac: await mac.sign(bobPeer, [id], true), from: bobPeer });
    await pair.a.courier.settled();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assertEquals(pair.a.messages.value.at(-1)?.status, "sent", "forged, misattributed or volatile: not delivered");
    pair.inject({ type: "ack", ids: [id], mac: await mac.sign(bobPeer, [id], false), from: bobPeer });
    await until(() => pair.a.messages.value.at(-1)?.status === "delivered", { what: "delivered by bob's real ack" });
  } finally {
    await pair.close();
  }
});

Deno.test("on a DataChannel an ack goes plain; a plain ack is taken only from one, never from the relay", async () => {
  const rig = await Rig.create();
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  courier.linkOpened("bob", rig.link("bob"));
  rig.take();
  const m = await signed(bob, { id: "b1", time: rig.time.now, body: "over P2P" });
  courier.receiveDirect("bob", payloadOf({ t: "msg", m }));
  await rig.settle();
  assertEquals(rig.take().filter((s) => s.kind === "direct").map((s) => s.payload), ["ab1"], "`a` and the id");

  const mine = await courier.send("to bob");
  rig.take();
  courier.receiveSignal("bob", directAck([mine.id], false));
  await rig.settle();
  assertEquals(courier.status(mine.id), "pending", "a plain ack by relay is refused");
  assertEquals(rig.rejections(), ["malformed_packet"]);
  courier.receiveDirect("bob", directAck([mine.id], true));
  assertEquals(courier.status(mine.id), "sent", "volatile: sent, not delivered");
  courier.receiveDirect("bob", directAck([mine.id], false));
  assertEquals(courier.status(mine.id), "delivered");
  courier.receiveDirect("bob", "a" + "x".repeat(65));
  courier.receiveDirect("bob", "a,");
  assertEquals(rig.rejections(), ["malformed_packet", "malformed_packet", "malformed_packet"]);
  courier.close();
});
