/**
 * Durable before acknowledged: a message is acknowledged, and `since` passes
 * its frame, only once it is stored; a store that is not durable makes acks
 * volatile (never "delivered" on them) and a durable ack follows once it is;
 * failed writes are retried; bad stored records are contained; log resets
 * (a new epoch, or a log behind `since`) are followed without missing anything.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { parseOrderKey } from "../../lib/client/order_key.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { FaultyStore } from "./_sim/faulty_store.ts";
import { FakeTime, msgs, payloadOf, pump, relayedPair, RESEND_MS, Rig, ROOM, rosterOf } from "./_sim/rig.ts";
import { newMember, signed } from "./_sim/signers.ts";

async function withBob(store: FaultyStore | MemoryStore = new FaultyStore()) {
  const rig = await Rig.create({ store });
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  rig.take();
  return { rig, bob, courier };
}

/** Lets WebCrypto (which answers in a later task) and every promise job run once. */
function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function acks(rig: Rig): { ids: string[]; volatile?: true }[] {
  return rig.take().flatMap((s) => s.packet?.t === "ack" ? [{ ids: s.packet.ids, volatile: s.packet.volatile }] : []);
}

Deno.test("no ack and no log position before the message is stored", async () => {
  const store = new FaultyStore();
  const { rig, bob, courier } = await withBob(store);
  store.holdWrite = (method) => method === "putMessage";
  const m = await signed(bob, { id: "held1", time: rig.time.now, body: "slow disk" });
  courier.receiveChat({ from: "bob", id: "held1", seq: 5, data: payloadOf({ t: "msg", m }) });
  // The write is in flight (so `settled` would wait for it): let everything else run.
  while (store.held === 0) await tick();
  await tick();
  assertEquals(courier.messages.map((x) => x.id), ["held1"], "shown at once");
  assertEquals(acks(rig), [], "not acknowledged while the write is pending");
  assertEquals(courier.since, 0, "since stays below a frame not yet stored");
  store.holdWrite = () => false;
  store.release();
  await rig.settle();
  assertEquals(acks(rig), [{ ids: ["held1"], volatile: undefined }]);
  assertEquals(courier.since, 5);
  assertEquals((await store.getState(ROOM)).lastSeq, 5);
  courier.close();
});

Deno.test("since is a watermark below every relayed frame not yet stored", async () => {
  const store = new FaultyStore();
  const { rig, bob, courier } = await withBob(store);
  const five = await signed(bob, { id: "five", time: rig.time.now, body: "5", n: 1 });
  const six = await signed(bob, { id: "six", time: rig.time.now, body: "6", n: 2 });
  store.holdWrite = (method, id) => method === "putMessage" && id === "five";
  courier.receiveChat({ from: "bob", id: "five", seq: 5, data: payloadOf({ t: "msg", m: five }) });
  courier.receiveChat({ from: "bob", id: "six", seq: 6, data: payloadOf({ t: "msg", m: six }) });
  while (!(await store.inner.getMessage(ROOM, "six")) || store.held === 0) await tick();
  await tick();
  assertEquals(store.held, 1);
  assertEquals(courier.since, 4, "6 is stored, 5 is not: a reload must ask for 5 again");
  store.release();
  await rig.settle();
  assertEquals(courier.since, 6);
  courier.close();
});

Deno.test("a write that throws is retried; the ack and since wait for it", async () => {
  const store = new FaultyStore();
  const { rig, bob, courier } = await withBob(store);
  let failing = true;
  store.failWrite = (method) => failing && method === "putMessage";
  const m = await signed(bob, { id: "f1", time: rig.time.now, body: "x" });
  courier.receiveChat({ from: "bob", id: "f1", seq: 3, data: payloadOf({ t: "msg", m }) });
  await rig.settle();
  assertEquals([acks(rig), courier.since], [[], 0]);
  assert(rig.errors().some((e) => e.includes("store message")), "the failure is reported");
  rig.time.advance(RESEND_MS);
  await rig.settle();
  assertEquals([acks(rig), courier.since], [[], 0], "still failing");
  failing = false;
  rig.time.advance(RESEND_MS);
  await rig.settle();
  assertEquals(acks(rig), [{ ids: ["f1"], volatile: undefined }]);
  assertEquals(courier.since, 3);
  courier.close();
});

