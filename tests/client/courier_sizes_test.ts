/**
 * Sizes: a message of up to 65,536 UTF-16 units in any script reaches its
 * peers over every path (relay chat, relay signal, DataChannel) in parts that
 * each fit a frame, shown once; longer is refused by `send` and by receivers;
 * history-sync batches fit a frame; a frame the server refuses fails that one
 * message (or is sent again when the refusal was about the moment).
 * @module
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { CourierSendError, MAX_BODY_CHARS, MAX_TRANSPORT_BYTES } from "../../lib/client/courier/mod.ts";
import { transportBytes } from "../../lib/client/courier/parts.ts";
import { FakeTime, payloadOf, pump, RESEND_MS, Rig, ROOM, rosterOf, type Sent } from "./_sim/rig.ts";
import { newMember, signed } from "./_sim/signers.ts";
import { mixedBody, worstBody } from "./_sim/texts.ts";

const BODIES: [string, string][] = [
  ["Cyrillic", "Ж".repeat(MAX_BODY_CHARS)],
  ["CJK", "語".repeat(MAX_BODY_CHARS)],
  ["emoji (surrogate pairs)", "😀".repeat(MAX_BODY_CHARS / 2)],
  ["control characters (6 JSON bytes each)", worstBody(MAX_BODY_CHARS)],
  ["a mix with quotes, backslashes and line breaks", mixedBody(MAX_BODY_CHARS, 5)],
];

async function pair(time = new FakeTime()) {
  const rigs = { ann: await Rig.create({ time }), bob: await Rig.create({ time }) };
  for (const rig of Object.values(rigs)) await rig.load();
  rigs.ann.courier.relayUp({ peer: "ann", peers: [rosterOf("bob", rigs.bob)] });
  rigs.bob.courier.relayUp({ peer: "bob", peers: [rosterOf("ann", rigs.ann)] });
  await pump(rigs);
  return rigs;
}

/** Delivers what `from` sent to `to`, through `keep`, duplicating and reversing when asked. */
async function deliver(
  from: Rig,
  name: string,
  to: Rig,
  options: { keep?: (sent: Sent) => boolean; twice?: boolean; reverse?: boolean } = {},
): Promise<Sent[]> {
  await from.settle();
  let sent = from.take().filter(options.keep ?? (() => true));
  if (options.reverse) sent = sent.reverse();
  if (options.twice) sent = [...sent, ...sent];
  let seq = 100;
  for (const s of sent) {
    if (s.kind === "chat") {
      // The server logs the frame, relays it and tells the sender (it keeps a message until the log has it).
      to.courier.receiveChat({ from: name, id: s.id!, seq: ++seq, data: s.payload });
      from.courier.accepted(s.id!, seq);
    } else if (s.kind === "signal") to.courier.receiveSignal(name, s.payload);
    else to.courier.receiveDirect(name, s.payload);
  }
  await to.settle();
  return sent;
}

for (const [what, body] of BODIES) {
  Deno.test(`a ${body.length}-unit message of ${what} reaches a peer over relay chat, signal and DataChannel`, async (t) => {
    const { ann, bob } = await pair();
    await t.step("relay chat: in parts, each within a frame, reordered and duplicated, shown once", async () => {
      const message = await ann.courier.send(body);
      const sent = await deliver(ann, "ann", bob, { twice: true, reverse: true });
      assert(sent.length > 2 && sent.every((s) => s.kind === "chat" && s.payload.startsWith("_")), "split into parts");
      assertEquals(ann.oversize, [], "no frame over 64 KiB");
      assertEquals(bob.courier.messages.map((m) => [m.id, m.body === body]), [[message.id, true]]);
      assertEquals(bob.events.filter((e) => e.type === "received").length, 1);
      await deliver(bob, "bob", ann);
      assertEquals(ann.courier.status(message.id), "delivered");
    });
    await t.step("relay signal: the log accepted every part, a lost copy is re-sent by signal", async () => {
      const message = await ann.courier.send(body + "");
      const parts = ann.take();
      for (const [i, part] of parts.entries()) ann.courier.accepted(part.id!, 200 + i);
      assertEquals(ann.courier.status(message.id), "sent", "accepted once every part is in the log");
      ann.time.advance(RESEND_MS);
      const sent = await deliver(ann, "ann", bob, { keep: (s) => s.kind === "signal" });
      assert(sent.length > 2, "re-sent in parts by signal");
      assertEquals(bob.courier.messages.length, 2);
      await deliver(bob, "bob", ann);
      assertEquals(ann.courier.status(message.id), "delivered");
    });
    await t.step("DataChannel: in parts over the channel", async () => {
      ann.courier.linkOpened("bob", ann.link("bob"));
      bob.courier.linkOpened("ann", bob.link("ann"));
      await pump({ ann, bob });
      const message = await ann.courier.send(body.slice(1));
      const sent = await deliver(ann, "ann", bob);
      assert(sent.filter((s) => s.kind === "direct").length > 2);
      assertEquals(bob.courier.messages.find((m) => m.id === message.id)?.body, body.slice(1));
      assertEquals([ann.oversize, bob.oversize], [[], []]);
    });
    ann.courier.close();
    bob.courier.close();
  });
}

