/**
 * Example-based tests of the courier: paths, acks, statuses, duplicates,
 * reloads, history sync and rejection, each driven step by step through fake
 * transports, a fake clock and fake timers.
 * @module
 */
import { assert, assertEquals, assertExists, assertNotEquals } from "@std/assert";
import {
  Courier,
  type CourierEvent,
  type CourierOptions,
  type DirectLink,
  type Packet,
  type PayloadCodec,
  plainCodec,
} from "../../lib/client/courier.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import type { TimerId, Timers } from "../../lib/client/timer_set.ts";
import {
  buildDigest,
  digestCovers,
  digestHas,
  formatOrderKey,
  HybridClock,
  isDigest,
  parseOrderKey,
} from "../../lib/client/order_key.ts";

const ROOM = "testroomtestroomtestro";
const RESEND_MS = 1_000;

/** Fake time: timers fire only when the test advances the clock. */
class FakeTime implements Timers {
  now = 1_700_000_000_000;
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, fn });
    return id as unknown as TimerId;
  }

  clearTimeout(id: TimerId): void {
    this.#timers.delete(id as unknown as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const item of this.#timers) if (item[1].at <= end && (!first || item[1].at < first[1].at)) first = item;
      if (!first) break;
      this.#timers.delete(first[0]);
      this.now = first[1].at;
      first[1].fn();
    }
    this.now = end;
  }
}

interface Sent {
  kind: "chat" | "signal" | "direct";
  to?: string;
  id?: string;
  packet: Packet;
  payload: string;
}

/** A courier with recording transports. */
class Rig {
  readonly store: MemoryStore;
  readonly time: FakeTime;
  readonly sent: Sent[] = [];
  readonly events: CourierEvent[] = [];
  courier!: Courier;
  options: CourierOptions;

  constructor(time = new FakeTime(), store = new MemoryStore(), extra: Partial<CourierOptions> = {}) {
    this.time = time;
    this.store = store;
    let counter = 0;
    this.options = {
      room: ROOM,
      store,
      codec: plainCodec,
      timing: { resendIntervalMs: RESEND_MS },
      now: () => time.now,
      timers: time,
      randomBytes: (count) => {
        const bytes = new Uint8Array(count);
        bytes[0] = ++counter;
        bytes[1] = Math.floor(Math.random() * 256);
        bytes[2] = Math.floor(Math.random() * 256);
        return bytes;
      },
      relay: {
        sendChat: (id, to, payload) => this.sent.push({ kind: "chat", id, to, payload, packet: decode(payload) }),
        sendSignal: (to, payload) => this.sent.push({ kind: "signal", to, payload, packet: decode(payload) }),
      },
      ...extra,
    };
  }

  async load(): Promise<Courier> {
    this.courier = await Courier.load(this.options);
    this.courier.subscribe((event) => this.events.push(event));
    return this.courier;
  }

  /** A link that records what goes over it; `open` false makes `send` refuse. */
  link(peer: string): DirectLink & { open: boolean } {
    const sent = this.sent;
    return {
      open: true,
      send(payload) {
        if (!this.open) return false;
        sent.push({ kind: "direct", to: peer, payload, packet: decode(payload) });
        return true;
      },
    };
  }

  take(): Sent[] {
    return this.sent.splice(0);
  }

  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) await this.courier.settled();
  }
}

function decode(payload: string): Packet {
  return plainCodec.decode(payload, "") as Packet;
}

function payloadOf(packet: Packet): string {
  return plainCodec.encode(packet, "") as string;
}

