/**
 * The courier's acceptance property, checked over ≥ 1,000 seeded random
 * schedules of a simulated room (see `_sim/world.ts`): every message reaches
 * every peer exactly once, as its author's, all peers end with the same
 * order, every own message ends "delivered", and nothing a hostile member
 * forges is ever shown; through lost, duplicated and reordered frames and
 * parts, reloads, second tabs, failing and non-durable stores, and log resets. Replay one schedule with COURIER_SEED=<seed>;
 * COURIER_RUNS sets how many schedules run (default 1,000).
 * @module
 */
import { assert } from "@std/assert";
import { emptyFaultTally, type FaultTally, type SimResult, simulate } from "./_sim/world.ts";

const DEFAULT_RUNS = 1_000;

function envNumber(name: string): number | undefined {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${raw}`);
  return value;
}

function describe(result: SimResult): string {
  return `seed ${result.seed}: ${result.peers} peers, ${result.messages} messages, ${result.events} events\n  ` +
    result.problems.slice(0, 12).join("\n  ");
}

Deno.test("every message reaches every peer once, in one order, and ends delivered, over random faulty schedules", async () => {
  const replay = envNumber("COURIER_SEED");
  const runs = replay === undefined ? envNumber("COURIER_RUNS") ?? DEFAULT_RUNS : 1;
  const base = replay ?? (Date.now() % 1_000_000_000);
  console.log(`courier property: base seed ${base}, ${runs} schedules (replay one with COURIER_SEED=<seed>)`);
  const started = performance.now();
  let messages = 0;
  let events = 0;
  let resent = 0;
  let duplicates = 0;
  let threePeers = 0;
  const faults = emptyFaultTally();
  for (let i = 0; i < runs; i++) {
    const result = await simulate({ seed: base + i });
    assert(result.problems.length === 0, `courier property failed (COURIER_SEED=${result.seed})\n${describe(result)}`);
    messages += result.messages;
    events += result.events;
    resent += result.resent;
    duplicates += result.duplicates;
    if (result.peers === 3) threePeers++;
    for (const key of Object.keys(faults) as (keyof FaultTally)[]) faults[key] += result.faults[key];
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `courier property: ${runs} schedules passed (${threePeers} with 3 peers), ${messages} messages, ` +
      `${events} events, ${resent} re-sends, ${duplicates} duplicates dropped, in ${seconds.toFixed(1)} s\n` +
      `  faults: ${faults.dropped} frames dropped, ${faults.duplicated} duplicated, ${faults.relayDrops} relay drops, ` +
      `${faults.linkOpens} DataChannel opens, ${faults.linkCloses} closes, ${faults.reloads} reloads, ${faults.leaves} peers left, ${faults.expiries} sessions expired\n` +
      `  hostile: ${faults.attacks} attacks, ${faults.refusals} refusals; ${faults.secondTabs} second tabs; ` +
      `stores: ${faults.storeFailures} failed writes, ${faults.volatileStretches} non-durable stretches; ` +
      `${faults.bigMessages} messages over a frame in ${faults.parts} parts; ${faults.logResets} log resets`,
  );
});

Deno.test("the property fails when re-sending is disabled (the test can fail)", async () => {
  const base = envNumber("COURIER_SEED") ?? 1;
  let failed: SimResult | undefined;
  let tried = 0;
  for (let i = 0; i < 200 && !failed; i++) {
    tried++;
    const result = await simulate({ seed: base + i, resendIntervalMs: Infinity, resendOnPathChange: false });
    if (result.problems.length > 0) failed = result;
  }
  assert(failed, `no schedule out of ${tried} broke delivery without re-sends: the property test cannot fail`);
  console.log(`mutation check: without re-sends, schedule ${tried} failed as expected\n  ${describe(failed)}`);
});
