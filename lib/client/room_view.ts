/**
 * What the chat UI sees of a room: read-only signals and a few actions. The
 * islands depend on this contract only, so they hold no transport logic and
 * can be rendered with a fake in tests.
 * @module
 */
import type { ReadonlySignal } from "@preact/signals-core";
import type { LogEvent } from "./event_log.ts";
import type { PeerPath } from "./peer_link.ts";
import type { SocketState } from "./signal_socket.ts";
import type { StorageMode } from "./store_resilient.ts";

/** Delivery status of a message, as the UI shows it. */
export type MessageView = {
  /** Unique message id. */
  id: string;
  /** Author: a member id (signed messages), or a peer id (clients without member keys). */
  author: string;
  /** Author's display name, if they set one. */
  authorName?: string;
  /** Whether this member wrote it, in this tab or another tab of this browser. */
  own: boolean;
  /** The text. */
  body: string;
  /** When it was written, ms since the epoch (author's clock). */
  time: number;
  /** Own messages: pending ("Sending"), sent ("Sent"), delivered ("Delivered"); others: received. */
  status: "pending" | "sent" | "delivered" | "received" | "failed";
  /** Why an own message failed for good (the server refused its frame), when `status` is "failed". */
  failure?: "too_big" | "bad_frame" | "refused" | "unsendable";
  /** A record this device could not read (damaged or from a hostile peer): shown as unreadable, body empty. */
  unreadable?: boolean;
  /**
   * When this device got it (ms since the epoch), for another member's message that came long after its time and
   * sorts before messages already shown: it was not there when those were read (it waited offline, or is backdated).
   */
  arrived?: number;
};

/** Another person of the room: one member, whatever number of sessions (tabs, devices) it has open. */
export interface PeerView {
  /** Peer id (of the member's best-connected session). */
  id: string;
  /** Member id, when the server stamps them. */
  member?: string;
  /** How many sessions of this member are in the room (1 when unknown). */
  sessions?: number;
  /** Display name, if set. */
  name?: string;
  /** online, or away (dropped, may come back within the resume window). */
  presence: "online" | "away";
  /** How chat to this peer travels now. */
  path: PeerPath;
  /** Whether they are typing right now. */
  typing: boolean;
}

/** Counters for the diagnostics drawer. */
export interface CountersView {
  /** Own messages accepted by the server or a peer. */
  sent: number;
  /** Own messages acknowledged by every other peer. */
  delivered: number;
  /** Re-sends of unacknowledged messages. */
  resent: number;
  /** Frames that failed to decrypt or validate, never shown. */
  rejected: number;
  /** Duplicates dropped by id. */
  duplicates: number;
}

/** Per-peer transport details for the diagnostics drawer. */
export interface PeerDiagnostics {
  /** Peer id. */
  id: string;
  /** Path in use. */
  path: PeerPath;
  /** Link state: connecting, open, not-now, closed. */
  link: string;
  /** ICE connection state. */
  ice?: string;
  /** Local candidate type of the selected pair. */
  localType?: string;
  /** Remote candidate type of the selected pair. */
  remoteType?: string;
  /** Protocol to the TURN server, when relayed. */
  relayProtocol?: string;
  /** Round-trip time in ms. */
  rttMs?: number;
}

/** Why a notice is shown. `session_replaced`: another tab took over this tab's session, so it rejoined as a new one. */
export type RoomNoticeCode =
  /** Another socket took this tab's session; the tab rejoined as a new session. */
  | "session_replaced"
  /** The server refused this tab a seat (`room_full`): the room is at its limit; the socket keeps trying. */
  | "room_full";

/** A notice about this tab's session. */
export interface RoomNotice {
  /** What happened. */
  code: RoomNoticeCode;
  /** When, ms since the epoch. */
  at: number;
}

export type { StorageMode };

/** A chat room as the UI drives it. */
export interface RoomView {
  /** The room id. */
  readonly room: string;
  /** Something the user should know about this tab's session, e.g. that it had to rejoin; null when nothing. */
  readonly notice?: ReadonlySignal<RoomNotice | null>;
  /** Messages in the order every peer shows them. */
  readonly messages: ReadonlySignal<MessageView[]>;
  /** The other peers known in the room. */
  readonly peers: ReadonlySignal<PeerView[]>;
  /** The signaling connection's state. */
  readonly connection: ReadonlySignal<SocketState>;
  /** Own peer id (once welcomed), member id, and display name. */
  readonly self: ReadonlySignal<{ id?: string; member?: string; name: string }>;
  /** Counters for diagnostics. */
  readonly counters: ReadonlySignal<CountersView>;
  /** The most recent diagnostic events, oldest first. */
  readonly events: ReadonlySignal<readonly LogEvent[]>;
  /** Where writes go now; the UI shows a notice while "memory" (absent: durable; "opening" shows none). */
  readonly storage?: ReadonlySignal<StorageMode>;
  /** Sends a message; it is stored first, so it survives a reload even offline. */
  send(text: string): Promise<void>;
  /** Sets and remembers the display name, and tells the peers. */
  setName(name: string): void;
  /** Tells the peers this user is typing (throttled inside). */
  typing(): void;
  /** Reconnects now instead of waiting for the backoff. */
  retryNow(): void;
  /** Transport details per peer. */
  diagnostics(): Promise<PeerDiagnostics[]>;
  /** Leaves the page's connections (not the room). */
  close(): void;
  /** Leaves the room: says `bye` (the others see this person gone at once), stops reconnecting, and closes. */
  leave(): void;
}