Deno.test("order keys round-trip, reject garbage and never tie", () => {
  const key = formatOrderKey({ ms: 1_700_000_000_123, c: 7, author: "peerA", n: 42 });
  assertEquals(parseOrderKey(key), { ms: 1_700_000_000_123, c: 7, author: "peerA", n: 42 });
  for (const bad of ["", "x", "000000000000.a.1", key + "!", key.replace("peerA", "pe.rA"), "zzzzzzzzzzzzz.a.0"]) {
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

Deno.test("digests fold message numbers into ranges and compare", () => {
  const digest = buildDigest([1, 2, 3, 5, 7, 6].map((n) => ({ ms: 0, c: 0, author: "a", n })));
  assertEquals(digest, { a: [1, 3, 5, 7] });
  assert(digestHas(digest, "a", 2) && !digestHas(digest, "a", 4) && !digestHas(digest, "b", 1));
  assert(digestCovers(digest, { a: [1, 2, 6, 7] }));
  assert(!digestCovers(digest, { a: [3, 5] }));
  assert(!digestCovers(digest, { b: [1, 1] }));
  assert(!digestCovers(digest, { constructor: [1, 1] }));
  assert(isDigest(digest) && !isDigest({ a: [2, 1] }) && !isDigest({ a: [1] }) && !isDigest([1, 1]));
});

Deno.test("a message goes out by relay at once, is sent when logged, and delivered when the only peer acks", async (t) => {
  const rig = new Rig();
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online" }] });
  rig.take(); // the history sync to bob
  const message = await courier.send("hello");
  await t.step("it goes out on the relay without waiting for P2P", () => {
    const sent = rig.take();
    assertEquals(sent.length, 1);
    assertEquals(sent[0].kind, "chat");
    assertEquals(sent[0].id, message.id);
    assertEquals(sent[0].to, undefined);
    assertEquals(sent[0].packet, {
      t: "msg",
      m: { id: message.id, author: "me", order: message.order, time: message.time, body: "hello" },
    });
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
  const rig = new Rig();
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [] });
  const message = await courier.send("anyone?");
  assertEquals(rig.take().map((s) => s.kind), ["chat"]);
  courier.accepted(message.id, 1);
  rig.time.advance(RESEND_MS * 5);
  assertEquals(rig.take(), [], "a logged message with nobody to tell is not re-sent");
  assertEquals(courier.status(message.id), "sent");
  courier.presence("late", "joined");
  const offered = rig.take();
  assert(offered.some((s) => s.kind === "signal" && s.to === "late" && s.packet.t === "msg"), "re-sent to the joiner");
  courier.receiveSignal("late", payloadOf({ t: "ack", ids: [message.id] }));
  assertEquals(courier.status(message.id), "delivered");
  courier.close();
});

Deno.test("with a DataChannel open a message goes direct, and its ack over it makes it sent", async () => {
  const rig = new Rig();
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online" }] });
  const link = rig.link("bob");
  courier.linkOpened("bob", link);
  rig.take();
  const message = await courier.send("p2p");
  assertEquals(rig.take().map((s) => [s.kind, s.to, s.packet.t]), [["direct", "bob", "msg"]]);
  courier.receiveDirect("bob", payloadOf({ t: "ack", ids: [message.id] }));
  assertEquals(courier.status(message.id), "delivered");
  courier.close();
});

Deno.test("a closed DataChannel falls back to the relay at once and a lost ack brings a re-send", async (t) => {
  const rig = new Rig();
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online" }, { id: "cat", presence: "online" }] });
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
    const msgs = rig.take().filter((s) => s.packet.t === "msg");
    assertEquals(msgs.map((s) => [s.kind, s.to]), [["signal", "bob"]]);
  });
  await t.step("no ack: the timer re-sends, only to bob", () => {
    rig.time.advance(RESEND_MS);
    const msgs = rig.take().filter((s) => s.packet.t === "msg");
    assertEquals(msgs.map((s) => [s.kind, s.to]), [["signal", "bob"]]);
    assertEquals(courier.counters.resent, 2);
  });
  await t.step("bob acks and both answer the history sync: delivered, and the timer stops", () => {
    courier.receiveSignal("bob", payloadOf({ t: "ack", ids: [message.id] }));
    assertEquals(courier.status(message.id), "delivered");
    courier.receiveSignal("bob", payloadOf({ t: "hist", ms: [], have: { me: [1, 1] } }));
    courier.receiveSignal("cat", payloadOf({ t: "hist", ms: [], have: { me: [1, 1] } }));
    rig.time.advance(RESEND_MS);
    assertEquals(rig.time.pending, 0);
  });
  courier.close();
});

Deno.test("a duplicate is dropped by id and acknowledged again", async () => {
  const rig = new Rig();
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online" }] });
  rig.take();
  const order = formatOrderKey({ ms: rig.time.now, c: 0, author: "bob", n: 1 });
  const m = { id: "msg1", author: "bob", order, time: rig.time.now, body: "hi" };
  courier.receiveChat({ from: "bob", id: "msg1", seq: 4, data: payloadOf({ t: "msg", m }) });
  await rig.settle();
  courier.receiveDirect("bob", payloadOf({ t: "msg", m }));
  await rig.settle();
  assertEquals(courier.messages.map((x) => [x.id, x.status, x.seq]), [["msg1", "received", 4]]);
  assertEquals(courier.counters.received, 1);
  assertEquals(courier.counters.duplicates, 1);
  const acks = rig.take().filter((s) => s.packet.t === "ack");
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
  const rig = new Rig();
  await rig.store.patchState(ROOM, { peer: "me" });
  const courier = await rig.load();
  const message = await courier.send("from the tunnel");
  assertEquals(rig.take(), []);
  assertEquals(courier.status(message.id), "pending");
  assertEquals(rig.time.pending, 0, "no timer spins while no path exists");
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "away" }] });
  assertEquals(rig.take().map((s) => [s.kind, s.id]), [["chat", message.id]]);
  courier.close();
});

