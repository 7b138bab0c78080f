/**
 * The peer table: the other sessions (peer ids) of the room, the member each
 * belongs to (stamped by the server in `welcome` and `presence`), their
 * presence, their open DataChannel and their history-sync state.
 *
 * Delivery is counted per member: several tabs of one member acknowledge
 * once, and own other tabs never need to (they still get own messages). A
 * session without a member id (a third-party client) counts as a member of its own.
 * @module
 */
import type { Digest } from "../order_key.ts";
import type { DirectLink } from "./transport.ts";

/** Presence states a peer can be in, from the server's roster and `presence` frames. */
export type PeerPresence = "joined" | "online" | "away" | "left";

/** What the courier knows about another session. */
export interface PeerState {
  /** Presence from the server; "unknown" for a peer known only through its DataChannel. */
  presence: "online" | "away" | "unknown";
  /** Its member id, when the server stamped one. */
  member?: string;
  /** Its open DataChannel, if any. */
  link?: DirectLink;
  /**
   * Our histories may differ: keep sending it our digest until both digests cover each other, or until
   * `MAX_SYNC_ROUNDS` of its answers brought nothing new (see `history_sync.ts`).
   */
  needSync: boolean;
  /** Answers from it without progress since something last asked for a sync ({@link askSync}). */
  syncRounds?: number;
  /** How many messages our history held at its last answer that did not settle the sync. */
  syncSize?: number;
  /** Its latest digest (from its `sync` or the last packet of its `hist` answer). */
  theirs?: Digest;
}

/** Something new happened with a session (it came online, a DataChannel opened, someone left): compare histories. */
export function askSync(state: PeerState): void {
  state.needSync = true;
  state.syncRounds = 0;
  state.syncSize = undefined;
}

/** Sessions of the room other than this one. */
export class PeerTable {
  #peers = new Map<string, PeerState>();
  #ownMember: string;
  #ownSessions = new Set<string>();
  #relayUp = false;

  /** A table for a courier whose own member id is `ownMember`. */
  constructor(ownMember: string) {
    this.#ownMember = ownMember;
  }

  /** The own member id. */
  get ownMember(): string {
    return this.#ownMember;
  }

  /** Whether the relay is usable (signals can reach peers that are not away). */
  get relayUp(): boolean {
    return this.#relayUp;
  }

  /** Sets whether the relay is usable. */
  set relayUp(up: boolean) {
    this.#relayUp = up;
  }

  /** Records an own session id (this courier's, now or earlier): never a peer. */
  addOwnSession(id: string): void {
    this.#ownSessions.add(id);
    this.#peers.delete(id);
  }

  /** Whether `id` is one of this courier's own sessions. */
  isOwnSession(id: string): boolean {
    return this.#ownSessions.has(id);
  }

  /** The state of a session, or undefined. */
  get(id: string): PeerState | undefined {
    return this.#peers.get(id);
  }

  /** The state of a session, created (presence unknown) when new; undefined for own sessions. */
  ensure(id: string): PeerState | undefined {
    if (this.#ownSessions.has(id)) return undefined;
    let state = this.#peers.get(id);
    if (!state) this.#peers.set(id, state = { presence: "unknown", needSync: false });
    return state;
  }

  /** Forgets a session. */
  delete(id: string): void {
    this.#peers.delete(id);
  }

  /** Every session and its state. */
  entries(): IterableIterator<[string, PeerState]> {
    return this.#peers.entries();
  }

  /** Every session's state. */
  states(): IterableIterator<PeerState> {
    return this.#peers.values();
  }

  /** Who a session acknowledges for: its member, or itself without one. */
  identity(id: string): string {
    return this.#peers.get(id)?.member ?? id;
  }

  /** Whether a session is another tab of this courier's own member. */
  isOwnTab(id: string): boolean {
    return this.#peers.get(id)?.member === this.#ownMember;
  }

  /** The identities that must acknowledge a room message: every other member present (online, away or by link). */
  requiredForRoom(): Set<string> {
    const ids = new Set<string>();
    for (const [id, state] of this.#peers) {
      const who = state.member ?? id;
      if (who !== this.#ownMember) ids.add(who);
    }
    return ids;
  }

  /** Own other tabs (sessions of the own member): they get own messages, though delivery never waits for them. */
  ownTabs(): string[] {
    const out: string[] = [];
    for (const [id, state] of this.#peers) if (state.member === this.#ownMember) out.push(id);
    return out;
  }

  /** The sessions acknowledging for `identity`. */
  sessionsOf(identity: string): string[] {
    const out: string[] = [];
    for (const [id, state] of this.#peers) if ((state.member ?? id) === identity) out.push(id);
    return out;
  }

  /** Sessions of the member `member` (for acks to a message's author). */
  sessionsOfMember(member: string): string[] {
    const out: string[] = [];
    for (const [id, state] of this.#peers) if (state.member === member) out.push(id);
    return out;
  }

  /** Whether a session can be reached now: its DataChannel, or the relay while it is not away. */
  reachable(id: string): boolean {
    const state = this.#peers.get(id);
    return state !== undefined && (state.link !== undefined || (this.#relayUp && state.presence !== "away"));
  }
}
