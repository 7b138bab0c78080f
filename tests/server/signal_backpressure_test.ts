import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { type AdmissionMode, admit, detectAdmission, roomKey } from "../bench/abuse/admit.ts";
import { type Frame, Wire } from "../bench/abuse/wire.ts";
import { ServerProcess } from "../support/server_process.ts";
import { FLOOD_ENV, readMetrics } from "../support/server_metrics.ts";

/** The send bound the server runs with here (small, so the test floods little). */
const BOUND = 256 * 1024;
/** A chat frame of about 45 KB of ciphertext, as in the measured attack. */
const DATA = "A".repeat(45_000);
/** The most frames the test sends before giving up on the server closing the slow reader. */
const MAX_FRAMES = 600;

function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Chat frames one reader received (over all its sockets), checked against the order promise. */
class Received {
  /** Ids of the chat frames received. */
  readonly seen = new Set<string>();
  /** The highest seq received: the reader's `since`. */
  highest = 0;
  /** Chat frames that came at or below a seq already received: each breaks "strictly in seq order". */
  readonly disorder: string[] = [];
  /** A `Wire` handler: takes chat frames, leaves the rest for `next()`. */
  readonly take = (frame: Frame): boolean => {
    if (frame.type !== "chat") return false;
    const seq = frame.seq as number;
    if (seq <= this.highest) this.disorder.push(`${frame.id} (seq ${seq}) after seq ${this.highest}`);
    this.seen.add(frame.id as string);
    this.highest = Math.max(this.highest, seq);
    return true;
  };
}

async function metric(server: ServerProcess, series: string): Promise<number> {
  return (await readMetrics(server.httpUrl)).get(series) ?? 0;
}

Deno.test("a member that stops reading is closed with 4008 within the bound, then resumes and misses nothing", async (t) => {
  const server = await ServerProcess.start({
    env: { ...FLOOD_ENV, SEND_QUEUE_BYTES: String(BOUND), SEND_STALL_TIMEOUT: "2" },
  });
  const room = newRoomId();
  const key = await roomKey(room);
  const open = () => Wire.open({ port: server.port, room });
  const wires: Wire[] = [];
  /**
   * Opens a socket and joins. `onFrame` is installed before the hello: the backlog may come in the
   * same read as the welcome, before `admit` returns.
   */
  const join = async (mode: AdmissionMode, extra = {}, create = false, onFrame?: (frame: Frame) => boolean) => {
    const wire = await open();
    wires.push(wire);
    wire.onFrame = onFrame;
    return { wire, welcome: await admit(wire, mode, key, extra, create) };
  };
  try {
    const mode = await detectAdmission(open);
    const sender = await join(mode, {}, true);
    const accepted = new Set<string>();
    const awayOf = new Set<string>();
    sender.wire.onFrame = (frame) => {
      if (frame.type === "accepted") accepted.add(frame.id as string);
      else if (frame.type === "presence" && frame.state === "away") awayOf.add(frame.peer as string);
      else return false;
      return true;
    };
    let sent = 0;
    /** Sends `count` frames in bursts of 4 and waits until each is accepted (logged). */
    const flood = async (count: number, until: () => boolean = () => false) => {
      for (let i = 0; i < count && !until(); i += 4) {
        const burst: string[] = [];
        for (let j = 0; j < 4; j++) {
          const id = `m${++sent}`;
          burst.push(id);
          sender.wire.send({ type: "chat", id, data: DATA });
        }
        const deadline = Date.now() + 10_000;
        while (!burst.every((id) => accepted.has(id)) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        assert(burst.every((id) => accepted.has(id)), `frames ${burst} were not accepted`);
      }
    };

    const slowGot = new Received();

    await t.step("a paused reader is closed with 4008 once its queue passes the bound", async () => {
      const slow = await join(mode, { since: 0 }, false, slowGot.take);
      await slow.wire.next((frame) => frame.type === "synced");
      const slowId = slow.welcome.peer as string;
      const before = rssBytes(server.pid);
      slow.wire.pause();
      let peak = before;
      await flood(MAX_FRAMES, () => {
        peak = Math.max(peak, rssBytes(server.pid));
        return awayOf.has(slowId);
      });
      assert(awayOf.has(slowId), `the slow reader was never let go after ${sent} frames of 45 KB`);
      assertEquals(await metric(server, 'parley_slow_consumers_total{reason="over_bound"}'), 1);
      // The sender goes on; the server holds nothing more for the slow reader.
      await flood(100, () => {
        peak = Math.max(peak, rssBytes(server.pid));
        return false;
      });
      const grown = peak - before;
      console.log(
        `server RSS grew ${(grown / 2 ** 20).toFixed(1)} MB while ${sent} frames (${
          (sent * DATA.length / 2 ** 20).toFixed(0)
        } MB) went to a member that did not read`,
      );
      // The bound and the frames in flight through the log, not the megabytes sent.
      assertLessOrEqual(grown, 48 * 2 ** 20);

      slow.wire.resume();
      assertEquals(await slow.wire.closed, 4008);
      assert(slowGot.seen.size < sent, "the slow reader was closed before it got everything");

      const back = await join(mode, { token: slow.welcome.token, since: slowGot.highest }, false, slowGot.take);
      assertEquals(back.welcome.resumed, true);
      assertEquals(back.welcome.peer, slowId);
      const synced = await back.wire.next((frame) => frame.type === "synced");
      assert((synced.last as number) >= sent, `synced at ${synced.last}, ${sent} sent`);
      assertEquals(slowGot.disorder, [], "chat frames reached the slow reader in seq order, across the resume");
      assertEquals(slowGot.seen.size, sent, "every frame sent reached the slow reader, live or in the backlog");
      for (let i = 1; i <= sent; i++) assert(slowGot.seen.has(`m${i}`), `m${i} missing`);
    });

    await t.step("a backlog streams in windows: a reader that stops during it holds at most the bound", async () => {
      // Make the log far bigger than what the kernel buffers (a few MB) plus the bound.
      await flood(Math.max(0, 300 - sent));
      const late = await open();
      wires.push(late);
      const lateGot = new Received();
      late.onFrame = lateGot.take;
      const welcome = await admit(late, mode, key, { since: 0 });
      late.pause();
      let waiting = 0;
      const deadline = Date.now() + 30_000; // a hang guard: the stall time here is 2 s
      while (await metric(server, 'parley_slow_consumers_total{reason="stalled"}') === 0) {
        assert(Date.now() < deadline, "the stopped reader was never let go");
        waiting = Math.max(waiting, await metric(server, "parley_send_waiting_bytes"));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assertLessOrEqual(waiting, BOUND, "bytes waiting for the stopped reader stayed within the bound");
      late.resume();
      assertEquals(await late.closed, 4008);
      assert(lateGot.seen.size < sent, "the stopped reader was closed before the backlog ended");
      const again = await join(mode, { token: welcome.token, since: lateGot.highest }, false, lateGot.take);
      await again.wire.next((frame) => frame.type === "synced");
      assertEquals(lateGot.disorder, [], "the backlog came in seq order, across the resume");
      assertEquals(lateGot.seen.size, sent, "the backlog brought every frame after the resume");
    });
  } finally {
    for (const wire of wires) await wire.abort();
    await server.stop();
  }
});