Deno.test("a reload rebuilds history, statuses and the log position from the store, and re-sends the outbox", async (t) => {
  const time = new FakeTime();
  const store = new MemoryStore();
  const first = new Rig(time, store);
  const before = await first.load();
  before.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online" }, { id: "cat", presence: "online" }] });
  const a = await before.send("a");
  const b = await before.send("b");
  before.accepted(a.id, 1);
  before.receiveSignal("bob", payloadOf({ t: "ack", ids: [a.id] }));
  const order = formatOrderKey({ ms: time.now + 60_000, c: 0, author: "bob", n: 1 });
  before.receiveChat({
    from: "bob",
    id: "fromBob",
    seq: 2,
    data: payloadOf({ t: "msg", m: { id: "fromBob", author: "bob", order, time: time.now, body: "yo" } }),
  });
  await first.settle();
  const listed = before.messages.map((m) => [m.id, m.status]);
  before.close();

  const second = new Rig(time, store);
  const after = await second.load();
  await t.step("the same messages, statuses and since come back", () => {
    assertEquals(after.messages.map((m) => [m.id, m.status]), listed);
    assertEquals(after.since, 2);
    assertEquals(after.self, "me");
    assertEquals(after.outboxSize, 2);
  });
  await t.step("on reconnect the outbox goes out again, minus what was acknowledged", () => {
    after.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online" }, { id: "cat", presence: "online" }] });
    const msgs = second.take().filter((s) => s.packet.t === "msg");
    assertEquals(msgs.map((s) => [s.kind, s.to, s.id ?? (s.packet.t === "msg" ? s.packet.m.id : "")]), [
      ["signal", "cat", a.id],
      ["chat", undefined, b.id],
    ]);
  });
  await t.step("a new message sorts after everything seen before the reload, even a skewed clock's", async () => {
    const c = await after.send("c");
    assertEquals(after.messages.at(-1)!.id, c.id);
    assertEquals(parseOrderKey(c.order)!.n, 3);
  });
  after.close();
});

Deno.test("a peer that left no longer holds back delivered", async () => {
  const rig = new Rig();
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online" }, { id: "gone", presence: "away" }] });
  const message = await courier.send("x");
  courier.receiveSignal("bob", payloadOf({ t: "ack", ids: [message.id] }));
  assertEquals(courier.status(message.id), "sent");
  courier.presence("gone", "left");
  assertEquals(courier.status(message.id), "delivered");
  courier.close();
});

Deno.test("status only moves forward: a late accepted after delivered changes nothing but the seq", async () => {
  const rig = new Rig();
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online" }] });
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
  const rig = new Rig(undefined, undefined, { codec });
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online" }] });
  courier.receiveChat({ from: "bob", id: "x1", seq: 1, data: "badbadbad" });
  courier.receiveSignal("bob", payloadOf({ t: "nope" } as unknown as Packet));
  const wrongAuthor = {
    id: "x2",
    author: "eve",
    order: formatOrderKey({ ms: 1, c: 0, author: "bob", n: 1 }),
    time: 1,
    body: "",
  };
  courier.receiveDirect("bob", payloadOf({ t: "msg", m: wrongAuthor }));
  courier.receiveChat({
    from: "bob",
    id: "other",
    seq: 2,
    data: payloadOf({ t: "msg", m: { ...wrongAuthor, author: "bob" } }),
  });
  await rig.settle();
  assertEquals(courier.messages.length, 0);
  assertEquals(courier.counters.rejected, 4);
  assertEquals(rig.events.filter((e) => e.type === "rejected").length, 4);
  assertEquals(courier.since, 2, "a rejected log frame is not asked for again");
  courier.close();
});

