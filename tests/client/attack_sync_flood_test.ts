/**
 * ATTACK: history-sync amplification by a hostile member.
 *
 * A member sends its victim `{"t":"sync","have":{}}` (an empty digest, ~40 bytes of JSON) again and again. Every
 * one makes `HistorySync.onSync` answer with the victim's WHOLE offerable history (`historyAnswer`), at once and
 * with no pacing. One small packet costs the victim its history's size in upload, CPU (JSON + AES-GCM) and, when
 * the attacker keeps the DataChannel closed, relay frames: the server's per-connection limits (50 frames/s,
 * 256 KiB/s after a 4 MiB burst) then refuse the VICTIM's frames, its own chat frames included, and after
 * `RATE_STRIKES` (50) net refusals close the victim's socket with 1008 and put a strike on the victim's address.
 * So a member who sends a few hundred bytes per second knocks an honest member off the room.
 *
 * Expected safe behaviour: answers to one session are bounded: a repeated `sync` while an answer to the same
 * session is recent (or the same digest again) is answered at most once per resend interval, or the answer is
 * paced within the relay's budget. Here: 30 identical syncs within one second may cost at most two full answers.
 */
import { assert } from "@std/assert";
import { payloadOf, Rig, ROOM } from "./_sim/rig.ts";
import { newMember } from "./_sim/signers.ts";
import { utf8Length } from "../../lib/protocol/validate.ts";

Deno.test("a flood of empty-digest sync packets does not make the victim resend its whole history each time", async () => {
  const victim = await Rig.create();
  const eve = await newMember(ROOM);
  const courier = await victim.load();
  courier.relayUp({ peer: "ann", peers: [{ id: "eve", presence: "online", member: eve.member }] });
  // The victim's history: 60 messages of 2,000 characters (about 120 KB).
  for (let i = 0; i < 60; i++) await courier.send(`${i} ${"x".repeat(2_000)}`);
  await victim.settle();
  victim.take();

  // One honest answer, for reference.
  courier.receiveSignal("eve", payloadOf({ t: "sync", have: {} }));
  await victim.settle();
  const once = victim.take().filter((s) => s.to === "eve").reduce((n, s) => n + utf8Length(s.payload), 0);
  assert(once > 100_000, `one answer carries the history (${once} bytes)`);

  // The attack: 30 more tiny syncs within the same second (no clock advance).
  const request = payloadOf({ t: "sync", have: {} });
  for (let i = 0; i < 30; i++) courier.receiveSignal("eve", request);
  await victim.settle();
  const sent = victim.take().filter((s) => s.to === "eve");
  const bytes = sent.reduce((n, s) => n + utf8Length(s.payload), 0);
  const asked = 30 * utf8Length(request);
  courier.close();
  assert(
    bytes <= 2 * once,
    `30 sync packets (${asked} bytes) made the victim send ${sent.length} frames / ${bytes} bytes ` +
      `(${Math.round(bytes / asked)}x amplification, ${Math.round(bytes / once)} full answers)`,
  );
});
