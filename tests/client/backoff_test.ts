import { assert, assertEquals, assertLessOrEqual, assertThrows } from "@std/assert";
import { Backoff, backoffCeiling } from "../../lib/client/backoff.ts";
import { Prng } from "../support/prng.ts";

/** A seeded random source, so a failing run can be replayed with BACKOFF_SEED. */
function seeded(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

const SEED = Number(Deno.env.get("BACKOFF_SEED") ?? Math.floor(Math.random() * 2 ** 31));

Deno.test("every delay stays within zero and the attempt's ceiling over many seeded draws", () => {
  console.log(`BACKOFF_SEED=${SEED}`);
  const random = seeded(SEED);
  for (let run = 0; run < 200; run++) {
    const backoff = new Backoff({ baseMs: 500, capMs: 15_000, random });
    for (let n = 0; n < 40; n++) {
      const ceiling = Math.min(15_000, 500 * 2 ** n);
      assertEquals(backoff.ceiling, ceiling);
      const delay = backoff.next();
      assert(delay >= 0, `delay ${delay} below zero (seed ${SEED})`);
      assertLessOrEqual(delay, ceiling, `attempt ${n} (seed ${SEED})`);
      assert(Number.isInteger(delay));
    }
  }
});

Deno.test("ceilings double from the base and stop at the cap, and it never gives up", () => {
  assertEquals([0, 1, 2, 3, 4, 5, 6].map((n) => backoffCeiling(1_000, 30_000, n)), [
    1_000,
    2_000,
    4_000,
    8_000,
    16_000,
    30_000,
    30_000,
  ]);
  assertEquals(backoffCeiling(1_000, 30_000, 10_000), 30_000);
  const backoff = new Backoff({ baseMs: 1_000, capMs: 30_000, random: () => 0.999999 });
  const delays = Array.from({ length: 1_000 }, () => backoff.next());
  assertEquals(delays.slice(0, 6), [1_000, 2_000, 4_000, 8_000, 16_000, 30_000]);
  assert(delays.slice(5).every((d) => d === 30_000));
  assertEquals(backoff.attempt, 1_000);
});

Deno.test("full jitter reaches both ends of the range", () => {
  const low = new Backoff({ baseMs: 1_000, capMs: 8_000, random: () => 0 });
  assertEquals([low.next(), low.next(), low.next()], [0, 0, 0]);
  const high = new Backoff({ baseMs: 1_000, capMs: 8_000, random: () => 1 - Number.EPSILON });
  assertEquals([high.next(), high.next(), high.next()], [1_000, 2_000, 4_000]);
});

Deno.test("next attempt time is the injected clock plus the drawn delay", () => {
  let now = 50_000;
  const backoff = new Backoff({ baseMs: 1_000, capMs: 10_000, random: () => 0.5, now: () => now });
  assertEquals(backoff.nextAttemptAt, undefined);
  const delay = backoff.next();
  assertEquals(backoff.nextAttemptAt, 50_000 + delay);
  now = 70_000;
  const second = backoff.next();
  assertEquals(backoff.nextAttemptAt, 70_000 + second);
});

Deno.test("reset returns to the base range", async (t) => {
  const random = seeded(SEED + 1);
  const backoff = new Backoff({ baseMs: 800, capMs: 20_000, random });
  await t.step("after many failures the ceiling is the cap", () => {
    for (let i = 0; i < 12; i++) backoff.next();
    assertEquals(backoff.ceiling, 20_000);
  });
  await t.step("after reset the next delay is within the base", () => {
    backoff.reset();
    assertEquals(backoff.attempt, 0);
    assertEquals(backoff.nextAttemptAt, undefined);
    assertEquals(backoff.ceiling, 800);
    for (let i = 0; i < 500; i++) {
      backoff.reset();
      assertLessOrEqual(backoff.next(), 800);
    }
  });
});

Deno.test("retune changes base and cap and keeps the attempt count", () => {
  const backoff = new Backoff({ baseMs: 1_000, capMs: 30_000, random: () => 0 });
  backoff.next();
  backoff.next();
  backoff.retune(500, 15_000);
  assertEquals(backoff.attempt, 2);
  assertEquals(backoff.ceiling, 2_000);
});

Deno.test("a base above the cap or not positive is refused", () => {
  assertThrows(() => new Backoff({ baseMs: 0, capMs: 1_000 }), RangeError);
  assertThrows(() => new Backoff({ baseMs: 2_000, capMs: 1_000 }), RangeError);
  assertThrows(() => new Backoff({ baseMs: Number.NaN, capMs: 1_000 }), RangeError);
});