Deno.test("an async codec (WebCrypto-like) works end to end", async () => {
  const codec: PayloadCodec = {
    encode: (packet) => Promise.resolve(plainCodec.encode(packet, "") as string),
    decode: (payload, from) => Promise.resolve(plainCodec.decode(payload, from)),
  };
  const rig = new Rig(undefined, undefined, { codec });
  const courier = await rig.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online" }] });
  const message = await courier.send("async");
  await rig.settle();
  assert(rig.take().some((s) => s.kind === "chat" && s.id === message.id));
  courier.receiveSignal("bob", payloadOf({ t: "ack", ids: [message.id] }));
  await rig.settle();
  assertEquals(courier.status(message.id), "delivered");
  courier.close();
});

/** Wires couriers to each other through their recorded sends, delivering everything (a perfect network). */
async function pump(rigs: Record<string, Rig>, rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    let moved = false;
    for (const [name, rig] of Object.entries(rigs)) {
      await rig.settle();
      for (const sent of rig.take()) {
        moved = true;
        const targets = sent.to !== undefined ? [sent.to] : Object.keys(rigs).filter((other) => other !== name);
        for (const target of targets) {
          const receiver = rigs[target]?.courier;
          if (!receiver) continue;
          if (sent.kind === "chat") {
            receiver.receiveChat({ from: name, id: sent.id!, seq: 100 + i, data: sent.payload });
          } else if (sent.kind === "signal") receiver.receiveSignal(name, sent.payload);
          else receiver.receiveDirect(name, sent.payload);
        }
      }
    }
    if (!moved) return;
  }
}

