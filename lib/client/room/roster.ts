/**
 * Who is in the room, as this tab knows it: each peer's presence, the member
 * id the server stamped on it (when the server stamps them), the display name
 * and typing state it told us, and which peers are this member's own sessions
 * (other tabs: by the server's stamp, or by the tabs' own channel).
 * @module
 */
import { effect, type ReadonlySignal, signal, untracked } from "@preact/signals-core";
import type { Timers } from "../timer_set.ts";

/** How long a typing indicator lasts without a new typing signal. */
export const TYPING_SHOW_MS = 4_000;
/**
 * A peer's "typing" taken at most once per this many ms (a page sends it every 2 s while its user types, see
 * `room/mod.ts`): a member sending it at its whole frame rate costs one map and one timer a second, not fifty.
 */
export const TYPING_REFRESH_MS = 1_000;
import { MAX_NAME_LENGTH } from "../text_limits.ts";
import { cleanName } from "./names.ts";
export { MAX_NAME_LENGTH };

const MEMBER_ID = /^[A-Za-z0-9_-]{22}$/;

/** Presence the UI shows. */
export type RosterPresence = "online" | "away";

/** One peer as the server lists it; `member` when the server stamps member ids. */
export interface RosterPeer {
  /** Peer id. */
  id: string;
  /** online or away. */
  presence: RosterPresence;
  /** The member id the server verified for this session, if any. */
  member?: unknown;
}

/** What the roster needs. */
export interface RosterOptions {
  /** Own member id. */
  member: string;
  /** Peer ids of this member's other tabs, from the tabs' channel. */
  siblings: ReadonlySignal<ReadonlySet<string>>;
  /** Wall clock, for typing indicators. */
  now(): number;
  /** Timers, to end typing indicators. */
  timers: Timers;
}

/** The room's people, as signals. */
export interface Roster {
  /** Presence of every other session (own tabs included). */
  readonly presence: ReadonlySignal<ReadonlyMap<string, RosterPresence>>;
  /** Member id per session, where the server stamped one. */
  readonly members: ReadonlySignal<ReadonlyMap<string, string>>;
  /** Display names per session. */
  readonly names: ReadonlySignal<ReadonlyMap<string, string>>;
  /** Until when each session shows as typing. */
  readonly typingUntil: ReadonlySignal<ReadonlyMap<string, number>>;
  /**
   * This member's other sessions (tabs) seen by this page. It only grows: a session once known as
   * own stays own after its tab closed, so its `away` and `left` never make it look like someone else.
   */
  readonly own: ReadonlySignal<ReadonlySet<string>>;
  /** Whether `peer` is one of this member's sessions. */
  isOwn(peer: string): boolean;
  /** Whether `author` (a member id, or a peer id from clients without member keys) is this member. */
  isOwnAuthor(author: string): boolean;
  /** The name of an author: a session's name, or the name of any session of that member. */
  nameOf(author: string): string | undefined;
  /** Replaces the roster with a `welcome`'s. */
  reset(peers: readonly RosterPeer[]): void;
  /** Applies a `presence` frame. */
  update(peer: string, state: "joined" | "online" | "away" | "left", member?: unknown): void;
  /** A peer told its display name. */
  setName(peer: string, name: string): void;
  /** A peer is typing. */
  typing(peer: string): void;
  /** A message of `author` (a member id, or a peer id) arrived: that author's sessions stop showing as typing. */
  wrote(author: string): void;
  /** Stops the roster's watchers. */
  close(): void;
}

/** Keeps only well-formed member ids (a stamp is 22 base64url chars). */
function memberOf(value: unknown): string | undefined {
  return typeof value === "string" && MEMBER_ID.test(value) ? value : undefined;
}

/** Creates an empty roster. */
export function createRoster(options: RosterOptions): Roster {
  const presence = signal<ReadonlyMap<string, RosterPresence>>(new Map());
  const members = signal<ReadonlyMap<string, string>>(new Map());
  const names = signal<ReadonlyMap<string, string>>(new Map());
  const typingUntil = signal<ReadonlyMap<string, number>>(new Map());
  const own = signal<ReadonlySet<string>>(new Set());
  const stopWatching = effect(() => {
    const found = [...options.siblings.value];
    for (const [peer, member] of members.value) if (member === options.member) found.push(peer);
    const known = untracked(() => own.value);
    if (found.every((peer) => known.has(peer))) return;
    own.value = new Set([...known, ...found]);
  });

  function setMember(peer: string, value: unknown): void {
    const member = memberOf(value);
    if (member === undefined || members.peek().get(peer) === member) return;
    members.value = new Map(members.peek()).set(peer, member);
  }

  return {
    presence,
    members,
    names,
    typingUntil,
    own,
    isOwn: (peer) => own.peek().has(peer),
    isOwnAuthor: (author) => author === options.member || own.peek().has(author),
    nameOf(author) {
      const direct = names.value.get(author);
      if (direct !== undefined) return direct;
      for (const [peer, member] of members.value) {
        if (member === author && names.value.has(peer)) return names.value.get(peer);
      }
      return undefined;
    },
    reset(peers) {
      const stamped = new Map<string, string>();
      for (const peer of peers) {
        const member = memberOf(peer.member);
        if (member !== undefined) stamped.set(peer.id, member);
      }
      members.value = stamped;
      presence.value = new Map(peers.map((p) => [p.id, p.presence]));
    },
    update(peer, state, member) {
      if (state !== "left") setMember(peer, member);
      const next = new Map(presence.peek());
      if (state === "left") next.delete(peer);
      else next.set(peer, state === "joined" ? "online" : state);
      presence.value = next;
    },
    setName(peer, name) {
      names.value = new Map(names.peek()).set(peer, cleanName(name, MAX_NAME_LENGTH));
    },
    typing(peer) {
      const now = options.now();
      const until = typingUntil.peek().get(peer);
      // Honest pages tell it every 2 s; oftener changes nothing on screen, and would cost a map and a timer each.
      if (until !== undefined && until - now > TYPING_SHOW_MS - TYPING_REFRESH_MS) return;
      typingUntil.value = new Map(typingUntil.peek()).set(peer, now + TYPING_SHOW_MS);
      // After the indicator's time, a map without the indicators that ended makes the view drop them.
      options.timers.setTimeout(() => {
        const current = typingUntil.peek();
        const left = new Map([...current].filter(([, end]) => end > options.now()));
        if (left.size < current.size) typingUntil.value = left;
      }, TYPING_SHOW_MS + 1);
    },
    wrote(author) {
      const until = typingUntil.peek();
      const memberOfPeer = members.peek();
      let next: Map<string, number> | undefined;
      for (const peer of until.keys()) {
        if (peer === author || memberOfPeer.get(peer) === author) (next ??= new Map(until)).delete(peer);
      }
      if (next) typingUntil.value = next;
    },
    close: stopWatching,
  };
}
