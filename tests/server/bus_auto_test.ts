/**
 * The automatic bus: BroadcastChannel always, Deno KV only while an instance
 * exists that BroadcastChannel does not reach. BroadcastChannel "groups" are
 * `LocalBusNetwork`s here (one per simulated process or isolate); the KV is
 * real (in memory, shared by every instance of a test). Timings are shortened;
 * nothing asserts time: `until` only guards against a hang.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import type { Bus, BusEnvelope } from "../../lib/server/bus.ts";
import { AutoBus, type AutoBusOptions, type AutoKvBusOptions } from "../../lib/server/bus_auto.ts";
import { KvBus } from "../../lib/server/bus_kv.ts";
import { type LocalBus, LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { until } from "../support/until.ts";

/** Roster and bus timings short enough for a test. */
const FAST = {
  roster: { leaseMs: 3_000, renewMs: 1_000, scanMs: 150, settleScanMs: 30, probeMs: 60 },
  fastPollMs: 20,
  slowPollMs: 400,
  watchProofMs: 300,
} satisfies Partial<AutoBusOptions>;

/** One test's world: a KV, and every bus opened on it, with what each received. */
class World {
  kv!: Deno.Kv;
  buses: AutoBus[] = [];
  received = new Map<AutoBus, BusEnvelope[]>();
  /** The options each KV bus was opened with, per instance id. */
  kvOpens = new Map<string, AutoKvBusOptions[]>();
  /** Everything published on KV buses, as `origin:room:body`. */
  kvPublished: string[] = [];
  errors: string[] = [];

  static async create(): Promise<World> {
    const world = new World();
    world.kv = await Deno.openKv(":memory:");
    return world;
  }

  async open(group: Bus, options: Partial<AutoBusOptions> = {}): Promise<AutoBus> {
    const bus = await AutoBus.open({
      ...FAST,
      ...options,
      roster: { ...FAST.roster, ...options.roster },
      kv: this.kv,
      group,
      onError: (error, context) => this.errors.push(`${context}: ${error}`),
      openKvBus: async (kvOptions) => {
        const opens = this.kvOpens.get(kvOptions.instanceId) ?? [];
        opens.push(kvOptions);
        this.kvOpens.set(kvOptions.instanceId, opens);
        const inner = await KvBus.open(this.kv, kvOptions);
        return {
          instanceId: inner.instanceId,
          publish: (room, body) => {
            this.kvPublished.push(`${kvOptions.instanceId}:${room}:${JSON.stringify(body)}`);
            inner.publish(room, body);
          },
          subscribe: (handler) => inner.subscribe(handler),
          close: () => inner.close(),
        };
      },
    });
    await bus.ready;
    const received: BusEnvelope[] = [];
    bus.subscribe((envelope) => received.push(envelope));
    this.buses.push(bus);
    this.received.set(bus, received);
    return bus;
  }

  bodies(bus: AutoBus, room = "room"): unknown[] {
    return this.received.get(bus)!.filter((e) => e.room === room).map((e) => e.body);
  }

  async close(): Promise<void> {
    for (const bus of this.buses) await bus.close();
    this.kv.close();
    assertEquals(this.errors, [], "no background errors");
  }
}

