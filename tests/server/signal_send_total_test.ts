import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { admit, detectAdmission, roomKey } from "../bench/abuse/admit.ts";
import { type Frame, Wire } from "../bench/abuse/wire.ts";
import { ServerProcess } from "../support/server_process.ts";
import { FLOOD_ENV, readMetrics } from "../support/server_metrics.ts";

/** Each socket's send bound here. */
const BOUND = 256 * 1024;
/** The bound on all sockets together: two sockets' worth, so four non-reading members cannot all fill theirs. */
const TOTAL = 512 * 1024;
const DATA = "A".repeat(45_000);
/** How long a wait may take before the test fails instead of hanging: a guard, not a measurement. */
const HANG_GUARD_MS = 30_000;

function metrics(server: ServerProcess): Promise<Map<string, number>> {
  return readMetrics(server.httpUrl);
}

Deno.test("the bytes waiting on all sockets are bounded: non-reading members are closed with 4008 before each fills its own bound, a reading one never", async () => {
  const server = await ServerProcess.start({
    env: { ...FLOOD_ENV, SEND_QUEUE_BYTES: String(BOUND), SEND_QUEUE_TOTAL_BYTES: String(TOTAL) },
  });
  const room = newRoomId();
  const key = await roomKey(room);
  const wires: Wire[] = [];
  const open = async (onFrame?: (frame: Frame) => boolean) => {
    const wire = await Wire.open({ port: server.port, room, onFrame });
    wires.push(wire);
    return wire;
  };
  try {
    const mode = await detectAdmission(() => Wire.open({ port: server.port, room: newRoomId() }));
    const accepted = new Set<string>();
    const sender = await open((frame) => {
      if (frame.type !== "accepted") return false;
      accepted.add(frame.id as string);
      return true;
    });
    await admit(sender, mode, key, {}, true);
    const readerGot = new Set<string>();
    const reader = await open((frame) => {
      if (frame.type !== "chat") return false;
      readerGot.add(frame.id as string);
      return true;
    });
    await admit(reader, mode, key);
    const paused: Wire[] = [];
    for (let i = 0; i < 4; i++) {
      const wire = await open((frame) => frame.type === "chat");
      await admit(wire, mode, key);
      wire.pause();
      paused.push(wire);
    }
    let sent = 0;
    let waiting = 0;
    let closed = 0;
    // Floods until every paused member was let go (each under its own bound, by the total).
    for (let round = 0; round < 400 && closed < paused.length; round++) {
      const burst: string[] = [];
      for (let j = 0; j < 4; j++) {
        const id = `m${++sent}`;
        burst.push(id);
        sender.send({ type: "chat", id, data: DATA });
      }
      const deadline = Date.now() + HANG_GUARD_MS;
      while (!burst.every((id) => accepted.has(id))) {
        assert(Date.now() < deadline, `frames ${burst} were never accepted`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const values = await metrics(server);
      waiting = Math.max(waiting, values.get("parley_send_waiting_bytes") ?? 0);
      closed = [...values].filter(([name]) => name.startsWith("parley_slow_consumers_total{")).reduce(
        (sum, [, n]) => sum + n,
        0,
      );
    }
    assertEquals(
      closed,
      paused.length,
      `${closed} of ${paused.length} non-reading members let go after ${sent} frames`,
    );
    const values = await metrics(server);
    assert(
      (values.get('parley_slow_consumers_total{reason="over_total"}') ?? 0) >= 2,
      "at least two were closed by the total before reaching their own bound",
    );
    // The total, plus at most one frame that passed the check per socket in one turn.
    assertLessOrEqual(waiting, TOTAL + 6 * (DATA.length + 200));
    // The reading member keeps up and gets everything, never closed.
    const readDeadline = Date.now() + HANG_GUARD_MS;
    while (readerGot.size < sent) {
      assert(Date.now() < readDeadline, `the reading member got ${readerGot.size} of ${sent}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assertEquals(reader.isClosed, false);
    for (const wire of paused) {
      wire.resume();
      assertEquals(await wire.closed, 4008);
    }
    // Their connections ended: nothing they held counts any more.
    const endDeadline = Date.now() + HANG_GUARD_MS;
    for (;;) {
      const left = (await metrics(server)).get("parley_send_waiting_bytes") ?? 0;
      if (left === 0) break;
      assert(Date.now() < endDeadline, `${left} bytes still counted as waiting after every connection ended`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    for (const wire of wires) await wire.abort();
    await server.stop();
  }
});