Deno.test("send refuses a body over 65,536 units with a typed error, and receivers refuse one too", async () => {
  const { ann, bob } = await pair();
  const error = await assertRejects(() => ann.courier.send("x".repeat(MAX_BODY_CHARS + 1)), CourierSendError);
  assertEquals(error.reason, "too_long");
  assertEquals(ann.courier.messages.length, 0);
  const eve = await newMember(ROOM);
  const long = await signed(eve, { id: "long1", time: bob.time.now, body: "x".repeat(MAX_BODY_CHARS + 1) });
  bob.courier.receiveSignal("ann", payloadOf({ t: "msg", m: long }));
  await bob.settle();
  assertEquals(bob.courier.messages.length, 0);
  assertEquals(bob.rejections(), ["too_long"]);
  ann.courier.close();
  bob.courier.close();
});

Deno.test("history sync batches each fit a frame; a message larger than a batch goes alone, in parts", async () => {
  const time = new FakeTime();
  const rigs = { ann: await Rig.create({ time }), cat: await Rig.create({ time }) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { ann, cat } = rigs;
  ann.courier.relayUp({ peer: "ann", peers: [] });
  for (let i = 0; i < 12; i++) await ann.courier.send(mixedBody(i % 4 === 0 ? 60_000 : 9_000, i));
  for (let i = 0; i < 150; i++) await ann.courier.send(`short ${i}`);
  ann.take();
  cat.courier.relayUp({ peer: "cat", peers: [rosterOf("ann", ann)] });
  ann.courier.presence("cat", "joined", cat.member);
  const answers: Sent[] = [];
  for (let round = 0; round < 10; round++) {
    const sent = ann.take();
    answers.push(...sent);
    for (const s of sent) cat.courier.receiveSignal("ann", s.payload);
    await cat.settle();
    for (const s of cat.take()) ann.courier.receiveSignal("cat", s.payload);
    await ann.settle();
  }
  const hist = answers.filter((s) => s.packet?.t === "hist");
  assert(hist.length > 3, `${hist.length} hist packets`);
  for (const s of hist) assert(transportBytes(s.payload) <= MAX_TRANSPORT_BYTES, "a whole batch fits one frame");
  assert(answers.some((s) => s.payload.startsWith("_")), "the largest messages went alone, in parts");
  assertEquals(ann.oversize, []);
  assertEquals(cat.courier.messages.map((m) => m.id), ann.courier.messages.map((m) => m.id));
  ann.courier.close();
  cat.courier.close();
});

Deno.test("a frame refused for good fails that one message with its reason; the rest keeps flowing", async () => {
  const { ann, bob } = await pair();
  const bad = await ann.courier.send("refused");
  const good = await ann.courier.send("fine");
  ann.take();
  ann.courier.refused(bad.id, "bad_frame");
  assertEquals(ann.courier.status(bad.id), "failed");
  assertEquals(ann.courier.messages.find((m) => m.id === bad.id)?.failure, "bad_frame");
  assert(ann.events.some((e) => e.type === "status" && e.id === bad.id && e.failure === "bad_frame"));
  await ann.settle();
  assertEquals((await ann.store.getMessage(ROOM, bad.id))?.status, "failed");
  assertEquals((await ann.store.listOutbox(ROOM)).map((e) => e.id), [good.id]);
  ann.time.advance(RESEND_MS);
  const again = ann.take().filter((s) => s.packet?.t === "msg").map((s) => s.packet?.t === "msg" && s.packet.m.id);
  assertEquals(again, [good.id], "only the other message is sent again");
  assertEquals(ann.courier.counters.failed, 1);
  ann.courier.close();
  bob.courier.close();
});

Deno.test("a part refused as too big fails its message; a rate-limited one is sent again", async () => {
  const { ann, bob } = await pair();
  const big = await ann.courier.send("語".repeat(50_000));
  const parts = ann.take();
  assert(parts.length > 1);
  ann.courier.refused(parts[1].id!, "too_big");
  assertEquals(ann.courier.messages.find((m) => m.id === big.id)?.failure, "too_big");
  const later = await ann.courier.send("語".repeat(50_000));
  const laterParts = ann.take();
  ann.courier.refused(laterParts[0].id!, "rate_limited");
  assertEquals(ann.courier.status(later.id), "pending");
  ann.time.advance(RESEND_MS);
  assert(ann.take().filter((s) => s.kind === "chat").length >= laterParts.length, "sent again, whole");
  ann.courier.close();
  bob.courier.close();
});
