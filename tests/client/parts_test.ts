/**
 * Parts: splitting within a size, reassembly exactly once whatever the order,
 * duplicates and losses, the bounds, and hostile headers. The randomized test
 * prints its seed; replay one with PARTS_SEED=<seed> (PARTS_RUNS sets how many
 * run, default 300).
 * @module
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  isPart,
  newPartKey,
  parseHeader,
  PART_PREFIX,
  type PartResult,
  Reassembler,
  split,
  SplitError,
  type SplitFailure,
} from "../../lib/client/parts.ts";
import { Prng } from "../support/prng.ts";

/** A clock the test moves by hand: the reassembler only reads it. */
class HandClock {
  #t = 0;
  /** The current time, ms. */
  now = (): number => this.#t;
  /** Moves time forward. */
  advance(ms: number): void {
    this.#t += ms;
  }
}

function splitFailure(fn: () => unknown): SplitFailure {
  const error = assertThrows(fn, SplitError);
  return (error as SplitError).reason;
}

Deno.test("split gives parts within the size, with a compact header, that join back", () => {
  const payload = "x".repeat(1_000);
  const parts = split(payload, 100, "k1");
  assert(parts.every((part) => part.length <= 100));
  assert(parts.every(isPart));
  assertEquals(parts[0].slice(0, 9), "~k1.0.12.");
  assertEquals(parts.length, 12);
  assertEquals(parts.map((part) => part.slice(parseHeader(part)!.chunkAt)).join(""), payload);
  assertEquals(parseHeader(parts[11]), { key: "k1", index: 11, count: 12, chunkAt: 10 });
});

Deno.test("split widens the header when the count needs another digit", () => {
  // 9 parts fit one digit; a payload needing 10 parts of the one-digit capacity must be re-cut with two digits.
  const capacity1 = 20 - (1 + 1 + 3 + 2); // maxChars - header with 1-digit numbers and key "k"
  const parts = split("a".repeat(capacity1 * 9 + 1), 20, "k");
  assert(parts.length >= 10);
  assert(parts.every((part) => part.length <= 20), parts.find((part) => part.length > 20));
  assertEquals(parts.map((p) => p.slice(parseHeader(p)!.chunkAt)).join(""), "a".repeat(capacity1 * 9 + 1));
});

Deno.test("split never cuts a surrogate pair, so every part is well-formed UTF-16", () => {
  const payload = "😀".repeat(50) + "ж" + "😀".repeat(50);
  for (const max of [14, 15, 16, 17, 31]) {
    const parts = split(payload, max, "k", 1_000);
    assert(parts.every((part) => part.isWellFormed()), `max ${max}`);
    assert(parts.every((part) => part.length <= max), `max ${max}`);
    const reassembler = new Reassembler({ maxParts: 1_000 });
    const results = parts.map((part) => reassembler.push(part));
    assertEquals(results.at(-1), { kind: "complete", key: "k", payload });
  }
});

Deno.test("split: an empty payload is one part; bad keys, tiny sizes and too many parts are typed failures", () => {
  assertEquals(split("", 10, "k"), ["~k.0.1."]);
  assertEquals(new Reassembler().push("~k.0.1."), { kind: "complete", key: "k", payload: "" });
  assertEquals(splitFailure(() => split("abc", 100, "")), "bad-key");
  assertEquals(splitFailure(() => split("abc", 100, "has.dot")), "bad-key");
  assertEquals(splitFailure(() => split("abc", 100, "k".repeat(33))), "bad-key");
  assertEquals(splitFailure(() => split("abc", 8, "k")), "max-too-small");
  assertEquals(splitFailure(() => split("abc", NaN, "k")), "max-too-small");
  assertEquals(splitFailure(() => split("x".repeat(1_000), 20, "k", 5)), "too-many-parts");
});

Deno.test("payload keys are 10 base64url characters from the injected random source", () => {
  const rng = new Prng(7);
  const keys = new Set(Array.from({ length: 1_000 }, () => newPartKey(() => rng.next())));
  assertEquals(keys.size, 1_000);
  for (const key of keys) assert(/^[A-Za-z0-9_-]{10}$/.test(key), key);
  assertEquals(newPartKey(() => 0), "AAAAAAAAAA");
  assertEquals(newPartKey(() => 0.9999999), "__________");
});

