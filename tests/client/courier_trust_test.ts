/**
 * Members are not trusted: every field a peer sends is checked against a
 * range, times far in the future are refused and never drag the hybrid clock
 * along, counts are bounded, and authorship is verified (author = the member
 * id of the signing key), so no message ever appears as another member's,
 * live, by history sync, from the log, or as the receiver's own.
 * @module
 */
import { NEW_MESSAGES_BURST, NEW_MESSAGES_PER_SECOND } from "../../lib/client/courier/limits.ts";
import { assert, assertEquals } from "@std/assert";
import { MAX_FUTURE_SKEW_MS } from "../../lib/client/courier/mod.ts";
import { MAX_DIGEST_WRITERS } from "../../lib/client/courier/limits.ts";
import { newMessageId } from "../../lib/client/courier/message_id.ts";
import { COUNTER_MAX, formatOrderKey, HybridClock, MAX_ORDER_MS, parseOrderKey } from "../../lib/client/order_key.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { FakeTime, msgs, payloadOf, pump, relayedPair, RESEND_MS, Rig, ROOM, rosterOf } from "./_sim/rig.ts";
import { newMember, signed } from "./_sim/signers.ts";

async function withBob() {
  const rig = await Rig.create();
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  rig.take();
  return { rig, bob, courier };
}

function acked(rig: Rig): string[] {
  return rig.take().flatMap((s) => s.packet?.t === "ack" ? s.packet.ids : []);
}

Deno.test("the hybrid clock is never pulled more than a minute ahead of the wall", () => {
  let wall = 1_000_000;
  const clock = new HybridClock(() => wall);
  clock.observe(MAX_ORDER_MS, COUNTER_MAX);
  const next = clock.tick();
  assert(next.ms <= wall + 60_000 + 1, `${next.ms} stays near ${wall}`);
  wall += 120_000;
  assertEquals(clock.tick(), { ms: wall, c: 0 }, "the wall takes over again");
  const other = new HybridClock(() => wall);
  other.observe(wall + 30_000, COUNTER_MAX);
  assertEquals(other.tick(), { ms: wall + 30_001, c: 0 }, "a maxed counter borrows the next millisecond");
  assert(parseOrderKey(formatOrderKey({ ...other.tick(), author: "a", n: 1 })) !== null, "keys stay well-formed");
});

Deno.test("a message from too far in the future is refused, not acknowledged, and taken once believable", async () => {
  const { rig, bob, courier } = await withBob();
  const ahead = rig.time.now + MAX_FUTURE_SKEW_MS + 60_000;
  const m = await signed(bob, { id: "soon", time: ahead, body: "from a fast clock" });
  courier.receiveSignal("bob", payloadOf({ t: "msg", m }));
  await rig.settle();
  assertEquals([courier.messages.length, acked(rig), rig.rejections()], [0, [], ["future"]]);
  const own = await courier.send("after it");
  assert(parseOrderKey(own.order)!.ms <= rig.time.now + 60_000, "our clock did not follow it");
  rig.time.now += 2 * 60_000;
  courier.receiveSignal("bob", payloadOf({ t: "msg", m }));
  await rig.settle();
  assertEquals(courier.messages.find((x) => x.id === "soon")?.author, bob.member, "its author's re-send is taken");
  assertEquals(acked(rig), ["soon"]);
  courier.close();
});

Deno.test("an order key at the end of time is refused and leaves every later message intact", async () => {
  const time = new FakeTime();
  const { rigs, ann, bob } = await relayedPair(time);
  const eve = await newMember(ROOM);
  const end = await signed(eve, { id: "end", time: time.now, ms: MAX_ORDER_MS, c: COUNTER_MAX, body: "last word" });
  bob.courier.receiveSignal("ann", payloadOf({ t: "msg", m: end }));
  const max = await signed(eve, { id: "max", time: time.now, ms: time.now, c: COUNTER_MAX, body: "maxed counter" });
  bob.courier.receiveSignal("ann", payloadOf({ t: "msg", m: max }));
  await bob.settle();
  assertEquals(bob.courier.messages.map((m) => m.id), ["max"], "the maxed counter is odd but valid");
  assertEquals(bob.rejections(), ["future"]);
  const reply = await bob.courier.send("still works");
  await pump(rigs);
  assertEquals(ann.courier.messages.map((m) => m.id), [reply.id], "ann takes bob's next message");
  assertEquals(bob.courier.status(reply.id), "delivered");
  assert(reply.order > max.order, "and it sorts after what bob had seen");
  ann.courier.close();
  bob.courier.close();
});

