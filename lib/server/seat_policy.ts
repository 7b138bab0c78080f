/**
 * Who gets a seat in a full room. A room has `maxPeers` seats (sessions,
 * online or away within the resume window), and a seat was first come, first
 * served: so one member could fill every seat from one address (sessions that
 * drop stay "away" for the resume window) and stop the room for everyone else.
 *
 * Seats are now shared fairly between client address groups (see
 * `address_group.ts`): a newcomer to a full room takes a seat from the group
 * holding the most seats if that group would still hold at least as many as
 * the newcomer's group after it (max-min fairness: counts only ever even out).
 * Of that group's seats, an away one goes first (the one away longest), then
 * an online one. A room whose groups hold one seat each stays first come,
 * first served, as before. One address cannot keep others out; a classroom
 * behind one NAT fills a room as before, and yields seats only when people
 * from elsewhere come to a full room.
 *
 * Groups are compared by a tag (see {@link seatTag}): a digest of the room and
 * the group, so presence records in KV name no client address and do not link
 * one client across rooms. Pure: no clock, no KV.
 * @module
 */
import type { Presence } from "../protocol/frames.ts";
import { hashTokenNow } from "./server_crypto.ts";

/** Characters of a seat tag (72 bits of SHA-256, base64url): collisions between a room's groups are negligible. */
const TAG_CHARS = 12;

/** What the policy reads of a seat: the presence record of a session. */
export interface SeatHolder {
  /** The session's peer id. */
  peer: string;
  /** online, or away (dropped, resumable). */
  state: Presence;
  /** When the seat stops counting, ms since the epoch (for away seats: the end of the resume window). */
  until: number;
  /** The holder's seat tag; absent in records written before tags existed (each then counts as its own group). */
  g?: string;
}

/** What a newcomer to a room gets. */
export type SeatDecision<T extends SeatHolder> =
  /** A seat is free. */
  | { kind: "free" }
  /** The room is full, but `holder`'s group holds more than its share: the newcomer takes that seat. */
  | { kind: "yield"; holder: T }
  /** The room is full and shared fairly: room_full. */
  | { kind: "full" };

/** The seat tag of a client address group in a room: 12 base64url characters. */
export function seatTag(room: string, group: string): string {
  return hashTokenNow(room + "\n" + group).slice(0, TAG_CHARS);
}

/**
 * Decides a newcomer's seat. `others`: the room's sessions that count, without the newcomer's own; `tag`: the
 * newcomer's seat tag; `maxPeers`: the room's seats (`MAX_PEERS_PER_ROOM`).
 */
export function decideSeat<T extends SeatHolder>(others: readonly T[], tag: string, maxPeers: number): SeatDecision<T> {
  if (others.length < maxPeers) return { kind: "free" };
  const groups = new Map<string, T[]>();
  for (const holder of others) {
    const key = holder.g ?? "\0" + holder.peer;
    const seats = groups.get(key);
    if (seats) seats.push(holder);
    else groups.set(key, [holder]);
  }
  const mine = groups.get(tag)?.length ?? 0;
  let top: T[] | undefined;
  for (const [key, seats] of groups) {
    if (key !== tag && (top === undefined || seats.length > top.length)) top = seats;
  }
  // Taking a seat from `top` must leave it at least as many as the newcomer's group then holds.
  if (top === undefined || top.length < mine + 2) return { kind: "full" };
  let holder = top[0];
  for (const seat of top) if (rank(seat) < rank(holder)) holder = seat;
  return { kind: "yield", holder };
}

/** Order of yielding within a group: away seats before online ones, each the earliest to end first. */
function rank(seat: SeatHolder): number {
  return (seat.state === "away" ? 0 : Number.MAX_SAFE_INTEGER / 2) + seat.until;
}
