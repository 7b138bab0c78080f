import { assertEquals, assertThrows } from "@std/assert";
import { EventLog, EVENTS, iceStateEvent, type LogEvent } from "../../lib/client/event_log.ts";

function fakeSink() {
  const lines: unknown[][] = [];
  return { lines, sink: { log: (...data: unknown[]) => lines.push(data) } };
}

Deno.test("the ring keeps the newest events in order once it wraps", async (t) => {
  let now = 0;
  const log = new EventLog({ capacity: 5, now: () => now++, sink: fakeSink().sink });
  await t.step("below capacity every event is kept", () => {
    for (let i = 0; i < 3; i++) log.add(EVENTS.RETRY_SCHEDULED, { attempt: i });
    assertEquals(log.entries().map((e) => e.detail?.attempt), [0, 1, 2]);
    assertEquals(log.size, 3);
  });
  await t.step("past capacity the oldest are dropped and order is kept", () => {
    for (let i = 3; i < 13; i++) log.add(EVENTS.RETRY_SCHEDULED, { attempt: i });
    assertEquals(log.entries().map((e) => e.detail?.attempt), [8, 9, 10, 11, 12]);
    assertEquals(log.entries().map((e) => e.t), [8, 9, 10, 11, 12]);
    assertEquals(log.size, 5);
    assertEquals(log.total, 13);
  });
  await t.step("clear empties the ring and keeps counting", () => {
    log.clear();
    assertEquals(log.entries(), []);
    log.add(EVENTS.WS_CONNECTED);
    assertEquals(log.entries().map((e) => e.name), ["WebSocket connected"]);
    assertEquals(log.total, 14);
  });
});

Deno.test("events use the seed's names", () => {
  assertEquals(EVENTS.INITIALIZED, "P2P Service initialized");
  assertEquals(EVENTS.WS_CONNECTED, "WebSocket connected");
  assertEquals(iceStateEvent("connected"), "ICE connection state: connected");
  assertEquals(iceStateEvent("failed"), "ICE connection state: failed");
});

Deno.test("the console gets events only when enabled", async (t) => {
  const { lines, sink } = fakeSink();
  await t.step("disabled by default", () => {
    const log = new EventLog({ sink });
    log.add(EVENTS.INITIALIZED);
    assertEquals(lines.length, 0);
  });
  await t.step("enabled prints name and detail", () => {
    const log = new EventLog({ sink, console: true, now: () => 1 });
    log.add(EVENTS.INITIALIZED);
    log.add(EVENTS.PATH_CHANGED, { peer: "p1", from: "relay", to: "p2p" });
    assertEquals(lines, [["[parley] P2P Service initialized"], ["[parley] Path changed", {
      peer: "p1",
      from: "relay",
      to: "p2p",
    }]]);
    log.setConsole(false);
    log.add(EVENTS.WS_CLOSED);
    assertEquals(lines.length, 2);
  });
});

Deno.test("subscribers see each event until they unsubscribe", () => {
  const log = new EventLog({ capacity: 2, sink: fakeSink().sink });
  const seen: LogEvent[] = [];
  const unsubscribe = log.subscribe((event) => seen.push(event));
  log.add(EVENTS.WS_CONNECTING);
  log.add(iceStateEvent("checking"), { peer: "a" });
  unsubscribe();
  log.add(EVENTS.WS_CONNECTED);
  assertEquals(seen.map((e) => e.name), ["WebSocket connecting", "ICE connection state: checking"]);
});

Deno.test("a capacity below one is refused", () => {
  assertThrows(() => new EventLog({ capacity: 0 }), RangeError);
});
