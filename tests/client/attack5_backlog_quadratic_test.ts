/**
 * ATTACK: a joiner's page does quadratic work taking in an old history.
 *
 * The protocol README ("Cannot keep another member's client busy", "Cannot break another member's page") bounds
 * what one packet may cost. But `Inbox.#arrive` (lib/client/courier/inbox.ts) runs, for every message of another
 * member whose `time` is more than `LATE_ARRIVAL_MS` (5 min) old:
 *
 *     book.someAfter(wire.order, (id) => this.#recent.has(id))
 *
 * and `MessageBook.someAfter` (lib/client/courier/book.ts) walks every held message until it finds one that sorts
 * after `order` and was not taken in during the last minute. On a joiner (or any device catching up), every message
 * of the backlog is old and was taken in just now, so no held message ever ends the walk early: message k walks all
 * k-1 before it, and a history of n messages costs n²/2 steps on the main thread. History of n messages is what a
 * joiner takes in from history sync (batches of up to 1,000, no bound on the total) and from the room log; a member
 * writing small messages within the rate limits (50 frames/s per socket) writes 180,000 an hour, and then every new
 * device of the room does 1.6e10 steps (minutes of a frozen tab) once per join. Valid signatures cost the hostile
 * member nothing (the verify allowance is given back), so nothing else bounds it.
 *
 * Expected safe behaviour: taking in n messages costs O(n log n) steps (e.g. `someAfter` answered from a sorted
 * index or from the greatest order key among messages held for a minute, or skipped for messages taken in a batch).
 * Here: 3,000 backdated messages may cost at most 30 steps each (90,000 in all); they cost about 4.5 million.
 */
import { assert, assertEquals } from "@std/assert";
import { MessageBook } from "../../lib/client/courier/book.ts";
import { newMessageId } from "../../lib/client/courier/message_id.ts";
import type { WireMessage } from "../../lib/client/courier/mod.ts";
import { payloadOf, Rig, ROOM } from "./_sim/rig.ts";
import { newMember, signed } from "./_sim/signers.ts";

const COUNT = 3_000;
const BATCH = 100;

Deno.test("taking in an old history of n messages costs the joiner O(n log n), not n²/2 someAfter steps", async () => {
  const victim = await Rig.create();
  const eve = await newMember(ROOM);
  let counter = 0;
  const randomBytes = (n: number) => {
    const bytes = new Uint8Array(n);
    new DataView(bytes.buffer).setUint32(0, ++counter);
    return bytes;
  };
  // Eve's history, written an hour before the victim joins (or backdated: order keys may lie in the past).
  const start = victim.time.now - 3_600_000;
  const messages: WireMessage[] = [];
  for (let i = 0; i < COUNT; i++) {
    messages.push(
      await signed(eve, { id: newMessageId(eve.member, randomBytes), body: `m${i}`, time: start + i, n: i + 1 }),
    );
  }

  // Count the steps of every someAfter walk (the held messages it visits before it answers; a lower bound).
  let calls = 0;
  let steps = 0;
  const original = MessageBook.prototype.someAfter;
  MessageBook.prototype.someAfter = function (this: MessageBook, order: string, skip: (id: string) => boolean) {
    calls++;
    const found = original.call(this, order, skip);
    // A walk that finds nothing visits every held message; one that finds something, at least one (a lower bound).
    steps += found ? 1 : this.size;
    return found;
  };
  try {
    const courier = await victim.load();
    courier.relayUp({ peer: "vic", peers: [{ id: "eve", presence: "online", member: eve.member }] });
    await victim.settle();
    const began = performance.now();
    for (let i = 0; i < COUNT; i += BATCH) {
      courier.receiveSignal("eve", payloadOf({ t: "hist", ms: messages.slice(i, i + BATCH) }));
      await victim.settle();
    }
    const ms = Math.round(performance.now() - began);
    const held = courier.messages.length;
    courier.close();
    assertEquals(held, COUNT, `every message is taken in (refused: ${victim.rejections().slice(0, 3)})`);
    console.log(
      `${COUNT} old messages: ${calls} someAfter walks, ${steps} steps (${Math.round(steps / COUNT)} per message), ` +
        `${ms} ms in all`,
    );
    assert(
      steps <= 30 * COUNT,
      `taking in ${COUNT} old messages walked ${steps} held messages (${Math.round(steps / COUNT)} per message, ` +
        `n²/2 = ${COUNT * COUNT / 2}): quadratic in the history's size`,
    );
  } finally {
    MessageBook.prototype.someAfter = original;
  }
});
