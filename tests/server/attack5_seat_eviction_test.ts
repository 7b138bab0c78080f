/**
 * ATTACK (on the seat-sharing fix): one IPv6 subscriber evicts a whole classroom from its room, and keeps it out.
 *
 * The first seat-sharing fix counted each IPv6 /64 as a network of its own, and let a newcomer from a network
 * without a seat take an ONLINE seat of the network holding the most. One subscriber holds many /64s (a home line a
 * /56, a tunnel broker's user a /48), so a member joined a room full of a classroom behind one NAT (32 sessions, one
 * IPv4) from 255 of its /64s and closed 31 of the 32 honest sessions with `room_full`, who could not come back.
 *
 * Now (lib/server/seat_policy.ts) a network is an IPv4 address or an IPv6 /48, and only away seats ever yield: an
 * online session is never closed for a newcomer. Here the attacker gets no seat, and no student is closed.
 */
import { assert } from "@std/assert";
import { CLOSE } from "../../lib/protocol/codes.ts";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { type FakeSocket, join, openHubs } from "./_hub_harness.ts";

const CLASSROOM = "203.0.113.50";

/** The attacker's i-th /64 inside its one /56, 2001:db8:42::/56. */
function attackerAddress(i: number): string {
  return `2001:db8:42:${i.toString(16)}::1`;
}

Deno.test("ATTACK: one /56 cannot evict a classroom's online sessions from a full room", async () => {
  const harness = await openHubs();
  const hub = harness.hubs[0];
  const seats = harness.config.maxPeersPerRoom;
  try {
    const room = newRoomId();
    const students: FakeSocket[] = [];
    for (let i = 0; i < seats; i++) {
      const joined = await join(hub, room, CLASSROOM);
      assert(joined.result.ok, "the classroom fills the room, first come first served");
      students.push(joined.socket);
    }
    let taken = 0;
    for (let i = 0; i < 255; i++) {
      const joined = await join(hub, room, attackerAddress(i));
      if (joined.result.ok) taken++;
    }
    const evicted = students.filter((s) => s.closed?.code === CLOSE.ROOM_FULL).length;
    // An evicted student's page reconnects (room_full is not fatal).
    const back = await join(hub, room, CLASSROOM);
    const roster = await harness.stores[0].roster(room);
    console.log(
      `room of ${seats}: the attacker's /56 took ${taken} seats, ${evicted} online students closed with room_full, ` +
        `a student's rejoin: ${back.result.ok ? "welcomed" : back.result.code}; roster ${roster.length} ` +
        `(${students.filter((s) => !s.closed).length} students left)`,
    );
    assert(
      taken === 0 && evicted === 0 && !back.result.ok && roster.length === seats,
      `one /56 took ${taken} of ${seats} seats and closed ${evicted} online sessions of the classroom with room_full`,
    );
  } finally {
    await harness.close();
  }
});
