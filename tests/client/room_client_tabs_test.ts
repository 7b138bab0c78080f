/**
 * Several tabs of one browser in one room, against the real server: tabs
 * share the store (so the member key) and a BroadcastChannel, and each keeps
 * its own session. No tab replaces another, every tab shows every message,
 * the other member gets each message once, own tabs never hold up
 * "Delivered", and a duplicated tab (copied session) is never a dead end.
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { effect } from "@preact/signals-core";
import { createRoomClient, memorySessionSlot, type RoomClient, type SessionSlot } from "../../lib/client/room/mod.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { newRoomId } from "../../lib/protocol/mod.ts";
import { ServerProcess } from "../support/server_process.ts";
import { until as poll } from "../support/until.ts";
import { FakeNetwork } from "./_fake_rtc.ts";

const FAST = {
  reconnectBaseMs: 50,
  reconnectCapMs: 500,
  resendIntervalMs: 300,
  heartbeatIntervalMs: 2_000,
  heartbeatTimeoutMs: 1_000,
  p2pSetupTimeoutMs: 5_000,
};

/** Waits for `check`, polling every 20 ms. */
function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  return poll(check, { what, timeoutMs, intervalMs: 20 });
}

interface Browser {
  /** The shared IndexedDB of one browser profile. */
  store: MemoryStore;
  /** WebRTC, when the test wants P2P. */
  network?: FakeNetwork;
}

interface Tab {
  client: RoomClient;
  session: SessionSlot;
  /** Every connection state the UI was shown. */
  shown: string[];
  stop(): void;
}

async function openTab(origin: string, room: string, key: Uint8Array, browser: Browser, session = memorySessionSlot()) {
  const client = await createRoomClient({
    origin,
    room,
    keyBytes: key,
    store: browser.store,
    session,
    createWebSocket: (url) => new WebSocket(url),
    createPeerConnection: browser.network?.factory(crypto.randomUUID()),
    openTabChannel: (name) => new BroadcastChannel(name),
    fetchIce: () => Promise.resolve({ iceServers: [], ttl: 600, expiresAt: Date.now() + 600_000 }),
    profileOverrides: FAST,
  });
  const shown: string[] = [];
  const stopWatching = effect(() => void shown.push(client.connection.value.kind));
  const tab: Tab = {
    client,
    session,
    shown,
    stop() {
      stopWatching();
      client.close();
    },
  };
  return tab;
}

function bodies(c: RoomClient): string[] {
  return c.messages.value.map((m) => m.body);
}

function connected(...tabs: Tab[]): boolean {
  return tabs.every((t) => t.client.connection.value.kind === "connected");
}

Deno.test({
  name: "two tabs of one member and another member: no replacement, every message everywhere, once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const server = await ServerProcess.start();
    const room = newRoomId();
    const key = crypto.getRandomValues(new Uint8Array(32));
    const alice: Browser = { store: new MemoryStore() };
    const tab1 = await openTab(server.httpUrl, room, key, alice);
    const tab2 = await openTab(server.httpUrl, room, key, alice);
    const bob = await openTab(server.httpUrl, room, key, { store: new MemoryStore() });
    const open = [tab1, tab2, bob];
    try {
      await t.step("the tabs are two sessions of one member, and see only bob as another person", async () => {
        await until("all connected", () => connected(tab1, tab2, bob));
        assertEquals(tab1.client.identity.member, tab2.client.identity.member, "one member key per browser");
        assertNotEquals(tab1.client.self.value.id, tab2.client.self.value.id, "one session per tab");
        await until("the tabs know each other", () =>
          tab1.client.ownSessions.value.has(tab2.client.self.value.id!) &&
          tab2.client.ownSessions.value.has(tab1.client.self.value.id!));
        await until(
          "each tab lists bob alone",
          () =>
            [tab1, tab2].every((tab) =>
              tab.client.peers.value.length === 1 && tab.client.peers.value[0].id === bob.client.self.value.id
            ),
        );
      });

      await t.step("what is typed in any tab or by bob shows in every tab, once and in one order", async () => {
        for (let i = 0; i < 5; i++) {
          await tab1.client.send(`one ${i}`);
          await tab2.client.send(`two ${i}`);
          await bob.client.send(`bob ${i}`);
        }
        await until("15 messages everywhere", () => open.every((tab) => bodies(tab.client).length === 15));
        assertEquals(bodies(tab1.client), bodies(bob.client));
        assertEquals(bodies(tab2.client), bodies(bob.client));
        assertEquals(new Set(bodies(bob.client)).size, 15, "bob got each message exactly once");
        for (const tab of [tab1, tab2]) {
          const mine = tab.client.messages.value.filter((m) => m.own).map((m) => m.body).sort();
          assertEquals(mine.length, 10, "a message from the other tab is this member's own too");
          assert(mine.every((body) => body.startsWith("one") || body.startsWith("two")));
        }
        await until(
          "tab1's own messages delivered",
          () => tab1.client.messages.value.every((m) => m.body.startsWith("one") ? m.status === "delivered" : true),
        );
      });

      await t.step("a tab that went away does not hold up Delivered: only other members ack", async () => {
        tab2.stop();
        open.splice(open.indexOf(tab2), 1);
        await tab1.client.send("while tab 2 is closed");
        await until("bob has it", () => bodies(bob.client).includes("while tab 2 is closed"));
        await until(
          "delivered on bob's ack alone",
          () => tab1.client.messages.value.find((m) => m.body === "while tab 2 is closed")?.status === "delivered",
        );
      });

      await t.step("a reloaded tab resumes its own session and keeps everything", async () => {
        const before = tab2.client.self.value.id;
        await bob.client.send("while tab 2 reloads");
        const reloaded = await openTab(server.httpUrl, room, key, alice, tab2.session);
        open.push(reloaded);
        await until("reloaded tab connected", () => connected(reloaded));
        assertEquals(reloaded.client.self.value.id, before, "the same session, resumed");
        await until("the reloaded tab has all 17", () => bodies(reloaded.client).length === 17);
        assertEquals(bodies(reloaded.client), bodies(bob.client));
      });

      for (const tab of open) assert(!tab.shown.includes("refused"), "no tab ever showed Not admitted");
    } finally {
      for (const tab of open) tab.stop();
      await server.stop("SIGTERM");
    }
  },
});

