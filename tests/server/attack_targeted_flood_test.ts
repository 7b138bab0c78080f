/**
 * ATTACK: a member gets an honest member disconnected as a "slow consumer" by pointing its whole rate burst at it.
 *
 * Every socket may send a burst of 4 MiB (`RATE_CONN_BYTES_BURST`, and an address 16 MiB) at once, and `signal`
 * frames (up to 64 KiB, any `data`) are relayed to their one `to` peer with no limit per receiver. The receiver's
 * socket may hold only 1 MiB unwritten (`SEND_QUEUE_BYTES`); past it `FlowControl.admit` closes it with 4008.
 * So a member that sends ~68 signal frames of 60 KiB to one victim in a single burst puts ~4 MiB in the victim's
 * queue within a millisecond, more than any real downlink drains: the victim is closed 4008 although it reads
 * at full speed. It resumes; the attacker's bucket refills (or it uses another socket) and does it again: the
 * victim spends its time reconnecting, its messages wait, its DataChannels renegotiate. Within the rate limits,
 * so no strike ever lands on the attacker.
 *
 * The test replays this through the real hub, with the server's own default config, `TokenBucket` (the rate
 * limits the signal service checks before the hub) and `FlowControl`, and a victim that reads at 10 Mbit/s behind
 * 256 KiB of kernel buffer (generous for a phone).
 *
 * Expected safe behaviour: a relayed `signal` or `ack` is sent only when it fits the reader's send window (half its
 * bound), and refused otherwise to its SENDER (`rate_limited`, no strike), so an honest reader keeping up is never
 * closed because of what another member sent (`Peer.relay`, `FlowControl.spare`). Logged chat frames are the room
 * log's: a reader closed for them resumes from the log.
 */
import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { DEFAULT_CONFIG } from "../../lib/server/config.ts";
import { TokenBucket } from "../../lib/server/rate_limit.ts";
import type { Peer } from "../../lib/server/room.ts";
import { FlowControl, type SlowReason } from "../../lib/server/send_queue.ts";
import { FakeSocket, join, openHubs, PROOF } from "./_hub_harness.ts";

Deno.test("a member's rate burst aimed at one honest reader is refused to that member, and never closes the reader", async () => {
  const config = DEFAULT_CONFIG;
  let now = 0;
  const clock = () => now;
  const flow = new FlowControl({
    maxBytes: config.sendQueueBytes,
    totalBytes: config.sendQueueTotalBytes,
    stallMs: config.sendStallMs,
    now: clock,
    timers: { set: () => 0, clear: () => {} },
  });

  // The victim: drains 10 Mbit/s (1.25 MB/s) into the network, behind a 256 KiB kernel buffer; its socket sends
  // through the flow control, as the signal service's sockets do.
  const KERNEL = 256 * 1024;
  const BYTES_PER_MS = 1_250;
  let given = 0;
  let closed: SlowReason | null = null;
  class Victim extends FakeSocket {
    get bufferedAmount(): number {
      return Math.max(0, given - KERNEL - now * BYTES_PER_MS);
    }
    slowConsumer(reason: SlowReason): void {
      closed ??= reason;
    }
    override send(text: string): void {
      if (closed === null && flow.admit(this, text.length)) {
        given += text.length;
        if (text.length < 1_000) super.send(text);
      }
    }
    spare(bytes: number): boolean {
      return flow.spare(this, bytes);
    }
  }

  const hubs = await openHubs();
  try {
    const room = newRoomId();
    const attacker = await join(hubs.hubs[0], room, "10.0.0.66", {}, { registers: true });
    const victimSocket = new Victim();
    const victim = await hubs.hubs[0].join(
      victimSocket,
      "10.0.0.2",
      room,
      { type: "hello", v: 1, proof: PROOF },
      () => true,
    );
    assert(attacker.result.ok && victim.ok);
    const victimId = (victim.peer as Peer).id;
    const attackerPeer = attacker.result.peer as Peer;

    // The attacker: one socket, within every rate bound the server checks on it (frames and bytes, socket and
    // address), sending 60 KiB signals to the victim as fast as those allow, for 5 s.
    const frames = new TokenBucket(config.rateConnection, clock);
    const bytes = new TokenBucket(config.rateConnectionBytes, clock);
    const addressFrames = new TokenBucket(config.rateAddress, clock);
    const addressBytes = new TokenBucket(config.rateAddressBytes, clock);
    const frame = JSON.stringify({ type: "signal", to: victimId, data: "x".repeat(60 * 1024) });
    let sent = 0;
    for (now = 0; now < 5_000 && closed === null; now++) {
      while (
        frames.take(now) && bytes.take(now, frame.length) && addressFrames.take(now) &&
        addressBytes.take(now, frame.length)
      ) {
        sent++;
        hubs.hubs[0].onFrame(attackerPeer, frame);
      }
    }
    const refused = attacker.socket.of("error").filter((error) => error.code === "rate_limited").length;
    assertEquals(
      closed,
      null,
      `the honest reader was closed (${closed}) at ${now} ms, after ${sent} frames (${Math.round(given / 1024)} KiB) ` +
        `that the attacker sent within its rate limits`,
    );
    assert(refused > 0, "what did not fit was refused to the attacker");
    assert(given >= KERNEL + flow.windowBytes, `the reader got what it had room for (${Math.round(given / 1024)} KiB)`);
    // The reader hears the others as before: a small frame to it fits once the burst has drained.
    now += 10_000;
    hubs.hubs[0].onFrame(attackerPeer, JSON.stringify({ type: "signal", to: victimId, data: "hello" }));
    assert(victimSocket.of("signal").some((signal) => signal.data === "hello"));
  } finally {
    flow.close();
    await hubs.close();
  }
});
