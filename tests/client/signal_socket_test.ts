import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import { CLOSE, PROTOCOL_VERSION } from "../../lib/protocol/mod.ts";
import { SignalSocket, type SignalSocketTimings, signalUrl } from "../../lib/client/signal_socket.ts";
import { FakeClock, settle } from "../support/fake_clock.ts";
import { FakeWebSocket, TIMINGS } from "./_fake_signal_socket.ts";

function setup(
  options: { online?: () => boolean; random?: () => number; timings?: Partial<SignalSocketTimings> } = {},
) {
  const clock = new FakeClock(1_000_000);
  const sockets: FakeWebSocket[] = [];
  const frames: string[] = [];
  const events: string[] = [];
  let token: string | undefined;
  const nonces: string[] = [];
  const socket = new SignalSocket({
    url: "ws://server/api/signal?v=1&room=R",
    createWebSocket: (url) => {
      const ws = new FakeWebSocket(url);
      sockets.push(ws);
      return ws as unknown as WebSocket;
    },
    hello: async (nonce) => {
      nonces.push(nonce);
      await settle(2); // as a real builder signs
      return { token, since: 7, proof: "P".repeat(43), verifier: "V".repeat(43) };
    },
    onFrame: (frame) => {
      frames.push(frame.type);
      if (frame.type === "welcome") token = frame.token;
    },
    timings: { ...TIMINGS, ...options.timings },
    timers: clock,
    now: clock.now,
    random: options.random ?? (() => 0.5),
    isOnline: options.online,
    log: (name) => events.push(name),
  });
  const challenge = async (ws: FakeWebSocket, nonce = "N".repeat(43)) => {
    ws.open();
    ws.receive({ type: "challenge", nonce });
    await settle();
  };
  const welcome = async (ws: FakeWebSocket) => {
    await challenge(ws);
    ws.receive({
      type: "welcome",
      v: 1,
      peer: "me",
      token: "T".repeat(43),
      resumed: false,
      resumeWindowMs: 120_000,
      peers: [],
      log: { first: 1, last: 0, epoch: "e1" },
    });
  };
  return { clock, sockets, frames, events, nonces, socket, challenge, welcome, last: () => sockets.at(-1)! };
}

Deno.test("the signal URL carries the protocol version and room, over wss for https pages", () => {
  assertEquals(
    signalUrl("https://parley.example", "abc"),
    `wss://parley.example/api/signal?v=${PROTOCOL_VERSION}&room=abc`,
  );
  assertEquals(
    signalUrl("http://127.0.0.1:8000", "abc"),
    `ws://127.0.0.1:8000/api/signal?v=${PROTOCOL_VERSION}&room=abc`,
  );
});

Deno.test("it says hello with resume data and is connected after the welcome", async () => {
  const { socket, last, welcome, events } = setup();
  socket.start();
  assertEquals(socket.state.value.kind, "connecting");
  assertEquals(socket.send({ type: "ping" }), false, "nothing is sent before the welcome");
  await welcome(last());
  assertEquals(last().sent[0], { type: "hello", v: PROTOCOL_VERSION, since: 7, proof: "P".repeat(43) });
  assertEquals(socket.state.value.kind, "connected");
  assertEquals(socket.send({ type: "bye" }), true);
  assert(events.includes("WebSocket connecting") && events.includes("WebSocket connected"));
  socket.stop();
});

Deno.test("reconnects forever with full-jitter backoff under the cap, and resumes with the token", async () => {
  const { socket, sockets, last, welcome, clock } = setup({ random: () => 1 - 1e-9 });
  socket.start();
  await welcome(last());
  last().serverClose(1006);
  const delays: number[] = [];
  for (let i = 0; i < 40; i++) {
    const state = socket.state.value;
    assertEquals(state.kind, "reconnecting");
    if (state.kind !== "reconnecting") return;
    const delay = state.nextAttemptAt - clock.now();
    delays.push(delay);
    assertLessOrEqual(delay, Math.min(TIMINGS.reconnectCapMs, TIMINGS.reconnectBaseMs * 2 ** i));
    await clock.advance(delay);
    last().serverClose(1006);
  }
  assertEquals(delays.slice(0, 4), [1_000, 2_000, 4_000, 8_000]);
  assertEquals(delays.at(-1), 30_000, "capped, and still trying after 40 failures");
  assertEquals(sockets.length, 41, "the first socket and 40 retries");
  await clock.advance(30_000);
  await welcome(last());
  assertEquals(last().sent[0].token, "T".repeat(43), "the next hello resumes the session");
  socket.stop();
});

