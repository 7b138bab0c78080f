/**
 * The room page's bootstrap and the client core together, against the real
 * signaling service: the bootstrap joins with an early hello (the page nonce
 * from the page's `Server-Timing`) and is welcomed before the client core
 * has loaded; the client then adopts that welcomed socket, keeps the member
 * key pair the bootstrap proved, and chats on it. When the device already
 * holds another key pair than the one the bootstrap proved, that session is
 * let go and the client joins again as the stored member.
 * @module
 */
// fake-indexeddb (dev-only): the IndexedDB the bootstrap reads (it holds nothing here, as on a first visit).
import "fake-indexeddb/auto";
import { assert, assertEquals } from "@std/assert";
import { BOOTSTRAP_SCRIPT, BOOTSTRAP_SLOT, takeBootstrap } from "../../lib/client/bootstrap/mod.ts";
import { generateMemberKeys } from "../../lib/client/identity.ts";
import { memberIdOf } from "../../lib/protocol/admission.ts";
import { createRoomClient, type RoomClient } from "../../lib/client/room/mod.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { PAGE_NONCE_TIMING } from "../../lib/protocol/admission.ts";
import { encodeBase64Url, newRoomId } from "../../lib/protocol/mod.ts";
import { type InProcessServer, startInProcess } from "../support/signal_in_process.ts";
import { until as poll } from "../support/until.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { FakeWebSocket } from "./_fake_signal_socket.ts";

const FAST = {
  reconnectBaseMs: 50,
  reconnectCapMs: 500,
  resendIntervalMs: 300,
  heartbeatIntervalMs: 2_000,
  heartbeatTimeoutMs: 1_000,
};
const NO_ICE = () => Promise.resolve({ iceServers: [], ttl: 600, expiresAt: Date.now() + 600_000 });

function until(what: string, check: () => boolean): Promise<void> {
  return poll(check, { what, intervalMs: 10 });
}

/** The bootstrap's slot, as the test reads it: the frames its socket received. */
interface Slot {
  f: string[];
}

/**
 * Runs the page's bootstrap for `room` on `origin`, as a page from the network carrying `nonce`; `socket` is the
 * page's WebSocket (the global one by default).
 */
function runBootstrap(
  origin: string,
  room: string,
  key: string,
  nonce: string,
  socket: typeof WebSocket = WebSocket,
): Record<string, unknown> {
  const url = new URL(`${origin}/${room}#${key}`);
  const scope: Record<string, unknown> = {};
  const location = { protocol: url.protocol, host: url.host, pathname: url.pathname, hash: url.hash, reload() {} };
  const navigation = { serverTiming: [{ name: PAGE_NONCE_TIMING, description: nonce }] };
  new Function("self", "location", "navigator", "performance", "addEventListener", "WebSocket", BOOTSTRAP_SCRIPT)(
    scope,
    location,
    { serviceWorker: { controller: null } },
    { getEntriesByType: (type: string) => type === "navigation" ? [navigation] : [] },
    () => {},
    socket,
  );
  return scope;
}

/** The client core of the page, taking over what the bootstrap started. */
async function island(
  origin: string,
  room: string,
  keyBytes: Uint8Array,
  scope: Record<string, unknown>,
  store: MemoryStore,
) {
  const boot = takeBootstrap(room, scope)!;
  const keys = await boot.keys();
  return await createRoomClient({
    origin,
    room,
    keyBytes,
    cipher: keys?.cipher,
    admission: keys?.admission,
    adoptSocket: () => boot.takeSocket(),
    newMemberKeys: () => boot.memberKeys(),
    store,
    createWebSocket: (url) => new WebSocket(url),
    fetchIce: NO_ICE,
    profileOverrides: FAST,
  });
}

