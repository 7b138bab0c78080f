/**
 * The signal socket adopts the socket the room page's inline bootstrap opened
 * while the modules loaded, with the frames that socket received meanwhile;
 * and opens its own when there is none, or it is already closed.
 * @module
 */
import { assertEquals } from "@std/assert";
import { type AdoptedSocket, SignalSocket } from "../../lib/client/signal_socket.ts";
import { FakeClock, settle } from "../support/fake_clock.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";
import { FakeWebSocket, TIMINGS } from "./_fake_signal_socket.ts";

const NONCE = "N".repeat(43);
const WELCOME = {
  type: "welcome",
  v: PROTOCOL_VERSION,
  peer: "me",
  token: "T".repeat(43),
  resumed: false,
  resumeWindowMs: 120_000,
  peers: [],
  log: { first: 1, last: 0 },
};

/** A bootstrap's socket: it keeps what arrives until someone takes over its handler. */
function bootstrapSocket(readyState: number, received: Record<string, unknown>[] = []) {
  const ws = new FakeWebSocket("ws://server/api/signal?v=1&room=R", readyState);
  const frames: string[] = [];
  ws.onmessage = (event) => frames.push(event.data);
  for (const frame of received) ws.receive(frame);
  return { ws, frames };
}

function setup(adoptable?: { ws: FakeWebSocket; frames: string[] }) {
  const clock = new FakeClock(1_000_000);
  const created: FakeWebSocket[] = [];
  const frames: string[] = [];
  const events: string[] = [];
  let asked = 0;
  const socket = new SignalSocket({
    url: "ws://server/api/signal?v=1&room=R",
    createWebSocket: (url) => {
      const ws = new FakeWebSocket(url);
      created.push(ws);
      return ws as unknown as WebSocket;
    },
    adopt: () => {
      asked++;
      return adoptable as unknown as AdoptedSocket | undefined;
    },
    hello: async (nonce) => {
      await settle(2);
      return { proof: `proof-of-${nonce}`, verifier: "V".repeat(43) };
    },
    onFrame: (frame) => frames.push(frame.type),
    timings: TIMINGS,
    timers: clock,
    now: clock.now,
    random: () => 0.5,
    log: (name) => events.push(name),
  });
  return { socket, clock, created, frames, events, asked: () => asked };
}

Deno.test("the first connect adopts the bootstrap's open socket and answers the challenge it already received", async () => {
  const boot = bootstrapSocket(1, [{ type: "challenge", nonce: NONCE }]);
  const { socket, created, frames, events } = setup(boot);
  socket.start();
  await settle();
  assertEquals(created.length, 0, "no socket of its own");
  assertEquals(boot.ws.sent, [{ type: "hello", v: PROTOCOL_VERSION, proof: `proof-of-${NONCE}` }]);
  boot.ws.receive(WELCOME);
  assertEquals(socket.state.value.kind, "connected");
  assertEquals(frames, ["welcome"]);
  assertEquals(events.includes("WebSocket adopted"), true);
  socket.stop();
  assertEquals(boot.ws.closedWith, 1000);
});

Deno.test("a bootstrap socket still connecting is adopted, and what it receives next goes to the signal socket", async () => {
  const boot = bootstrapSocket(0);
  const { socket, created } = setup(boot);
  socket.start();
  assertEquals(created.length, 0);
  boot.ws.readyState = 1;
  boot.ws.receive({ type: "challenge", nonce: NONCE });
  await settle();
  assertEquals(boot.frames, [], "the bootstrap's handler no longer collects");
  assertEquals(boot.ws.sent[0]?.proof, `proof-of-${NONCE}`);
  boot.ws.receive({ type: "error", code: "verifier_required", message: "new room" });
  assertEquals(boot.ws.sent[1], {
    type: "hello",
    v: PROTOCOL_VERSION,
    proof: `proof-of-${NONCE}`,
    verifier: "V".repeat(43),
  });
  boot.ws.receive(WELCOME);
  assertEquals(socket.state.value.kind, "connected");
  socket.stop();
});

