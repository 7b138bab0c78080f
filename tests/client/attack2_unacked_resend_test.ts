/**
 * ATTACK: a member that never acknowledges makes its victim flood the relay past the server's limits.
 *
 * A hostile member joins, stays online, and simply never sends an `ack` (nothing else: no frame at all). Every own
 * message of the victim then waits for that member's ack forever, so the outbox re-sends it to the hostile session
 * on every re-send tick (`Outbox.transmit` from `Courier.#tick`) for as long as that member stays, with no backoff
 * and a budget counted in FRAMES (`DEFAULT_RESEND_BURST` = 100 frames a tick), never in bytes. Long messages are
 * split into parts of up to 60 KiB, so one tick can put 100 x 60 KiB = 6 MB on the victim's socket every 5 s (the
 * default re-send interval), far over the server's per-connection byte limit (256 KiB/s after a 4 MiB burst,
 * `rateConnectionBytes`). The server refuses the excess with `rate_limited`: the victim's NEW messages are refused
 * along with the re-sends, every refusal is a strike (50 net strikes close the socket with 1008 and strike the
 * victim's address), and the victim's phone uploads hundreds of MB an hour to a member that never reads them.
 * History answers were given a byte budget for exactly this reason (`SYNC_ANSWER_BURST_BYTES`: "so answering many
 * askers never crowds out the client's own frames"); the outbox's re-sends were not.
 *
 * The victim here writes 20 long messages (30,000 CJK characters each: pasted documents) over two minutes, then
 * nothing for three minutes. The frames its courier puts on the relay (real codec: AES-GCM, base64url) are replayed
 * through the server's own token buckets (`TokenBucket` with `DEFAULT_CONFIG.rateConnection` and
 * `rateConnectionBytes`) and strike rule (`signal_service.ts` `#message`).
 *
 * Expected safe behaviour: re-sends to a session that does not acknowledge back off, and all re-sends share a byte
 * budget below the relay's rate (as history answers do), so a member that stays silent can never push its victim
 * past the server's limits. Here: not one of the victim's frames is refused within 5 minutes.
 */
import { assert } from "@std/assert";
import { Rig, ROOM } from "./_sim/rig.ts";
import { newMember } from "./_sim/signers.ts";
import { cipherCodec } from "../../lib/client/room/codec.ts";
import { RoomCipher } from "../../lib/client/crypto.ts";
import { TokenBucket } from "../../lib/server/rate_limit.ts";
import { DEFAULT_CONFIG } from "../../lib/server/config.ts";
import { utf8Length } from "../../lib/protocol/validate.ts";

/** The server's per-connection limits and strike rule, as `signal_service.ts` applies them. */
class ServerSocketModel {
  #frames: TokenBucket;
  #bytes: TokenBucket;
  strikes = 0;
  refused = 0;
  accepted = 0;
  closedAt: number | undefined;
  constructor(now: () => number) {
    this.#frames = new TokenBucket(DEFAULT_CONFIG.rateConnection, now);
    this.#bytes = new TokenBucket(DEFAULT_CONFIG.rateConnectionBytes, now);
  }
  frame(text: string, now: number): void {
    if (this.closedAt !== undefined) return;
    if (!this.#frames.take(now) || !this.#bytes.take(now, text.length)) {
      this.refused++;
      this.strikes++;
      if (this.strikes > DEFAULT_CONFIG.rateStrikes) this.closedAt = now;
      return;
    }
    this.accepted++;
    if (this.strikes > 0) this.strikes--;
  }
}

Deno.test("a member that never acks cannot make the victim's re-sends exceed the relay's limits", async () => {
  // The frames the victim's shell would put on its socket, as the room client builds them (room/mod.ts).
  const frames: { text: string; chat?: string }[] = [];
  const victim = await Rig.create({
    extra: {
      // The real codec (AES-GCM, base64url), and the default network profile's numbers (network_profile.ts).
      codec: cipherCodec(await RoomCipher.create(new Uint8Array(32).fill(7), ROOM)),
      timing: { resendIntervalMs: 5_000, ackCoalesceMs: 50 },
      relay: {
        sendChat: (id, to, data) =>
          frames.push({
            text: JSON.stringify(to ? { type: "chat", id, to, data } : { type: "chat", id, data }),
            chat: id,
          }),
        sendSignal: (to, p) => frames.push({ text: JSON.stringify({ type: "signal", to, data: { k: "courier", p } }) }),
      },
    },
  });
  const silent = await newMember(ROOM);
  const courier = await victim.load();
  courier.relayUp({ peer: "vic", peers: [{ id: "eve", presence: "online", member: silent.member }] });
  const server = new ServerSocketModel(() => victim.time.now);
  let seq = 0;
  let bytes = 0;
  const flush = () => {
    for (const { text, chat } of frames.splice(0)) {
      bytes += utf8Length(text);
      server.frame(text, victim.time.now);
      // The log takes every chat frame (the server's `accepted`): later re-sends go to the silent session only.
      if (chat !== undefined) courier.accepted(chat, ++seq);
    }
  };
  const step = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      victim.time.advance(100);
      await victim.settle();
      flush();
    }
  };

  // 20 pasted documents, one every 6 s: 30,000 CJK characters each (about 90 KB of UTF-8, three parts sealed).
  for (let i = 0; i < 20; i++) {
    await courier.send(`${i} ` + "漢字テキスト".repeat(5_000));
    await victim.settle();
    flush();
    await step(6_000);
  }
  // Then three more minutes in which the victim writes nothing; the hostile member stays online and silent.
  await step(180_000);
  courier.close();

  const minutes = (victim.time.now - 1_700_000_000_000) / 60_000;
  assert(
    server.refused === 0 && server.closedAt === undefined,
    `the silent member made the victim put ${(bytes / 1e6).toFixed(1)} MB on the relay in ${minutes.toFixed(1)} ` +
      `minutes; the server refused ${server.refused} of its frames (accepted ${server.accepted})` +
      (server.closedAt !== undefined
        ? ` and CLOSED the victim's socket (1008, address strike) after ${
          ((server.closedAt - 1_700_000_000_000) / 1000).toFixed(0)
        } s`
        : ""),
  );
});