Deno.test("a late joiner gets messages that only went over DataChannels from the peers present", async (t) => {
  const time = new FakeTime();
  const rigs = { ann: new Rig(time), bob: new Rig(time), cat: new Rig(time) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { ann, bob, cat } = rigs;
  ann.courier.relayUp({ peer: "ann", peers: [{ id: "bob", presence: "online" }] });
  bob.courier.relayUp({ peer: "bob", peers: [{ id: "ann", presence: "online" }] });
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
  await t.step("ann leaves for good; cat joins and gets both from bob", async () => {
    ann.courier.close();
    bob.courier.presence("ann", "left");
    delete (rigs as Record<string, Rig>).ann;
    cat.courier.relayUp({ peer: "cat", peers: [{ id: "bob", presence: "online" }] });
    bob.courier.presence("cat", "joined");
    await pump(rigs);
    assertEquals(cat.courier.messages.map((m) => m.body), ["only p2p 1", "only p2p 2"]);
    assertEquals(cat.courier.counters.received, 2);
    assertEquals(cat.courier.messages.map((m) => m.id), bob.courier.messages.map((m) => m.id));
  });
  cat.courier.close();
  bob.courier.close();
});

Deno.test("a message whose author is gone is offered to the others, so one holder is enough", async () => {
  const time = new FakeTime();
  const rigs = { bob: new Rig(time), cat: new Rig(time) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { bob, cat } = rigs;
  bob.courier.relayUp({ peer: "bob", peers: [{ id: "cat", presence: "online" }] });
  cat.courier.relayUp({ peer: "cat", peers: [{ id: "bob", presence: "online" }] });
  await pump(rigs);
  // ann wrote a message, its copy to cat was lost, and ann left before bob's copy arrived.
  bob.courier.presence("ann", "left");
  cat.courier.presence("ann", "left");
  await pump(rigs);
  const m = {
    id: "late",
    author: "ann",
    order: formatOrderKey({ ms: time.now, c: 0, author: "ann", n: 1 }),
    time: time.now,
    body: "last words",
  };
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
  const rigs = { ann: new Rig(fast), bob: new Rig(slow) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { ann, bob } = rigs;
  ann.courier.relayUp({ peer: "ann", peers: [{ id: "bob", presence: "online" }] });
  bob.courier.relayUp({ peer: "bob", peers: [{ id: "ann", presence: "online" }] });
  await ann.courier.send("question");
  await pump(rigs);
  await bob.courier.send("answer");
  await pump(rigs);
  await ann.courier.send("thanks");
  await bob.courier.send("concurrent");
  await pump(rigs);
  // Bob's clock is an hour slow, yet his answer sorts after the question he saw; "thanks" and "concurrent"
  // were written without seeing each other, so the hybrid clock and author id order them, the same everywhere.
  const order = ["question", "answer", "thanks", "concurrent"];
  assertEquals(ann.courier.messages.map((m) => m.body), order);
  assertEquals(bob.courier.messages.map((m) => m.body), order);
  assertNotEquals(ann.courier.messages[0].order, ann.courier.messages[1].order);
  ann.courier.close();
  bob.courier.close();
});

Deno.test("a message written before the first welcome gets a provisional author and still arrives", async () => {
  const time = new FakeTime();
  const rigs = { ann: new Rig(time), bob: new Rig(time) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { ann, bob } = rigs;
  const early = await ann.courier.send("typed fast");
  assertExists(ann.courier.self);
  assertEquals((await ann.store.getState(ROOM)).peer, ann.courier.self);
  ann.courier.relayUp({ peer: "ann", peers: [{ id: "bob", presence: "online" }] });
  bob.courier.relayUp({ peer: "bob", peers: [{ id: "ann", presence: "online" }] });
  await pump(rigs);
  assertEquals(bob.courier.messages.map((m) => m.body), ["typed fast"]);
  assertEquals(ann.courier.status(early.id), "delivered");
  const next = await ann.courier.send("now with an id");
  assertEquals(next.author, "ann");
  ann.courier.close();
  bob.courier.close();
});

Deno.test("a direct message goes only to its receiver and is never offered to others by history sync", async () => {
  const time = new FakeTime();
  const rigs = { ann: new Rig(time), bob: new Rig(time), cat: new Rig(time) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { ann, bob, cat } = rigs;
  ann.courier.relayUp({ peer: "ann", peers: [{ id: "bob", presence: "online" }, { id: "cat", presence: "online" }] });
  bob.courier.relayUp({ peer: "bob", peers: [{ id: "ann", presence: "online" }, { id: "cat", presence: "online" }] });
  cat.courier.relayUp({ peer: "cat", peers: [{ id: "ann", presence: "online" }, { id: "bob", presence: "online" }] });
  await pump(rigs);
  const secret = await ann.courier.send("psst", "bob");
  await pump(rigs);
  assertEquals(ann.courier.status(secret.id), "delivered");
  assertEquals(bob.courier.messages.map((m) => m.body), ["psst"]);
  assertEquals(cat.courier.messages.length, 0);
  cat.courier.presence("bob", "online");
  bob.courier.presence("cat", "online");
  await pump(rigs);
  assertEquals(cat.courier.messages.length, 0);
  for (const rig of Object.values(rigs)) rig.courier.close();
});

Deno.test("a big outbox drains in bursts, below the server's rate limit", async () => {
  const rig = new Rig(undefined, undefined, { resendBurst: 2 });
  await rig.store.patchState(ROOM, { peer: "me" });
  const courier = await rig.load();
  for (let i = 0; i < 5; i++) await courier.send(`offline ${i}`);
  assertEquals(rig.take(), []);
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "away" }] });
  assertEquals(rig.take().map((s) => s.packet.t === "msg" && s.packet.m.body), ["offline 0", "offline 1"]);
  rig.time.advance(RESEND_MS);
  assertEquals(rig.take().map((s) => s.packet.t === "msg" && s.packet.m.body), ["offline 2", "offline 3"]);
  rig.time.advance(RESEND_MS);
  assertEquals(rig.take().map((s) => s.packet.t === "msg" && s.packet.m.body), ["offline 4", "offline 0"]);
  courier.close();
});
