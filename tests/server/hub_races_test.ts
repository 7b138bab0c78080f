import { assert, assertEquals } from "@std/assert";
import { CLOSE } from "../../lib/protocol/codes.ts";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { type PresenceRecord, type Renewal, SessionStore } from "../../lib/server/session_store.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { join, openHubs } from "./_hub_harness.ts";
import { countingKv } from "./_kv_counter.ts";

/** Resolves when `open()` is called. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => open = resolve);
  return { wait, open };
}

Deno.test("simultaneous joins on two instances never put more peers in a room than its limit", async () => {
  const harness = await openHubs({ count: 2, config: { maxPeersPerRoom: 3 } });
  try {
    const room = newRoomId();
    const joins = [];
    for (let i = 0; i < 10; i++) joins.push(join(harness.hubs[i % 2], room, `10.0.0.${i + 1}`));
    const results = await Promise.all(joins);
    const admitted = results.filter((r) => r.result.ok);
    const refused = results.filter((r) => !r.result.ok);
    assertEquals(admitted.length, 3, "exactly the limit gets in: no more, and no one refused for nothing");
    for (const { result, socket } of refused) {
      assert(!result.ok);
      assertEquals([result.code, result.close], ["room_full", CLOSE.ROOM_FULL]);
      assertEquals(socket.of("welcome"), []);
    }
    assertEquals((await harness.stores[0].roster(room)).length, 3);
  } finally {
    await harness.close();
  }
});

Deno.test("simultaneous joins from one address never open more rooms than its limit", async () => {
  const harness = await openHubs({ config: { maxRoomsPerAddress: 3 } });
  try {
    const results = await Promise.all(Array.from({ length: 8 }, () => join(harness.hubs[0], newRoomId(), "10.9.9.9")));
    const codes = results.map(({ result }) => result.ok ? "ok" : result.code);
    assertEquals(codes.filter((c) => c === "ok").length, 3);
    assertEquals(codes.filter((c) => c === "too_many_rooms").length, 5);
  } finally {
    await harness.close();
  }
});

Deno.test("addresses of one IPv6 /64 share the rooms-per-address limit; other /64s and IPv4 do not", async () => {
  const harness = await openHubs({ config: { maxRoomsPerAddress: 2 } });
  try {
    const hub = harness.hubs[0];
    assert((await join(hub, newRoomId(), "2001:db8:1:2::1")).result.ok);
    assert((await join(hub, newRoomId(), "2001:db8:1:2:ffff::9")).result.ok);
    const third = await join(hub, newRoomId(), "2001:db8:1:2::3");
    assert(!third.result.ok);
    assertEquals(third.result.code, "too_many_rooms");
    assert((await join(hub, newRoomId(), "2001:db8:1:3::1")).result.ok, "the next /64 is someone else");
    assert((await join(hub, newRoomId(), "10.0.0.1")).result.ok);
    assert((await join(hub, newRoomId(), "10.0.0.2")).result.ok);
    assert((await join(hub, newRoomId(), "10.0.0.2")).result.ok);
    assertEquals((await join(hub, newRoomId(), "10.0.0.2")).result.ok, false);
  } finally {
    await harness.close();
  }
});

/** A session store whose lease renewals wait at a gate, before or after their write, and whose "away" writes are seen. */
class GatedStore extends SessionStore {
  /** Where renewals wait: "before" their KV write or "after" it. */
  where: "before" | "after" = "before";
  gate: Promise<void> | null = null;
  /** Resolves when a renewal reached the gate. */
  reached = gate();
  /** The results of `markAwayIf`, in call order. */
  aways: Promise<string | null>[] = [];

  override async renewPresences(items: Renewal[]): Promise<(string | null)[]> {
    if (this.where === "before" && this.gate) await this.#wait();
    const out = await super.renewPresences(items);
    if (this.where === "after" && this.gate) await this.#wait();
    return out;
  }

  override markAwayIf(room: string, peer: string, versionstamp: string, record: PresenceRecord) {
    const result = super.markAwayIf(room, peer, versionstamp, record);
    this.aways.push(result);
    return result;
  }