Deno.test("a forged author is refused live, by history sync and from the log, and never shown", async () => {
  const { rig, bob, courier } = await withBob();
  const eve = await newMember(ROOM);
  const asBob = await signed(eve, { id: "f1", time: rig.time.now, body: "I am bob", author: bob.member });
  const borrowed = { ...(await signed(eve, { id: "f2", time: rig.time.now, body: "bob's key", author: bob.member })) };
  const bobsKey = (await signed(bob, { id: "k", time: rig.time.now, body: "" })).pk;
  borrowed.pk = bobsKey;
  const asMe = await signed(eve, { id: "f3", time: rig.time.now, body: "I am you", author: rig.member });
  courier.receiveDirect("bob", payloadOf({ t: "msg", m: asBob }));
  courier.receiveSignal("bob", payloadOf({ t: "hist", ms: [borrowed, asMe] }));
  courier.receiveChat({ from: "bob", id: "f1", seq: 8, data: payloadOf({ t: "msg", m: asBob }) });
  await rig.settle();
  assertEquals(courier.messages, []);
  // The log's copy of f1 came while the live one was being verified: one refusal, and a duplicate.
  assertEquals(rig.rejections(), ["forged", "forged", "forged"]);
  assertEquals(acked(rig), []);
  assertEquals(courier.since, 8, "a refused log frame is dealt with");
  courier.close();
});

Deno.test("a peer cannot make a message appear as the receiver's own, but own messages from another tab are own", async () => {
  const store = new MemoryStore();
  const time = new FakeTime();
  const tab1 = await Rig.create({ time, store, extra: { tab: "t1" } });
  const tab2 = await Rig.create({ time, store, signer: tab1.signer, extra: { tab: "t2" } });
  const bob = await Rig.create({ time });
  const rigs = { tab1, tab2, bob };
  for (const rig of Object.values(rigs)) await rig.load();
  tab1.courier.relayUp({ peer: "tab1", peers: [rosterOf("tab2", tab2), rosterOf("bob", bob)] });
  tab2.courier.relayUp({ peer: "tab2", peers: [rosterOf("tab1", tab1), rosterOf("bob", bob)] });
  bob.courier.relayUp({ peer: "bob", peers: [rosterOf("tab1", tab1), rosterOf("tab2", tab2)] });
  await pump(rigs);
  const mine = await tab1.courier.send("from my other tab");
  await pump(rigs);
  const seen = tab2.courier.messages.find((m) => m.id === mine.id);
  assertEquals([seen?.author, seen?.status], [tab1.member, "sent"], "shown as own in the other tab");
  assertEquals(tab2.events.filter((e) => e.type === "received").length, 0, "never handed over as someone else's");
  assertEquals(tab1.courier.status(mine.id), "delivered", "bob's ack alone delivers it: the other tab need not");
  const other = await tab2.courier.send("and back");
  await pump(rigs);
  assert(tab1.courier.messages.some((m) => m.id === other.id && m.status !== "received"));
  assertEquals(parseOrderKey(other.order)?.n, 1, "each tab numbers its own messages");
  assert(parseOrderKey(other.order)?.tab === "t2" && parseOrderKey(mine.order)?.tab === "t1");
  for (const rig of Object.values(rigs)) rig.courier.close();
});

Deno.test("delivery counts members: one tab of a member acknowledging is enough", async () => {
  const rig = await Rig.create();
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({
    peer: "me",
    peers: [{ id: "bob1", presence: "online", member: bob.member }, {
      id: "bob2",
      presence: "online",
      member: bob.member,
    }],
  });
  const message = await courier.send("hi bob");
  courier.accepted(message.id, 1);
  courier.receiveSignal("bob2", payloadOf({ t: "ack", ids: [message.id] }));
  assertEquals(courier.status(message.id), "delivered");
  assertEquals(courier.outboxSize, 1, "bob's other tab still gets it");
  rig.take();
  rig.time.advance(RESEND_MS);
  assertEquals(rig.take().filter((s) => s.packet?.t === "msg").map((s) => s.to), ["bob1"]);
  courier.receiveSignal("bob1", payloadOf({ t: "ack", ids: [message.id] }));
  assertEquals(courier.outboxSize, 0);
  courier.close();
});

