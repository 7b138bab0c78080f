import { assert, assertEquals } from "@std/assert";
import { FlowControl, type FlowSocket, type IntervalTimers, type SlowReason } from "../../lib/server/send_queue.ts";

/** A socket whose buffered bytes the test sets, as Deno's would grow and drain. */
class FakeSocket implements FlowSocket {
  bufferedAmount = 0;
  slow: SlowReason[] = [];
  /** What a real socket does on send: the bytes wait until "written". */
  send(flow: FlowControl, length: number): boolean {
    if (!flow.admit(this, length)) return false;
    this.bufferedAmount += length;
    return true;
  }
  slowConsumer(reason: SlowReason): void {
    this.slow.push(reason);
  }
}

function setup(totalBytes?: number) {
  let now = 0;
  let armed = 0;
  const timers: IntervalTimers = {
    set: () => ++armed,
    clear: () => armed = 0,
  };
  const flow = new FlowControl({ maxBytes: 1000, totalBytes, stallMs: 500, tickMs: 100, now: () => now, timers });
  return {
    flow,
    get armed() {
      return armed !== 0;
    },
    /** Moves the clock and runs the checks the interval would. */
    advance(ms: number) {
      for (let t = 0; t < ms; t += 100) {
        now += 100;
        flow.check();
      }
    },
  };
}

Deno.test("a socket with nothing waiting sends freely and costs no state", () => {
  const { flow, armed } = setup();
  const socket = new FakeSocket();
  assert(flow.admit(socket, 900));
  assertEquals(flow.congestedCount, 0);
  assertEquals(armed, false);
  flow.close();
});

Deno.test("a frame that would pass the bound makes the socket a slow consumer", () => {
  const t = setup();
  const socket = new FakeSocket();
  assert(socket.send(t.flow, 600));
  assert(socket.send(t.flow, 300), "900 of 1000 waiting");
  assert(t.armed, "a congested socket is watched");
  assertEquals(socket.send(t.flow, 200), false);
  assertEquals(socket.slow, ["over_bound"]);
  assertEquals(t.flow.congestedCount, 0, "a slow socket is forgotten");
  t.flow.close();
});

Deno.test("bytes waiting with no write completing for the stall time make a slow consumer", () => {
  const t = setup();
  const socket = new FakeSocket();
  socket.send(t.flow, 100);
  socket.send(t.flow, 100);
  t.advance(400);
  assertEquals(socket.slow, [], "not yet");
  // One write completes: the clock starts again, even though new frames keep the amount up.
  socket.bufferedAmount -= 100;
  socket.send(t.flow, 100); // the send sees that a write completed: the clock starts again now
  t.advance(400);
  assertEquals(socket.slow, [], "the send after the write saw progress");
  t.advance(100);
  assertEquals(socket.slow, ["stalled"]);
  t.flow.close();
});

Deno.test("a socket that drains is forgotten and the interval stops", () => {
  const t = setup();
  const socket = new FakeSocket();
  socket.send(t.flow, 100);
  socket.send(t.flow, 100);
  assertEquals(t.flow.congestedCount, 1);
  assertEquals(t.flow.waitingBytes, 200);
  socket.bufferedAmount = 0;
  t.advance(100);
  assertEquals(t.flow.congestedCount, 0);
  assertEquals(t.armed, false);
  t.advance(10_000);
  assertEquals(socket.slow, []);
  t.flow.close();
});

Deno.test("a sender waits for room in the window (half the bound), in order", async () => {
  const t = setup();
  const socket = new FakeSocket();
  assertEquals(t.flow.ready(socket, 400), true, "an empty socket is ready at once");
  socket.send(t.flow, 400);
  const first = t.flow.ready(socket, 200);
  const second = t.flow.ready(socket, 200);
  assert(first instanceof Promise && second instanceof Promise, "400 + 200 > 500: wait");
  const order: string[] = [];
  first.then((ok) => order.push(`first ${ok}`));
  second.then((ok) => order.push(`second ${ok}`));
  socket.bufferedAmount = 250;
  t.advance(100);
  await Promise.resolve();
  assertEquals(order, ["first true"], "250 + 200 fits the window; the next 200 does not");
  socket.bufferedAmount = 0;
  t.advance(100);
  await Promise.resolve();
  assertEquals(order, ["first true", "second true"]);
  t.flow.close();
});

Deno.test("a waiting sender learns that its socket was dropped", async () => {
  const t = setup();
  const stalled = new FakeSocket();
  stalled.send(t.flow, 600);
  const waiting = t.flow.ready(stalled, 100);
  assert(waiting instanceof Promise);
  t.advance(500);
  assertEquals(await waiting, false);
  assertEquals(stalled.slow, ["stalled"]);

  const closed = new FakeSocket();
  closed.send(t.flow, 600);
  const pending = t.flow.ready(closed, 100);
  t.flow.forget(closed);
  assertEquals(await pending, false);
  assertEquals(closed.slow, [], "a closed socket is not a slow one");
  t.flow.close();
});