Deno.test("an own message whose store write throws is not sent until it is stored", async () => {
  const store = new FaultyStore();
  const { rig, courier } = await withBob(store);
  let failing = true;
  store.failWrite = (method) => failing && method === "putOwn";
  const message = await courier.send("careful");
  assertEquals(rig.take(), [], "not sent: a crash would forget what a peer already has");
  failing = false;
  rig.time.advance(RESEND_MS);
  await rig.settle();
  assertEquals(msgs(rig.take()).map((s) => s.packet?.t === "msg" && s.packet.m.id), [message.id]);
  courier.close();
});

Deno.test("a store that is not durable acknowledges as volatile; the sender never shows delivered on it", async () => {
  const time = new FakeTime();
  const bobStore = new FaultyStore();
  const rigs = { ann: await Rig.create({ time }), bob: await Rig.create({ time, store: bobStore }) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { ann, bob } = rigs;
  ann.courier.relayUp({ peer: "ann", peers: [rosterOf("bob", bob)] });
  bob.courier.relayUp({ peer: "bob", peers: [rosterOf("ann", ann)] });
  await pump(rigs);
  bobStore.isDurable = false;
  const message = await ann.courier.send("to a tab in private mode");
  await pump(rigs);
  assertEquals(bob.courier.messages.map((m) => m.body), ["to a tab in private mode"]);
  assertEquals(ann.courier.status(message.id), "sent", "a volatile ack is not delivery");
  time.advance(RESEND_MS);
  await pump(rigs);
  assertEquals(ann.courier.status(message.id), "sent", "re-sent, acknowledged as volatile again");
  bobStore.isDurable = true;
  time.advance(RESEND_MS);
  await pump(rigs);
  assertEquals(ann.courier.status(message.id), "delivered", "storage came back: a durable ack");
  ann.courier.close();
  bob.courier.close();
});

Deno.test("a reload between delivered and its stored status finds the message in the outbox, not stuck", async () => {
  const store = new FaultyStore();
  const { rig, courier } = await withBob(store);
  const message = await courier.send("x");
  store.failWrite = (method) => method === "putMessage";
  courier.receiveSignal("bob", payloadOf({ t: "ack", ids: [message.id] }));
  await rig.settle();
  assertEquals(courier.status(message.id), "delivered");
  courier.close();
  store.failWrite = () => false;
  const again = await Rig.create({ store, signer: rig.signer });
  const after = await again.load();
  assertEquals(after.outboxSize, 1, "the outbox entry outlives a status that was not stored");
  after.close();
});

Deno.test("malformed stored records load as unreadable, and the rest of the room stays", async () => {
  const store = new MemoryStore();
  const bob = await newMember(ROOM);
  const good = await signed(bob, { id: "good", time: 1_700_000_000_000, body: "fine" });
  await store.putMessage(ROOM, { ...good, status: "received" });
  await store.putMessage(ROOM, { id: "bad1", author: "x", order: "garbage", body: "?", status: "received", time: 1 });
  await store.putMessage(ROOM, { id: "bad2", status: "weird" } as never);
  await store.putOutbox(ROOM, { id: "bad2", order: "", ackedBy: [], accepted: false, attempts: 0 });
  await store.putOutbox(ROOM, { id: "bad3", ackedBy: "nope" } as never);
  const rig = await Rig.create({ store });
  const courier = await rig.load();
  const byId = new Map(courier.messages.map((m) => [m.id, m]));
  assertEquals(byId.get("good")?.body, "fine");
  assertEquals(byId.get("good")?.unreadable, undefined);
  assertEquals(byId.get("bad1")?.unreadable, true);
  assertEquals(byId.get("bad2")?.unreadable, true);
  assertEquals(courier.outboxSize, 0, "unreadable outbox entries are left out");
  assert(rig.errors().length >= 3, "and reported");
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  const sync = rig.take().find((s) => s.packet?.t === "sync");
  assertEquals(sync?.packet, { t: "sync", have: { [bob.member]: [1, 1] } }, "unreadable records are never offered");
  await rig.settle();
  assertEquals((await store.listOutbox(ROOM)).map((e) => e.id), [], "and removed from the store");
  const repair = await signed(bob, { id: "bad1", time: rig.time.now, body: "readable again", n: 2 });
  courier.receiveSignal("bob", payloadOf({ t: "msg", m: repair }));
  await rig.settle();
  assertEquals(courier.messages.find((m) => m.id === "bad1")?.body, "readable again", "a verified copy repairs it");
  assertEquals((await store.getMessage(ROOM, "bad1"))?.body, "readable again");
  courier.close();
});

Deno.test("a new log epoch starts since over, persists it, and logs the outbox again", async () => {
  const store = new MemoryStore();
  const { rig, bob, courier } = await withBob(store);
  courier.relayUp({
    peer: "me",
    peers: [rosterOf("bob", { member: bob.member } as Rig)],
    log: { first: 1, last: 0, epoch: "e1" },
  });
  assertEquals(courier.epoch, "e1");
  const m = await signed(bob, { id: "b1", time: rig.time.now, body: "old log" });
  courier.receiveChat({ from: "bob", id: "b1", seq: 41, data: payloadOf({ t: "msg", m }) });
  const own = await courier.send("logged in the old log");
  courier.accepted(own.id, 42);
  await rig.settle();
  assertEquals(courier.since, 41);
  rig.take();
  courier.relayDown();
  courier.relayUp({
    peer: "me",
    peers: [rosterOf("bob", { member: bob.member } as Rig)],
    log: { first: 1, last: 2, epoch: "e2" },
  });
  assertEquals([courier.since, courier.epoch], [0, "e2"]);
  await rig.settle();
  assertEquals(await store.getState(ROOM), { lastSeq: 0, epoch: "e2" });
  assert(rig.take().some((s) => s.kind === "chat" && s.id === own.id), "logged again in the new log");
  const m2 = await signed(bob, { id: "b2", time: rig.time.now, body: "new log", n: 2 });
  courier.receiveChat({ from: "bob", id: "b2", seq: 2, data: payloadOf({ t: "msg", m: m2 }) });
  await rig.settle();
  assertEquals(courier.since, 2, "the new log's positions count");
  courier.close();
});

Deno.test("a log behind since (reset without an epoch) brings since down to it", async () => {
  const store = new MemoryStore();
  const { rig, bob, courier } = await withBob(store);
  const m = await signed(bob, { id: "b1", time: rig.time.now, body: "x" });
  courier.receiveChat({ from: "bob", id: "b1", seq: 57, data: payloadOf({ t: "msg", m }) });
  await rig.settle();
  assertEquals(courier.since, 57);
  courier.relayUp({ peer: "me", peers: [rosterOf("bob", { member: bob.member } as Rig)], log: { first: 1, last: 9 } });
  assertEquals(courier.since, 9);
  await rig.settle();
  assertEquals((await store.getState(ROOM)).lastSeq, 9);
  courier.close();
});

Deno.test("a split message holds since below its first part until it is stored whole", async () => {
  const time = new FakeTime();
  const { ann, bob } = await relayedPair(time);
  await ann.courier.send("Ж".repeat(60_000));
  const parts = ann.take().filter((s) => s.kind === "chat");
  assert(parts.length >= 3);
  parts.slice(0, -1).forEach((p, i) =>
    bob.courier.receiveChat({ from: "ann", id: p.id!, seq: 10 + i, data: p.payload })
  );
  await bob.settle();
  assertEquals(bob.courier.since, 0, "parts held, message not yet whole");
  const last = parts.at(-1)!;
  bob.courier.receiveChat({ from: "ann", id: last.id!, seq: 10 + parts.length - 1, data: last.payload });
  await bob.settle();
  assertEquals(bob.courier.since, 10 + parts.length - 1);
  assertEquals(parseOrderKey(bob.courier.messages[0].order)?.author, ann.member);
  ann.courier.close();
  bob.courier.close();
});
