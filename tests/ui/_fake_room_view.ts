/**
 * A RoomView made of plain signals, for rendering the chat UI without a
 * network: tests set its signals and read back what the UI asked of it.
 * Runs under Deno and in the browser harness alike.
 * @module
 */
import { type Signal, signal } from "@preact/signals-core";
import type { LogEvent } from "../../lib/client/event_log.ts";
import type {
  CountersView,
  MessageView,
  PeerDiagnostics,
  PeerView,
  RoomNotice,
  RoomView,
} from "../../lib/client/room_view.ts";
import type { SocketState } from "../../lib/client/signal_socket.ts";

/** What the fake starts with; everything optional. */
export interface FakeRoomViewOptions {
  /** Initial messages. */
  messages?: MessageView[];
  /** Initial peers. */
  peers?: PeerView[];
  /** Initial connection state (default connected). */
  connection?: SocketState;
  /** Own display name. */
  name?: string;
  /** Per-peer diagnostics answered by `diagnostics()`. */
  diagnostics?: PeerDiagnostics[];
  /** The clock used for sent messages' times. */
  now?: () => number;
  /** A notice about the tab's session (none by default). */
  notice?: RoomNotice;
}

/** The fake, with its signals writable and a record of the calls made. */
export interface FakeRoomView extends RoomView {
  /** Writable messages. */
  messages: Signal<MessageView[]>;
  /** Writable peers. */
  peers: Signal<PeerView[]>;
  /** Writable connection state. */
  connection: Signal<SocketState>;
  /** Writable self. */
  self: Signal<{ id?: string; name: string }>;
  /** Writable counters. */
  counters: Signal<CountersView>;
  /** Writable events. */
  events: Signal<readonly LogEvent[]>;
  /** Every call the UI made, in order, e.g. ["send:hi", "typing", "retryNow"]. */
  calls: string[];
}

/** Builds a fake room; `send` appends an own "pending" message like the real core does. */
export function fakeRoomView(options: FakeRoomViewOptions = {}): FakeRoomView {
  const now = options.now ?? Date.now;
  const calls: string[] = [];
  let nextId = 0;
  const view: FakeRoomView = {
    room: "AAAAAAAAAAAAAAAAAAAAAA",
    messages: signal<MessageView[]>(options.messages ?? []),
    peers: signal<PeerView[]>(options.peers ?? []),
    connection: signal<SocketState>(options.connection ?? { kind: "connected" }),
    self: signal<{ id?: string; name: string }>({ id: "self0001", name: options.name ?? "" }),
    counters: signal<CountersView>({ sent: 0, delivered: 0, resent: 0, rejected: 0, duplicates: 0 }),
    events: signal<readonly LogEvent[]>([]),
    notice: signal<RoomNotice | null>(options.notice ?? null),
    calls,
    send(text: string) {
      calls.push(`send:${text}`);
      const message: MessageView = {
        id: `own-${nextId++}`,
        author: "self0001",
        own: true,
        body: text,
        time: now(),
        status: "pending",
      };
      view.messages.value = [...view.messages.value, message];
      return Promise.resolve();
    },
    setName(name: string) {
      calls.push(`setName:${name}`);
      view.self.value = { ...view.self.value, name };
    },
    typing() {
      if (calls.at(-1) !== "typing") calls.push("typing");
    },
    retryNow() {
      calls.push("retryNow");
    },
    diagnostics() {
      calls.push("diagnostics");
      return Promise.resolve(options.diagnostics ?? []);
    },
    close() {
      calls.push("close");
    },
    leave() {
      calls.push("leave");
    },
  };
  return view;
}

/** A conversation that shows every status and every path, for renders and screenshots. */
export function sampleRoom(now = Date.UTC(2026, 10, 24, 9, 30)): FakeRoomViewOptions {
  const minute = 60_000;
  return {
    now: () => now,
    name: "Ivan",
    messages: [
      {
        id: "m1",
        author: "peer-anna",
        authorName: "Anna",
        own: false,
        body: "Hi! Are you on the train?",
        time: now - 9 * minute,
        status: "received",
      },
      {
        id: "m2",
        author: "self0001",
        own: true,
        body: "Yes, signal comes and goes.",
        time: now - 8 * minute,
        status: "delivered",
      },
      {
        id: "m3",
        author: "peer-boris",
        own: false,
        body: "I am in too.\nSecond line.",
        time: now - 5 * minute,
        status: "received",
      },
      { id: "m4", author: "self0001", own: true, body: "See you at 10", time: now - 2 * minute, status: "sent" },
      { id: "m5", author: "self0001", own: true, body: "Typed in the tunnel", time: now - minute, status: "pending" },
    ],
    peers: [
      { id: "peer-anna", name: "Anna", presence: "online", path: "p2p", typing: true },
      { id: "peer-boris", presence: "online", path: "p2p-turn", typing: false },
      { id: "peer-vera", name: "Vera", presence: "away", path: "relay", typing: false },
    ],
    diagnostics: [
      {
        id: "peer-anna",
        path: "p2p",
        link: "open",
        ice: "connected",
        localType: "host",
        remoteType: "srflx",
        rttMs: 42,
      },
      {
        id: "peer-boris",
        path: "p2p-turn",
        link: "open",
        ice: "connected",
        localType: "relay",
        remoteType: "host",
        relayProtocol: "tcp",
        rttMs: 180,
      },
    ],
  };
}
