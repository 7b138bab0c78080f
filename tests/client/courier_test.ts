/**
 * Example-based tests of the courier: paths, acks, statuses, duplicates,
 * reloads, history sync and rejection, each driven step by step through fake
 * transports, a fake clock and fake timers, with real signed messages.
 * @module
 */
import { assert, assertEquals, assertExists, assertNotEquals } from "@std/assert";
import { type Packet, type PayloadCodec, plainCodec } from "../../lib/client/courier/mod.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { MessageBook } from "../../lib/client/courier/book.ts";
import { HistorySync } from "../../lib/client/courier/history_sync.ts";
import { MAX_SYNC_ROUNDS } from "../../lib/client/courier/limits.ts";
import { askSync, PeerTable } from "../../lib/client/courier/peers.ts";
import {
  buildDigest,
  digestCovers,
  digestHas,
  formatOrderKey,
  HybridClock,
  isDigest,
  parseOrderKey,
} from "../../lib/client/order_key.ts";
import { FakeTime, msgs, payloadOf, pump, RESEND_MS, Rig, ROOM, rosterOf, unsigned } from "./_sim/rig.ts";
import { newMember, signed } from "./_sim/signers.ts";

Deno.test("order keys round-trip, reject garbage and never tie", () => {
  const key = formatOrderKey({ ms: 1_700_000_000_123, c: 7, author: "peerA", n: 42 });
  assertEquals(parseOrderKey(key), { ms: 1_700_000_000_123, c: 7, author: "peerA", n: 42 });
  const tabbed = formatOrderKey({ ms: 5, c: 0, author: "peerA", tab: "t1", n: 3 });
  assertEquals(parseOrderKey(tabbed), { ms: 5, c: 0, author: "peerA", tab: "t1", n: 3 });
  for (
    const bad of [
      "",
      "x",
      "000000000000.a.1",
      key + "!",
      key.replace("peerA", "pe.rA"),
      "zzzzzzzzzzzzz.a.0",
      tabbed.replace("~t1", "~"),
      tabbed.replace("~t1", "~t~1"),
    ]
  ) {
    assertEquals(parseOrderKey(bad), null, bad);
  }
  const a = formatOrderKey({ ms: 5, c: 0, author: "b", n: 1 });
  const b = formatOrderKey({ ms: 5, c: 0, author: "ba", n: 1 });
  const c = formatOrderKey({ ms: 5, c: 1, author: "a", n: 9 });
  assert(a !== b && a < c && b < c, "counter decides before author, author breaks the rest");
});

Deno.test("the hybrid clock never goes back and moves past what it observed", () => {
  let wall = 1_000;
  const clock = new HybridClock(() => wall);
  assertEquals(clock.tick(), { ms: 1_000, c: 0 });
  assertEquals(clock.tick(), { ms: 1_000, c: 1 });
  wall = 900;
  assertEquals(clock.tick(), { ms: 1_000, c: 2 });
  clock.observe(5_000, 3);
  assertEquals(clock.tick(), { ms: 5_000, c: 4 });
  wall = 6_000;
  assertEquals(clock.tick(), { ms: 6_000, c: 0 });
});

Deno.test("digests fold message numbers into ranges per writer and compare", () => {
  const digest = buildDigest([1, 2, 3, 5, 7, 6].map((n) => ({ ms: 0, c: 0, author: "a", n })));
  assertEquals(digest, { a: [1, 3, 5, 7] });
  assert(digestHas(digest, "a", 2) && !digestHas(digest, "a", 4) && !digestHas(digest, "b", 1));
  assert(digestCovers(digest, { a: [1, 2, 6, 7] }));
  assert(!digestCovers(digest, { a: [3, 5] }));
  assert(!digestCovers(digest, { b: [1, 1] }));
  assert(!digestCovers(digest, { constructor: [1, 1] }));
  assert(isDigest(digest) && !isDigest({ a: [2, 1] }) && !isDigest({ a: [1] }) && !isDigest([1, 1]));
  const tabs = buildDigest([{ ms: 0, c: 0, author: "a", tab: "x", n: 1 }, {
    ms: 0,
    c: 0,
    author: "a",
    tab: "y",
    n: 1,
  }]);
  assertEquals(tabs, { "a~x": [1, 1], "a~y": [1, 1] }, "two tabs of one member number apart");
  assert(isDigest(tabs));
});

