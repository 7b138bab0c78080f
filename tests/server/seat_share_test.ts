/**
 * ATTACK (seat squat): a member fills every seat of a room with sessions it
 * drops (each stays "away" for the resume window), from one network, and
 * everyone else gets room_full: the room is stopped. The away seats of a full
 * room are now shared between networks (lib/server/seat_policy.ts): a
 * newcomer from another network takes an away seat of the network holding
 * the most, while an online session never loses its seat. Hubs over an
 * in-memory KV, one and two instances.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { decideSeat, seatTag } from "../../lib/server/seat_policy.ts";
import { addressNetwork } from "../../lib/server/address_group.ts";
import type { Peer } from "../../lib/server/room.ts";
import { type FakeSocket, join, openHubs } from "./_hub_harness.ts";

const SQUATTER = "198.51.100.7";

/** The peer of a join that must have passed. */
function admitted(joined: Awaited<ReturnType<typeof join>>): Peer {
  assert(joined.result.ok, `refused: ${joined.result.ok ? "" : joined.result.code}`);
  return joined.result.peer;
}

/** The presence frames a socket was sent, as "peer state". */
function presences(socket: FakeSocket): string[] {
  return socket.of("presence").map((frame) => `${frame.peer} ${frame.state}`);
}

Deno.test("decideSeat: free below the limit; a full room yields only an away seat of a network holding more than its share", () => {
  const seat = (peer: string, g: string | undefined, state: "online" | "away" = "online", until = 100) => ({
    peer,
    g,
    state,
    until,
  });
  assertEquals(decideSeat([seat("a", "A")], "B", 2), { kind: "free" });
  // One seat per network: first come, first served, as before.
  assertEquals(decideSeat([seat("a", "A", "away"), seat("b", "B")], "C", 2), { kind: "full" });
  // Taking from A (3) leaves it 2, more than C then holds: its away seat that ends first goes.
  const threeOfA = [
    seat("a1", "A", "online", 50),
    seat("a2", "A", "away", 900),
    seat("a3", "A", "away", 700),
    seat("b", "B"),
  ];
  assertEquals(decideSeat(threeOfA, "C", 4), { kind: "yield", holder: threeOfA[2] });
  // The newcomer's own network never yields to it, and a network does not give up its fair share.
  assertEquals(decideSeat(threeOfA, "A", 4), { kind: "full" });
  assertEquals(decideSeat([...threeOfA.slice(0, 3), seat("c", "C")], "C", 4), { kind: "yield", holder: threeOfA[2] });
  assertEquals(decideSeat([seat("a1", "A"), seat("a2", "A", "away"), seat("c", "C")], "C", 3), { kind: "full" });
  // Online seats never yield, however many one network holds; records without a tag are each their own network.
  assertEquals(decideSeat([seat("a1", "A"), seat("a2", "A"), seat("a3", "A")], "B", 3), { kind: "full" });
  assertEquals(decideSeat([seat("x", undefined, "away"), seat("y", undefined, "away")], "B", 2), { kind: "full" });
  // The network of an IPv6 address is its /48; tags are per room and name no address.
  assertEquals(addressNetwork("2001:db8:42:ff::1"), "2001:db8:42::/48");
  assertEquals(addressNetwork("::ffff:203.0.113.9"), "203.0.113.9");
  assertEquals(addressNetwork("203.0.113.9"), "203.0.113.9");
  const tagOf = (room: string, address: string) => seatTag(room, addressNetwork(address));
  assertEquals(tagOf("room1", "2001:db8:42:1::1"), tagOf("room1", "2001:db8:42:ff00::9"));
  assert(tagOf("room1", "2001:db8:42:1::1") !== tagOf("room1", "2001:db8:43:1::1"));
  assertEquals(seatTag("room1", "10.0.0.1").length, 12);
  assert(seatTag("room1", "10.0.0.1") !== seatTag("room2", "10.0.0.1"));
  assert(!seatTag("room1", "10.0.0.1").includes("10.0"));
});