Deno.test("online, a visible tab or a connection change retry at once while reconnecting", async () => {
  for (const reason of ["online", "visible", "connection"] as const) {
    const { socket, sockets, last, welcome, clock } = setup({ random: () => 1 - 1e-9 });
    socket.start();
    await welcome(last());
    for (let i = 0; i < 5; i++) {
      last().serverClose(1006);
      await clock.advance(60_000);
    }
    last().serverClose(1006);
    const before = sockets.length;
    socket.networkEvent(reason);
    assertEquals(sockets.length, before + 1, `${reason}: a new socket right away`);
    last().serverClose(1006);
    const state = socket.state.value;
    assert(state.kind === "reconnecting");
    assertLessOrEqual(state.nextAttemptAt - clock.now(), TIMINGS.reconnectBaseMs, "backoff was reset");
    socket.stop();
  }
});

Deno.test("after a network change a connected socket must answer a ping within the liveness timeout", async (t) => {
  const { socket, sockets, last, welcome, clock } = setup();
  socket.start();
  await welcome(last());

  await t.step("an answered ping keeps the socket", async () => {
    socket.networkEvent("connection");
    assertEquals(last().sent.at(-1)?.type, "ping");
    await clock.advance(1_000);
    last().receive({ type: "pong", n: last().sent.at(-1)?.n });
    await clock.advance(10_000);
    assertEquals([sockets.length, socket.state.value.kind], [1, "connected"]);
  });
  await t.step("an unanswered ping drops the socket within seconds and reconnects at once", async () => {
    socket.networkEvent("online");
    await clock.advance(TIMINGS.livenessTimeoutMs);
    assertEquals(last().closedWith !== undefined || sockets.length === 2, true);
    assertEquals(sockets[0].closedWith, 1000);
    await clock.advance(TIMINGS.reconnectBaseMs);
    assertEquals(sockets.length, 2);
  });
  socket.stop();
});

Deno.test("a silent connection is found dead by the heartbeat", async () => {
  const { socket, sockets, last, welcome, clock } = setup();
  socket.start();
  await welcome(last());
  await clock.advance(TIMINGS.heartbeatIntervalMs);
  assertEquals(last().sent.at(-1)?.type, "ping");
  await clock.advance(TIMINGS.heartbeatTimeoutMs);
  assertEquals(sockets[0].closedWith, 1000);
  await clock.advance(TIMINGS.reconnectBaseMs);
  assertEquals(sockets.length, 2);
  socket.stop();
});

Deno.test("frames keep a busy connection alive without pings", async () => {
  const { socket, last, welcome, clock } = setup();
  socket.start();
  await welcome(last());
  for (let i = 0; i < 10; i++) {
    await clock.advance(TIMINGS.heartbeatIntervalMs - 1);
    last().receive({ type: "presence", peer: "x", state: "online" });
  }
  assertEquals(last().sent.filter((f) => f.type === "ping").length, 0);
  socket.stop();
});

Deno.test("an idle connection pings at the conversation's period first, then at the quiet one; traffic brings it back", async () => {
  const timings = { heartbeatIntervalMs: 15_000, heartbeatQuietMs: 25_000 };
  const { socket, last, welcome, clock } = setup({ timings });
  socket.start();
  await welcome(last());
  const pings = () => last().sent.filter((f) => f.type === "ping");
  const answer = () => last().receive({ type: "pong" });
  await clock.advance(15_000);
  assertEquals(pings(), [{ type: "ping" }], "the first after the active period; no counter in it");
  answer();
  await clock.advance(15_000);
  assertEquals(pings().length, 1, "only heartbeats since: the quiet period now");
  await clock.advance(10_000);
  assertEquals(pings().length, 2);
  answer();
  socket.send({ type: "chat", id: "m1", data: "YQ" });
  last().receive({ type: "accepted", id: "m1", seq: 1 });
  await clock.advance(15_000);
  assertEquals(pings().length, 3, "a conversation: the active period again");
  socket.stop();
});

Deno.test("a socket that never opens is given up after the connect timeout", async () => {
  const { socket, sockets, clock } = setup();
  socket.start();
  await clock.advance(TIMINGS.connectTimeoutMs);
  assertEquals(sockets[0].closedWith, 1000);
  assertEquals(socket.state.value.kind, "reconnecting");
  socket.stop();
});

Deno.test("a refused admission stops reconnecting and says why", async () => {
  const { socket, sockets, last, clock } = setup();
  socket.start();
  last().open();
  last().serverClose(CLOSE.ADMISSION_REFUSED, "admission refused");
  await clock.advance(120_000);
  assertEquals(socket.state.value, { kind: "refused", code: CLOSE.ADMISSION_REFUSED, reason: "admission refused" });
  assertEquals(sockets.length, 1);
  socket.stop();
});