  #wait(): Promise<void> {
    this.reached.open();
    return this.gate!;
  }
}

for (const where of ["before", "after"] as const) {
  const what = where === "before"
    ? "the drop writes first, the renewal cannot resurrect"
    : "the renewal writes first, it cannot hide";
  Deno.test(`a lease renewal racing a drop (${what} the "away")`, async () => {
    let store!: GatedStore;
    const harness = await openHubs({
      // A long window: the lease timer stays out of the way; the test renews by hand.
      config: { resumeWindowMs: 600_000 },
      store: (kv, config) => store = new GatedStore(kv, { ttlMs: config.roomTtlMs }),
    });
    try {
      const hub = harness.hubs[0];
      const room = newRoomId();
      const alice = await join(hub, room, "10.0.0.1");
      const bob = await join(hub, room, "10.0.0.2");
      assert(alice.result.ok && bob.result.ok);
      const aliceId = alice.result.peer.id;
      const release = gate();
      store.where = where;
      store.gate = release.wait;
      const renewal = hub.renewLeases();
      await store.reached.wait; // the renewal holds alice, and waits
      hub.disconnect(alice.result.peer);
      // Let the drop do all it can while the renewal waits.
      for (let i = 0; i < 50; i++) await new Promise((resolve) => setTimeout(resolve, 0));
      release.open();
      await renewal;
      while (store.aways.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      await Promise.all(store.aways);
      const presence = await store.presence(room, aliceId);
      assertEquals(presence?.state, "away", "alice is away, resumable, not online with a fresh lease");
      assert(
        bob.socket.sent.some((f) => f.type === "presence" && f.peer === aliceId && f.state === "away"),
      );
      // Later renewals leave her alone.
      await hub.renewLeases();
      assertEquals((await store.presence(room, aliceId))?.state, "away");
    } finally {
      await harness.close();
    }
  });
}

Deno.test("a renewal does not overwrite a session that resumed on another instance", async () => {
  const harness = await openHubs({ count: 2, config: { resumeWindowMs: 600_000 } });
  try {
    const [one, two] = harness.hubs;
    const room = newRoomId();
    const alice = await join(one, room, "10.0.0.1");
    assert(alice.result.ok);
    const token = alice.socket.of("welcome")[0].token as string;
    const again = await join(two, room, "10.0.0.1", { token });
    assert(again.result.ok);
    assertEquals(again.result.peer.id, alice.result.peer.id);
    await one.renewLeases(); // instance one may not have heard of the resume yet
    const presence = await harness.stores[1].presence(room, alice.result.peer.id);
    assertEquals(presence?.inst, "inst1", "the entry stays instance two's");
  } finally {
    await harness.close();
  }
});

Deno.test("joins to a room found full are refused for a moment without reading it again; then a freed seat is taken", async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const raw = await Deno.openKv(":memory:");
  const { kv, counts, reset } = countingKv(raw);
  const harness = await openHubs({ kv, now: clock.now, config: { maxPeersPerRoom: 2 } });
  const hub = harness.hubs[0];
  try {
    const room = newRoomId();
    const first = await join(hub, room, "10.0.0.1");
    assert((await join(hub, room, "10.0.0.2")).result.ok && first.result.ok);
    const refused = await join(hub, room, "10.0.0.3");
    assert(!refused.result.ok && refused.result.code === "room_full");
    reset();
    // The memory is per address group (a group refused in a loop keeps no other out): the refused one tries again.
    for (let i = 0; i < 20; i++) {
      const again = await join(hub, room, "10.0.0.3");
      assert(!again.result.ok);
      assertEquals([again.result.code, again.result.close], ["room_full", CLOSE.ROOM_FULL]);
    }
    assertEquals([counts.gets, counts.lists, counts.writes], [0, 0, 0], "the room was not read again");
    hub.onFrame(first.result.peer, JSON.stringify({ type: "bye" }));
    await clock.advance(1_000);
    assert((await join(hub, room, "10.0.0.4")).result.ok, "after a moment the room is read again: a seat is free");
  } finally {
    await harness.close();
    raw.close();
  }
});
