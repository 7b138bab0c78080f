/**
 * The room client's parts on their own, with fakes: ordered envelopes per
 * peer, the tab session slot, the tabs' channel, and the seed's relay hold.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { signal } from "@preact/signals-core";
import type { OpenResult } from "../../lib/client/crypto.ts";
import { createRelayHold } from "../../lib/client/relay_hold.ts";
import { createEnvelopes, type OpenedEnvelope, type SignalEnvelope } from "../../lib/client/room/envelopes.ts";
import { SerialQueues } from "../../lib/client/room/serial_queue.ts";
import { memorySessionSlot, sessionKey, webSessionSlot } from "../../lib/client/room/session.ts";
import { createTabBus, parseTabMessage, type TabChannel } from "../../lib/client/room/tabs.ts";
import { createRoster, TYPING_REFRESH_MS, TYPING_SHOW_MS } from "../../lib/client/room/roster.ts";
import { createRoomSignals } from "../../lib/client/room/view.ts";
import type { PeerPath } from "../../lib/client/peer_link.ts";
import type { StoredMessage } from "../../lib/client/store.ts";
import { FakeClock } from "../support/fake_clock.ts";

/** A cipher whose operations take the given times on a fake clock, so later ones can finish first. */
function slowCipher(clock: FakeClock, delays: number[]) {
  const later = <T>(value: T) =>
    new Promise<T>((resolve) => clock.setTimeout(() => resolve(value), delays.shift() ?? 0));
  return {
    seal: (sender: string, id: string, text: string) => later(`${sender}|${id}|${text}`),
    open(sender: string, id: string, data: string): Promise<OpenResult> {
      const [from, kind, text] = data.split("|");
      return later(
        from === sender && kind === id ? { ok: true, text } as OpenResult : { ok: false, reason: "rejected" },
      );
    },
  };
}

Deno.test("one peer's envelopes go out in the order written, even when a later seal finishes first", async () => {
  const clock = new FakeClock();
  const sent: { to: string; envelope: SignalEnvelope }[] = [];
  const envelopes = createEnvelopes({
    cipher: slowCipher(clock, [30, 10, 0, 0]),
    self: () => "me",
    send: (to, envelope) => sent.push({ to, envelope }),
    onRejected: () => {},
  });
  void envelopes.sendSealed("bob", "rtc", { n: 1 });
  void envelopes.sendSealed("bob", "rtc", { n: 2 });
  void envelopes.sendCourier("bob", "courier-3");
  void envelopes.sendSealed("bob", "meta", { n: 4 });
  await clock.advance(100);
  assertEquals(sent.map((s) => s.envelope.p), [
    'me|rtc|{"n":1}',
    'me|rtc|{"n":2}',
    "courier-3",
    'me|meta|{"n":4}',
  ]);
});

Deno.test("another peer's envelopes do not wait behind a slow one", async () => {
  const clock = new FakeClock();
  const sent: string[] = [];
  const envelopes = createEnvelopes({
    cipher: slowCipher(clock, [50, 5]),
    self: () => "me",
    send: (to) => sent.push(to),
    onRejected: () => {},
  });
  void envelopes.sendSealed("bob", "rtc", {});
  void envelopes.sendSealed("carol", "rtc", {});
  await clock.advance(10);
  assertEquals(sent, ["carol"]);
  await clock.advance(50);
  assertEquals(sent, ["carol", "bob"]);
});

Deno.test("one peer's envelopes are handled in arrival order, even when a later one opens first", async () => {
  const clock = new FakeClock();
  const handled: OpenedEnvelope[] = [];
  const rejected: string[] = [];
  const envelopes = createEnvelopes({
    cipher: slowCipher(clock, [40, 20, 0]),
    self: () => "me",
    send: () => {},
    onRejected: (from, kind, reason) => rejected.push(`${from}:${kind}:${reason}`),
  });
  const handle = (envelope: OpenedEnvelope) => handled.push(envelope);
  void envelopes.receive("bob", { k: "rtc", p: 'bob|rtc|{"offer":1}' }, handle);
  void envelopes.receive("bob", { k: "rtc", p: 'bob|rtc|{"candidate":2}' }, handle);
  void envelopes.receive("bob", { k: "courier", p: "ack" }, handle);
  void envelopes.receive("bob", { k: "meta", p: "mallory|meta|{}" }, handle);
  void envelopes.receive("bob", { k: "meta", p: "bob|meta|not json" }, handle);
  void envelopes.receive("bob", { k: "nope", p: "x" }, handle);
  void envelopes.receive("bob", "junk", handle);
  await clock.advance(100);
  assertEquals(handled, [
    { k: "rtc", value: { offer: 1 } },
    { k: "rtc", value: { candidate: 2 } },
    { k: "courier", payload: "ack" },
  ]);
  assertEquals(rejected.sort(), [
    "bob:meta:malformed",
    "bob:meta:unreadable",
    "bob:undefined:malformed",
    "bob:undefined:malformed",
  ]);
});

