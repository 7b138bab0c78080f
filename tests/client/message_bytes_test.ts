/**
 * The compact form of an own message on the wire: it round-trips through the
 * real codec (AES-GCM) with every optional field, falls back to JSON where
 * bytes cannot carry a body exactly, refuses bytes that are not one, and a
 * relayed chat frame carries the message id once.
 * @module
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { chatData, chatPayload, type Packet, type WireMessage } from "../../lib/client/courier/mod.ts";
import { decodeMessagePacket, encodeMessagePacket } from "../../lib/client/courier/message_bytes.ts";
import { RoomCipher } from "../../lib/client/crypto.ts";
import { cipherCodec } from "../../lib/client/room/codec.ts";
import { encodeBase64Url } from "../../lib/protocol/mod.ts";
import { ROOM } from "./_sim/rig.ts";
import { newMember, signed } from "./_sim/signers.ts";

const ID = "AAECAwQFBgcICQoLDA0ODw"; // 16 bytes: a message id as the courier makes them
const SENDER = "Xk3_a9QpL0sd";

async function codec() {
  return cipherCodec(await RoomCipher.create(crypto.getRandomValues(new Uint8Array(32)), ROOM));
}

function withoutKey(m: WireMessage): WireMessage {
  const { pk: _pk, ...rest } = m;
  return rest;
}

Deno.test("an own message round-trips through the codec in its compact form, every optional field included", async () => {
  const alice = await newMember(ROOM);
  const c = await codec();
  const drafts = [
    { id: ID, time: 1_764_000_000_000, body: "On my way, be there in 10 minutes!" },
    { id: ID, time: 1_764_000_000_000, ms: 1_764_000_000_250, c: 3, n: 70_000, tab: "Tab_-9xY", body: "" },
    { id: ID, time: 1_764_000_000_500, ms: 1_764_000_000_000, body: "clock behind its time", to: "Qa8d0mZ-1xYc" },
    { id: ID, time: 5, ms: 5, tab: "weird~no", body: 'Ünïcödé, 中文, 🙂, "quotes" \\ \n\t\u0000' },
  ];
  for (const draft of drafts) {
    const full = await signed(alice, draft);
    for (const m of [withoutKey(full), full]) {
      const payload = await c.encode({ t: "msg", m }, SENDER);
      assertEquals(await c.decode(payload, SENDER), { t: "msg", m }, JSON.stringify(draft));
    }
  }
});

Deno.test("the compact form of a 34-character message is 133 bytes, where its JSON with the key was over 330", async () => {
  const alice = await newMember(ROOM);
  const body = "On my way, be there in 10 minutes!";
  const full = await signed(alice, { id: ID, time: 1_764_000_000_000, tab: "Tab_-9xY", body });
  const packet: Packet = { t: "msg", m: withoutKey(full) };
  const bytes = encodeMessagePacket(packet);
  assertEquals(bytes[0], 1, "the compact form");
  // version, flags, signature, ms (6), counter, n, time, author (1 + 16), tab (1 + 6), body
  assertEquals(bytes.length, 1 + 1 + 64 + 6 + 1 + 1 + 1 + 17 + 7 + body.length);
  assert(JSON.stringify({ t: "msg", m: full }).length > 330, "the JSON it replaces");
  const payload = await (await codec()).encode(packet, SENDER);
  assertEquals(payload.length, 1 + 22 + Math.ceil((12 + bytes.length + 16) * 4 / 3));
});

Deno.test("a body with a lone surrogate goes as JSON, so it arrives exactly as written", async () => {
  const alice = await newMember(ROOM);
  const m = withoutKey(await signed(alice, { id: ID, time: 1, body: "half a pair: \ud83d, and \ude42 alone" }));
  const bytes = encodeMessagePacket({ t: "msg", m });
  assertEquals(bytes[0], "{".charCodeAt(0));
  const c = await codec();
  assertEquals(await c.decode(await c.encode({ t: "msg", m }, SENDER), SENDER), { t: "msg", m });
});

Deno.test("bytes that are not a message are refused: truncated, unknown form or flags, bad UTF-8", async () => {
  const alice = await newMember(ROOM);
  const m = withoutKey(await signed(alice, { id: ID, time: 1_764_000_000_000, to: "Qa8d0mZ-1xYc", body: "hi" }));
  const bytes = encodeMessagePacket({ t: "msg", m });
  for (const cut of [1, 2, 30, 66, 70, 75, 90]) {
    assertThrows(() => decodeMessagePacket(bytes.slice(0, cut), ID), Error, undefined, `cut at ${cut}`);
  }
  assertThrows(() => decodeMessagePacket(Uint8Array.of(2, ...bytes.slice(1)), ID), Error, "unknown message form");
  assertThrows(() => decodeMessagePacket(Uint8Array.of(1, 8, ...bytes.slice(2)), ID), Error, "unknown message flags");
  assertThrows(() => decodeMessagePacket(Uint8Array.of(...bytes, 0xff), ID), TypeError);
  const c = await codec();
  const payload = await c.encode({ t: "msg", m }, SENDER);
  await assertRejects(() => Promise.resolve(c.decode(payload, "someone-else")), Error, "rejected");
});

Deno.test("a relayed chat frame carries the message id once, and its payload comes back whole", async () => {
  const alice = await newMember(ROOM);
  const m = withoutKey(await signed(alice, { id: ID, time: 1, body: "once" }));
  const c = await codec();
  const payload = await c.encode({ t: "msg", m }, SENDER);
  const data = chatData(ID, payload);
  assertEquals(data.length, payload.length - 22);
  assert(!data.includes(ID));
  assertEquals(chatPayload(ID, data), payload);
  assertEquals(await c.decode(chatPayload(ID, data), SENDER), { t: "msg", m });
  const other = "x" + encodeBase64Url(new Uint8Array(40));
  assertEquals(chatData(ID, other), other, "other payloads go as they are");
  assertEquals(chatPayload(ID, other), other);
  assertEquals(chatData("part-id", payload), payload, "under another frame id the payload stays whole");
});
