/**
 * Who gets a seat in a full room. A room has `maxPeers` seats (sessions,
 * online or away within the resume window), first come, first served. A
 * session that drops stays "away" for the resume window, so one member could
 * fill every seat by opening sessions and dropping them, cheaply and from one
 * network, and stop the room for everyone else.
 *
 * So the away seats of a full room are shared fairly between networks: a
 * newcomer takes an away seat (the one away longest) of the network holding
 * the most seats, if that network would still hold at least as many as the
 * newcomer's network afterwards (max-min fairness: counts only ever even out).
 * An online session never loses its seat to a newcomer: closing live sessions
 * for newcomers would let someone with many networks (many IPv6 prefixes,
 * cloud addresses) throw people out of a room they are using. A network that
 * keeps `maxPeers` live sessions open holds the room as that many people
 * would; the limit is the bound there.
 *
 * A network is an IPv4 address or an IPv6 /48 (`addressNetwork` in `address_group.ts`): a
 * wider group than the per-address limits' /64, since one subscriber holds a
 * /56 or a /48 (256 or 65,536 /64s) and would otherwise count as many networks.
 * Networks are compared by a tag (see {@link seatTag}): a digest of the room
 * and the network, so presence records in KV name no client address and do
 * not link one client across rooms. Pure: no clock, no KV.
 * @module
 */
import type { Presence } from "../protocol/frames.ts";
import { hashTokenNow } from "./server_crypto.ts";

/** Characters of a seat tag (72 bits of SHA-256, base64url): collisions between a room's networks are negligible. */
const TAG_CHARS = 12;

/** What the policy reads of a seat: the presence record of a session. */
export interface SeatHolder {
  /** The session's peer id. */
  peer: string;
  /** online, or away (dropped, resumable). */
  state: Presence;
  /** When the seat stops counting, ms since the epoch (for away seats: the end of the resume window). */
  until: number;
  /** The holder's seat tag; absent in records written before tags existed (each then counts as its own network). */
  g?: string;
}

/** What a newcomer to a room gets. */
export type SeatDecision<T extends SeatHolder> =
  /** A seat is free. */
  | { kind: "free" }
  /** The room is full, but `holder` is away and its network holds more than its share: the newcomer takes that seat. */
  | { kind: "yield"; holder: T }
  /** The room is full and shared fairly: room_full. */
  | { kind: "full" };

/**
 * The seat tag of a network (`addressNetwork`) in a room: 12 base64url characters, the same for every address of the
 * network.
 */
export function seatTag(room: string, network: string): string {
  return hashTokenNow(room + "\n" + network).slice(0, TAG_CHARS);
}

/**
 * Decides a newcomer's seat. `others`: the room's sessions that count, without the newcomer's own; `tag`: the
 * newcomer's seat tag; `maxPeers`: the room's seats (`MAX_PEERS_PER_ROOM`).
 */
export function decideSeat<T extends SeatHolder>(others: readonly T[], tag: string, maxPeers: number): SeatDecision<T> {
  if (others.length < maxPeers) return { kind: "free" };
  const networks = new Map<string, T[]>();
  for (const holder of others) {
    const key = holder.g ?? "\0" + holder.peer;
    const seats = networks.get(key);
    if (seats) seats.push(holder);
    else networks.set(key, [holder]);
  }
  const mine = networks.get(tag)?.length ?? 0;
  let from: T[] | undefined;
  for (const [key, seats] of networks) {
    // Taking a seat from a network must leave it at least as many as the newcomer's then holds.
    if (key === tag || seats.length < mine + 2 || (from && seats.length <= from.length)) continue;
    if (seats.some((seat) => seat.state === "away")) from = seats;
  }
  if (from === undefined) return { kind: "full" };
  let holder: T | undefined;
  for (const seat of from) {
    if (seat.state === "away" && (holder === undefined || seat.until < holder.until)) holder = seat;
  }
  return { kind: "yield", holder: holder! };
}