Deno.test("a digest built within bounds keeps the most recently active writers, a few per author, and newest ranges", () => {
  const bounds = { maxWriters: 3, maxNumbers: 8, maxWritersPerAuthor: 2 };
  // Author e made up four writers, all newer than a's and b's; b's writer has gaps.
  const parts = [
    ...[1, 2, 3, 4].map((i) => ({ ms: 100 + i, c: 0, author: "e", tab: `t${i}`, n: 1 })),
    { ms: 10, c: 0, author: "a", n: 1 },
    ...[1, 3, 5, 7].map((n) => ({ ms: 50 + n, c: 0, author: "b", n })),
  ];
  const digest = buildDigest(parts, bounds);
  // e's two newest writers, then b (newer than a), whose four ranges are cut to the newest two that fit.
  assertEquals(digest, { "e~t4": [1, 1], "e~t3": [1, 1], b: [5, 5, 7, 7] });
  assert(isDigest(digest, bounds));
  // Peers holding the same history build the same digest, whatever order they hold it in.
  assertEquals(buildDigest([...parts].reverse(), bounds), digest);
  // Within the bounds nothing is left out.
  assertEquals(Object.keys(buildDigest(parts, { maxWriters: 6, maxNumbers: 20, maxWritersPerAuthor: 4 })).length, 6);
});

Deno.test("a message goes out by relay at once, is sent when logged, and delivered when the only peer acks", async (t) => {
  const rig = await Rig.create();
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  rig.take(); // the history sync to bob
  const message = await courier.send("hello");
  await t.step("it goes out on the relay without waiting for P2P, signed by its member", async () => {
    const sent = rig.take();
    assertEquals(sent.length, 1);
    assertEquals(sent[0].kind, "chat");
    assertEquals(sent[0].id, message.id);
    assertEquals(sent[0].to, undefined);
    assert(sent[0].packet?.t === "msg");
    const m = sent[0].packet.m;
    assertEquals(unsigned(m), {
      id: message.id,
      author: rig.member,
      order: message.order,
      time: message.time,
      body: "hello",
    });
    assertEquals(m.pk, undefined, "it travels without its public key: receivers know it or recover it");
    assert(message.pk !== undefined && await bob.verify({ ...m, pk: message.pk }), "any member can verify it");
    assertEquals(courier.status(message.id), "pending");
  });
  await t.step("accepted makes it sent; bob's ack makes it delivered", async () => {
    courier.accepted(message.id, 1);
    assertEquals(courier.status(message.id), "sent");
    courier.receiveSignal("bob", payloadOf({ t: "ack", ids: [message.id] }));
    assertEquals(courier.status(message.id), "delivered");
    await rig.settle();
    assertEquals((await rig.store.getMessage(ROOM, message.id))?.status, "delivered");
    assertEquals((await rig.store.getMessage(ROOM, message.id))?.seq, 1);
    assertEquals(await rig.store.listOutbox(ROOM), []);
    assertEquals(courier.counters.sent, 1);
    assertEquals(courier.counters.delivered, 1);
    const statuses = rig.events.flatMap((e) => e.type === "status" ? [e.status] : []);
    assertEquals(statuses, ["sent", "delivered"]);
  });
  courier.close();
});

Deno.test("a message written alone stays sent until a late joiner receives it from the log", async () => {
  const rig = await Rig.create();
  const late = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [] });
  const message = await courier.send("anyone?");
  assertEquals(rig.take().map((s) => s.kind), ["chat"]);
  courier.accepted(message.id, 1);
  rig.time.advance(RESEND_MS * 5);
  assertEquals(rig.take(), [], "a logged message with nobody to tell is not re-sent");
  assertEquals(courier.status(message.id), "sent");
  courier.presence("late", "joined", late.member);
  const offered = rig.take();
  assert(offered.some((s) => s.kind === "signal" && s.to === "late" && s.packet?.t === "msg"), "re-sent to the joiner");
  courier.receiveSignal("late", payloadOf({ t: "ack", ids: [message.id] }));
  assertEquals(courier.status(message.id), "delivered");
  courier.close();
});

