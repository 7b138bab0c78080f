/**
 * Split payloads: any payload is cut into parts that each fit a frame
 * (escapes, any script, no surrogate pair cut), and reassembled exactly once
 * whatever the order or duplication of its parts, within bounds a stranger's
 * garbage cannot push memory past.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { MAX_PARTS, MAX_TRANSPORT_BYTES } from "../../lib/client/courier/limits.ts";
import {
  isPart,
  needsParts,
  parsePart,
  type Part,
  partFrameId,
  Reassembler,
  splitPayload,
  transportBytes,
} from "../../lib/client/courier/parts.ts";
import { utf8Length } from "../../lib/protocol/validate.ts";
import { Prng } from "../support/prng.ts";
import { mixedBody, worstBody } from "./_sim/texts.ts";

const XFER = "AAAAAAAAAAA";

function reassembler(now = () => 0, dropped: string[][] = []) {
  return new Reassembler<string>({ now, onDrop: (tags) => dropped.push(tags), onDone: () => {} });
}

Deno.test("the transport size of text is its UTF-8 as a JSON string's contents", () => {
  for (const text of ["plain_base64-URL", "Жук", "語", "😀", '\u0001\n"\\', "\ud800", "mixed Ж 😀 \t"]) {
    assertEquals(transportBytes(text), utf8Length(JSON.stringify(text)) - 2, JSON.stringify(text));
  }
});

Deno.test("a payload is split into parts that each fit one transport message, and joined back exactly", () => {
  for (const payload of [mixedBody(65_536, 3), worstBody(65_536), "q".repeat(300_000), "😀".repeat(40_000)]) {
    assert(needsParts(payload));
    const parts = splitPayload(payload, XFER)!;
    assert(parts.length > 1 && parts.length <= MAX_PARTS, `${parts.length} parts`);
    for (const part of parts) {
      assert(isPart(part));
      assert(transportBytes(part) <= MAX_TRANSPORT_BYTES, "a part fits its bound");
      const last = part.charCodeAt(part.length - 1);
      assert(!(last >= 0xd800 && last <= 0xdbff), "no part ends inside a surrogate pair");
    }
    const parsed = parts.map((p) => parsePart(p)!);
    assertEquals(parsed.map((p) => p.index), [...parsed.keys()]);
    assertEquals(parsed.map((p) => p.chunk).join(""), payload);
    assertEquals(new Set(parts.map(partFrameId)).size, parts.length, "every part has its own chat frame id");
  }
});

Deno.test("a small payload stays whole, unless it looks like a part", () => {
  assert(!needsParts("eyJ0IjoibXNnIn0"));
  assert(needsParts("_looks_like_a_part"));
  assertEquals(splitPayload("_x", XFER)!.length, 1);
  assertEquals(splitPayload("x".repeat(MAX_PARTS * MAX_TRANSPORT_BYTES), XFER), null, "beyond every bound");
});

Deno.test("malformed parts are refused", () => {
  for (
    const bad of [
      "",
      "x",
      "_short",
      "_" + XFER + "0201x",
      "_" + XFER + "zz01x",
      "_" + XFER + "000hx",
      "_" + XFER + "00h0x",
    ]
  ) {
    assertEquals(parsePart(bad), null, bad);
  }
  assertEquals(parsePart("_" + XFER + "0001x"), { xfer: XFER, index: 0, count: 1, chunk: "x" });
});

Deno.test("parts reassemble exactly once, whatever their order and duplicates", () => {
  const payload = mixedBody(65_536, 9);
  const parts = splitPayload(payload, XFER)!.map((p) => parsePart(p)!);
  const rng = new Prng(7);
  const shuffled = [...parts, ...parts.slice(0, 3)].map((p) => [rng.next(), p] as const).sort((a, b) => a[0] - b[0])
    .map(([, p]) => p);
  const parts2 = reassembler();
  const done: string[] = [];
  for (const [i, part] of shuffled.entries()) {
    const added = parts2.add("bob", part, `t${i}`);
    if (added.status === "complete") done.push(added.payload);
  }
  assertEquals(done, [payload]);
  assertEquals(parts2.size, 0);
  for (const part of parts) {
    assertEquals(parts2.add("bob", part).status, "duplicate", "a late copy never assembles again");
  }
});

Deno.test("tags of duplicate parts are released with their payload once it is dealt with", () => {
  const done: string[][] = [];
  const parts = new Reassembler<string>({ now: () => 0, onDrop: () => {}, onDone: (tags) => done.push(tags) });
  const pieces = splitPayload("z".repeat(100_000), XFER)!.map((p) => parsePart(p)!);
  const first = parts.add("bob", pieces[0], "seq1");
  assertEquals(first.status, "partial");
  assertEquals(parts.add("bob", pieces[0], "seq1again").status, "duplicate");
  const last = parts.add("bob", pieces[1], "seq2");
  assert(last.status === "complete");
  assertEquals(last.tags, ["seq1", "seq1again", "seq2"]);
  assertEquals(parts.add("bob", pieces[1], "late").status, "duplicate");
  assertEquals(done, []);
  parts.finish(last.key);
  assertEquals(done, [["late"]]);
  parts.add("bob", pieces[0], "later");
  assertEquals(done, [["late"], ["later"]]);
});

Deno.test("a stranger's flood of parts never holds more than the bounds", () => {
  const dropped: string[][] = [];
  const parts = reassembler(() => 0, dropped);
  const rng = new Prng(1);
  const chunk = "A".repeat(MAX_TRANSPORT_BYTES - 16);
  for (let i = 0; i < 500; i++) {
    const xfer = btoa(String.fromCharCode(...rng.bytes(8))).replaceAll("+", "-").replaceAll("/", "_").slice(0, 11);
    parts.add("eve", { xfer, index: 0, count: 16, chunk } as Part, `e${i}`);
    assert(parts.chars <= 2 * 1024 * 1024, `${parts.chars} chars held for one sender`);
    assert(parts.size <= 32);
  }
  assert(dropped.length >= 450, "older garbage was evicted, its tags released");
  const honest = splitPayload("h".repeat(100_000), "BBBBBBBBBBB")!.map((p) => parsePart(p)!);
  parts.add("bob", honest[0]);
  const added = parts.add("bob", honest[1]);
  assertEquals(added.status, "complete", "another sender's payload still goes through");
});

Deno.test("unfinished payloads expire after their age bound, releasing their tags", () => {
  let now = 0;
  const dropped: string[][] = [];
  const parts = reassembler(() => now, dropped);
  const pieces = splitPayload("y".repeat(100_000), XFER)!.map((p) => parsePart(p)!);
  parts.add("bob", pieces[0], "seq7");
  now = 119_000;
  parts.sweep();
  assertEquals(parts.size, 1);
  now = 120_000;
  parts.sweep();
  assertEquals([parts.size, dropped], [0, [["seq7"]]]);
});

Deno.test("a part that contradicts its transfer is refused", () => {
  const parts = reassembler();
  parts.add("bob", { xfer: XFER, index: 0, count: 3, chunk: "a" });
  assertEquals(parts.add("bob", { xfer: XFER, index: 1, count: 4, chunk: "b" }).status, "refused");
  assertEquals(parts.add("cat", { xfer: XFER, index: 1, count: 4, chunk: "b" }).status, "partial", "per sender");
});

Deno.test("sessions each within their own bound cannot push out another sender's half-received payload", () => {
  const dropped: string[][] = [];
  const parts = reassembler(() => 0, dropped);
  const ann = (index: number) =>
    parts.add("ann", { xfer: "AnnXfer0001", index, count: 3, chunk: "a".repeat(60_000) } as Part, `ann${index}`);
  assertEquals([ann(0).status, ann(1).status], ["partial", "partial"]);
  // Four sessions of one hostile member, 32 unfinished payloads each (their own bound), 128 together (the global one).
  let n = 0;
  for (const eve of ["eve1", "eve2", "eve3", "eve4"]) {
    for (let k = 0; k < 32; k++) {
      parts.add(eve, { xfer: `E${String(n++).padStart(10, "0")}`, index: 0, count: 2, chunk: "x" } as Part, eve);
    }
  }
  assert(parts.size <= 128);
  assertEquals(ann(2).status, "complete", "ann's payload was kept");
  assert(dropped.every((tags) => tags.every((tag) => !tag.startsWith("ann"))), "none of ann's parts was dropped");
});
