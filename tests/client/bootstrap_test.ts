/**
 * The room page's inline bootstrap, run here with a fake page (location,
 * WebSocket, global object, navigation timing) and Deno's real WebCrypto and
 * an in-memory IndexedDB, and the island's side that takes its work over.
 * @module
 */
// fake-indexeddb (dev-only) gives Deno an in-memory IndexedDB, which stores CryptoKeys the way a browser does.
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";
import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";
import { assert, assertEquals } from "@std/assert";
import * as esbuild from "esbuild";
import { BROWSER_TARGETS } from "$fresh/build.ts";
import {
  BOOTSTRAP_SCRIPT,
  BOOTSTRAP_SLOT,
  BOOTSTRAP_STORED_FLAG,
  markStored,
  takeBootstrap,
} from "../../lib/client/bootstrap/mod.ts";
import { watchEarlyWelcome } from "../../lib/client/bootstrap/early_status.ts";
import { RoomCipher } from "../../lib/client/crypto.ts";
import { signalUrl } from "../../lib/client/signal_socket.ts";
import {
  admissionKey,
  checkHelloProof,
  checkMemberProof,
  decodeEarlyHello,
  helloProof,
  PAGE_NONCE_TIMING,
} from "../../lib/protocol/admission.ts";
import { encodeBase64Url } from "../../lib/protocol/ids.ts";
import { BOOTSTRAP_DB, BOOTSTRAP_SESSION_PREFIX } from "../../lib/client/bootstrap/script.ts";
import { IDB_NAME, openIdbStore } from "../../lib/client/store_idb.ts";
import { sessionKey } from "../../lib/client/room/session.ts";
import { generateMemberKeys } from "../../lib/client/identity.ts";
import { until } from "../support/until.ts";

const ROOM = "r".repeat(22);
const KEY_BYTES = crypto.getRandomValues(new Uint8Array(32));
const KEY = encodeBase64Url(KEY_BYTES);

/** The WebSocket the script makes: records its URL and what it sends, and lets the test deliver frames. */
class FakeWebSocket {
  static made: FakeWebSocket[] = [];
  readyState = 0;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  closedWith?: number;
  sent: Record<string, unknown>[] = [];
  constructor(readonly url: string) {
    FakeWebSocket.made.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.closedWith = code;
    this.readyState = 3;
  }
  /** The server or the network closes it. */
  drop() {
    this.readyState = 3;
    this.onclose?.();
  }
  deliver(data: string) {
    this.onmessage?.({ data });
  }
}

/** What the page around the script is like. */
interface PageOptions {
  /** The page nonce in the page's `Server-Timing` (a page from the network). */
  nonce?: string;
  /** A service worker controls the page (it came from the worker's cache). */
  controlled?: boolean;
  /** The IndexedDB the page sees (default: the in-memory one all tests share). */
  indexedDB?: unknown;
  /** The tab's `sessionStorage` items. */
  session?: Record<string, string>;
  /** The origin's `localStorage` items (default: the note of a browser that keeps rooms). */
  local?: Record<string, string>;
}

/** Runs the bootstrap for a page at `href`; returns the page's global object and what it did. */
function runBootstrap(href: string, page: PageOptions = {}) {
  FakeWebSocket.made = [];
  const url = new URL(href);
  const listeners: string[] = [];
  let reloaded = 0;
  const location = {
    protocol: url.protocol,
    host: url.host,
    pathname: url.pathname,
    hash: url.hash,
    reload: () => reloaded++,
  };
  const scope: Record<string, unknown> = {};
  const addEventListener = (type: string, listener: () => void) => {
    listeners.push(type);
    if (type === "hashchange") scope.fireHashChange = listener;
    if (type === "pagehide") scope.firePageHide = listener;
  };
  const navigation = { serverTiming: page.nonce ? [{ name: PAGE_NONCE_TIMING, description: page.nonce }] : [] };
  const performance = { getEntriesByType: (type: string) => type === "navigation" ? [navigation] : [] };
  const navigator = { serviceWorker: { controller: page.controlled ? {} : null } };
  const sessionStorage = { getItem: (key: string) => page.session?.[key] ?? null };
  const local = page.local ?? { [BOOTSTRAP_STORED_FLAG]: "1" };
  const localStorage = { getItem: (key: string) => local[key] ?? null };
  new Function(
    "self",
    "location",
    "WebSocket",
    "addEventListener",
    "navigator",
    "performance",
    "indexedDB",
    "sessionStorage",
    "localStorage",
    BOOTSTRAP_SCRIPT,
  )(
    scope,
    location,
    FakeWebSocket,
    addEventListener,
    navigator,
    performance,
    page.indexedDB ?? globalThis.indexedDB,
    sessionStorage,
    localStorage,
  );
  return { scope, sockets: FakeWebSocket.made, listeners, reloads: () => reloaded };
}