Deno.test("nothing is sealed before the room has a peer id to bind it to", async () => {
  const clock = new FakeClock();
  const sent: string[] = [];
  const who: { id?: string } = {};
  const envelopes = createEnvelopes({
    cipher: slowCipher(clock, []),
    self: () => who.id,
    send: (to) => sent.push(to),
    onRejected: () => {},
  });
  void envelopes.sendSealed("bob", "meta", {});
  await clock.advance(1);
  who.id = "me";
  void envelopes.sendSealed("bob", "meta", {});
  await clock.advance(1);
  assertEquals(sent, ["bob"]);
});

Deno.test("serial queues run one key's tasks one at a time, keep going after a failure, and forget idle keys", async () => {
  const queues = new SerialQueues<string>();
  const order: string[] = [];
  const a1 = queues.run("a", async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    order.push("a1");
  });
  const a2 = queues.run("a", () => {
    order.push("a2");
    throw new Error("boom");
  });
  const a3 = queues.run("a", () => order.push("a3"));
  await Promise.allSettled([a1, a2, a3]);
  assertEquals(order, ["a1", "a2", "a3"]);
  assertEquals((await Promise.allSettled([a2]))[0].status, "rejected");
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(queues.busy, 0);
});

/** A Web Storage stand-in; `failing` makes every call throw, as some private modes do. */
function fakeStorage(failing = false) {
  const data = new Map<string, string>();
  const check = () => {
    if (failing) throw new DOMException("denied", "SecurityError");
  };
  return {
    data,
    getItem: (key: string) => (check(), data.get(key) ?? null),
    setItem: (key: string, value: string) => void (check(), data.set(key, value)),
    removeItem: (key: string) => void (check(), data.delete(key)),
  };
}

Deno.test("a tab's session survives its reload but is not another tab's", () => {
  const tabA = fakeStorage();
  const tabB = fakeStorage();
  webSessionSlot(tabA, "room").write({ token: "t".repeat(43), peer: "p1" });
  assertEquals(webSessionSlot(tabA, "room").read(), { token: "t".repeat(43), peer: "p1" }, "after a reload");
  assertEquals(webSessionSlot(tabB, "room").read(), {}, "a new tab starts its own session");
  assertEquals(webSessionSlot(tabA, "other-room").read(), {}, "per room");
  const slot = webSessionSlot(tabA, "room");
  slot.clear();
  assertEquals(slot.read(), {});
  assertEquals(tabA.data.has(sessionKey("room")), false);
});

Deno.test("a session slot whose storage refuses or holds junk still works for the page", () => {
  const slot = webSessionSlot(fakeStorage(true), "room");
  slot.write({ token: "tok", peer: "p" });
  assertEquals(slot.read(), { token: "tok", peer: "p" });
  slot.clear();
  assertEquals(slot.read(), {});
  const junk = fakeStorage();
  junk.data.set(sessionKey("room"), "{not json");
  assertEquals(webSessionSlot(junk, "room").read(), {});
  junk.data.set(sessionKey("room"), JSON.stringify({ token: 5, peer: "p" }));
  assertEquals(webSessionSlot(junk, "room").read(), { peer: "p" });
  assertEquals(webSessionSlot(undefined, "room").read(), {});
  assertEquals(memorySessionSlot({ token: "x" }).read(), { token: "x" });
});

