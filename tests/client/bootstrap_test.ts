/**
 * The room page's inline bootstrap, run here with a fake page (location,
 * WebSocket, global object) and Deno's real WebCrypto, and the island's side
 * that takes its work over.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import * as esbuild from "esbuild";
import { BROWSER_TARGETS } from "$fresh/build.ts";
import { BOOTSTRAP_SCRIPT, BOOTSTRAP_SLOT, takeBootstrap } from "../../lib/client/bootstrap/mod.ts";
import { RoomCipher } from "../../lib/client/crypto.ts";
import { signalUrl } from "../../lib/client/signal_socket.ts";
import { admissionKey, helloProof } from "../../lib/protocol/admission.ts";
import { encodeBase64Url } from "../../lib/protocol/ids.ts";

const ROOM = "r".repeat(22);
const KEY_BYTES = crypto.getRandomValues(new Uint8Array(32));
const KEY = encodeBase64Url(KEY_BYTES);

/** The WebSocket the script makes: records its URL and lets the test deliver frames. */
class FakeWebSocket {
  static made: FakeWebSocket[] = [];
  readyState = 0;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  closedWith?: number;
  constructor(readonly url: string) {
    FakeWebSocket.made.push(this);
  }
  send(_data: string) {}
  close(code = 1000) {
    this.closedWith = code;
    this.readyState = 3;
  }
  deliver(data: string) {
    this.onmessage?.({ data });
  }
}

/** Runs the bootstrap for a page at `href`; returns the page's global object and what it did. */
function runBootstrap(href: string) {
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
  };
  new Function("self", "location", "WebSocket", "addEventListener", BOOTSTRAP_SCRIPT)(
    scope,
    location,
    FakeWebSocket,
    addEventListener,
  );
  return { scope, sockets: FakeWebSocket.made, listeners, reloads: () => reloaded };
}

Deno.test("the bootstrap is a small constant script with no request data in it", () => {
  assert(BOOTSTRAP_SCRIPT.length < 800, `${BOOTSTRAP_SCRIPT.length} characters`);
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