Deno.test("a message alone with its own other tab is not delivered by that tab's ack", async () => {
  const rig = await Rig.create();
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "me2", presence: "online", member: rig.member }] });
  const message = await courier.send("anyone?");
  courier.accepted(message.id, 1);
  courier.receiveSignal("me2", payloadOf({ t: "ack", ids: [message.id] }));
  assertEquals(courier.status(message.id), "sent");
  courier.close();
});

Deno.test("a direct message to another tab of ours is delivered by that tab's ack", async () => {
  const rig = await Rig.create();
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "me2", presence: "online", member: rig.member }] });
  const message = await courier.send("note to self", "me2");
  courier.receiveSignal("me2", payloadOf({ t: "ack", ids: [message.id] }));
  assertEquals([courier.status(message.id), courier.outboxSize], ["delivered", 1], "delivered; kept until logged");
  courier.accepted(message.id, 1);
  assertEquals([courier.status(message.id), courier.outboxSize], ["delivered", 0]);
  courier.close();
});

Deno.test("acks given before a session's member was known count for that member", async () => {
  const rig = await Rig.create();
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [] });
  courier.linkOpened("bob", rig.link("bob"));
  const message = await courier.send("over the channel");
  courier.receiveDirect("bob", payloadOf({ t: "ack", ids: [message.id] }));
  courier.presence("bob", "joined", bob.member);
  assertEquals(courier.status(message.id), "delivered");
  courier.close();
});

Deno.test("own messages the store lost come back from peers as own, only when the signature verifies", async () => {
  const first = await Rig.create();
  const courier = await first.load();
  courier.relayUp({ peer: "me", peers: [] });
  const lost = await courier.send("before the wipe");
  const wire = first.take().find((s) => s.packet?.t === "msg")!.packet!;
  courier.close();
  const fresh = await Rig.create({ signer: first.signer });
  const bob = await newMember(ROOM);
  const again = await fresh.load();
  again.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  assert(wire.t === "msg");
  const tampered = { ...wire.m, id: "other", body: "changed" };
  again.receiveSignal("bob", payloadOf({ t: "hist", ms: [wire.m, tampered] }));
  await fresh.settle();
  assertEquals(again.messages.map((m) => [m.id, m.author, m.status]), [[lost.id, first.member, "sent"]]);
  assertEquals(fresh.rejections(), ["forged"]);
  again.close();
});

Deno.test("oversized counts, conflicting ids and direct messages for others are refused", async () => {
  const { rig, bob, courier } = await withBob();
  const ids = Array.from({ length: 401 }, (_, i) => "id" + i);
  courier.receiveSignal("bob", payloadOf({ t: "ack", ids }));
  const have: Record<string, number[]> = {};
  for (let i = 0; i < 4_097; i++) have["w" + i] = [1, 1];
  courier.receiveSignal("bob", payloadOf({ t: "sync", have }));
  courier.receiveSignal("bob", payloadOf({ t: "sync", have: { w: Array.from({ length: 65_538 }, (_, i) => i + 1) } }));
  courier.receiveSignal("bob", payloadOf({ t: "hist", ms: Array.from({ length: 1_001 }, () => ({})) }));
  courier.receiveSignal("bob", payloadOf({ t: "ack", ids: ["ok", "not an id!"] }));
  const first = await signed(bob, { id: "same", time: rig.time.now, body: "first" });
  const eve = await newMember(ROOM);
  const second = await signed(eve, { id: "same", time: rig.time.now, body: "second" });
  const dm = await signed(bob, { id: "dm", time: rig.time.now, body: "for cat", to: "cat" });
  courier.receiveSignal("bob", payloadOf({ t: "msg", m: first }));
  await rig.settle();
  courier.receiveSignal("bob", payloadOf({ t: "msg", m: second }));
  courier.receiveSignal("bob", payloadOf({ t: "msg", m: dm }));
  await rig.settle();
  assertEquals(courier.messages.map((m) => [m.id, m.body]), [["same", "first"]]);
  assertEquals(rig.rejections(), [
    "malformed_packet",
    "malformed_packet",
    "malformed_packet",
    "malformed_packet",
    "malformed_packet",
    "conflict",
    "not_for_us",
  ]);
  courier.close();
});