Deno.test("reassembly takes parts in any order and returns the payload once", () => {
  const payload = "Привет, мир! ".repeat(40);
  const parts = split(payload, 64, "abc");
  const reassembler = new Reassembler();
  const order = [...parts.keys()].reverse();
  const results = order.map((i) => reassembler.push(parts[i]));
  assertEquals(results.slice(0, -1).map((r) => r.kind), Array(parts.length - 1).fill("partial"));
  assertEquals(results.at(-1), { kind: "complete", key: "abc", payload });
  for (const part of parts) assertEquals(reassembler.push(part), { kind: "duplicate", key: "abc" });
  assertEquals(reassembler.open, 0);
  assertEquals(reassembler.buffered, 0);
  assertEquals(reassembler.stats, { completed: 1, duplicates: parts.length, rejected: 0, expired: 0, evicted: 0 });
});

Deno.test("a duplicate part is dropped, a conflicting one refused; the first copy wins", () => {
  const parts = split("abcdefghijklmnopqrstuvwxyz", 12, "k");
  const reassembler = new Reassembler();
  assertEquals(reassembler.push(parts[0]).kind, "partial");
  assertEquals(reassembler.push(parts[0]), { kind: "duplicate", key: "k" });
  const forged = parts[0].slice(0, -1) + "!";
  assertEquals(reassembler.push(forged), { kind: "rejected", reason: "conflict", key: "k" });
  const last = parts.slice(1).map((part) => reassembler.push(part)).at(-1);
  assertEquals(last, { kind: "complete", key: "k", payload: "abcdefghijklmnopqrstuvwxyz" });
});

Deno.test("hostile headers are refused with typed reasons and hold nothing", () => {
  const reassembler = new Reassembler({ maxParts: 10 });
  const cases: [string, PartResult][] = [
    ["not a part", { kind: "rejected", reason: "bad-header" }],
    ["~", { kind: "rejected", reason: "bad-header" }],
    ["~k.0.2", { kind: "rejected", reason: "bad-header" }],
    ["~k.00.2.x", { kind: "rejected", reason: "bad-header" }],
    ["~k.-1.2.x", { kind: "rejected", reason: "bad-header" }],
    ["~k.1e3.2.x", { kind: "rejected", reason: "bad-header" }],
    ["~bad key.0.2.x", { kind: "rejected", reason: "bad-header" }],
    [`~${"k".repeat(33)}.0.2.x`, { kind: "rejected", reason: "bad-header" }],
    ["~k.0.0.x", { kind: "rejected", reason: "bad-index", key: "k" }],
    ["~k.2.2.x", { kind: "rejected", reason: "bad-index", key: "k" }],
    ["~k.99999999999999999999.2.x", { kind: "rejected", reason: "bad-index", key: "k" }],
    ["~k.0.11.x", { kind: "rejected", reason: "too-many-parts", key: "k" }],
    ["~k.0.99999999999999999999999.x", { kind: "rejected", reason: "too-many-parts", key: "k" }],
    [`~k.0.${"9".repeat(10_000)}.x`, { kind: "rejected", reason: "too-many-parts", key: "k" }],
  ];
  for (const [part, expected] of cases) assertEquals(reassembler.push(part), expected, part.slice(0, 40));
  assertEquals(reassembler.open, 0);
  assertEquals(reassembler.stats.rejected, cases.length);
  assertEquals(PART_PREFIX, "~");
});

Deno.test("a part whose count disagrees with its payload's earlier parts is refused", () => {
  const reassembler = new Reassembler();
  assertEquals(reassembler.push("~k.0.3.aa").kind, "partial");
  assertEquals(reassembler.push("~k.1.4.bb"), { kind: "rejected", reason: "count-mismatch", key: "k" });
  assertEquals(reassembler.push("~k.1.3.bb").kind, "partial");
  assertEquals(reassembler.push("~k.2.3.cc"), { kind: "complete", key: "k", payload: "aabbcc" });
});