Deno.test("with a DataChannel open a message goes direct, its ack over it makes it delivered, and the log keeps a copy", async () => {
  const rig = await Rig.create();
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  courier.linkOpened("bob", rig.link("bob"));
  rig.take();
  const message = await courier.send("p2p");
  // Bob gets it over the DataChannel; the relay gets a copy for the room log only (relayed live to nobody), so a
  // friend who opens the link after both have left still gets it.
  assertEquals(rig.take().map((s) => [s.kind, s.to, s.packet?.t, s.p2p]), [
    ["direct", "bob", "msg", undefined],
    ["chat", undefined, "msg", true],
  ]);
  courier.receiveDirect("bob", payloadOf({ t: "ack", ids: [message.id] }));
  assertEquals(courier.status(message.id), "delivered");
  assertEquals(courier.outboxSize, 1, "delivered, but kept until the log has it");
  await rig.time.advance(60_000);
  const later = rig.take().filter((s) => s.packet?.t === "msg" || s.kind === "chat");
  assert(later.length > 0, "sent again while no accepted came");
  assertEquals(
    later.filter((s) => !(s.kind === "chat" && s.p2p)),
    [],
    "only the log copy again: bob, who acknowledged it, is not sent it again",
  );
  courier.accepted(message.id, 7);
  assertEquals([courier.status(message.id), courier.outboxSize], ["delivered", 0], "logged: out of the outbox");
  courier.close();
});

Deno.test("a closed DataChannel falls back to the relay at once and a lost ack brings a re-send", async (t) => {
  const rig = await Rig.create();
  const [bob, cat] = [await newMember(ROOM), await newMember(ROOM)];
  const courier = await rig.load();
  courier.relayUp({
    peer: "me",
    peers: [{ id: "bob", presence: "online", member: bob.member }, {
      id: "cat",
      presence: "online",
      member: cat.member,
    }],
  });
  const link = rig.link("bob");
  courier.linkOpened("bob", link);
  rig.take();
  const message = await courier.send("x");
  await t.step("bob gets it direct, cat by the relay log", () => {
    assertEquals(rig.take().map((s) => [s.kind, s.to]), [["direct", "bob"], ["chat", undefined]]);
  });
  courier.accepted(message.id, 3);
  courier.receiveSignal("cat", payloadOf({ t: "ack", ids: [message.id] }));
  await t.step("the channel closes: bob gets it again by relay signal", () => {
    link.open = false;
    courier.linkClosed("bob");
    assertEquals(msgs(rig.take()).map((s) => [s.kind, s.to]), [["signal", "bob"]]);
  });
  await t.step("no ack: the timer re-sends, only to bob", () => {
    // Re-sends back off: after two sends the next waits twice the interval (see `MAX_RESEND_BACKOFF_MS`).
    rig.time.advance(RESEND_MS);
    assertEquals(msgs(rig.take()), []);
    rig.time.advance(RESEND_MS);
    assertEquals(msgs(rig.take()).map((s) => [s.kind, s.to]), [["signal", "bob"]]);
    assertEquals(courier.counters.resent, 2);
  });
  await t.step("bob acks and both answer the history sync: delivered, and the timer stops", async () => {
    courier.receiveSignal("bob", payloadOf({ t: "ack", ids: [message.id] }));
    assertEquals(courier.status(message.id), "delivered");
    const have = buildDigest([parseOrderKey(message.order)!]);
    courier.receiveSignal("bob", payloadOf({ t: "hist", ms: [], have }));
    courier.receiveSignal("cat", payloadOf({ t: "hist", ms: [], have }));
    await rig.settle();
    rig.time.advance(RESEND_MS);
    assertEquals(rig.time.pending, 0);
  });
  courier.close();
});

