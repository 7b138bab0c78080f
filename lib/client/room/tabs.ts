/**
 * The tabs of one member in one room, in one browser: a BroadcastChannel
 * named after room and member, on which each tab says which peer id (server
 * session) it is, shares its own messages the moment they are written (so
 * another tab shows them before any relay echo, and even when P2P carried
 * them past the relay), and shares a new display name. Tabs are sessions of
 * one member: the room hides them from the people list, never links them by
 * P2P, and never waits for their acks.
 *
 * Only this browser's pages of this origin can post here, which is why the
 * room may trust it for "this peer is one of my tabs". Messages are a tagged
 * union; the parser ignores what it does not know (a newer tab may speak more).
 * @module
 */
import { type ReadonlySignal, signal } from "@preact/signals-core";
import { randomId } from "../../protocol/mod.ts";

/** The part of `BroadcastChannel` the bus uses. */
export interface TabChannel {
  /** Posts a message to every other holder of the channel name. */
  postMessage(message: unknown): void;
  /** Receives their messages. */
  onmessage: ((event: MessageEvent) => void) | null;
  /** Leaves the channel. */
  close(): void;
}

/** Opens a channel by name (`name => new BroadcastChannel(name)` in browsers). */
export type OpenTabChannel = (name: string) => TabChannel;

/** What tabs tell each other. */
export type TabMessage =
  /** A tab opened: everyone say who you are. */
  | { t: "who"; tab: string }
  /** This tab is (now) session `peer`. */
  | { t: "here"; tab: string; peer: string }
  /** This tab closes. */
  | { t: "gone"; tab: string }
  /** An own message this tab wrote, as a courier payload sealed by session `peer`. */
  | { t: "msg"; tab: string; peer: string; payload: string }
  /** The member's new display name. */
  | { t: "name"; tab: string; name: string }
  /** An own message this tab sent reached every other member ("Delivered"): the acks came to this tab only. */
  | { t: "delivered"; tab: string; id: string };

/** The channel name of one member's tabs in one room. */
export function tabChannelName(room: string, member: string): string {
  return `parley-tabs:${room}:${member}`;
}

/** A tab message, or null for anything else (unknown kinds included). */
export function parseTabMessage(data: unknown): TabMessage | null {
  if (typeof data !== "object" || data === null) return null;
  const m = data as Record<string, unknown>;
  if (typeof m.tab !== "string") return null;
  switch (m.t) {
    case "who":
    case "gone":
      return { t: m.t, tab: m.tab };
    case "here":
      return typeof m.peer === "string" ? { t: "here", tab: m.tab, peer: m.peer } : null;
    case "msg":
      return typeof m.peer === "string" && typeof m.payload === "string"
        ? { t: "msg", tab: m.tab, peer: m.peer, payload: m.payload }
        : null;
    case "name":
      return typeof m.name === "string" ? { t: "name", tab: m.tab, name: m.name } : null;
    case "delivered":
      return typeof m.id === "string" && m.id.length <= 64 ? { t: "delivered", tab: m.tab, id: m.id } : null;
    default:
      return null;
  }
}

/** What the tab bus needs. */
export interface TabBusOptions {
  /** Opens the channel. */
  open: OpenTabChannel;
  /** The room id. */
  room: string;
  /** Own member id: only tabs of the same member share a channel. */
  member: string;
  /** Another tab shared an own message (a courier payload sealed by its session `peer`). */
  onMessage(peer: string, payload: string): void;
  /** Another tab set the display name. */
  onName(name: string): void;
  /** Another tab saw an own message delivered. */
  onDelivered?(id: string): void;
  /** This tab's id; random by default. */
  tab?: string;
}

/** One tab's end of the bus. */
export interface TabBus {
  /** The peer ids of the member's other open tabs. */
  readonly siblings: ReadonlySignal<ReadonlySet<string>>;
  /** Tells the other tabs which session this tab is now. */
  announce(peer: string): void;
  /** Shares an own message with the other tabs. */
  shareMessage(peer: string, payload: string): void;
  /** Shares a new display name. */
  shareName(name: string): void;
  /** Tells the other tabs an own message is delivered. */
  shareDelivered(id: string): void;
  /** Says goodbye and leaves the channel. */
  close(): void;
}

/** Joins the bus of one member's tabs in one room. */
export function createTabBus(options: TabBusOptions): TabBus {
  const tab = options.tab ?? randomId(9);
  const channel = options.open(tabChannelName(options.room, options.member));
  const sessions = new Map<string, string>();
  const siblings = signal<ReadonlySet<string>>(new Set());
  let self: string | undefined;
  let closed = false;

  const post = (message: TabMessage) => {
    if (!closed) channel.postMessage(message);
  };
  const publish = () => {
    siblings.value = new Set(sessions.values());
  };

  channel.onmessage = (event) => {
    const message = parseTabMessage(event.data);
    if (!message || message.tab === tab || closed) return;
    switch (message.t) {
      case "who":
        if (self) post({ t: "here", tab, peer: self });
        return;
      case "here":
        if (sessions.get(message.tab) === message.peer) return;
        sessions.set(message.tab, message.peer);
        return publish();
      case "gone":
        if (sessions.delete(message.tab)) publish();
        return;
      case "msg":
        // A tab that wrote before it was welcomed names no session yet: nothing to attribute it to.
        if (message.peer) options.onMessage(message.peer, message.payload);
        return;
      case "name":
        return options.onName(message.name);
      case "delivered":
        return options.onDelivered?.(message.id);
    }
  };
  post({ t: "who", tab });

  return {
    siblings,
    announce(peer) {
      self = peer;
      post({ t: "here", tab, peer });
    },
    shareMessage(peer, payload) {
      post({ t: "msg", tab, peer, payload });
    },
    shareName(name) {
      post({ t: "name", tab, name });
    },
    shareDelivered(id) {
      post({ t: "delivered", tab, id });
    },
    close() {
      post({ t: "gone", tab });
      closed = true;
      channel.onmessage = null;
      channel.close();
    },
  };
}
