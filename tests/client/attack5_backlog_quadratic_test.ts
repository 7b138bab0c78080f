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
 * Now the book keeps the greatest order key of the messages that count as shown (`someShownAfter`, O(1)).
 * Measured here as the entries read from every Map and Set while the history is taken in (any walk over the held
 * messages shows there, whatever the code): 3,000 backdated messages may cost at most 30 reads each (90,000 in
 * all); with the walk they cost about 4.5 million.
 */
import { NEW_MESSAGES_PER_SECOND } from "../../lib/client/courier/limits.ts";
import { assert, assertEquals } from "@std/assert";
import { newMessageId } from "../../lib/client/courier/message_id.ts";
import type { WireMessage } from "../../lib/client/courier/mod.ts";
import { payloadOf, Rig, ROOM } from "./_sim/rig.ts";
import { newMember, signed } from "./_sim/signers.ts";

const COUNT = 3_000;
const BATCH = 100;

Deno.test("taking in an old history of n messages costs the joiner O(n log n), not n²/2 reads of its history", async () => {
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

  // Count the entries read from every Map and Set iterator (a walk over held messages reads one per message).
  let steps = 0;
  const patched: [object, PropertyKey, unknown][] = [];
  for (const proto of [Map.prototype, Set.prototype] as unknown as Record<PropertyKey, unknown>[]) {
    for (const name of ["values", "keys", "entries", Symbol.iterator]) {
      const original = proto[name] as (this: unknown) => Iterator<unknown>;
      patched.push([proto, name, original]);
      proto[name] = function (this: unknown) {
        const inner = original.call(this);
        return {
          next() {
            steps++;
            return inner.next();
          },
          [Symbol.iterator]() {
            return this;
          },
        };
      };
    }
  }
  const restore = () => {
    for (const [proto, name, original] of patched) (proto as Record<PropertyKey, unknown>)[name] = original;
  };
  try {
    const courier = await victim.load();
    courier.relayUp({ peer: "vic", peers: [{ id: "eve", presence: "online", member: eve.member }] });
    await victim.settle();
    const began = performance.now();
    steps = 0;
    for (let i = 0; i < COUNT; i += BATCH) {
      courier.receiveSignal("eve", payloadOf({ t: "hist", ms: messages.slice(i, i + BATCH) }));
      await victim.settle();
      // A session's new messages are paced (NEW_MESSAGES_PER_SECOND): the batches come as fast as that allows.
      victim.time.now += Math.ceil(BATCH / NEW_MESSAGES_PER_SECOND * 1_000);
    }
    const ms = Math.round(performance.now() - began);
    const intake = steps;
    const held = courier.messages.length;
    courier.close();
    assertEquals(held, COUNT, `every message is taken in (refused: ${victim.rejections().slice(0, 3)})`);
    console.log(`${COUNT} old messages: ${intake} entries read (${Math.round(intake / COUNT)} per message), ${ms} ms`);
    assert(
      intake <= 30 * COUNT,
      `taking in ${COUNT} old messages read ${intake} entries (${Math.round(intake / COUNT)} per message, ` +
        `n²/2 = ${COUNT * COUNT / 2}): quadratic in the history's size`,
    );
  } finally {
    restore();
  }
});