Deno.test("a duplicate is dropped by id and acknowledged again", async () => {
  const rig = await Rig.create();
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  rig.take();
  const m = await signed(bob, { id: "msg1", time: rig.time.now, body: "hi" });
  courier.receiveChat({ from: "bob", id: "msg1", seq: 4, data: payloadOf({ t: "msg", m }) });
  await rig.settle();
  courier.receiveDirect("bob", payloadOf({ t: "msg", m }));
  await rig.settle();
  assertEquals(courier.messages.map((x) => [x.id, x.status, x.seq, x.author]), [["msg1", "received", 4, bob.member]]);
  assertEquals(courier.counters.received, 1);
  assertEquals(courier.counters.duplicates, 1);
  const acks = rig.take().filter((s) => s.packet?.t === "ack");
  assertEquals(acks.map((s) => [s.to, s.packet]), [["bob", { t: "ack", ids: ["msg1"] }], ["bob", {
    t: "ack",
    ids: ["msg1"],
  }]]);
  assertEquals(courier.since, 4);
  assertEquals((await rig.store.getState(ROOM)).lastSeq, 4);
  assertEquals(rig.events.filter((e) => e.type === "received").length, 1);
  courier.close();
});

Deno.test("a message written offline waits as pending and goes out when the relay comes up", async () => {
  const rig = await Rig.create();
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  const message = await courier.send("from the tunnel");
  assertEquals(rig.take(), []);
  assertEquals(courier.status(message.id), "pending");
  assertEquals(message.author, rig.member, "the author is the member, known before any welcome");
  assertEquals(rig.time.pending, 0, "no timer spins while no path exists");
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "away", member: bob.member }] });
  assertEquals(rig.take().map((s) => [s.kind, s.id]), [["chat", message.id]]);
  courier.close();
});

Deno.test("a reload rebuilds history, statuses and the log position from the store, and re-sends the outbox", async (t) => {
  const time = new FakeTime();
  const store = new MemoryStore();
  const first = await Rig.create({ time, store, extra: { tab: "tab1" } });
  const [bob, cat] = [await newMember(ROOM), await newMember(ROOM)];
  const roster = [{ id: "bob", presence: "online" as const, member: bob.member }, {
    id: "cat",
    presence: "online" as const,
    member: cat.member,
  }];
  const before = await first.load();
  before.relayUp({ peer: "me", peers: roster });
  const a = await before.send("a");
  const b = await before.send("b");
  before.accepted(a.id, 1);
  before.receiveSignal("bob", payloadOf({ t: "ack", ids: [a.id] }));
  const fromBob = await signed(bob, { id: "fromBob", time: time.now, ms: time.now + 30_000, body: "yo" });
  before.receiveChat({ from: "bob", id: "fromBob", seq: 2, data: payloadOf({ t: "msg", m: fromBob }) });
  await first.settle();
  const listed = before.messages.map((m) => [m.id, m.status]);
  before.close();

  const second = await Rig.create({ time, store, signer: first.signer, extra: { tab: "tab1" } });
  const after = await second.load();
  await t.step("the same messages, statuses and since come back", () => {
    assertEquals(after.messages.map((m) => [m.id, m.status]), listed);
    assertEquals(after.since, 2);
    assertEquals(after.self, undefined, "the session is the shell's: known again at the next welcome");
    assertEquals(after.outboxSize, 2);
  });
  await t.step("on reconnect the outbox goes out again: the logged one by signal, the other to the log", () => {
    after.relayUp({ peer: "me", peers: roster });
    assertEquals(msgs(second.take()).map((s) => [s.kind, s.to, s.id ?? (s.packet?.t === "msg" ? s.packet.m.id : "")]), [
      // Bob's member acknowledged a, but which of its sessions holds it is not kept across a reload: once more.
      ["signal", "bob", a.id],
      ["signal", "cat", a.id],
      ["chat", undefined, b.id],
    ]);
    assertEquals(after.status(a.id), "sent", "still waiting for cat");
  });
  await t.step("a new message sorts after everything seen before the reload, even a fast clock's", async () => {
    const c = await after.send("c");
    assertEquals(after.messages.at(-1)!.id, c.id);
    assertEquals(parseOrderKey(c.order)!.n, 3, "the same tab numbers on");
  });
  after.close();
});

Deno.test("a member that left no longer holds back delivered", async () => {
  const rig = await Rig.create();
  const [bob, gone] = [await newMember(ROOM), await newMember(ROOM)];
  const courier = await rig.load();
  courier.relayUp({
    peer: "me",
    peers: [{ id: "bob", presence: "online", member: bob.member }, {
      id: "gone",
      presence: "away",
      member: gone.member,
    }],
  });
  const message = await courier.send("x");
  courier.receiveSignal("bob", payloadOf({ t: "ack", ids: [message.id] }));
  assertEquals(courier.status(message.id), "sent");
  courier.presence("gone", "left");
  assertEquals(courier.status(message.id), "delivered");
  courier.close();
});