/** Ann's courier sends one message to bob; returns it as bob's courier would receive it. */
async function annSends(body: string) {
  const { rig, bob, courier } = await withBob();
  const ann = await Rig.create({ time: rig.time });
  await ann.load();
  ann.courier.relayUp({ peer: "ann", peers: [{ id: "me", presence: "online", member: rig.member }] });
  courier.presence("ann", "joined", ann.member);
  rig.take();
  const sent = await ann.courier.send(body);
  const packet = msgs(ann.take())[0].packet!;
  assert(packet.t === "msg");
  return { rig, bob, courier, ann, sent, honest: packet.m };
}

Deno.test("a member re-using an id it saw, with its own signed content, never costs the honest message", async (t) => {
  for (const path of ["live", "history sync", "log"] as const) {
    await t.step(`the squatter's copy first, by ${path}`, async () => {
      const { rig, courier, ann, sent, honest } = await annSends("the honest words");
      const eve = await newMember(ROOM);
      const squat = await signed(eve, { id: honest.id, time: rig.time.now, body: "the squatter's words" });
      const deliver = (from: string, m: unknown, seq: number) => {
        if (path === "live") courier.receiveSignal(from, payloadOf({ t: "msg", m }));
        else if (path === "history sync") courier.receiveSignal(from, payloadOf({ t: "hist", ms: [m] }));
        else courier.receiveChat({ from, id: honest.id, seq, data: payloadOf({ t: "msg", m }) });
      };
      deliver("eve", squat, 5);
      await rig.settle();
      deliver("ann", honest, 6);
      await rig.settle();
      assertEquals(courier.messages.map((m) => [m.id, m.author, m.body]), [[sent.id, ann.member, "the honest words"]]);
      assertEquals(acked(rig), [sent.id], "the honest copy is acknowledged to its author");
      assertEquals(rig.rejections(), ["unbound_id"]);
      courier.close();
      ann.courier.close();
    });
  }
});

Deno.test("a forged copy still being verified does not take the honest copy down with it", async () => {
  const { rig, courier, ann, sent, honest } = await annSends("the honest words");
  const eve = await newMember(ROOM);
  const forged = { ...honest, body: "words put in ann's mouth" };
  const garbled = { ...honest, sig: (await signed(eve, { id: "x", time: rig.time.now, body: "" })).sig };
  courier.receiveSignal("eve", payloadOf({ t: "msg", m: forged }));
  courier.receiveSignal("eve", payloadOf({ t: "msg", m: garbled }));
  courier.receiveChat({ from: "ann", id: honest.id, seq: 3, data: payloadOf({ t: "msg", m: honest }) });
  await rig.settle();
  assertEquals(courier.messages.map((m) => [m.id, m.author, m.body]), [[sent.id, ann.member, "the honest words"]]);
  assertEquals(acked(rig), [sent.id]);
  assertEquals(rig.rejections(), ["forged", "forged"]);
  assertEquals(courier.since, 3);
  courier.close();
  ann.courier.close();
});