Deno.test("the bootstrap is a small constant script with no request data in it", () => {
  // It joins on its own (state, identity, hello, early hello, bye): 2.9 KB, about 1 KB more on the wire gzipped.
  assert(BOOTSTRAP_SCRIPT.length < 2_900, `${BOOTSTRAP_SCRIPT.length} characters`);
  assert(!BOOTSTRAP_SCRIPT.includes("</script"), "cannot end its element early");
  assert(!/[\r\n]/.test(BOOTSTRAP_SCRIPT));
});

Deno.test("the bootstrap has no syntax newer than the browsers the bundles are built for", async () => {
  try {
    const modern = await esbuild.transform(BOOTSTRAP_SCRIPT, { target: "esnext", minify: true });
    const lowered = await esbuild.transform(BOOTSTRAP_SCRIPT, { target: [...BROWSER_TARGETS], minify: true });
    assertEquals(lowered.code, modern.code);
  } finally {
    await esbuild.stop();
  }
});

Deno.test("it opens the signaling socket for the room in the path, at the page's origin, over wss for https", () => {
  for (const origin of ["http://127.0.0.1:8000", "https://parley.example"]) {
    const { scope, sockets } = runBootstrap(`${origin}/${ROOM}#${KEY}`);
    assertEquals(sockets.map((ws) => ws.url), [signalUrl(origin, ROOM)]);
    assertEquals((scope[BOOTSTRAP_SLOT] as { r: string }).r, ROOM);
  }
});