Deno.test({
  name: "a duplicated tab (copied session storage) is never a dead end: the replaced tab rejoins, with a notice",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await ServerProcess.start();
    const room = newRoomId();
    const key = crypto.getRandomValues(new Uint8Array(32));
    const alice: Browser = { store: new MemoryStore() };
    const original = await openTab(server.httpUrl, room, key, alice);
    const bob = await openTab(server.httpUrl, room, key, { store: new MemoryStore() });
    const open = [original, bob];
    try {
      await until("connected", () => connected(original, bob));
      const first = original.client.self.value.id;
      const copy = await openTab(server.httpUrl, room, key, alice, memorySessionSlot(original.session.read()));
      open.push(copy);
      await until(
        "the original rejoined as a new session",
        () => connected(original, copy) && original.client.self.value.id !== first,
      );
      assertEquals(copy.client.self.value.id, first, "the copy holds the copied session");
      assertEquals(original.client.notice?.value?.code, "session_replaced");
      assert(!original.shown.includes("refused"), `the UI never showed Not admitted: ${original.shown.join(" → ")}`);
      assertEquals(original.session.read().peer, original.client.self.value.id, "the new session is kept");

      await original.client.send("after the rejoin");
      await copy.client.send("from the copy");
      await until("bob has both", () => bodies(bob.client).length === 2);
      await until("every tab has both", () => bodies(original.client).length === 2 && bodies(copy.client).length === 2);
      assertEquals(bodies(original.client), bodies(bob.client));
      assertEquals(bodies(copy.client), bodies(bob.client));
    } finally {
      for (const tab of open) tab.stop();
      await server.stop("SIGTERM");
    }
  },
});

Deno.test({
  name: "with P2P to the other member, a tab's message reaches its sibling tab over the tabs' channel",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await ServerProcess.start();
    const room = newRoomId();
    const key = crypto.getRandomValues(new Uint8Array(32));
    const network = new FakeNetwork({ setTimeout: (fn, ms) => setTimeout(fn, ms) });
    const alice: Browser = { store: new MemoryStore(), network };
    const tab1 = await openTab(server.httpUrl, room, key, alice);
    const tab2 = await openTab(server.httpUrl, room, key, alice);
    const bob = await openTab(server.httpUrl, room, key, { store: new MemoryStore(), network });
    const open = [tab1, tab2, bob];
    try {
      await until("connected", () => connected(tab1, tab2, bob));
      await until(
        "bob sees alice once, her two tabs on P2P",
        () =>
          bob.client.peers.value.length === 1 && bob.client.peers.value[0].sessions === 2 &&
          network.connections.filter((pc) => !pc.closed).length === 4 &&
          bob.client.peers.value[0].path === "p2p",
      );
      await until(
        "each tab is on P2P with bob",
        () =>
          [tab1, tab2].every((tab) => tab.client.peers.value.length === 1 && tab.client.peers.value[0].path === "p2p"),
      );
      const tabPeers = new Set([tab1.client.self.value.id, tab2.client.self.value.id]);
      assertEquals(
        network.connections.filter((pc) => !pc.closed).length,
        4,
        "two links (bob–tab1, bob–tab2), no link between the tabs",
      );

      await tab1.client.send("direct only");
      await until(
        "bob and tab 2 have it",
        () => bodies(bob.client).includes("direct only") && bodies(tab2.client).includes("direct only"),
      );
      const id = tab1.client.messages.value.find((m) => m.body === "direct only")!.id;
      assertEquals(tab2.client.courier.messages.find((m) => m.id === id)?.seq, undefined, "it never went by relay");
      await until("delivered", () => tab1.client.messages.value.find((m) => m.id === id)?.status === "delivered");
      assert(tabPeers.size === 2);
    } finally {
      for (const tab of open) tab.stop();
      await server.stop("SIGTERM");
    }
  },
});