Deno.test("an incomplete payload expires after the age bound; the clock is injected", () => {
  const clock = new HandClock();
  const reassembler = new Reassembler({ maxAgeMs: 1_000, now: clock.now });
  reassembler.push("~old.0.2.aa");
  clock.advance(600);
  reassembler.push("~new.0.2.cc");
  clock.advance(500); // old is 1,100 ms old, new 500
  assertEquals(reassembler.sweep(), 1);
  assertEquals(reassembler.open, 1);
  assertEquals(reassembler.push("~old.1.2.bb").kind, "partial", "a late part starts over, it cannot complete");
  assertEquals(reassembler.push("~new.1.2.dd"), { kind: "complete", key: "new", payload: "ccdd" });
  assertEquals(reassembler.stats.expired, 1);
});

Deno.test("returned keys are remembered within the age bound, so late duplicates are dropped, then forgotten", () => {
  const clock = new HandClock();
  const reassembler = new Reassembler({ maxAgeMs: 1_000, now: clock.now });
  assertEquals(reassembler.push("~k.0.1.x").kind, "complete");
  clock.advance(999);
  assertEquals(reassembler.push("~k.0.1.x").kind, "duplicate");
  clock.advance(2);
  assertEquals(reassembler.push("~k.0.1.x").kind, "complete", "past the age bound the key is forgotten");
});

Deno.test("at most maxOpen payloads are held: a new one evicts the oldest", () => {
  const reassembler = new Reassembler({ maxOpen: 2 });
  reassembler.push("~a.0.2.a");
  reassembler.push("~b.0.2.b");
  reassembler.push("~c.0.2.c");
  assertEquals(reassembler.open, 2);
  assertEquals(reassembler.stats.evicted, 1);
  assertEquals(reassembler.push("~c.1.2.C"), { kind: "complete", key: "c", payload: "cC" });
  assertEquals(reassembler.push("~b.1.2.B"), { kind: "complete", key: "b", payload: "bB" });
  assertEquals(reassembler.push("~a.1.2.A").kind, "partial", "a was evicted");
});

Deno.test("buffered characters stay under the bound: older payloads make room, a payload too big alone is dropped", () => {
  const reassembler = new Reassembler({ maxBufferedChars: 10, maxOpen: 100 });
  reassembler.push("~a.0.3.aaaa");
  reassembler.push("~b.0.3.bbbb");
  assertEquals(reassembler.buffered, 8);
  reassembler.push("~c.0.3.cccc");
  assertEquals(reassembler.buffered, 8, "a was evicted to make room for c");
  assertEquals(reassembler.stats.evicted, 1);
  assertEquals(reassembler.push("~c.1.3.cccc").kind, "partial");
  assertEquals(reassembler.buffered, 8, "b was evicted for c's second part");
  assertEquals(reassembler.push("~c.2.3.cccc"), { kind: "rejected", reason: "too-large", key: "c" });
  assertEquals(reassembler.buffered, 0, "c alone would pass the bound: dropped");
  assertEquals(reassembler.push("~d.0.2.12345678901"), { kind: "rejected", reason: "too-large", key: "d" });
  assertEquals(reassembler.open, 0);
});

// ---- the seeded randomized test ------------------------------------------------------------------------------