/** Channels that deliver asynchronously to every other holder of the same name, like BroadcastChannel. */
function channelHub() {
  const members = new Map<string, Set<TabChannel>>();
  return (name: string): TabChannel => {
    const set = members.get(name) ?? new Set();
    members.set(name, set);
    const channel: TabChannel = {
      onmessage: null,
      postMessage(message) {
        const copy = structuredClone(message);
        for (const other of set) {
          if (other !== channel) queueMicrotask(() => other.onmessage?.({ data: copy } as MessageEvent));
        }
      },
      close: () => void set.delete(channel),
    };
    set.add(channel);
    return channel;
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("tabs of one member find each other, share messages and names, and say goodbye", async () => {
  const open = channelHub();
  const got: string[] = [];
  const names: string[] = [];
  const one = createTabBus({
    open,
    room: "r",
    member: "m",
    onMessage: (peer, payload) => got.push(`one<-${peer}:${payload}`),
    onName: (n) => names.push(`one:${n}`),
  });
  one.announce("peer-1");
  const two = createTabBus({
    open,
    room: "r",
    member: "m",
    onMessage: (peer, payload) => got.push(`two<-${peer}:${payload}`),
    onName: (n) => names.push(`two:${n}`),
  });
  const stranger = createTabBus({
    open,
    room: "r",
    member: "someone-else",
    onMessage: (peer) => got.push(`stranger<-${peer}`),
    onName: () => {},
  });
  await tick();
  assertEquals([...two.siblings.value], ["peer-1"], "a new tab learns the open ones by asking");
  two.announce("peer-2");
  await tick();
  assertEquals([...one.siblings.value], ["peer-2"]);
  assertEquals(stranger.siblings.value.size, 0, "another member's tabs are not ours");

  two.shareMessage("peer-2", "payload");
  one.shareName("Alice");
  await tick();
  assertEquals(got, ["one<-peer-2:payload"]);
  assertEquals(names, ["two:Alice"]);

  two.close();
  await tick();
  assertEquals(one.siblings.value.size, 0);
  one.close();
  stranger.close();
});

Deno.test("the tab message parser drops unknown kinds and malformed ones", () => {
  assertEquals(parseTabMessage({ t: "here", tab: "x", peer: "p" }), { t: "here", tab: "x", peer: "p" });
  assertEquals(parseTabMessage({ t: "future-kind", tab: "x" }), null);
  assertEquals(parseTabMessage({ t: "msg", tab: "x", peer: "p" }), null);
  assertEquals(parseTabMessage({ t: "here", peer: "p" }), null);
  assertEquals(parseTabMessage("here"), null);
  assertEquals(parseTabMessage(null), null);
});

Deno.test("the seed's relay hold keeps chat off the relay until P2P opens or the hold ends", async () => {
  const clock = new FakeClock();
  const hold = createRelayHold({ holdMs: 10_000, timers: clock, now: clock.now });
  const sent: string[] = [];
  hold.relay(() => sent.push("before any link"));
  assertEquals(sent, ["before any link"], "no P2P attempt yet: nothing to wait for");
  hold.linkStarting();
  hold.relay(() => sent.push("held 1"));
  hold.relay(() => sent.push("held 2"));
  await clock.advance(9_999);
  assertEquals(sent.length, 1);
  await clock.advance(1);
  assertEquals(sent, ["before any link", "held 1", "held 2"]);
  hold.linkStarting();
  hold.relay(() => sent.push("held 3"));
  hold.linkOpened();
  assertEquals(sent.at(-1), "held 3", "P2P opened: the held sends go at once");
  hold.close();
});

Deno.test("a P2P-only hold never uses the relay for chat", async () => {
  const clock = new FakeClock();
  const hold = createRelayHold({ holdMs: Infinity, timers: clock, now: clock.now });
  const sent: string[] = [];
  hold.linkStarting();
  hold.relay(() => sent.push("never"));
  await clock.advance(1_000_000);
  hold.linkOpened();
  assertEquals(sent, []);
  assert(hold.holdMs === Infinity);
  hold.close();
});

const MEMBER_ME = "M".repeat(22);
const MEMBER_ANN = "A".repeat(22);

/** A courier stand-in holding a fixed history. */
function fixedCourier(messages: StoredMessage[]) {
  return {
    messages,
    counters: { sent: 0, delivered: 0, resent: 0, received: 0, duplicates: 0, rejected: 0, failed: 0 },
    subscribe: () => () => {},
  };
}

Deno.test("people are members: sessions stamped with one member are one person, own sessions are nobody", () => {
  const clock = new FakeClock(1_000);
  const siblings = signal<ReadonlySet<string>>(new Set());
  const roster = createRoster({ member: MEMBER_ME, siblings, now: clock.now, timers: clock });
  const paths = signal<ReadonlyMap<string, PeerPath>>(new Map([["ann-phone", "p2p"]]));
  const view = createRoomSignals({
    courier: fixedCourier([
      { id: "1", author: MEMBER_ANN, order: "1", body: "from ann", status: "received", time: 1 },
      { id: "2", author: MEMBER_ME, order: "2", body: "from my other tab", status: "received", time: 2 },
      { id: "3", author: "old-tab", order: "3", body: "from a tab of an older client", status: "received", time: 3 },
    ]),
    roster,
    self: signal("me"),
    paths,
    rejectedBySignal: signal(0),
    now: clock.now,
  });
  roster.reset([
    { id: "ann-laptop", presence: "away", member: MEMBER_ANN },
    { id: "ann-phone", presence: "online", member: MEMBER_ANN },
    { id: "my-tab", presence: "online", member: MEMBER_ME },
    { id: "old-tab", presence: "online" },
    { id: "bob", presence: "online", member: "not a member id" },
  ]);
  roster.setName("ann-laptop", "Ann");
  siblings.value = new Set(["old-tab"]);

  assertEquals(view.peers.value.map((p) => [p.id, p.name, p.presence, p.path, p.sessions, p.member]), [
    ["ann-phone", "Ann", "online", "p2p", 2, MEMBER_ANN],
    ["bob", undefined, "online", "relay", 1, undefined],
  ]);
  assertEquals(view.messages.value.map((m) => [m.body, m.own, m.authorName]), [
    ["from ann", false, "Ann"],
    ["from my other tab", true, undefined],
    ["from a tab of an older client", true, undefined],
  ]);
  assertEquals([...roster.own.value].sort(), ["my-tab", "old-tab"]);

  // A tab that closed stays own: its away and left never turn it into someone else.
  siblings.value = new Set();
  roster.update("old-tab", "away");
  assertEquals(roster.isOwn("old-tab"), true);
  assertEquals(view.peers.value.length, 2);
  roster.close();
  view.close();
});

Deno.test("a peer's name reaches the roster clean: no hidden characters, white space made one space", () => {
  const clock = new FakeClock(1_000);
  const roster = createRoster({ member: MEMBER_ME, siblings: signal(new Set()), now: clock.now, timers: clock });
  roster.reset([{ id: "ann-laptop", presence: "online", member: MEMBER_ANN }]);
  roster.setName("ann-laptop", "\u200EAnn\u200B \t Lee\u202E ");
  assertEquals(roster.names.value.get("ann-laptop"), "Ann Lee");
});

Deno.test("a peer's typing ends when a message of that member arrives, not seconds later", () => {
  const clock = new FakeClock(1_000);
  const roster = createRoster({ member: MEMBER_ME, siblings: signal(new Set()), now: clock.now, timers: clock });
  roster.reset([
    { id: "ann-laptop", presence: "online", member: MEMBER_ANN },
    { id: "ann-phone", presence: "online", member: MEMBER_ANN },
    { id: "old-client", presence: "online" },
  ]);
  for (const peer of ["ann-laptop", "ann-phone", "old-client"]) roster.typing(peer);
  roster.wrote("someone else");
  assertEquals(roster.typingUntil.value.size, 3, "another author's message changes nothing");
  roster.wrote(MEMBER_ANN);
  assertEquals([...roster.typingUntil.value.keys()], ["old-client"], "every session of that member stops typing");
  roster.wrote("old-client");
  assertEquals(roster.typingUntil.value.size, 0, "an author without a member id is its peer id");
  roster.close();
});

Deno.test("a peer telling it types fifty times a second changes the roster once a second, and the indicator ends", async () => {
  const clock = new FakeClock(1_000);
  const roster = createRoster({ member: MEMBER_ME, siblings: signal(new Set()), now: clock.now, timers: clock });
  roster.reset([{ id: "eve", presence: "online", member: MEMBER_ANN }]);
  let changes = 0;
  const stop = roster.typingUntil.subscribe(() => changes++);
  changes = 0;
  for (let i = 0; i < 100; i++) {
    roster.typing("eve");
    await clock.advance(20);
  }
  assert(clock.pending <= 3, `${clock.pending} timers pending after 100 typing signals`);
  // 2 s of a flood: taken at most once per TYPING_REFRESH_MS, and nothing else changed the map meanwhile.
  assert(changes <= 2_000 / TYPING_REFRESH_MS + 1, `${changes} changes of the typing map in 2 s`);
  assertEquals(roster.typingUntil.value.has("eve"), true, "eve shows as typing");
  await clock.advance(TYPING_SHOW_MS + 1);
  assertEquals(roster.typingUntil.value.size, 0, "the indicator ended and its entry is gone");
  stop();
  roster.close();
});