Deno.test("a member who makes up 4,097 writers cannot break history sync between the others, nor keep it going", async () => {
  const time = new FakeTime();
  const ann = await Rig.create({ time });
  const bob = await Rig.create({ time });
  await ann.load();
  await bob.load();
  const eve = await newMember(ROOM);
  const eveOnline = { id: "eve", presence: "online" as const, member: eve.member };
  ann.courier.relayUp({ peer: "ann", peers: [rosterOf("bob", bob), eveOnline] });
  bob.courier.relayUp({ peer: "bob", peers: [rosterOf("ann", ann), eveOnline] });
  await pump({ ann, bob });
  // One valid signed message under each of 4,097 made-up tab tags: one writer more than a digest may list.
  const made = await Promise.all(Array.from({ length: MAX_DIGEST_WRITERS + 1 }, (_, i) =>
    signed(eve, {
      id: newMessageId(eve.member, (n) => crypto.getRandomValues(new Uint8Array(n))),
      time: time.now,
      body: ".",
      tab: `t${i}`,
      n: 1,
    })));
  for (const rig of [ann, bob]) {
    for (let i = 0; i < made.length; i += 1_000) {
      rig.courier.receiveSignal("eve", payloadOf({ t: "hist", ms: made.slice(i, i + 1_000) }));
      // One history answer's worth of new messages per session at once (NEW_MESSAGES_BURST): the next batch comes
      // once eve's session has earned the room again, as its re-offers would.
      await rig.settle();
      time.now += Math.ceil(NEW_MESSAGES_BURST / NEW_MESSAGES_PER_SECOND) * 1_000;
    }
    await rig.settle();
    rig.take();
    assertEquals(rig.courier.messages.length, made.length, "every one is a valid message, shown");
  }
  ann.courier.presence("eve", "left");
  bob.courier.presence("eve", "left");
  // Ann and bob compare histories again, as when a peer comes back.
  ann.courier.presence("bob", "online", bob.member);
  bob.courier.presence("ann", "online", ann.member);
  await pump({ ann, bob });
  // Count the sync packets the two send each other in each resend tick.
  let syncs = 0;
  for (const rig of [ann, bob]) {
    const take = rig.take.bind(rig);
    rig.take = () => {
      const out = take();
      syncs += out.filter((sent) => sent.packet?.t === "sync").length;
      return out;
    };
  }
  const ticks: number[] = [];
  for (let tick = 0; tick < 10; tick++) {
    const before = syncs;
    time.advance(RESEND_MS);
    await pump({ ann, bob });
    ticks.push(syncs - before);
  }
  for (const rig of [ann, bob]) {
    assert(!rig.rejections().includes("malformed_packet"), `an honest digest was refused: ${rig.rejections()}`);
    assertEquals(rig.courier.messages.length, made.length);
  }
  assertEquals(ticks.slice(-3), [0, 0, 0], `sync goes quiet (sync packets per tick: ${ticks.join(", ")})`);
  ann.courier.close();
  bob.courier.close();
});

Deno.test("a message backdated into what was already shown keeps its place, marked with when it arrived", async () => {
  const time = new FakeTime();
  const { rigs, ann, bob } = await relayedPair(time);
  const question = await ann.courier.send("Can I post the board minutes?");
  await pump(rigs);
  time.advance(60_000);
  await bob.courier.send("Yes, go ahead");
  await pump(rigs);
  time.advance(3 * 3_600_000);
  const eve = await newMember(ROOM);
  const at = parseOrderKey(question.order)!.ms + 1;
  const draft = (body: string, ms: number, n: number) =>
    signed(eve, {
      id: newMessageId(eve.member, (size) => crypto.getRandomValues(new Uint8Array(size))),
      time: ms,
      ms,
      n,
      body,
    });
  // Just after the question, three hours late: it sorts before bob's answer, which bob has already shown.
  const backdated = await draft("and the salary sheet too?", at, 1);
  // Late as well, but after everything shown (a message that waited offline): nothing to mark.
  const late = await draft("sent from the tunnel", time.now - 3_600_000, 2);
  for (const m of [backdated, late]) bob.courier.receiveSignal("eve", payloadOf({ t: "msg", m }));
  await bob.settle();
  const shown = bob.courier.messages.map((m) => [m.body, m.arrived]);
  assertEquals(shown, [
    ["Can I post the board minutes?", undefined],
    ["and the salary sheet too?", time.now],
    ["Yes, go ahead", undefined],
    ["sent from the tunnel", undefined],
  ]);
  // A joiner takes in a backlog at once, out of order: nothing of it was shown yet, so nothing is marked.
  const joiner = await Rig.create({ time });
  await joiner.load();
  joiner.courier.relayUp({ peer: "joiner", peers: [] });
  for (const m of [late, backdated]) joiner.courier.receiveSignal("eve", payloadOf({ t: "msg", m }));
  await joiner.settle();
  assertEquals(joiner.courier.messages.map((m) => [m.body, m.arrived]), [
    ["and the salary sheet too?", undefined],
    ["sent from the tunnel", undefined],
  ]);
  ann.courier.close();
  bob.courier.close();
  joiner.courier.close();
});