/** A group bus that can go mute (drops what it publishes), as a worker whose answers are late. */
class MutableBus implements Bus {
  muted = false;
  constructor(readonly inner: LocalBus) {}
  get instanceId(): string {
    return this.inner.instanceId;
  }
  publish(room: string, body: unknown): void {
    if (!this.muted) this.inner.publish(room, body);
  }
  subscribe(handler: (envelope: BusEnvelope) => void): () => void {
    return this.inner.subscribe(handler);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

Deno.test("an instance alone never opens the KV bus", async () => {
  const world = await World.create();
  try {
    const alone = await world.open(new LocalBusNetwork().join("alone"));
    alone.publish("room", { n: 1 });
    assertEquals([alone.kvActive, alone.remoteCount, alone.heldCount], [false, 0, 0]);
    assertEquals(world.kvOpens.size, 0);
    assertEquals(world.kvPublished, []);
  } finally {
    await world.close();
  }
});

Deno.test("instances that BroadcastChannel reaches (one process's workers) stay off KV and hear each message once", async () => {
  const world = await World.create();
  try {
    const net = new LocalBusNetwork();
    const one = await world.open(net.join("w1"));
    const two = await world.open(net.join("w2"));
    for (let n = 1; n <= 3; n++) one.publish("room", { n });
    await until(() => world.bodies(two).length === 3, { what: "three messages on the second worker" });
    assertEquals(world.bodies(two), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assertEquals([one.kvActive, two.kvActive, one.remoteCount, two.remoteCount], [false, false, 0, 0]);
    assertEquals(world.kvOpens.size, 0, "no KV bus opened");
  } finally {
    await world.close();
  }
});

for (const watch of [true, false]) {
  const where = watch ? "kv.watch sees other writers (Deploy)" : "kv.watch sees none (processes on local SQLite)";
  Deno.test(`separate processes switch KV on and every message arrives once, in order: ${where}`, async (t) => {
    const world = await World.create();
    try {
      const p1 = new LocalBusNetwork();
      const p2 = new LocalBusNetwork();
      const roster = { ...FAST.roster, watch };
      const a1 = await world.open(p1.join("a1"), { roster });
      const a2 = await world.open(p1.join("a2"), { roster });
      const b1 = await world.open(p2.join("b1"), { roster });

      await t.step("each finds the instance in the other process, and only that one, remote", async () => {
        await until(() => [a1, a2, b1].every((bus) => bus.kvActive), { what: "every KV bus on" });
        await until(() => a1.remoteCount === 1 && a2.remoteCount === 1 && b1.remoteCount === 2, {
          what: "remote counts 1, 1, 2",
        });
      });

      await t.step("the KV bus polls slowly only where kv.watch was seen to work", () => {
        for (const id of ["a1", "a2", "b1"]) {
          const polls = world.kvOpens.get(id)!.map((o) => o.pollIntervalMs);
          assertEquals(polls, [watch ? FAST.slowPollMs : FAST.fastPollMs], `${id} opened its KV bus once`);
        }
      });

      await t.step("messages cross once each way, in publish order, and workers hear each other once", async () => {
        for (let n = 1; n <= 20; n++) {
          a1.publish("room", { from: "a1", n });
          b1.publish("room", { from: "b1", n });
        }
        const expect = (from: string) => Array.from({ length: 20 }, (_, i) => ({ from, n: i + 1 }));
        await until(() => world.bodies(b1).length >= 20 && world.bodies(a2).length >= 40, {
          what: "all messages",
          timeoutMs: 30_000,
        });
        await until(() => world.bodies(a1).length >= 20, { what: "b1's messages on a1" });
        assertEquals(world.bodies(b1), expect("a1"));
        assertEquals(world.bodies(a1), expect("b1"));
        const onA2 = world.bodies(a2) as { from: string }[];
        assertEquals(onA2.filter((b) => b.from === "a1"), expect("a1"));
        assertEquals(onA2.filter((b) => b.from === "b1"), expect("b1"));
        assertEquals(onA2.length, 40, "nothing twice: a1's messages come over BroadcastChannel only");
      });
    } finally {
      await world.close();
    }
  });
}

Deno.test("messages for a remote instance that is not listening yet are held, then arrive in order", async () => {
  const world = await World.create();
  try {
    // The old instance finds newcomers only by scanning (rarely here), as processes on local SQLite do.
    const old = await world.open(new LocalBusNetwork().join("old"), {
      roster: { ...FAST.roster, watch: false, scanMs: 4_000, settleScanMs: 4_000 },
    });
    const fresh = await world.open(new LocalBusNetwork().join("fresh"), { roster: { ...FAST.roster, watch: false } });
    await until(() => fresh.kvActive, { what: "the newcomer's KV bus" });
    assert(!old.kvActive, "precondition: the old instance has not scanned since the newcomer came");
    for (let n = 1; n <= 5; n++) fresh.publish("room", { n });
    assertEquals(fresh.heldCount, 5, "held: the old instance does not read KV yet");
    await until(() => old.kvActive, { what: "the old instance to find the newcomer", timeoutMs: 20_000 });
    await until(() => world.bodies(old).length === 5, { what: "the held messages on the old instance" });
    assertEquals(world.bodies(old), [1, 2, 3, 4, 5].map((n) => ({ n })));
    assertEquals(fresh.heldCount, 0);
  } finally {
    await world.close();
  }
});

Deno.test("a leased instance that never listens delays KV messages by holdMs at most", async () => {
  const world = await World.create();
  try {
    // A stranger: a lease in KV that never answers over BroadcastChannel and never listens.
    await world.kv.set(["bus_roster", "parley-bus", "i", "stranger"], { until: Date.now() + 60_000, listening: false });
    const bus = await world.open(new LocalBusNetwork().join("me"), { holdMs: 400 });
    await until(() => bus.kvActive, { what: "the KV bus on for the stranger" });
    bus.publish("room", { n: 1 });
    bus.publish("room", { n: 2 });
    assertEquals(bus.heldCount, 2);
    await until(() => bus.heldCount === 0, { what: "the hold to run out" });
    assertEquals(world.kvPublished, ['me:room:{"n":1}', 'me:room:{"n":2}']);
  } finally {
    await world.close();
  }
});

Deno.test("a crashed remote instance stops counting when its lease runs out, and KV switches off", async () => {
  const world = await World.create();
  try {
    await world.kv.set(["bus_roster", "parley-bus", "i", "crashed"], { until: Date.now() + 1_000, listening: true });
    const bus = await world.open(new LocalBusNetwork().join("survivor"));
    await until(() => bus.kvActive && bus.remoteCount === 1, { what: "the KV bus on" });
    await until(() => !bus.kvActive && bus.remoteCount === 0, { what: "the KV bus off after the lease" });
  } finally {
    await world.close();
  }
});

Deno.test("a remote instance that stops is forgotten at once where kv.watch works, and KV switches off", async () => {
  const world = await World.create();
  try {
    const stays = await world.open(new LocalBusNetwork().join("stays"), { roster: { ...FAST.roster, scanMs: 60_000 } });
    const leaves = await world.open(new LocalBusNetwork().join("leaves"));
    await until(() => stays.kvActive && leaves.kvActive, { what: "both KV buses on" });
    await leaves.close();
    await until(() => !stays.kvActive, { what: "the KV bus off (watch, not the minute-long scan)" });
    assertEquals(stays.remoteCount, 0);
  } finally {
    await world.close();
  }
});

Deno.test("a worker whose answers came late is local again once it is heard, and KV switches off", async () => {
  const world = await World.create();
  try {
    const net = new LocalBusNetwork();
    const one = await world.open(net.join("w1"), { roster: { ...FAST.roster, watch: false } });
    const mute = new MutableBus(net.join("w2"));
    mute.muted = true;
    const two = await world.open(mute, { roster: { ...FAST.roster, watch: false } });
    await until(() => one.kvActive && one.remoteCount === 1, { what: "w1 to take the silent w2 for remote" });
    mute.muted = false;
    two.publish("room", { hello: "from w2" });
    await until(() => one.remoteCount === 0 && !one.kvActive, { what: "w1 to find w2 local and leave KV" });
    assertEquals(world.bodies(one), [{ hello: "from w2" }], "heard once");
    assertEquals(two.kvActive, false, "w2 heard w1 all along");
  } finally {
    await world.close();
  }
});
