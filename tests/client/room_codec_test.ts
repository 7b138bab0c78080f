/**
 * The room's payload codec: own-message payloads carry their message id in
 * front (legacy 22-character ids and the author-bound ids alike) and are bound
 * to it, so a payload moved under another id or sender does not open.
 * @module
 */
import { assertEquals, assertMatch, assertRejects } from "@std/assert";
import { createMemorySigner, type Packet } from "../../lib/client/courier/mod.ts";
import { newMessageId } from "../../lib/client/courier/message_id.ts";
import { RoomCipher } from "../../lib/client/crypto.ts";
import { cipherCodec, messageIdOfPayload } from "../../lib/client/room/codec.ts";

const ROOM = "codecroomcodecroomcodec";

async function codec() {
  return cipherCodec(await RoomCipher.create(crypto.getRandomValues(new Uint8Array(32)), ROOM));
}

function msg(id: string): Packet {
  return {
    t: "msg",
    m: { id, author: "a".repeat(22), order: "o", time: 1, body: "hi", pk: "p", sig: "s" },
  };
}

Deno.test("own-message payloads name their id in front, legacy and author-bound ids alike", async () => {
  const c = await codec();
  const author = (await createMemorySigner(ROOM)).member;
  const bound = newMessageId(author, (n) => crypto.getRandomValues(new Uint8Array(n)));
  assertEquals(bound.length, 23);
  for (const id of ["L".repeat(22), bound, "x", "y".repeat(64)]) {
    const payload = await c.encode(msg(id), "ann") as string;
    assertMatch(payload, /^[A-Za-z0-9_-]+$/, "base64url, as the server wants a chat frame's data");
    assertEquals(messageIdOfPayload(payload), id, `id of ${id.length} chars in front`);
    assertEquals(await c.decode(payload, "ann"), msg(id));
    await assertRejects(() => Promise.resolve(c.decode(payload, "bob")), Error, "rejected");
  }
  const other = await c.encode({ t: "ack", ids: [bound] }, "ann") as string;
  assertEquals(messageIdOfPayload(other), undefined);
  assertEquals(await c.decode(other, "ann"), { t: "ack", ids: [bound] });
});

Deno.test("a payload moved under another id does not open", async () => {
  const c = await codec();
  const payload = await c.encode(msg("B".repeat(23)), "ann") as string;
  const moved = payload.slice(0, 2) + "C" + payload.slice(3);
  await assertRejects(() => Promise.resolve(c.decode(moved, "ann")), Error, "rejected");
});
