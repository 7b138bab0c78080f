import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import { CLOSE } from "../../lib/protocol/mod.ts";
import { SignalSocket, type SignalSocketTimings, signalUrl } from "../../lib/client/signal_socket.ts";
import { FakeClock } from "../support/fake_clock.ts";

const TIMINGS: SignalSocketTimings = {
  reconnectBaseMs: 1_000,
  reconnectCapMs: 30_000,
  connectTimeoutMs: 10_000,
  heartbeatIntervalMs: 25_000,
  heartbeatTimeoutMs: 10_000,
  livenessTimeoutMs: 3_000,
};

/** A WebSocket whose other end is the test. */
class FakeWebSocket {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  closedWith?: number;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.closedWith = code;
    this.readyState = 3;
  }
  // The server side of the test:
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(frame: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  serverClose(code: number, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

function setup(options: { online?: () => boolean; random?: () => number } = {}) {
  const clock = new FakeClock(1_000_000);
  const sockets: FakeWebSocket[] = [];
  const frames: string[] = [];
  const events: string[] = [];
  let token: string | undefined;
  const socket = new SignalSocket({
    url: "ws://server/api/signal?v=1&room=R",
    createWebSocket: (url) => {
      const ws = new FakeWebSocket(url);
      sockets.push(ws);
      return ws as unknown as WebSocket;
    },
    hello: () => ({ token, since: 7, proof: "P".repeat(43) }),
    onFrame: (frame) => {
      frames.push(frame.type);
      if (frame.type === "welcome") token = frame.token;
    },
    timings: TIMINGS,
    timers: clock,
    now: clock.now,
    random: options.random ?? (() => 0.5),
    isOnline: options.online,
    log: (name) => events.push(name),
  });
  const welcome = (ws: FakeWebSocket) => {
    ws.open();
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
  return { clock, sockets, frames, events, socket, welcome, last: () => sockets.at(-1)! };
}

Deno.test("the signal URL carries the protocol version and room, over wss for https pages", () => {
  assertEquals(signalUrl("https://parley.example", "abc"), "wss://parley.example/api/signal?v=1&room=abc");
  assertEquals(signalUrl("http://127.0.0.1:8000", "abc"), "ws://127.0.0.1:8000/api/signal?v=1&room=abc");
});

Deno.test("it says hello with resume data and is connected after the welcome", () => {
  const { socket, last, welcome, events } = setup();
  socket.start();
  assertEquals(socket.state.value.kind, "connecting");
  assertEquals(socket.send({ type: "ping" }), false, "nothing is sent before the welcome");
  welcome(last());
  assertEquals(last().sent[0], { type: "hello", v: 1, since: 7, proof: "P".repeat(43) });
  assertEquals(socket.state.value.kind, "connected");
  assertEquals(socket.send({ type: "bye" }), true);
  assert(events.includes("WebSocket connecting") && events.includes("WebSocket connected"));
  socket.stop();
});

Deno.test("reconnects forever with full-jitter backoff under the cap, and resumes with the token", async () => {
  const { socket, sockets, last, welcome, clock } = setup({ random: () => 1 - 1e-9 });
  socket.start();
  welcome(last());
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
  welcome(last());
  assertEquals(last().sent[0].token, "T".repeat(43), "the next hello resumes the session");
  socket.stop();
});

Deno.test("online, a visible tab or a connection change retry at once while reconnecting", async () => {
  for (const reason of ["online", "visible", "connection"] as const) {
    const { socket, sockets, last, welcome, clock } = setup({ random: () => 1 - 1e-9 });
    socket.start();
    welcome(last());
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
  welcome(last());

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
  welcome(last());
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
  welcome(last());
  for (let i = 0; i < 10; i++) {
    await clock.advance(TIMINGS.heartbeatIntervalMs - 1);
    last().receive({ type: "presence", peer: "x", state: "online" });
  }
  assertEquals(last().sent.filter((f) => f.type === "ping").length, 0);
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

for (const code of [CLOSE.SERVICE_RESTART, 1001]) {
  Deno.test(`a server going away (${code}) is reconnected to within the base delay`, async () => {
    const { socket, last, welcome, clock } = setup({ random: () => 1 - 1e-9 });
    socket.start();
    welcome(last());
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
  welcome(last());
  online = false;
  last().serverClose(1006);
  assertEquals(socket.state.value.kind, "offline");
  await clock.advance(TIMINGS.reconnectCapMs - 1);
  assertEquals(sockets.length, 1);
  online = true;
  socket.networkEvent("online");
  assertEquals(sockets.length, 2);
  welcome(last());
  assertEquals(socket.state.value.kind, "connected");
  socket.stop();
});