async function withRoom(
  fn: (server: InProcessServer, origin: string, creator: RoomClient, room: string, key: Uint8Array) => Promise<void>,
) {
  const server = await startInProcess();
  const origin = `http://127.0.0.1:${server.instances[0].port}`;
  const room = newRoomId();
  const key = crypto.getRandomValues(new Uint8Array(32));
  const creator = await createRoomClient({
    origin,
    room,
    keyBytes: key,
    store: new MemoryStore(),
    createWebSocket: (url) => new WebSocket(url),
    fetchIce: NO_ICE,
    profileOverrides: FAST,
  });
  try {
    await until("the creator connected", () => creator.connection.value.kind === "connected");
    await fn(server, origin, creator, room, key);
  } finally {
    creator.close();
    await server.stop();
  }
}

Deno.test("a first visit is welcomed on the bootstrap's early hello, and the client chats on that socket", async () => {
  await withRoom(async (server, origin, creator, room, key) => {
    const nonce = await server.instances[0].service.pageNonces.issue(room);
    const scope = runBootstrap(origin, room, encodeBase64Url(key), nonce);
    const slot = scope[BOOTSTRAP_SLOT] as Slot;
    await until("the bootstrap's welcome", () => slot.f.length > 0);
    assertEquals(JSON.parse(slot.f[0]).type, "welcome", "welcomed before the client core came, with no challenge");
    const store = new MemoryStore();
    const joiner = await island(origin, room, key, scope, store);
    try {
      assertEquals(joiner.connection.value.kind, "connected", "connected as soon as it adopts the socket");
      const stored = (await store.getState(room)).identity!;
      const member = await memberIdOf(new Uint8Array(await crypto.subtle.exportKey("raw", stored.publicKey)));
      assertEquals(joiner.identity.member, member, "the key pair the bootstrap proved is the room's identity now");
      await until("the creator sees the joiner", () => creator.peers.value.length === 1);
      assertEquals(creator.peers.value[0].member, member);
      await creator.send("hello early");
      await until("the message", () => joiner.messages.value.some((m) => m.body === "hello early"));
      await joiner.send("and back");
      await until("the answer", () => creator.messages.value.some((m) => m.body === "and back"));
    } finally {
      joiner.close();
    }
  });
});

Deno.test("a bootstrap that proved another key pair than the stored one: its session is let go, the stored member joins", async () => {
  await withRoom(async (server, origin, creator, room, key) => {
    const store = new MemoryStore();
    const mine = await generateMemberKeys();
    await store.patchState(room, { identity: mine });
    const member = await memberIdOf(new Uint8Array(await crypto.subtle.exportKey("raw", mine.publicKey)));
    // The bootstrap read nothing (its IndexedDB is empty), so it made and proved a pair of its own.
    const nonce = await server.instances[0].service.pageNonces.issue(room);
    const scope = runBootstrap(origin, room, encodeBase64Url(key), nonce);
    const slot = scope[BOOTSTRAP_SLOT] as Slot;
    await until("the bootstrap's welcome", () => slot.f.length > 0);
    await until("the creator sees the bootstrap's session", () => creator.peers.value.length === 1);
    assert(creator.peers.value[0].member !== member);
    const joiner = await island(origin, room, key, scope, store);
    try {
      assertEquals(joiner.identity.member, member);
      await until("the joiner connected again", () => joiner.connection.value.kind === "connected");
      await until(
        "the creator sees only the stored member, online",
        () => creator.peers.value.length === 1 && creator.peers.value[0].member === member,
      );
      assertEquals(creator.peers.value[0].presence, "online");
    } finally {
      joiner.close();
    }
  });
});

/**
 * A WebSocket whose incoming frames wait in `held` until {@link HeldSocket.release}, then go to the handler in force
 * then: a welcome still on its way (a slow server, a busy network) when the page's client takes the socket.
 */
class HeldSocket extends WebSocket {
  /** The sockets made, in order. */
  static made: HeldSocket[] = [];
  /** Frames received and not yet handed on. */
  held: MessageEvent[] = [];
  #handler: ((event: MessageEvent) => void) | null = null;
  #holding = true;

  /** Opens the socket; what it receives is held. */
  constructor(url: string | URL) {
    super(url);
    HeldSocket.made.push(this);
    super.onmessage = (event) => this.#holding ? this.held.push(event) : this.#handler?.call(this, event);
  }