Deno.test("status only moves forward: a late accepted after delivered changes nothing but the seq", async () => {
  const rig = await Rig.create();
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  const message = await courier.send("x");
  courier.receiveSignal("bob", payloadOf({ t: "ack", ids: [message.id] }));
  courier.accepted(message.id, 9);
  await rig.settle();
  assertEquals(courier.status(message.id), "delivered");
  assertEquals((await rig.store.getMessage(ROOM, message.id))?.seq, 9);
  courier.close();
});

Deno.test("tampered payloads and malformed packets are rejected, counted and never shown", async () => {
  const codec: PayloadCodec = {
    encode: plainCodec.encode,
    decode(payload, from) {
      if (payload.startsWith("bad")) throw new Error("authentication failed");
      return plainCodec.decode(payload, from);
    },
  };
  const rig = await Rig.create({ extra: { codec } });
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  courier.receiveChat({ from: "bob", id: "x1", seq: 1, data: "badbadbad" });
  courier.receiveSignal("bob", payloadOf({ t: "nope" }));
  const good = await signed(bob, { id: "x2", time: rig.time.now, body: "" });
  courier.receiveDirect("bob", payloadOf({ t: "msg", m: { ...good, author: "eve" } }));
  courier.receiveChat({ from: "bob", id: "other", seq: 2, data: payloadOf({ t: "msg", m: good }) });
  await rig.settle();
  assertEquals(courier.messages.length, 0);
  assertEquals(courier.counters.rejected, 4);
  assertEquals(rig.rejections(), ["undecodable", "malformed_packet", "malformed_message", "chat_mismatch"]);
  assertEquals(courier.since, 2, "a rejected log frame is not asked for again");
  courier.close();
});

Deno.test("an async codec (WebCrypto-like) works end to end", async () => {
  const codec: PayloadCodec = {
    encode: (packet) => Promise.resolve(plainCodec.encode(packet, "") as string),
    decode: (payload, from) => Promise.resolve(plainCodec.decode(payload, from)),
  };
  const rig = await Rig.create({ extra: { codec } });
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  const message = await courier.send("async");
  await rig.settle();
  assert(rig.take().some((s) => s.kind === "chat" && s.id === message.id));
  courier.receiveSignal("bob", payloadOf({ t: "ack", ids: [message.id] }));
  await rig.settle();
  assertEquals(courier.status(message.id), "delivered");
  courier.close();
});