Deno.test("an unreadable frame in the buffer is skipped, and the challenge after it still answered", async () => {
  const boot = bootstrapSocket(1);
  boot.frames.push("not json", JSON.stringify({ type: "challenge", nonce: NONCE }));
  const { socket, events } = setup(boot);
  socket.start();
  await settle();
  assertEquals(events.includes("Unreadable frame from server"), true);
  assertEquals(boot.ws.sent[0]?.proof, `proof-of-${NONCE}`);
  socket.stop();
});

Deno.test("a bootstrap socket that closed before the island came is not adopted: the socket opens its own at once", async () => {
  const boot = bootstrapSocket(3, [{ type: "challenge", nonce: NONCE }]);
  const { socket, created, events } = setup(boot);
  socket.start();
  await settle();
  assertEquals(created.length, 1, "its own socket, without waiting for a retry");
  assertEquals(boot.ws.sent, []);
  assertEquals(events.includes("Bootstrap socket already closed"), true);
  created[0].readyState = 1;
  created[0].receive({ type: "challenge", nonce: "M".repeat(43) });
  await settle();
  assertEquals(created[0].sent[0]?.proof, `proof-of-${"M".repeat(43)}`);
  socket.stop();
});

Deno.test("only the first connect adopts: a reconnect opens a new socket", async () => {
  const boot = bootstrapSocket(1, [{ type: "challenge", nonce: NONCE }]);
  const { socket, created, clock, asked } = setup(boot);
  socket.start();
  await settle();
  boot.ws.receive(WELCOME);
  boot.ws.serverClose(1006);
  await clock.advance(TIMINGS.reconnectBaseMs);
  assertEquals(created.length, 1);
  assertEquals(asked(), 1, "asked once, at the first connect");
  socket.stop();
  socket.start();
  assertEquals([created.length, asked()], [2, 1], "a restart does not ask again");
  socket.stop();
});

Deno.test("without a bootstrap socket the first connect opens its own", () => {
  const { socket, created, asked } = setup(undefined);
  socket.start();
  assertEquals([created.length, asked()], [1, 1]);
  socket.stop();
});

Deno.test("frames the bootstrap already answered are not answered again; its hello serves verifier_required", async () => {
  const boot = bootstrapSocket(1, [{ type: "challenge", nonce: NONCE }]);
  // The adopter hands over the hello the bootstrap sent (with the verifier), and that it answered the first frame.
  const sentByBootstrap = { proof: "proof-by-bootstrap", since: 0, verifier: "W".repeat(43) };
  const { socket, created } = setup({ ...boot, hello: sentByBootstrap, answered: 1 } as never);
  socket.start();
  await settle();
  assertEquals(created.length, 0);
  assertEquals(boot.ws.sent, [], "the challenge is not answered twice");
  boot.ws.receive({ type: "error", code: "verifier_required", message: "new room" });
  assertEquals(
    boot.ws.sent,
    [{ type: "hello", v: PROTOCOL_VERSION, ...sentByBootstrap }],
    "the bootstrap's hello, with the verifier",
  );
  boot.ws.receive(WELCOME);
  assertEquals(socket.state.value.kind, "connected");
  socket.stop();
});

Deno.test("a socket the bootstrap already got welcomed on (early hello) is connected as soon as it is adopted", async () => {
  const boot = bootstrapSocket(1, [WELCOME, { type: "presence", peer: "p", state: "joined" }]);
  const { socket, created, frames } = setup({ ...boot, hello: { proof: "early" }, answered: 0 } as never);
  socket.start();
  await settle();
  assertEquals(created.length, 0);
  assertEquals(socket.state.value.kind, "connected");
  assertEquals(frames, ["welcome", "presence"]);
  assertEquals(boot.ws.sent, [], "nothing to answer");
  socket.stop();
});

Deno.test("after an early hello the server may still ask for a challenge: the adopter answers it", async () => {
  const boot = bootstrapSocket(1, [{ type: "challenge", nonce: NONCE }]);
  const { socket } = setup({ ...boot, hello: { proof: "early, over a used page nonce" }, answered: 0 } as never);
  socket.start();
  await settle();
  assertEquals(boot.ws.sent, [{ type: "hello", v: PROTOCOL_VERSION, proof: `proof-of-${NONCE}` }]);
  socket.stop();
});