Deno.test("the bytes waiting on all sockets are bounded: a congested socket over the total is a slow consumer", () => {
  const t = setup(2000);
  const sockets = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
  for (const socket of sockets) assert(socket.send(t.flow, 500), "nothing waits yet: the kernel takes it");
  assert(sockets[0].send(t.flow, 400));
  assert(sockets[1].send(t.flow, 400));
  assertEquals(t.flow.waitingBytes, 1800, "two congested sockets, 900 each");
  // Each alone is under its own bound (1000), but together they would pass 2000.
  assertEquals(sockets[2].send(t.flow, 400), false);
  assertEquals(sockets[2].slow, ["over_total"]);
  const reader = new FakeSocket();
  assert(reader.send(t.flow, 900), "a socket with nothing waiting is never refused");
  assertEquals(reader.slow, []);
  t.flow.close();
});

Deno.test("a slow consumer's bytes count in the total until its connection ends", () => {
  const t = setup(1500);
  const stuck = new FakeSocket();
  stuck.send(t.flow, 500);
  stuck.send(t.flow, 400);
  assertEquals(stuck.send(t.flow, 200), false, "over its own bound");
  assertEquals(stuck.slow, ["over_bound"]);
  // Closed, but Deno still holds what it was given: it counts.
  assertEquals(t.flow.waitingBytes, 900);
  assertEquals(t.flow.stuckCount, 1);
  const other = new FakeSocket();
  other.send(t.flow, 300);
  assertEquals(other.send(t.flow, 400), false, "900 stuck + 300 + 400 > 1500");
  assertEquals(other.slow, ["over_total"]);
  t.flow.ended(stuck);
  t.flow.ended(other);
  assertEquals([t.flow.waitingBytes, t.flow.stuckCount], [0, 0]);
  const next = new FakeSocket();
  next.send(t.flow, 300);
  assert(next.send(t.flow, 400), "room again once the connections ended");
  t.flow.close();
});

Deno.test("under a full total, a socket holding no more than its share is not closed: a reader that keeps up while the server falls behind", () => {
  const t = setup(1500);
  assertEquals(t.flow.shareBytes, 62, "a sixteenth of the socket bound (1000)");
  const stuck = new FakeSocket();
  stuck.send(t.flow, 500);
  stuck.send(t.flow, 400);
  assertEquals(stuck.send(t.flow, 200), false, "a non-reading member, over its own bound");
  const hog = new FakeSocket();
  hog.send(t.flow, 500);
  assert(hog.send(t.flow, 100), "900 stuck + 600 = 1500: within the total");
  // The total is full. A reader whose frames merely wait for the server's next write turn holds a few bytes.
  const reader = new FakeSocket();
  reader.send(t.flow, 30);
  assert(reader.send(t.flow, 30), "60 waiting: within its share, so the total does not close it");
  assertEquals(reader.slow, []);
  assertEquals(reader.send(t.flow, 30), false, "90 would pass its share: now the total applies");
  assertEquals(reader.slow, ["over_total"]);
  assertEquals(hog.send(t.flow, 100), false, "a socket holding more than its share is closed by the total");
  assertEquals(hog.slow, ["over_total"]);
  t.flow.close();
});

Deno.test("sockets each within their share cannot take the waiting bytes past twice the total", () => {
  const t = setup(1000);
  const refused: number[] = [];
  let highest = 0;
  for (let i = 0; i < 40; i++) {
    const socket = new FakeSocket();
    socket.send(t.flow, 60); // nothing waited: the kernel took it, and it waits now
    if (socket.send(t.flow, 1)) highest = Math.max(highest, t.flow.waitingBytes);
    else refused.push(i);
    assertEquals(socket.slow, refused.at(-1) === i ? ["over_total"] : []);
  }
  // Each holds 61, within its share (62): none is refused until the next would pass twice the total.
  assertEquals(refused[0], 32, "32 x 61 = 1952 are admitted; the 33rd's 61 would make 2013");
  assertEquals(refused.length, 8, "and every one after it");
  assert(highest <= 2000, `an admitted frame took the total to ${highest}`);
  t.flow.close();
});

Deno.test("a backlog waits for room in the total rather than being closed", async () => {
  const t = setup(1300);
  const hog = new FakeSocket();
  hog.send(t.flow, 500);
  hog.send(t.flow, 400);
  const backlog = new FakeSocket();
  backlog.send(t.flow, 200);
  backlog.send(t.flow, 100);
  const ready = t.flow.ready(backlog, 450);
  assert(ready instanceof Promise, "300 + 450 is over the window (500) anyway");
  let woken: boolean | null = null;
  ready.then((ok) => woken = ok);
  backlog.bufferedAmount = 40;
  t.advance(100);
  await Promise.resolve();
  assertEquals(woken, null, "40 + 450 fits its window, but 900 + 40 + 450 > 1300: it waits");
  hog.bufferedAmount = 500;
  t.advance(100);
  await Promise.resolve();
  assertEquals(woken, true, "the hog drained some: room in the total");
  assertEquals([hog.slow, backlog.slow], [[], []]);
  t.flow.close();
});