Deno.test("a late joiner gets messages that only went over DataChannels from the peers present", async (t) => {
  const time = new FakeTime();
  const rigs = { ann: await Rig.create({ time }), bob: await Rig.create({ time }), cat: await Rig.create({ time }) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { ann, bob, cat } = rigs;
  ann.courier.relayUp({ peer: "ann", peers: [rosterOf("bob", bob)] });
  bob.courier.relayUp({ peer: "bob", peers: [rosterOf("ann", ann)] });
  ann.courier.linkOpened("bob", ann.link("bob"));
  bob.courier.linkOpened("ann", bob.link("ann"));
  await pump(rigs);
  const m1 = await ann.courier.send("only p2p 1");
  const m2 = await bob.courier.send("only p2p 2");
  await pump(rigs);
  await t.step("the messages went direct only and are delivered", () => {
    assertEquals(ann.courier.status(m1.id), "delivered");
    assertEquals(bob.courier.status(m2.id), "delivered");
  });
  await t.step("ann leaves for good; cat joins and gets both from bob, with their authors", async () => {
    ann.courier.close();
    bob.courier.presence("ann", "left");
    delete (rigs as Record<string, Rig>).ann;
    cat.courier.relayUp({ peer: "cat", peers: [rosterOf("bob", bob)] });
    bob.courier.presence("cat", "joined", cat.member);
    await pump(rigs);
    // Written at the same moment without seeing each other: their writers order them.
    const got = cat.courier.messages.map((m) => [m.body, m.author]).sort();
    assertEquals(got, [["only p2p 1", ann.member], ["only p2p 2", bob.member]]);
    assertEquals(cat.courier.counters.received, 2);
    assertEquals(cat.courier.messages.map((m) => m.id), bob.courier.messages.map((m) => m.id));
  });
  cat.courier.close();
  bob.courier.close();
});

Deno.test("a message whose author is gone is offered to the others, so one holder is enough", async () => {
  const time = new FakeTime();
  const rigs = { bob: await Rig.create({ time }), cat: await Rig.create({ time }) };
  const ann = await newMember(ROOM);
  for (const rig of Object.values(rigs)) await rig.load();
  const { bob, cat } = rigs;
  bob.courier.relayUp({ peer: "bob", peers: [rosterOf("cat", cat)] });
  cat.courier.relayUp({ peer: "cat", peers: [rosterOf("bob", bob)] });
  await pump(rigs);
  // ann wrote a message, its copy to cat was lost, and ann left before bob's copy arrived.
  bob.courier.presence("ann", "left");
  cat.courier.presence("ann", "left");
  await pump(rigs);
  const m = await signed(ann, { id: "late", time: time.now, body: "last words" });
  bob.courier.receiveChat({ from: "ann", id: "late", seq: 7, data: payloadOf({ t: "msg", m }) });
  await pump(rigs);
  time.advance(RESEND_MS);
  await pump(rigs);
  assertEquals(cat.courier.messages.map((x) => x.body), ["last words"]);
  for (let i = 0; i < 3 && time.pending > 0; i++) {
    time.advance(RESEND_MS);
    await pump(rigs);
  }
  assertEquals(time.pending, 0, "and then everything is quiet");
  bob.courier.close();
  cat.courier.close();
});

Deno.test("all peers show the same order, and a reply sorts after what it answers despite a slow clock", async () => {
  const fast = new FakeTime();
  const slow = new FakeTime();
  slow.now = fast.now - 3_600_000;
  const rigs = { ann: await Rig.create({ time: fast }), bob: await Rig.create({ time: slow }) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { ann, bob } = rigs;
  ann.courier.relayUp({ peer: "ann", peers: [rosterOf("bob", bob)] });
  bob.courier.relayUp({ peer: "bob", peers: [rosterOf("ann", ann)] });
  await ann.courier.send("question");
  await pump(rigs);
  assertEquals(bob.courier.messages.length, 0, "an hour ahead of bob's clock: held back until it is believable");
  rigs.bob.time.now = fast.now - 30_000;
  bob.time.advance(RESEND_MS);
  ann.time.advance(RESEND_MS);
  await pump(rigs);
  await bob.courier.send("answer");
  await pump(rigs);
  await ann.courier.send("thanks");
  await bob.courier.send("concurrent");
  await pump(rigs);
  // Bob's clock is 30 s slow, yet his answer sorts after the question he saw; "thanks" and "concurrent"
  // were written without seeing each other, so the hybrid clock (bob's still at the question's time) orders
  // them, the same everywhere.
  const order = ["question", "answer", "concurrent", "thanks"];
  assertEquals(ann.courier.messages.map((m) => m.body), order);
  assertEquals(bob.courier.messages.map((m) => m.body), order);
  assert(bob.rejections().includes("future"), "the first copy was refused as from the future");
  assertNotEquals(ann.courier.messages[0].order, ann.courier.messages[1].order);
  ann.courier.close();
  bob.courier.close();
});

Deno.test("a message written before the first welcome is authored by the member and still arrives", async () => {
  const time = new FakeTime();
  const rigs = { ann: await Rig.create({ time }), bob: await Rig.create({ time }) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { ann, bob } = rigs;
  const early = await ann.courier.send("typed fast");
  assertExists(ann.courier.member);
  assertEquals(early.author, ann.member);
  ann.courier.relayUp({ peer: "ann", peers: [rosterOf("bob", bob)] });
  bob.courier.relayUp({ peer: "bob", peers: [rosterOf("ann", ann)] });
  await pump(rigs);
  assertEquals(bob.courier.messages.map((m) => [m.body, m.author]), [["typed fast", ann.member]]);
  assertEquals(ann.courier.status(early.id), "delivered");
  ann.courier.close();
  bob.courier.close();
});

Deno.test("a direct message goes only to its receiver and is never offered to others by history sync", async () => {
  const time = new FakeTime();
  const rigs = { ann: await Rig.create({ time }), bob: await Rig.create({ time }), cat: await Rig.create({ time }) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { ann, bob, cat } = rigs;
  ann.courier.relayUp({ peer: "ann", peers: [rosterOf("bob", bob), rosterOf("cat", cat)] });
  bob.courier.relayUp({ peer: "bob", peers: [rosterOf("ann", ann), rosterOf("cat", cat)] });
  cat.courier.relayUp({ peer: "cat", peers: [rosterOf("ann", ann), rosterOf("bob", bob)] });
  await pump(rigs);
  const secret = await ann.courier.send("psst", "bob");
  await pump(rigs);
  assertEquals(ann.courier.status(secret.id), "delivered");
  assertEquals(bob.courier.messages.map((m) => m.body), ["psst"]);
  assertEquals(cat.courier.messages.length, 0);
  cat.courier.presence("bob", "online", bob.member);
  bob.courier.presence("cat", "online", cat.member);
  await pump(rigs);
  assertEquals(cat.courier.messages.length, 0);
  for (const rig of Object.values(rigs)) rig.courier.close();
});

Deno.test("a big outbox drains in bursts, below the server's rate limit", async () => {
  const rig = await Rig.create({ extra: { resendBurst: 2 } });
  const bob = await newMember(ROOM);
  const courier = await rig.load();
  for (let i = 0; i < 5; i++) await courier.send(`offline ${i}`);
  assertEquals(rig.take(), []);
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "away", member: bob.member }] });
  const bodies = () => rig.take().map((s) => s.packet?.t === "msg" && s.packet.m.body);
  assertEquals(bodies(), ["offline 0", "offline 1"]);
  rig.time.advance(RESEND_MS);
  assertEquals(bodies(), ["offline 2", "offline 3"]);
  rig.time.advance(RESEND_MS);
  assertEquals(bodies(), ["offline 4", "offline 0"]);
  courier.close();
});

