/**
 * What the automatic bus costs in Deno KV operations per instance-hour, with
 * the default timings: alone and idle, idle with a remote instance, and busy.
 * Instances are simulated in this process, each with its own BroadcastChannel
 * group (so they are remote to each other) on one KV, wrapped to count every
 * operation. Run: `deno run -A tests/bench/bus_cost.ts [seconds]`.
 *
 * Two settings of the same code: where `kv.watch` reports other instances'
 * writes (Deno Deploy; the KV bus polls every 5 s as a fallback), and where
 * it does not (processes sharing local SQLite; it polls every 100 ms). The
 * second is simulated by turning the roster's watch off, so the bus never
 * sees proof that watching works.
 * @module
 */
import { AutoBus } from "../../lib/server/bus_auto.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";

/** Counted KV operations. */
interface Tally {
  /** `get` and `getMany` calls, and `list` pages started. */
  readCalls: number;
  /** Entries returned by reads (a read unit each, at least one per call, on a metered KV). */
  entriesRead: number;
  /** Atomic commits (and single `set`/`delete` calls). */
  writes: number;
  /** Keys written or deleted by them. */
  mutations: number;
  /** Changes reported by `kv.watch`. */
  watchEvents: number;
}

function tally(): Tally {
  return { readCalls: 0, entriesRead: 0, writes: 0, mutations: 0, watchEvents: 0 };
}

/** `kv` with every operation counted in `t`. */
function counting(kv: Deno.Kv, t: Tally): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "get") {
        return (key: Deno.KvKey, options?: { consistency?: Deno.KvConsistencyLevel }) => {
          t.readCalls++;
          t.entriesRead++;
          return target.get(key, options);
        };
      }
      if (prop === "getMany") {
        return (keys: Deno.KvKey[], options?: { consistency?: Deno.KvConsistencyLevel }) => {
          t.readCalls++;
          t.entriesRead += keys.length;
          return target.getMany(keys, options);
        };
      }
      if (prop === "list") {
        return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
          t.readCalls++;
          const inner = target.list(selector, options);
          return (async function* () {
            for await (const entry of inner) {
              t.entriesRead++;
              yield entry;
            }
          })();
        };
      }
      if (prop === "atomic") return () => countingAtomic(target.atomic(), t);
      if (prop === "set" || prop === "delete") {
        return (...args: unknown[]) => {
          t.writes++;
          t.mutations++;
          return (target[prop] as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      if (prop === "watch") {
        return (keys: Deno.KvKey[], options?: { raw?: boolean }) =>
          target.watch(keys, options).pipeThrough(
            new TransformStream({
              transform(chunk, controller) {
                t.watchEvents++;
                controller.enqueue(chunk);
              },
            }),
          );
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function countingAtomic(op: Deno.AtomicOperation, t: Tally): Deno.AtomicOperation {
  let mutations = 0;
  const proxy: Deno.AtomicOperation = new Proxy(op, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "commit") {
          t.writes++;
          t.mutations += mutations;
          return value.apply(target, args);
        }
        if (prop !== "check") mutations++;
        value.apply(target, args);
        return proxy;
      };
    },
  });
  return proxy;
}

/** One scenario: `instances` remote to each other, each publishing `perSecond` messages. */
interface Scenario {
  name: string;
  instances: number;
  perSecond: number;
  watch: boolean;
}

const SCENARIOS: Scenario[] = [
  { name: "alone, idle", instances: 1, perSecond: 0, watch: true },
  { name: "with a remote instance, idle (kv.watch works: Deploy)", instances: 2, perSecond: 0, watch: true },
  { name: "with a remote instance, 10 msg/s each (Deploy)", instances: 2, perSecond: 10, watch: true },
  { name: "with a remote instance, idle (local SQLite, no watch)", instances: 2, perSecond: 0, watch: false },
  { name: "with a remote instance, 10 msg/s each (local SQLite)", instances: 2, perSecond: 10, watch: false },
];

/** Warm-up before counting: discovery, probes and the roster's start-up scans. */
const WARM_UP_MS = 20_000;

async function run(scenario: Scenario, measureMs: number): Promise<Tally> {
  const kv = await Deno.openKv(":memory:");
  const tallies = Array.from({ length: scenario.instances }, tally);
  const buses: AutoBus[] = [];
  for (let i = 0; i < scenario.instances; i++) {
    buses.push(
      await AutoBus.open({
        kv: counting(kv, tallies[i]),
        group: new LocalBusNetwork().join(`instance-${i}`),
        roster: { watch: scenario.watch },
      }),
    );
  }
  let received = 0;
  for (const bus of buses) bus.subscribe(() => received++);
  const timers = scenario.perSecond > 0
    ? buses.map((bus) => setInterval(() => bus.publish("room", { k: "c", n: received }), 1000 / scenario.perSecond))
    : [];
  await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
  const start = tallies.map((t) => ({ ...t }));
  await new Promise((resolve) => setTimeout(resolve, measureMs));
  const end = tallies.map((t) => ({ ...t }));
  for (const timer of timers) clearInterval(timer);
  for (const bus of buses) await bus.close();
  kv.close();
  const perHour = 3_600_000 / measureMs / scenario.instances;
  const total = tally();
  for (let i = 0; i < end.length; i++) {
    for (const key of Object.keys(total) as (keyof Tally)[]) total[key] += (end[i][key] - start[i][key]) * perHour;
  }
  return total;
}

if (import.meta.main) {
  const seconds = Number(Deno.args[0] ?? "120");
  console.log(
    `Deno KV operations per instance-hour, measured over ${seconds} s after ${WARM_UP_MS / 1000} s warm-up:\n`,
  );
  const results = await Promise.all(SCENARIOS.map((scenario) => run(scenario, seconds * 1000)));
  const round = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log("| scenario | read calls | entries read | writes (commits) | keys written | watch events |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [i, r] of results.entries()) {
    console.log(
      `| ${SCENARIOS[i].name} | ${round(r.readCalls)} | ${round(r.entriesRead)} | ${round(r.writes)} | ${
        round(r.mutations)
      } | ${round(r.watchEvents)} |`,
    );
  }
}
