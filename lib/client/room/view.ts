/**
 * The UI's signals of a room, computed from the courier (messages, counters),
 * the roster (people, names, typing, own sessions) and the link pool (paths).
 * Nothing here sends or stores anything.
 * @module
 */
import { computed, type ReadonlySignal, signal } from "@preact/signals-core";
import type { Courier } from "../courier/mod.ts";
import type { PeerPath } from "../peer_link.ts";
import type { CountersView, MessageView, PeerView } from "../room_view.ts";
import { distinctNames } from "./names.ts";
import type { Roster } from "./roster.ts";

/** What the view reads. */
export interface RoomSignalsOptions {
  /** The courier: history, counters, and its events. */
  courier: Pick<Courier, "messages" | "counters" | "subscribe">;
  /** The people of the room. */
  roster: Roster;
  /** Own peer id: messages it wrote are own whatever status another tab stored for them. */
  self: ReadonlySignal<string | undefined>;
  /** The path to each linked peer. */
  paths: ReadonlySignal<ReadonlyMap<string, PeerPath>>;
  /** Envelopes dropped before the courier saw them. */
  rejectedBySignal: ReadonlySignal<number>;
  /** Wall clock, for typing indicators. */
  now(): number;
  /** Names of other members remembered on this device (member id → name), for those not telling theirs now. */
  remembered?: ReadonlySignal<Readonly<Record<string, string>>>;
}

/** The UI's signals. */
export interface RoomSignals {
  /** Messages in the order every peer shows them. */
  readonly messages: ReadonlySignal<MessageView[]>;
  /** The other people (own tabs are not people). */
  readonly peers: ReadonlySignal<PeerView[]>;
  /** Counters for diagnostics. */
  readonly counters: ReadonlySignal<CountersView>;
  /** Stops listening to the courier. */
  close(): void;
}

const PATH_RANK: Record<PeerPath, number> = { "p2p": 2, "p2p-turn": 1, "relay": 0 };

/** Creates the view signals of one room. */
export function createRoomSignals(options: RoomSignalsOptions): RoomSignals {
  const { courier, roster } = options;
  // Bumped on each courier event that changes what is shown; the computeds below read it.
  const history = signal(0);
  const tallies = signal(0);
  const unsubscribe = courier.subscribe((event) => {
    if (event.type === "messages" || event.type === "status" || event.type === "received") history.value++;
    if (event.type === "counters" || event.type === "status") tallies.value++;
  });

  // Each other member's name to show: what its sessions tell now, else what this device remembers;
  // members sharing a name get the start of their member id appended.
  const memberNames = computed<Map<string, string>>(() => {
    const named = new Map<string, string>(Object.entries(options.remembered?.value ?? {}));
    const members = roster.members.value;
    for (const [peer, name] of roster.names.value) {
      const member = members.get(peer);
      if (member !== undefined && name) named.set(member, name);
    }
    for (const own of [...named.keys()]) if (roster.isOwnAuthor(own)) named.delete(own);
    return distinctNames(named);
  });

  const messages = computed<MessageView[]>(() => {
    void history.value;
    void roster.own.value;
    const self = options.self.value;
    return courier.messages.map((m) => {
      const own = m.status !== "received" || m.author === self || roster.isOwnAuthor(m.author);
      const view: MessageView = {
        id: m.id,
        author: m.author,
        authorName: own ? undefined : memberNames.value.get(m.author) ?? roster.nameOf(m.author),
        own,
        body: m.body,
        time: m.time,
        status: m.status,
      };
      if (m.failure) view.failure = m.failure;
      if (m.unreadable) view.unreadable = true;
      if (m.arrived !== undefined) view.arrived = m.arrived;
      return view;
    });
  });

  const counters = computed<CountersView>(() => {
    void tallies.value;
    const c = courier.counters;
    return {
      sent: c.sent,
      delivered: c.delivered,
      resent: c.resent,
      rejected: c.rejected + options.rejectedBySignal.value,
      duplicates: c.duplicates,
    };
  });

  const peers = computed<PeerView[]>(() => {
    const paths = options.paths.value;
    const until = roster.typingUntil.value;
    const names = roster.names.value;
    const members = roster.members.value;
    const own = roster.own.value;
    const t = options.now();
    // One entry per person: sessions that share a stamped member id are one member.
    const people = new Map<string, PeerView>();
    for (const [id, presence] of roster.presence.value) {
      if (own.has(id)) continue;
      const member = members.get(id);
      const session: PeerView = {
        id,
        name: (member !== undefined ? memberNames.value.get(member) : undefined) ?? names.get(id),
        presence,
        path: paths.get(id) ?? "relay",
        typing: (until.get(id) ?? 0) > t,
      };
      if (member !== undefined) session.member = member;
      const key = member ?? `peer:${id}`;
      const known = people.get(key);
      if (!known) {
        people.set(key, { ...session, sessions: 1 });
        continue;
      }
      const better = PATH_RANK[session.path] > PATH_RANK[known.path] ||
        (session.presence === "online" && known.presence === "away");
      people.set(key, {
        ...(better ? session : known),
        name: known.name ?? session.name,
        presence: known.presence === "online" || session.presence === "online" ? "online" : "away",
        typing: known.typing || session.typing,
        sessions: known.sessions! + 1,
      });
    }
    return [...people.values()];
  });

  return { messages, peers, counters, close: unsubscribe };
}
