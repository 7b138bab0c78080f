/**
 * ATTACK: a member grows every other member's history without bound, far past the relay's chat limits, for good.
 *
 * The server bounds what a member can put in the room through chat frames: 50 frames/s per socket (one message a
 * frame), and the room log keeps at most 2,000 entries (`LOG_MAX_ENTRIES`). But a member's messages also travel in
 * history-sync `hist` packets (up to 1,000 messages each, `MAX_HIST_MESSAGES`), relayed as `signal` frames that are
 * never logged nor charged to the chat byte budget, and over DataChannels, which the server never sees. A receiver
 * takes in every validly signed message of the sender's own member id, however many, whenever they come
 * (`Courier.#onPacket` case "hist" -> `Inbox.take`): no bound per session, per author or per room. Each one is kept
 * in memory (`MessageBook`, lib/client/courier/book.ts), written to IndexedDB, loaded in full on every page load
 * (`Courier.load` -> `store.listMessages(room)`), offered to every other member by history sync (so deleting it on
 * one device does not help), and on every change the room view re-sorts the whole book (`MessageBook.list`: a new
 * sorted array) and re-maps it into a new `MessageView` per message (lib/client/room/view.ts), so each new message
 * costs O(n) work and allocations on every reader.
 *
 * Numbers: 100 short messages fit one 64 KiB frame; 50 such frames (about 3 MB) are inside one socket's burst (200 frames,
 * 4 MiB). Sustained at the per-connection byte rate (256 KiB/s) that is about 400 messages a second, 1.5 M an hour
 * from one socket (unbounded over a DataChannel), against 180,000 an hour as chat frames and 2,000 kept by the server.
 *
 * Expected safe behaviour: what one member (or session) can make a receiver keep is bounded: e.g. a per-author (or
 * per-session) allowance of new messages taken in, or a cap on the history kept per author and room (oldest
 * dropped), in the spirit of the server's log bound; and the view updated incrementally rather than rebuilt.
 * Here: 5,000 new messages of one member, sent within one second of the relay's burst, may leave at most 2,000 of
 * them on the victim (the server's own bound on a room's log).
 */
import { assert } from "@std/assert";
import { newMessageId } from "../../lib/client/courier/message_id.ts";
import type { WireMessage } from "../../lib/client/courier/mod.ts";
import { MAX_FRAME_BYTES } from "../../lib/protocol/validate.ts";
import { DEFAULT_CONFIG } from "../../lib/server/config.ts";
import { payloadOf, Rig, ROOM } from "./_sim/rig.ts";
import { newMember, signed } from "./_sim/signers.ts";

const COUNT = 5_000;
const BATCH = 100;

Deno.test("ATTACK: one member's hist packets make its victim keep every message it makes up, without bound", async () => {
  const victim = await Rig.create();
  const eve = await newMember(ROOM);
  let counter = 0;
  const randomBytes = (n: number) => {
    const bytes = new Uint8Array(n);
    new DataView(bytes.buffer).setUint32(0, ++counter);
    return bytes;
  };
  const start = victim.time.now - 60_000;
  const messages: WireMessage[] = [];
  for (let i = 0; i < COUNT; i++) {
    messages.push(
      await signed(eve, { id: newMessageId(eve.member, randomBytes), body: `spam ${i}`, time: start + i, n: i + 1 }),
    );
  }
  const courier = await victim.load();
  courier.relayUp({ peer: "vic", peers: [{ id: "eve", presence: "online", member: eve.member }] });
  await victim.settle();

  let frames = 0;
  let largestFrame = 0;
  let views = 0;
  let lastArray: readonly unknown[] | null = null;
  for (let i = 0; i < COUNT; i += BATCH) {
    const payload = payloadOf({ t: "hist", ms: messages.slice(i, i + BATCH) });
    // The real payload is sealed (AES-GCM, base64url: x 4/3, plus IV and tag) inside a signal frame.
    const frameBytes = Math.ceil(payload.length * 4 / 3) + 200;
    largestFrame = Math.max(largestFrame, frameBytes);
    frames++;
    courier.receiveSignal("eve", payload);
    await victim.settle();
    // What the room view does on each change: the whole book, sorted anew (a new array each time).
    const list = courier.messages;
    if (list !== lastArray) views += list.length;
    lastArray = list;
  }
  // One more message after the flood: its cost for the view is the whole book again.
  const before = courier.messages;
  const one = await signed(eve, {
    id: newMessageId(eve.member, randomBytes),
    body: "hi",
    time: start + COUNT,
    n: COUNT + 1,
  });
  courier.receiveSignal("eve", payloadOf({ t: "hist", ms: [one] }));
  await victim.settle();
  const after = courier.messages;
  const perMessage = after !== before ? after.length : 0;
  const held = courier.messages.filter((m) => m.author === eve.member).length;
  const stored = (await victim.store.listMessages(ROOM)).length;
  courier.close();
  console.log(
    `${frames} signal frames (largest ~${largestFrame} B of ${MAX_FRAME_BYTES}; the socket's burst is ` +
      `${DEFAULT_CONFIG.rateConnection.burst} frames) left ${held} of eve's messages in the victim's memory and ` +
      `${stored} in its store (the server keeps ${DEFAULT_CONFIG.logMaxEntries} per room); the view re-sorted ` +
      `${views} entries during the flood, and ${perMessage} for the one message after it`,
  );
  assert(largestFrame <= MAX_FRAME_BYTES, "each batch fits one relay frame");
  assert(
    held <= DEFAULT_CONFIG.logMaxEntries,
    `one member made its victim keep ${held} messages (stored: ${stored}) from ${frames} frames sent in one ` +
      `second, with no bound per author or session; each later message costs the view ${perMessage} entries`,
  );
});