Deno.test("nothing about the key goes into the socket's URL", () => {
  const { sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
  const url = sockets[0].url;
  for (const secret of [KEY, KEY.slice(0, 16), btoa(String.fromCharCode(...KEY_BYTES))]) {
    assert(!url.includes(secret), url);
  }
});

Deno.test("it keeps the frames received until the island takes the socket, in order", async () => {
  const { scope, sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
  sockets[0].readyState = 1;
  sockets[0].deliver('{"type":"challenge","nonce":"n"}');
  sockets[0].deliver('{"type":"other"}');
  const boot = takeBootstrap(ROOM, scope)!;
  assertEquals(scope[BOOTSTRAP_SLOT], undefined, "taken out of the slot");
  const adopted = boot.takeSocket()!;
  assertEquals(adopted.ws as unknown, sockets[0]);
  assertEquals(adopted.frames, ['{"type":"challenge","nonce":"n"}', '{"type":"other"}']);
  assertEquals(boot.takeSocket(), undefined, "handed over once");
  boot.discard();
  assertEquals(sockets[0].closedWith, undefined, "an adopted socket is not the bootstrap's to close");
  await boot.keys();
});

Deno.test("the island sees the bootstrap's socket in the room (welcomed, open) before it takes the socket", () => {
  const { scope, sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
  const seen: boolean[] = [];
  const stop = watchEarlyWelcome(ROOM, (inRoom) => seen.push(inRoom), scope);
  sockets[0].readyState = 1;
  sockets[0].deliver('{"type":"challenge","nonce":"n"}');
  assertEquals(seen, [false], "open and challenged is not in the room");
  // A real welcome is long: the roster, ICE servers.
  sockets[0].deliver(JSON.stringify({ type: "welcome", peer: "p", peers: Array(40).fill({ peer: "q".repeat(12) }) }));
  assertEquals(seen, [false, true]);
  sockets[0].drop();
  assertEquals(seen, [false, true, false], "a closed socket is out of the room again");
  stop();
  assertEquals((scope[BOOTSTRAP_SLOT] as { o?: unknown }).o, undefined, "stopped: the hook is gone");
  const other: boolean[] = [];
  watchEarlyWelcome("x".repeat(22), (inRoom) => other.push(inRoom), scope);
  assertEquals(other, [false], "another room's socket is not this room's");
});

Deno.test("once the island took the socket, the early status is out of the way", () => {
  const { scope, sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
  const seen: boolean[] = [];
  watchEarlyWelcome(ROOM, (inRoom) => seen.push(inRoom), scope);
  sockets[0].readyState = 1;
  sockets[0].deliver('{"type":"welcome","peer":"p"}');
  takeBootstrap(ROOM, scope)!.takeSocket();
  sockets[0].deliver('{"type":"presence"}');
  assertEquals(seen, [false, true, false], "the client core's own state takes over");
  watchEarlyWelcome(ROOM, (inRoom) => seen.push(inRoom), {});
  assertEquals(seen, [false, true, false, false], "no bootstrap: not in the room");
});

Deno.test("a page left before the island took its welcomed socket says bye, so no one waits for that session", async (t) => {
  const WELCOME = '{"type":"welcome","peer":"p"}';
  await t.step("welcomed, not taken: bye", () => {
    const { scope, sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
    sockets[0].readyState = 1;
    sockets[0].deliver(WELCOME);
    (scope.firePageHide as () => void)();
    assertEquals(sockets[0].sent, [{ type: "bye" }]);
  });
  await t.step("not welcomed yet: nothing (the server would refuse a frame before the hello's answer)", () => {
    const { scope, sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
    sockets[0].readyState = 1;
    sockets[0].deliver('{"type":"challenge","nonce":"n"}');
    (scope.firePageHide as () => void)();
    assertEquals(sockets[0].sent.filter((frame) => frame.type === "bye"), []);
  });
  await t.step("taken by the island: the island's session, resumable after a reload, so nothing", () => {
    const { scope, sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
    sockets[0].readyState = 1;
    sockets[0].deliver(WELCOME);
    takeBootstrap(ROOM, scope)!.takeSocket();
    (scope.firePageHide as () => void)();
    assertEquals(sockets[0].sent, []);
  });
  await t.step("closed already: nothing", () => {
    const { scope, sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
    sockets[0].readyState = 1;
    sockets[0].deliver(WELCOME);
    sockets[0].drop();
    (scope.firePageHide as () => void)();
    assertEquals(sockets[0].sent, []);
  });
});

Deno.test("the keys it derives are the room's: the same admission proofs and an interchangeable cipher", async () => {
  const { scope } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
  const [aes] = await (scope[BOOTSTRAP_SLOT] as { k: Promise<[CryptoKey, ArrayBuffer]> }).k;
  assertEquals(
    [aes.algorithm.name, aes.extractable],
    ["AES-GCM", false],
    "page scripts can use the key, never read it",
  );
  const keys = await takeBootstrap(ROOM, scope)!.keys();
  assert(keys, "derived");
  const verifier = await admissionKey(KEY_BYTES, ROOM);
  assertEquals(keys.admission.verifier, verifier);
  assertEquals(await keys.admission.proof("nonce"), await helloProof(verifier, ROOM, "nonce"));
  const mine = await RoomCipher.create(KEY_BYTES, ROOM);
  const sealed = await keys.cipher.seal("peer", "id", "hello");
  assertEquals(await mine.open("peer", "id", sealed), { ok: true, text: "hello" });
  assertEquals(await keys.cipher.open("peer", "id", await mine.seal("peer", "id", "back")), { ok: true, text: "back" });
});

Deno.test("a link without a usable key or room starts nothing", () => {
  const canonical = KEY.slice(0, 42) + "A";
  const notCanonical = KEY.slice(0, 42) + "B"; // spare bits set: not the encoding of any 32 bytes
  for (
    const href of [
      `https://p.example/${ROOM}`,
      `https://p.example/${ROOM}#${KEY.slice(1)}`,
      `https://p.example/${ROOM}#${notCanonical}`,
      `https://p.example/${ROOM}#${KEY}!`,
      `https://p.example/short#${KEY}`,
      `https://p.example/${ROOM}/x#${KEY}`,
    ]
  ) {
    const { scope, sockets, listeners } = runBootstrap(href);
    assertEquals([scope[BOOTSTRAP_SLOT], sockets.length, listeners.length], [undefined, 0, 0], href);
  }
  assertEquals(runBootstrap(`https://p.example/${ROOM}#${canonical}`).sockets.length, 1);
});

Deno.test("another fragment is another key: the page starts over", () => {
  const { scope, reloads } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
  (scope.fireHashChange as () => void)();
  assertEquals(reloads(), 1);
});

Deno.test("the island takes only its own room's work, and closes a socket it will not use", async (t) => {
  await t.step("another room: the socket is closed and nothing is handed over", () => {
    const { scope, sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
    assertEquals(takeBootstrap("o".repeat(22), scope), undefined);
    assertEquals(sockets[0].closedWith, 1000);
    assertEquals(scope[BOOTSTRAP_SLOT], undefined);
  });
  await t.step("a room that will not open after all: discard closes the socket", () => {
    const { scope, sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
    takeBootstrap(ROOM, scope)!.discard();
    assertEquals(sockets[0].closedWith, 1000);
  });
  await t.step("no bootstrap on the page", () => {
    assertEquals(takeBootstrap(ROOM, {}), undefined);
  });
  await t.step("WebCrypto refused in the bootstrap: no keys, the core derives them", async () => {
    const scope: Record<string, unknown> = { [BOOTSTRAP_SLOT]: { r: ROOM, f: [], k: Promise.reject(new Error("no")) } };
    assertEquals(await takeBootstrap(ROOM, scope)!.keys(), undefined);
  });
});

/** A page nonce as the server makes them: 52 base64url characters (the bootstrap treats it as opaque). */
const PAGE_NONCE = "P".repeat(51) + "w";

/** The early hello in a socket URL: its page nonce and the hello frame. */
function earlyHelloIn(url: string): { nonce: string | null; hello: Record<string, unknown> | null } {
  const params = new URL(url).searchParams;
  const text = decodeEarlyHello(params.get("hello") ?? "");
  return { nonce: params.get("nonce"), hello: text === null ? null : JSON.parse(text) };
}

/** The slot's member key pair, as the island takes it. */
async function memberKeysOf(scope: Record<string, unknown>): Promise<CryptoKeyPair> {
  const pair = (await (scope[BOOTSTRAP_SLOT] as { p: Promise<[unknown, unknown, unknown, CryptoKeyPair]> }).p)[3];
  return pair;
}

async function publicKeyText(pair: CryptoKeyPair): Promise<string> {
  return encodeBase64Url(new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)));
}

Deno.test("a page with a page nonce opens its socket with the hello in the upgrade: proofs over that nonce", async () => {
  const room = "e".repeat(22);
  const { scope, sockets } = runBootstrap(`https://parley.example/${room}#${KEY}`, { nonce: PAGE_NONCE });
  await until(() => sockets.length > 0, { what: "the socket" });
  assertEquals(sockets.length, 1);
  const url = sockets[0].url;
  assert(url.startsWith(signalUrl("https://parley.example", room) + "&"), url);
  const { nonce, hello } = earlyHelloIn(url);
  assertEquals(nonce, PAGE_NONCE);
  assert(hello);
  const verifier = await admissionKey(KEY_BYTES, room);
  assertEquals(hello.type, "hello");
  assertEquals(hello.v, PROTOCOL_VERSION);
  assertEquals(hello.since, 0, "a first visit wants the whole log");
  assertEquals(
    [hello.token, hello.epoch, hello.verifier],
    [undefined, undefined, undefined],
    "the verifier never rides in a URL",
  );
  assert(await checkHelloProof(verifier, room, PAGE_NONCE, hello.proof as string), "the proof is over the page nonce");
  const member = hello.member as { key: string; sig: string };
  assert(await checkMemberProof(member, room, PAGE_NONCE), "the member signature is over the page nonce");
  const pair = await memberKeysOf(scope);
  assertEquals(member.key, await publicKeyText(pair), "the key pair it made is the one it proved");
  for (const secret of [KEY, KEY.slice(0, 16), verifier]) {
    assert(!url.includes(secret), "nothing of the key in the URL");
  }
  const boot = takeBootstrap(room, scope)!;
  assertEquals((await boot.memberKeys())?.publicKey, pair.publicKey, "the island keeps that pair");
  const adopted = boot.takeSocket()!;
  assertEquals(adopted.hello?.proof, hello.proof, "the island knows the hello in force");
  assertEquals(adopted.answered, 0);
});

Deno.test("a page from the service worker's cache, or without a nonce, opens its socket at once, without a hello", () => {
  for (const page of [{ nonce: PAGE_NONCE, controlled: true }, {}, { nonce: "not-a-nonce" }]) {
    const { sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`, page);
    assertEquals(sockets.map((ws) => ws.url), [signalUrl("https://parley.example", ROOM)], JSON.stringify(page));
  }
});

Deno.test("it answers the challenge itself, and verifier_required with the verifier, until the island takes over", async () => {
  const room = "c".repeat(22);
  const { scope, sockets } = runBootstrap(`https://parley.example/${room}#${KEY}`);
  const ws = sockets[0];
  ws.readyState = 1;
  ws.deliver('{"type":"challenge","nonce":"' + "N".repeat(43) + '"}');
  await until(() => ws.sent.length === 1, { what: "the hello" });
  const verifier = await admissionKey(KEY_BYTES, room);
  const hello = ws.sent[0];
  assert(await checkHelloProof(verifier, room, "N".repeat(43), hello.proof as string));
  assertEquals(hello.verifier, undefined, "the verifier only when asked");
  ws.deliver('{"type":"error","code":"verifier_required","message":"new room"}');
  await until(() => ws.sent.length === 2, { what: "the hello with the verifier" });
  assertEquals(ws.sent[1], { ...hello, verifier });
  const adopted = takeBootstrap(room, scope)!.takeSocket()!;
  assertEquals(adopted.answered, 2, "both frames answered: the island does not answer them again");
  assertEquals(adopted.hello?.proof, hello.proof);
  assertEquals(adopted.hello?.verifier, undefined);
});

Deno.test("once the island has taken the socket, the bootstrap sends nothing on it", async () => {
  const { scope, sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`);
  const ws = sockets[0];
  ws.readyState = 1;
  ws.deliver('{"type":"challenge","nonce":"' + "N".repeat(43) + '"}');
  const slot = scope[BOOTSTRAP_SLOT] as { p: Promise<unknown> };
  const adopted = takeBootstrap(ROOM, scope)!.takeSocket()!;
  assertEquals([adopted.answered, adopted.hello], [0, undefined], "not answered yet: the island answers");
  // Let the hello it was preparing finish (WebCrypto), then see that it was not sent.
  await slot.p;
  await new Promise((resolve) => setTimeout(resolve, 50));
  assertEquals(ws.sent, []);
});

Deno.test("an early hello still being prepared when the island takes over opens no socket", async () => {
  const { scope, sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`, { nonce: PAGE_NONCE });
  const boot = takeBootstrap(ROOM, scope)!;
  assertEquals(boot.takeSocket(), undefined, "no socket yet: the island opens its own");
  await boot.memberKeys();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assertEquals(sockets.length, 0);
});

Deno.test("the hello carries what the island stored: member key pair, log position, epoch, the tab's token", async () => {
  const room = "s".repeat(22);
  const store = await openIdbStore();
  const stored = await generateMemberKeys();
  await store.patchState(room, { identity: stored, lastSeq: 41, epoch: "Jq3v0PZx1mX9cKtd" });
  store.close();
  const token = "T".repeat(43);
  const session = { [sessionKey(room)]: JSON.stringify({ token, peer: "Qa8d0mZ-1xYc" }) };
  const { scope, sockets } = runBootstrap(`https://parley.example/${room}#${KEY}`, { nonce: PAGE_NONCE, session });
  await until(() => sockets.length > 0, { what: "the socket" });
  const { hello } = earlyHelloIn(sockets[0].url);
  assert(hello);
  assertEquals([hello.since, hello.epoch, hello.token], [41, "Jq3v0PZx1mX9cKtd", token]);
  assertEquals((hello.member as { key: string }).key, await publicKeyText(stored));
  assert(await checkMemberProof(hello.member as { key: string; sig: string }, room, PAGE_NONCE));
  assertEquals((await takeBootstrap(room, scope)!.memberKeys())?.privateKey, stored.privateKey);
});

Deno.test("it reads IndexedDB without making it: a browser that has none still has none", async () => {
  const factory = new IDBFactory();
  const { sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`, { nonce: PAGE_NONCE, indexedDB: factory });
  await until(() => sockets.length > 0, { what: "the socket" });
  assertEquals(earlyHelloIn(sockets[0].url).hello?.since, 0);
  assertEquals(await factory.databases(), []);
});

Deno.test("the bootstrap reads the database, store and session key the island writes", () => {
  assertEquals(BOOTSTRAP_DB.name, IDB_NAME);
  assertEquals(BOOTSTRAP_SESSION_PREFIX + ROOM, sessionKey(ROOM));
});

Deno.test("in a browser that never kept a room, the early hello does not wait for IndexedDB (it only warms it up)", async () => {
  let opened = 0;
  const hanging = { open: () => (opened++, {}) };
  const { sockets } = runBootstrap(`https://parley.example/${ROOM}#${KEY}`, {
    nonce: PAGE_NONCE,
    indexedDB: hanging,
    local: {},
  });
  await until(() => sockets.length > 0, { what: "the socket" });
  assertEquals(earlyHelloIn(sockets[0].url).hello?.since, 0);
  assertEquals(opened, 1, "opened all the same, so the island's own open is quick");
});

Deno.test("the island notes that the browser keeps rooms, once", () => {
  const items = new Map<string, string>();
  let writes = 0;
  const storage = {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void (writes++, items.set(key, value)),
  };
  markStored(storage);
  markStored(storage);
  assertEquals([items.get(BOOTSTRAP_STORED_FLAG), writes], ["1", 1]);
  markStored({
    getItem: () => null,
    setItem: () => {
      throw new DOMException("full", "QuotaExceededError");
    },
  });
  markStored(undefined);
});