Deno.test("packets the old way (unsigned messages) are refused, so nothing unsigned is ever shown", async () => {
  const rig = await Rig.create();
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online" }] });
  const order = formatOrderKey({ ms: rig.time.now, c: 0, author: "bob", n: 1 });
  const old = { id: "old1", author: "bob", order, time: rig.time.now, body: "hi" } as unknown as Packet;
  courier.receiveSignal("bob", payloadOf({ t: "msg", m: old }));
  await rig.settle();
  assertEquals(courier.messages.length, 0);
  assertEquals(rig.rejections(), ["malformed_message"]);
  courier.close();
});

Deno.test("history sync stops asking after MAX_SYNC_ROUNDS answers that bring nothing, never for lost ones", () => {
  const peers = new PeerTable("me");
  peers.relayUp = true;
  const state = peers.ensure("bob")!;
  state.presence = "online";
  const sent: string[] = [];
  const sync = new HistorySync({
    book: new MessageBook(),
    peers,
    toPeer: (peer, packet) => sent.push(`${peer}:${packet.t}`),
    batchBytes: 10_000,
    arm: () => {},
    now: () => 0,
  });
  askSync(state);
  // Offers lost on the way (no answer comes): asking goes on, as a lossy link needs.
  for (let tick = 0; tick < 3 * MAX_SYNC_ROUNDS; tick++) if (state.needSync) sync.offer("bob");
  assertEquals(sent.length, 3 * MAX_SYNC_ROUNDS);
  assert(state.needSync);
  // Bob answers, each time listing what we never get (say a writer our digest leaves out): no progress.
  for (let round = 0; round <= MAX_SYNC_ROUNDS; round++) sync.onAnswer("bob", { "x~y": [1, 1] });
  assertEquals(state.needSync, false, "it stops asking");
  // Its own syncs do not start our asking again...
  sync.onSync("bob", { "x~y": [1, 1] });
  assertEquals(state.needSync, false);
  // ...something new does (Bob comes back online).
  askSync(state);
  assert(state.needSync);
});