  /** The handler frames go to once released. */
  override get onmessage(): ((event: MessageEvent) => void) | null {
    return this.#handler;
  }

  override set onmessage(handler: ((event: MessageEvent) => void) | null) {
    this.#handler = handler;
  }

  /** Hands the held frames, then every later one, to the handler in force. */
  release(): void {
    this.#holding = false;
    for (const event of this.held.splice(0)) this.#handler?.call(this, event);
  }
}

Deno.test("a bootstrap session of another key pair, taken before its welcome came, says bye once welcomed", async () => {
  await withRoom(async (server, origin, creator, room, key) => {
    const store = new MemoryStore();
    const mine = await generateMemberKeys();
    await store.patchState(room, { identity: mine });
    const member = await memberIdOf(new Uint8Array(await crypto.subtle.exportKey("raw", mine.publicKey)));
    const nonce = await server.instances[0].service.pageNonces.issue(room);
    HeldSocket.made = [];
    const scope = runBootstrap(origin, room, encodeBase64Url(key), nonce, HeldSocket);
    // The server welcomed the bootstrap's early hello (the creator sees that session), but the page has not seen it.
    await until("the creator sees the bootstrap's session", () => creator.peers.value.length === 1);
    const [socket] = HeldSocket.made;
    await until("the welcome on its way", () => socket.held.length > 0);
    assertEquals((scope[BOOTSTRAP_SLOT] as Slot).f, [], "no frame reached the bootstrap");
    const joiner = await island(origin, room, key, scope, store);
    try {
      assertEquals(joiner.identity.member, member);
      socket.release();
      await until("the joiner connected again", () => joiner.connection.value.kind === "connected");
      await until(
        "the creator sees only the stored member, online",
        () => creator.peers.value.length === 1 && creator.peers.value[0].member === member,
      );
      assertEquals(creator.peers.value[0].presence, "online");
    } finally {
      joiner.close();
    }
  });
});

Deno.test("a bootstrap socket of another key pair says bye only when its next frame is a welcome, and closes", async (t) => {
  const cases = [
    { next: "welcome", bye: true },
    { next: "challenge", bye: false },
    { next: "nothing within the connect timeout", bye: false },
  ] as const;
  for (const { next, bye } of cases) {
    await t.step(`${next}: ${bye ? "bye" : "no bye"}`, async () => {
      const clock = new FakeClock(1_000);
      const room = newRoomId();
      const store = new MemoryStore();
      await store.patchState(room, { identity: await generateMemberKeys() });
      // The bootstrap's socket, open, its hello (of a key pair it made) sent, nothing heard back yet.
      const retired = new FakeWebSocket("ws://parley.test/api/signal", 1);
      const made: FakeWebSocket[] = [];
      const client = await createRoomClient({
        origin: "http://parley.test",
        room,
        keyBytes: crypto.getRandomValues(new Uint8Array(32)),
        store,
        adoptSocket: () => ({
          ws: retired as unknown as WebSocket,
          frames: [],
          hello: { proof: "p", member: { key: "another key", sig: "s" } },
        }),
        createWebSocket: (url) => {
          made.push(new FakeWebSocket(url));
          return made.at(-1) as unknown as WebSocket;
        },
        fetchIce: NO_ICE,
        timers: clock,
        now: clock.now,
      });
      try {
        assertEquals(made.length, 1, "the client connects afresh at once");
        assertEquals(retired.closedWith, undefined, "the bootstrap's socket waits for its next frame");
        if (next === "welcome") retired.receive({ type: "welcome", v: 2, peer: "Xk3_a9QpL0sd" });
        else if (next === "challenge") retired.receive({ type: "challenge", nonce: "n".repeat(43) });
        else await clock.advance(client.profile.connectTimeoutMs);
        assertEquals(retired.sent, bye ? [{ type: "bye" }] : []);
        assertEquals(retired.closedWith, 1000);
      } finally {
        client.close();
      }
    });
  }
});
