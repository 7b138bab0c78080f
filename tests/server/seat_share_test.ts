/**
 * ATTACK (seat squat): a member with one address fills every seat of a room,
 * with sessions it drops (each stays "away" for the resume window) or keeps
 * open, and everyone else gets room_full: the room is stopped. Seats of a full
 * room are now shared between address groups (lib/server/seat_policy.ts):
 * the newcomer from another network takes a seat of the group holding the
 * most, away seats first, and the room stays first come, first served while
 * it is shared fairly. Hubs over an in-memory KV, one and two instances.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { CLOSE } from "../../lib/protocol/codes.ts";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { decideSeat, seatTag } from "../../lib/server/seat_policy.ts";
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

Deno.test("decideSeat: free below the limit; a full room yields only from a group holding more than its share", () => {
  const seat = (peer: string, g: string | undefined, state: "online" | "away" = "online", until = 100) => ({
    peer,
    g,
    state,
    until,
  });
  assertEquals(decideSeat([seat("a", "A")], "B", 2), { kind: "free" });
  // One seat per group: first come, first served, as before.
  assertEquals(decideSeat([seat("a", "A"), seat("b", "B")], "C", 2), { kind: "full" });
  // Taking from A (2) would leave it 1, as many as C then holds.
  const twoOfA = [seat("a1", "A", "online", 50), seat("a2", "A", "away", 900), seat("b", "B")];
  assertEquals(decideSeat(twoOfA, "C", 3), { kind: "yield", holder: twoOfA[1] }, "the away seat first");
  // The newcomer's own group never yields to it, and a group does not give up its fair share.
  assertEquals(decideSeat(twoOfA, "A", 3), { kind: "full" });
  assertEquals(decideSeat([...twoOfA.slice(0, 2), seat("c", "C")], "C", 3), { kind: "full" }, "A 2, C 1 then 2");
  // Among online seats, the lease that ends first; records without a tag are each their own group.
  const online = [seat("a1", "A", "online", 300), seat("a2", "A", "online", 200), seat("a3", "A", "online", 250)];
  assertEquals(decideSeat(online, "B", 3), { kind: "yield", holder: online[1] });
  assertEquals(decideSeat([seat("x", undefined), seat("y", undefined)], "B", 2), { kind: "full" });
  // Tags are per room and name no address.
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

Deno.test("ATTACK: one address's open sockets fill a room on two instances; a newcomer's seat closes one of them", async () => {
  const harness = await openHubs({ count: 2, config: { maxPeersPerRoom: 4 } });
  const [one, two] = harness.hubs;
  try {
    const room = newRoomId();
    const squat: Awaited<ReturnType<typeof join>>[] = [];
    for (let i = 0; i < 4; i++) squat.push(await join(i % 2 ? two : one, room, SQUATTER));
    for (const s of squat) admitted(s);
    const refusedAgain = await join(one, room, SQUATTER);
    assert(!refusedAgain.result.ok && refusedAgain.result.code === "room_full");

    const friend = await join(two, room, "203.0.113.9");
    admitted(friend);
    // The seat given up belongs to the squatter's socket whose lease ends first: one of the four, on either instance.
    await waitFor(() => squat.some((s) => s.socket.closed !== null));
    const closed = squat.filter((s) => s.socket.closed !== null);
    assertEquals(closed.length, 1);
    assertEquals(closed[0].socket.closed, { code: CLOSE.ROOM_FULL, reason: "room_full" });
    assertEquals(closed[0].socket.of("error").map((e) => e.code), ["room_full"]);
    const goneId = admitted(closed[0]).id;
    // It went without a trace of "away": the others on both instances hear it left.
    for (const s of squat.filter((s) => s !== closed[0])) {
      await waitFor(() => presences(s.socket).includes(`${goneId} left`));
      assert(!presences(s.socket).includes(`${goneId} away`));
    }
    const roster = await harness.stores[0].roster(room);
    assertEquals(roster.length, 4);
    assert(!roster.some((r) => r.peer === goneId));
    // Its client reconnects (room_full is not fatal) and is refused: the room is now shared 3 to 1.
    const retry = await join(one, room, SQUATTER);
    assert(!retry.result.ok && retry.result.code === "room_full");
  } finally {
    await harness.close();
  }
});

Deno.test("a room filled by one group in turn-taking joins stays open to other groups (the full-room memory is per group)", async () => {
  const harness = await openHubs({ config: { maxPeersPerRoom: 2 } });
  const hub = harness.hubs[0];
  try {
    const room = newRoomId();
    admitted(await join(hub, room, SQUATTER));
    admitted(await join(hub, room, SQUATTER));
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