function envNumber(name: string): number | undefined {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${raw}`);
  return value;
}

const ALPHABETS = ["abcdefghij", "абвгдеёжзи", "😀🎉👍🏽", "~.0123456789", '\u0000\n"\\'];

function randomPayload(rng: Prng): string {
  const length = rng.chance(0.1) ? 0 : rng.int(1, 400);
  const alphabet = [...ALPHABETS[rng.int(0, ALPHABETS.length - 1)]];
  let out = "";
  while (out.length < length) out += alphabet[rng.int(0, alphabet.length - 1)];
  return out;
}

interface Outcome {
  payloads: number;
  complete: number;
  parts: number;
}

/**
 * One schedule: several payloads split at a random size, their parts shuffled, duplicated, some dropped, some
 * forged, delivered to one reassembler while a fake clock moves. Checks: every part fits; nothing is returned
 * twice or with other content; every payload whose parts all arrived, within the bounds, is returned.
 */
function schedule(seed: number): Outcome {
  const rng = new Prng(seed);
  const clock = new HandClock();
  const maxAgeMs = 10_000;
  const reassembler = new Reassembler({
    maxParts: 200,
    maxOpen: 64,
    maxBufferedChars: 1_000_000,
    maxAgeMs,
    now: clock.now,
  });
  const count = rng.int(1, 12);
  const maxChars = rng.int(28, 160);
  const sent = new Map<string, { payload: string; parts: string[]; dropped: boolean }>();
  const deliveries: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = newPartKey(() => rng.next());
    const payload = randomPayload(rng);
    const parts = split(payload, maxChars, key, 200);
    for (const part of parts) {
      assert(part.length <= maxChars, `seed ${seed}: a part over ${maxChars}`);
      assert(part.isWellFormed(), `seed ${seed}: a part with a lone surrogate`);
    }
    let dropped = false;
    for (const part of parts) {
      if (rng.chance(0.05)) {
        dropped = true;
        continue;
      }
      deliveries.push(part);
      if (rng.chance(0.2)) deliveries.push(part);
    }
    sent.set(key, { payload, parts, dropped });
  }
  // Forgeries: bad headers and conflicting copies never change a result.
  for (let i = 0; i < rng.int(0, 5); i++) {
    deliveries.push(rng.chance(0.5) ? `~${newPartKey(() => rng.next())}.0.${rng.int(201, 1e6)}.x` : "garbage~.1.2");
  }
  for (let i = deliveries.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [deliveries[i], deliveries[j]] = [deliveries[j], deliveries[i]];
  }
  const returned = new Map<string, string>();
  for (const part of deliveries) {
    clock.advance(rng.int(0, 50)); // the whole schedule stays well inside the age bound
    const result = reassembler.push(part);
    if (result.kind !== "complete") continue;
    assert(!returned.has(result.key), `seed ${seed}: key ${result.key} returned twice`);
    const origin = sent.get(result.key);
    assert(origin, `seed ${seed}: a forged key was returned`);
    assertEquals(result.payload, origin.payload, `seed ${seed}: key ${result.key} returned other content`);
    returned.set(result.key, result.payload);
  }
  for (const [key, { dropped }] of sent) {
    assertEquals(returned.has(key), !dropped, `seed ${seed}: key ${key} (dropped parts: ${dropped})`);
  }
  assertEquals(reassembler.stats.evicted, 0, `seed ${seed}: nothing evicted within the bounds`);
  // Incomplete payloads go once the age bound passes.
  clock.advance(maxAgeMs + 1);
  reassembler.sweep();
  assertEquals(reassembler.open, 0, `seed ${seed}: incomplete payloads expire`);
  assertEquals(reassembler.buffered, 0, `seed ${seed}: their characters are released`);
  return { payloads: count, complete: returned.size, parts: deliveries.length };
}

Deno.test("over random schedules, every payload whose parts all arrive is returned once, intact, and no other", () => {
  const replay = envNumber("PARTS_SEED");
  const runs = replay === undefined ? envNumber("PARTS_RUNS") ?? 300 : 1;
  const base = replay ?? (Date.now() % 1_000_000_000);
  console.log(`parts: base seed ${base}, ${runs} schedules (replay one with PARTS_SEED=<seed>)`);
  const total: Outcome = { payloads: 0, complete: 0, parts: 0 };
  for (let i = 0; i < runs; i++) {
    const outcome = schedule(base + i);
    total.payloads += outcome.payloads;
    total.complete += outcome.complete;
    total.parts += outcome.parts;
  }
  console.log(`parts: ${total.payloads} payloads, ${total.parts} deliveries, ${total.complete} returned`);
  assert(total.complete < total.payloads, "some payloads lost parts, and were not returned");
});