Deno.test("ATTACK: one address's dropped sessions fill a room; someone from another network still gets in", async () => {
  const harness = await openHubs({ config: { maxPeersPerRoom: 4 } });
  const hub = harness.hubs[0];
  try {
    const room = newRoomId();
    const host = await join(hub, room, "203.0.113.1");
    admitted(host);
    const squat: Peer[] = [];
    for (let i = 0; i < 3; i++) squat.push(admitted(await join(hub, room, SQUATTER)));
    for (const peer of squat) hub.disconnect(peer);
    // Each dropped session is away, and away sessions hold their seats for the resume window (120 s).
    await waitFor(async () => (await harness.stores[0].roster(room)).filter((r) => r.state === "away").length === 3);
    // The room is full: 4 seats, 3 of them the squatter's.
    const friend = await join(hub, room, "203.0.113.2");
    const peer = admitted(friend);
    const roster = await harness.stores[0].roster(room);
    assertEquals(roster.length, 4, "still at most the limit");
    assertEquals(roster.filter((r) => r.state === "away").length, 2, "one away seat of the squatter's yielded");
    const gone = squat.find((p) => !roster.some((r) => r.peer === p.id));
    assert(gone, "a squatted seat is free");
    assert(presences(host.socket).includes(`${gone.id} left`), "the others hear it left");
    assert(!presences(friend.socket).some((p) => p.startsWith(gone.id)), "the newcomer never had it");
    assertEquals(
      (friend.socket.of("welcome")[0].peers as { id: string }[]).map((p) => p.id).sort(),
      roster.filter((r) => r.peer !== peer.id).map((r) => r.peer).sort(),
    );
    // The squatter's next session is refused: its own group never displaces another.
    const back = await join(hub, room, SQUATTER);
    assert(!back.result.ok && back.result.code === "room_full");
    // A third network gets in too: the squatter is down to the one seat every network has.
    admitted(await join(hub, room, "203.0.113.3"));
    const last = await join(hub, room, "203.0.113.4");
    assert(!last.result.ok && last.result.code === "room_full", "once shared fairly, the room is full");
    const groups = (await harness.stores[0].roster(room)).map((r) => r.g);
    assertEquals(new Set(groups).size, 4, "one seat for each of four networks");
  } finally {
    await harness.close();
  }
});

Deno.test("ATTACK: dropped sessions from many /64s of one /48 are one network's; an online session never yields", async () => {
  const harness = await openHubs({ count: 2, config: { maxPeersPerRoom: 4 } });
  const [one, two] = harness.hubs;
  try {
    const room = newRoomId();
    const host = await join(one, room, "203.0.113.1");
    admitted(host);
    const squat = [];
    for (let i = 0; i < 3; i++) squat.push(admitted(await join(i % 2 ? two : one, room, `2001:db8:42:${i}::1`)));
    squat.forEach((peer, i) => (i % 2 ? two : one).disconnect(peer));
    await waitFor(async () => (await harness.stores[0].roster(room)).filter((r) => r.state === "away").length === 3);
    // Another /64 of the same /48 is the same network: it holds 3 seats already.
    const sameNetwork = await join(two, room, "2001:db8:42:ff::1");
    assert(!sameNetwork.result.ok && sameNetwork.result.code === "room_full");
    // Someone from elsewhere takes one of them, on the other instance; the host there hears it left.
    const friend = await join(two, room, "2001:db8:77::5");
    admitted(friend);
    await waitFor(() => presences(host.socket).some((p) => p.endsWith(" left")));
    assertEquals((await harness.stores[0].roster(room)).length, 4);

    // Now every seat but the squatter's two away ones is online, one per network: a fourth network gets one of those,
    const third = await join(one, room, "198.51.100.200");
    admitted(third);
    // and then the room is shared fairly (host, friend, third, squatter: one each), and nobody online was closed.
    const fourth = await join(one, room, "192.0.2.44");
    assert(!fourth.result.ok && fourth.result.code === "room_full");
    assertEquals([host, friend, third].map((j) => j.socket.closed), [null, null, null]);
  } finally {
    await harness.close();
  }
});

Deno.test("a network's live sessions keep their seats: a full room of online sessions refuses the newcomer", async () => {
  const harness = await openHubs({ config: { maxPeersPerRoom: 3 } });
  const hub = harness.hubs[0];
  try {
    const room = newRoomId();
    const live = [];
    for (let i = 0; i < 3; i++) live.push(await join(hub, room, SQUATTER));
    live.forEach(admitted);
    const newcomer = await join(hub, room, "203.0.113.30");
    assert(!newcomer.result.ok && newcomer.result.code === "room_full");
    assertEquals(live.map((j) => j.socket.closed), [null, null, null]);
  } finally {
    await harness.close();
  }
});

Deno.test("a room filled by one group in turn-taking joins stays open to other groups (the full-room memory is per group)", async () => {
  const harness = await openHubs({ config: { maxPeersPerRoom: 2 } });
  const hub = harness.hubs[0];
  try {
    const room = newRoomId();
    const squat = [admitted(await join(hub, room, SQUATTER)), admitted(await join(hub, room, SQUATTER))];
    squat.forEach((peer) => hub.disconnect(peer));
    await waitFor(async () => (await harness.stores[0].roster(room)).every((r) => r.state === "away"));
    for (let i = 0; i < 5; i++) {
      const again = await join(hub, room, SQUATTER);
      assert(!again.result.ok && again.result.code === "room_full");
    }
    admitted(await join(hub, room, "203.0.113.20"));
  } finally {
    await harness.close();
  }
});

/** Polls until `check` holds (the bus delivers across instances in a later task); the limit only stops a stuck test. */
async function waitFor(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; !await check(); i++) {
    if (i > 200) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
