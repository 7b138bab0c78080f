/**
 * End-to-end acks through the hub: relayed to one peer like a signal, never
 * logged, and carrying the sender's `accepted` when it was held back for
 * them, so a delivered message costs one frame less; without an ack the
 * `accepted` comes alone, and a shutdown confirms everything it logged.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import type { Peer } from "../../lib/server/room.ts";
import { until } from "../support/until.ts";
import { type FakeSocket, join, openHubs } from "./_hub_harness.ts";

async function pair(options: { count?: number; delayMs?: number } = {}) {
  const hubs = await openHubs({ count: options.count ?? 1, config: { acceptedDelayMs: options.delayMs ?? 60_000 } });
  let closing: Promise<void> | undefined;
  // Closed once, whether the test closes it to flush the held accepted or the finally block does.
  const harness = { ...hubs, close: () => closing ??= hubs.close() };
  const room = newRoomId();
  const hubA = harness.hubs[0];
  const hubB = harness.hubs.at(-1)!;
  const a = await join(hubA, room, "10.0.0.1", {}, { registers: true });
  const b = await join(hubB, room, "10.0.0.2");
  assert(a.result.ok && b.result.ok);
  await until(() => a.socket.of("presence").length > 0, { what: "alice hears bob" });
  return {
    harness,
    alice: { hub: hubA, peer: a.result.peer as Peer, socket: a.socket },
    bob: { hub: hubB, peer: b.result.peer as Peer, socket: b.socket },
  };
}

function chatFrom(socket: FakeSocket, id: string) {
  return socket.of("chat").find((frame) => frame.id === id);
}

Deno.test("an ack goes to its one peer without `to`, stamped with its sender, ids, mac and volatility untouched", async () => {
  const { harness, alice, bob } = await pair();
  try {
    bob.hub.onFrame(
      bob.peer,
      JSON.stringify({ type: "ack", to: alice.peer.id, ids: ["m1", "m2"], mac: "AAAAAAAAAAA" }),
    );
    bob.hub.onFrame(
      bob.peer,
      JSON.stringify({ type: "ack", to: alice.peer.id, ids: ["m3"], mac: "BBBBBBBBBBB", volatile: true }),
    );
    assertEquals(alice.socket.of("ack"), [
      { type: "ack", ids: ["m1", "m2"], mac: "AAAAAAAAAAA", from: bob.peer.id },
      { type: "ack", ids: ["m3"], mac: "BBBBBBBBBBB", volatile: true, from: bob.peer.id },
    ]);
    assertEquals(bob.socket.of("ack"), [], "nobody else hears it");
    bob.hub.onFrame(bob.peer, JSON.stringify({ type: "ack", to: "nobody", ids: ["m1"], mac: "AAAAAAAAAAA" }));
    assertEquals(bob.socket.of("error").map((e) => e.code), ["unknown_peer"]);
    assertEquals(await harness.log.bounds(alice.peer.room).then((b) => b.lastSeq), 0, "acks are never logged");
  } finally {
    await harness.close();
  }
});

Deno.test("a held accepted rides on the receiver's ack: the sender gets no frame of its own for it", async () => {
  const { harness, alice, bob } = await pair();
  try {
    alice.hub.onFrame(alice.peer, JSON.stringify({ type: "chat", id: "m1", data: "Y2lwaGVy" }));
    alice.hub.onFrame(alice.peer, JSON.stringify({ type: "chat", id: "m2", data: "Y2lwaGVy" }));
    await until(() => chatFrom(bob.socket, "m2") !== undefined, { what: "bob gets both" });
    const [seq1, seq2] = [chatFrom(bob.socket, "m1")!.seq, chatFrom(bob.socket, "m2")!.seq];
    assertEquals(alice.socket.of("accepted"), [], "held back");
    bob.hub.onFrame(bob.peer, JSON.stringify({ type: "ack", to: alice.peer.id, ids: ["x", "m2"], mac: "AAAAAAAAAAA" }));
    assertEquals(alice.socket.of("ack"), [
      { type: "ack", ids: ["x", "m2"], mac: "AAAAAAAAAAA", from: bob.peer.id, acc: [0, seq2] },
    ]);
    bob.hub.onFrame(bob.peer, JSON.stringify({ type: "ack", to: alice.peer.id, ids: ["m2"], mac: "AAAAAAAAAAA" }));
    assertEquals(alice.socket.of("ack")[1].acc, undefined, "carried once");
    await harness.close();
    assertEquals(alice.socket.of("accepted"), [{ type: "accepted", id: "m1", seq: seq1 }], "the rest at shutdown");
    assertEquals(Object.keys(chatFrom(bob.socket, "m1")!).sort(), ["data", "from", "id", "seq", "type"]);
  } finally {
    await harness.close();
  }
});

Deno.test("without an ack, accepted comes alone once its delay has passed", async () => {
  const { harness, alice, bob } = await pair({ delayMs: 30 });
  try {
    alice.hub.onFrame(alice.peer, JSON.stringify({ type: "chat", id: "m1", data: "Y2lwaGVy" }));
    await until(() => alice.socket.of("accepted").length === 1, { what: "accepted" });
    const seq = chatFrom(bob.socket, "m1")!.seq;
    assertEquals(alice.socket.of("accepted"), [{ type: "accepted", id: "m1", seq }]);
    bob.hub.onFrame(bob.peer, JSON.stringify({ type: "ack", to: alice.peer.id, ids: ["m1"], mac: "AAAAAAAAAAA" }));
    assertEquals(alice.socket.of("ack")[0].acc, undefined, "nothing left to carry");
  } finally {
    await harness.close();
  }
});

Deno.test("with ACCEPTED_DELAY 0 accepted goes at once, before anything else", async () => {
  const { harness, alice } = await pair({ delayMs: 0 });
  try {
    const before = alice.socket.sent.length;
    alice.hub.onFrame(alice.peer, JSON.stringify({ type: "chat", id: "m1", data: "Y2lwaGVy" }));
    await until(() => alice.socket.sent.length > before, { what: "a frame" });
    assertEquals(alice.socket.sent[before], { type: "accepted", id: "m1", seq: 1 });
  } finally {
    await harness.close();
  }
});

Deno.test("across instances the ack carries the accepted held where its sender is", async () => {
  const { harness, alice, bob } = await pair({ count: 2 });
  try {
    alice.hub.onFrame(alice.peer, JSON.stringify({ type: "chat", id: "m1", data: "Y2lwaGVy" }));
    await until(() => chatFrom(bob.socket, "m1") !== undefined, { what: "bob gets it on the other instance" });
    bob.hub.onFrame(bob.peer, JSON.stringify({ type: "ack", to: alice.peer.id, ids: ["m1"], mac: "AAAAAAAAAAA" }));
    await until(() => alice.socket.of("ack").length === 1, { what: "the ack crosses the bus" });
    assertEquals(alice.socket.of("ack")[0], {
      type: "ack",
      ids: ["m1"],
      mac: "AAAAAAAAAAA",
      from: bob.peer.id,
      acc: [chatFrom(bob.socket, "m1")!.seq],
    });
    await harness.close();
    assertEquals(alice.socket.of("accepted"), []);
  } finally {
    await harness.close();
  }
});