for (const code of [CLOSE.SERVICE_RESTART, 1001, CLOSE.SLOW_CONSUMER]) {
  Deno.test(`a server going away (${code}) is reconnected to within the base delay`, async () => {
    const { socket, last, welcome, clock } = setup({ random: () => 1 - 1e-9 });
    socket.start();
    await welcome(last());
    last().serverClose(1006);
    const first = socket.state.value;
    assert(first.kind === "reconnecting");
    await clock.advance(first.nextAttemptAt - clock.now());
    last().serverClose(1006);
    const second = socket.state.value;
    assert(second.kind === "reconnecting");
    assertEquals(second.nextAttemptAt - clock.now(), 2 * TIMINGS.reconnectBaseMs, "backing off after failures");
    await clock.advance(second.nextAttemptAt - clock.now());
    last().open();
    last().serverClose(code, "restart");
    const afterRestart = socket.state.value;
    assert(afterRestart.kind === "reconnecting");
    assertLessOrEqual(afterRestart.nextAttemptAt - clock.now(), TIMINGS.reconnectBaseMs);
    socket.stop();
  });
}

Deno.test("offline waits for the network instead of burning retries, and online connects", async () => {
  let online = true;
  const { socket, sockets, last, welcome, clock } = setup({ online: () => online });
  socket.start();
  await welcome(last());
  online = false;
  last().serverClose(1006);
  assertEquals(socket.state.value.kind, "offline");
  await clock.advance(TIMINGS.reconnectCapMs - 1);
  assertEquals(sockets.length, 1);
  online = true;
  socket.networkEvent("online");
  assertEquals(sockets.length, 2);
  await welcome(last());
  assertEquals(socket.state.value.kind, "connected");
  socket.stop();
});

Deno.test("the hello waits for the challenge and carries the proof built for its nonce", async () => {
  const { socket, last, challenge, nonces, frames } = setup();
  socket.start();
  last().open();
  await settle();
  assertEquals(last().sent, [], "nothing is said before the challenge");
  await challenge(last(), "C".repeat(43));
  assertEquals(nonces, ["C".repeat(43)]);
  assertEquals(
    last().sent,
    [{ type: "hello", v: PROTOCOL_VERSION, since: 7, proof: "P".repeat(43) }],
    "no verifier unless asked",
  );
  assertEquals(frames, [], "the challenge is not passed on");
  socket.stop();
});

Deno.test("a new room: verifier_required gets the same hello again with the verifier, on the same socket", async () => {
  const { socket, sockets, last, challenge, welcome, nonces, frames } = setup();
  socket.start();
  await challenge(last());
  last().receive({ type: "error", code: "verifier_required", message: "new room" });
  assertEquals(last().sent[1], {
    type: "hello",
    v: PROTOCOL_VERSION,
    since: 7,
    proof: "P".repeat(43),
    verifier: "V".repeat(43),
  });
  assertEquals([sockets.length, nonces.length], [1, 1], "same socket, same nonce: no new proof");
  assertEquals(frames, [], "verifier_required is handled, not passed on");
  last().receive({
    type: "welcome",
    v: 1,
    peer: "me",
    token: "T".repeat(43),
    resumed: false,
    resumeWindowMs: 120_000,
    peers: [],
    log: { first: 1, last: 0 },
  });
  assertEquals(socket.state.value.kind, "connected");
  // The next connection proves its own nonce.
  last().serverClose(1006);
  socket.retryNow();
  await welcome(last());
  assertEquals(nonces.length, 2);
  socket.stop();
});

Deno.test("ICE servers are asked over the socket, once welcomed, and shared by concurrent callers", async () => {
  const { socket, last, welcome, frames } = setup();
  socket.start();
  const early = socket.requestIce();
  last().open();
  assertEquals(last().sent, [], "no ice frame before the welcome");
  await welcome(last());
  const again = socket.requestIce();
  assertEquals(last().sent.filter((f) => f.type === "ice").length, 2, "one at the welcome, one for the new call");
  const answer = {
    type: "ice" as const,
    iceServers: [{ urls: ["turn:t.example"], username: "u", credential: "c" }],
    ttl: 600,
  };
  last().receive(answer);
  assertEquals(await early, answer);
  assertEquals(await again, answer);
  assertEquals(frames.includes("ice"), false, "the answer goes to the asker, not to onFrame");
  const pending = socket.requestIce();
  socket.stop();
  let error: unknown;
  await pending.catch((e) => error = e);
  assert(error instanceof Error, "stop() rejects a pending request");
});
