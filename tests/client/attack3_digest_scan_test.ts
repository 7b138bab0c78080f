/**
 * A crafted sync digest must not make its victim scan tens of thousands of ranges per message it holds.
 *
 * A member's `sync` carries a digest: writer → flat list of inclusive ranges `[lo, hi, lo, hi, ...]`. `isDigest`
 * accepts up to 65,536 numbers that ascend, not strictly (`[1,1, 1,1, ..., 1,N]` passes). The victim answers with
 * `historyAnswer` (`courier/history_sync.ts`), which asks `digestHas(have, writer, n)` (`order_key.ts`) for every
 * message of its history. When `digestHas` walked the writer's ranges from the start on every call, one such digest
 * naming the busiest writer of a 20,000-message history cost the victim 1.2 to 2.9 s of main thread per `sync` (one a
 * second is allowed per session), against 6 to 12 ms for an honest digest of the same messages: its page froze.
 * `digestHas` is now a binary search, and an answer is cut lazily, so one the byte allowance stops costs no more
 * than what was sent.
 *
 * Counted, not timed: the reads of the digest's range list, and the messages an answer's first batch looked at.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { digestHas, formatOrderKey } from "../../lib/client/order_key.ts";
import { MessageBook } from "../../lib/client/courier/book.ts";
import { historyAnswer } from "../../lib/client/courier/history_sync.ts";
import type { StoredMessage } from "../../lib/client/store.ts";

const AUTHOR = "A".repeat(22);
const WRITER = `${AUTHOR}~tab`;
const T0 = 1_600_000_000_000;

/** Message `n` of the one writer, as stored (signature fields present, so it may travel). */
function message(n: number): StoredMessage {
  return {
    id: `${AUTHOR.slice(0, 12)}${String(n).padStart(11, "0")}`,
    author: AUTHOR,
    order: formatOrderKey({ ms: T0 + n * 1_000, c: 0, author: AUTHOR, tab: "tab", n }),
    body: "hi",
    status: "received",
    time: T0 + n * 1_000,
    pk: "p".repeat(87),
    sig: "s".repeat(86),
  };
}

/** A range list that counts how many of its entries are read. */
function counted(ranges: number[]): { ranges: number[]; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy(ranges, {
    get(target, key, receiver) {
      if (typeof key === "string" && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  return { ranges: proxy, reads: () => reads };
}

Deno.test("a digest of 32,768 ranges costs a few reads per message asked about, not a walk of every range", () => {
  // 32,767 copies of [1,1], then [1, 20000]: 65,536 numbers, within the bounds every client accepts.
  const crafted: number[] = [];
  for (let i = 0; i < 32_767; i++) crafted.push(1, 1);
  crafted.push(1, 20_000);
  const { ranges, reads } = counted(crafted);
  const have = { [WRITER]: ranges };
  for (const n of [1, 2, 10_000, 20_000]) assert(digestHas(have, WRITER, n), `message ${n} is listed`);
  assert(!digestHas(have, WRITER, 20_001), "message 20,001 is not");
  // A binary search over 32,768 ranges reads about 2 entries per step, 16 steps, per question.
  assert(reads() <= 5 * 40, `${reads()} reads of the range list for 5 questions`);
});

Deno.test("digestHas answers as a walk of the ranges would, for gaps, edges and repeated ranges", () => {
  const have = { [WRITER]: [2, 4, 4, 4, 7, 7, 9, 12] };
  const listed = Array.from({ length: 14 }, (_, n) => n).filter((n) => digestHas(have, WRITER, n));
  assertEquals(listed, [2, 3, 4, 7, 9, 10, 11, 12]);
  assertEquals(digestHas(have, "B".repeat(22) + "~tab", 3), false, "another writer");
  assertEquals(digestHas({ [WRITER]: [] }, WRITER, 1), false, "no ranges");
});

Deno.test("an answer the byte allowance cuts short looks only at the messages it sends", () => {
  const book = new MessageBook();
  for (let n = 1; n <= 20_000; n++) book.set(message(n));
  let looked = 0;
  const offerable = book.offerable.bind(book);
  book.offerable = (m) => {
    looked++;
    return offerable(m);
  };
  // The asker has nothing: all 20,000 are owed. The first batch of 4 KiB holds a few dozen.
  const answer = historyAnswer(book, {}, 4_096);
  const first = answer.next();
  assert(!first.done && first.value.packet.t === "hist");
  const sent = (first.value.packet as { ms: unknown[] }).ms.length;
  assert(sent > 0 && sent < 100, `${sent} messages in the first batch`);
  assertEquals(looked, sent + 1, "the messages of the first batch, and the one that did not fit");
  // The size it is charged is the packet's as JSON, within a byte per message.
  const json = new TextEncoder().encode(JSON.stringify(first.value.packet)).length;
  assert(Math.abs(first.value.bytes - json) <= sent, `counted ${first.value.bytes} B, JSON ${json} B`);
});
