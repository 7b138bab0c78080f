import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import type { BusEnvelope } from "../../lib/server/bus.ts";
import { BusOverflowError, KvBus } from "../../lib/server/bus_kv.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { until } from "../support/until.ts";
import { countingKv } from "./_kv_counter.ts";

/** A view of `kv` whose commits throw while `failing` is set, as KV does when it is unreachable. */
function flakyKv(kv: Deno.Kv) {
  const state = { failing: false };
  const wrapAtomic = (atomic: Deno.AtomicOperation): Deno.AtomicOperation => {
    const proxy: Deno.AtomicOperation = new Proxy(atomic, {
      get(inner, name) {
        const method = Reflect.get(inner, name, inner);
        if (name === "commit") {
          return () => state.failing ? Promise.reject(new Error("KV unreachable")) : inner.commit();
        }
        if (typeof method !== "function") return method;
        return (...args: unknown[]) => (method.apply(inner, args), proxy);
      },
    });
    return proxy;
  };
  const view = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") return () => wrapAtomic(target.atomic());
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: view, state };
}

Deno.test("kv bus outbox is bounded while KV fails: the oldest are dropped and reported once, the rest follow in order", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, state } = flakyKv(raw);
  const clock = new FakeClock();
  const pauses: number[] = [];
  const errors: unknown[] = [];
  const reader = await KvBus.open(raw, { channel: "c", watch: false, pollIntervalMs: 5 });
  const seen: BusEnvelope[] = [];
  reader.subscribe((envelope) => seen.push(envelope));
  const writer = await KvBus.open(kv, {
    channel: "c",
    watch: false,
    pollIntervalMs: 1e9, // its own polling stays out of the way
    maxOutboxMessages: 5,
    random: () => 0,
    setTimeout: (fn, ms) => {
      if (ms < 1e9) pauses.push(ms);
      return clock.setTimeout(fn, ms);
    },
    clearTimeout: clock.clearTimeout,
    onError: (error) => errors.push(error),
  });
  try {
    state.failing = true;
    for (let i = 1; i <= 12; i++) writer.publish("r", i);
    await until(() => pauses.length === 1, { what: "the first failed commit" });
    assert(writer.outboxSize <= 5, `${writer.outboxSize} queued`);
    await clock.advance(pauses[0]);
    await until(() => pauses.length === 2, { what: "the second failed commit" });
    await clock.advance(pauses[1]);
    await until(() => pauses.length === 3, { what: "the third failed commit" });
    // Exponential pauses; with the injected random at 0 each is the low end of its jitter range.
    assertEquals(pauses, [10, 20, 40]);
    const overflows = errors.filter((e) => e instanceof BusOverflowError);
    assertEquals(overflows.length, 1, "one report per episode");
    assertInstanceOf(overflows[0], BusOverflowError);
    state.failing = false;
    await clock.advance(pauses[2]);
    await until(() => seen.length === 5, { what: "the kept messages" });
    assertEquals(seen.map((e) => e.body), [8, 9, 10, 11, 12], "the newest five, in order");
    assertEquals(writer.outboxSize, 0);
  } finally {
    await writer.close();
    await reader.close();
    raw.close();
  }
});

Deno.test("kv bus publishers never race for a key: no commit is checked, none fails, each stream stays in order", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, counts } = countingKv(raw);
  const reader = await KvBus.open(raw, { channel: "c", watch: false, pollIntervalMs: 5 });
  const seen: BusEnvelope[] = [];
  reader.subscribe((envelope) => seen.push(envelope));
  const writers = [await KvBus.open(kv, { channel: "c" }), await KvBus.open(kv, { channel: "c" })];
  try {
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 10; i++) {
        for (const [w, writer] of writers.entries()) writer.publish("r", `${w}:${round}:${i}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await until(() => seen.length === 400, { what: "every message" });
    assertEquals(counts.failedWrites, 0);
    for (const [w, writer] of writers.entries()) {
      const mine = seen.filter((e) => e.origin === writer.instanceId).map((e) => e.body);
      assertEquals(mine, Array.from({ length: 200 }, (_, n) => `${w}:${Math.floor(n / 10)}:${n % 10}`));
    }
  } finally {
    for (const writer of writers) await writer.close();
    await reader.close();
    raw.close();
  }
});
