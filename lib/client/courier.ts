/**
 * The courier: Parley's delivery guarantee, as a pure state machine.
 *
 * - Every message gets a random id and an order key (see `order_key.ts`), so
 *   every peer shows the same order.
 * - A message goes out at once on the best path: the DataChannel to a peer
 *   when it is open, else the server relay. It never waits for P2P.
 * - Receivers acknowledge every message end to end (only once it is stored);
 *   unacknowledged messages are re-sent on a timer and whenever a path
 *   changes, over whichever path works then; duplicates are dropped by id (and
 *   acknowledged again, since the first ack may have been lost).
 * - Own messages move pending → sent (the room log accepted it, or a peer
 *   acknowledged it) → delivered (every other peer known in the room
 *   acknowledged it), never backwards.
 * - A peer that appears gets a summary of our history and we get its, then
 *   each side sends what the other lacks (history sync), so messages that only
 *   went over DataChannels reach late joiners too.
 * - Everything lives in a {@link Store}, so a reload rebuilds the same state
 *   and re-sends the outbox.
 *
 * Clock, timers, randomness, transports and the payload codec (encryption) are
 * injected: the shell wires the signal socket, peer links and crypto to it;
 * tests drive it with fakes. See `Packet` for the inner message formats.
 * @module
 */
import { type MessageStatus, STATUS_RANK, type Store, type StoredMessage } from "./store.ts";
import type { OutboxEntry } from "./store.ts";
import { GLOBAL_TIMERS, type TimerId, type Timers } from "./timer_set.ts";
import { encodeBase64Url as toBase64Url } from "../protocol/mod.ts";
import {
  buildDigest,
  type Digest,
  digestCovers,
  digestHas,
  formatOrderKey,
  HybridClock,
  isDigest,
  type OrderParts,
  parseOrderKey,
} from "./order_key.ts";

/** Random bytes in a message id: 128 bits, so ids never collide. */
export const MESSAGE_ID_BYTES = 16;
/** Random bytes in a provisional author id, used only before the server's first `welcome`. */
export const PROVISIONAL_ID_BYTES = 9;
/**
 * Default most characters of messages (as JSON) in one `hist` packet: even all
 * 3-byte UTF-8, encrypted and base64url-encoded, it stays below the server's 64 KiB frames.
 */
export const DEFAULT_HISTORY_BATCH_CHARS = 12_000;
/** Default most re-sends per tick or path change: a big outbox drains below the server's rate limit (burst 200, 50/s). */
export const DEFAULT_RESEND_BURST = 100;
/** Most message ids in one `ack` packet (about 10 KB), so acks for a long history stay small frames. */
export const ACK_BATCH = 400;

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A message as it travels between peers (inside the encrypted payload). */
export interface WireMessage {
  /** Unique message id (base64url). */
  id: string;
  /** Author's peer id; equals the author part of `order`. */
  author: string;
  /** Order key (see `order_key.ts`). */
  order: string;
  /** Author's wall-clock time of writing, ms since the epoch, for display. */
  time: number;
  /** Plaintext body. */
  body: string;
  /** The one receiving peer of a direct message; absent for the whole room. */
  to?: string;
}

/**
 * The courier's inner packets, JSON objects the codec turns into payloads.
 * - `msg`: an author sends its own message (relay chat, relay signal or DataChannel).
 * - `ack`: "I have stored these ids" (to the author, by DataChannel or relay signal).
 * - `sync`: "here is what I have" (history digest), asking for what I lack.
 * - `hist`: messages the asker lacks; the last packet of an answer carries the sender's digest.
 */
export type Packet =
  | { t: "msg"; m: WireMessage }
  | { t: "ack"; ids: string[] }
  | { t: "sync"; have: Digest }
  | { t: "hist"; ms: WireMessage[]; have?: Digest };

/** The server relay, as the courier uses it (the shell adapts the signal socket to it). */
export interface RelayTransport {
  /** Sends a `chat` frame: logged by the server, acknowledged with `accepted`, delivered to `to` or the room. */
  sendChat(id: string, to: string | undefined, payload: string): void;
  /** Sends a `signal` frame to one online peer: forwarded, never logged. The shell tags it as a courier payload. */
  sendSignal(to: string, payload: string): void;
}

/** An open DataChannel to one peer (e.g. a `PeerLink`). */
export interface DirectLink {
  /** Sends a payload; false when the channel is not open (the courier then uses the relay). */
  send(payload: string): boolean;
}

/** Turns packets into payload strings and back: the shell's end-to-end encryption. */
export interface PayloadCodec {
  /** Encodes (encrypts) a packet sent by `sender` (own peer id); base64url text, as relay `chat` frames need. */
  encode(packet: Packet, sender: string): string | Promise<string>;
  /** Decodes (decrypts and authenticates) a payload from peer `from`; throws when tampered or wrongly keyed. */
  decode(payload: string, from: string): unknown | Promise<unknown>;
}

/** Presence states a peer can be in, from the server's roster and `presence` frames. */
export type PeerPresence = "joined" | "online" | "away" | "left";

/** Courier counters for the diagnostics view. */
export interface CourierCounters {
  /** Own messages sent for the first time. */
  sent: number;
  /** Own messages that reached "delivered". */
  delivered: number;
  /** Re-sends of own messages (timer or path change). */
  resent: number;
  /** Messages of others received and stored for the first time. */
  received: number;
  /** Copies of known messages dropped by id. */
  duplicates: number;
  /** Payloads that failed to decode (tampered, wrong key) or were malformed: never shown. */
  rejected: number;
}

/** What the courier tells the UI. */
export type CourierEvent =
  | { type: "messages" }
  | { type: "received"; message: StoredMessage }
  | { type: "status"; id: string; status: MessageStatus }
  | { type: "counters" }
  | { type: "rejected"; from: string; reason: string }
  | { type: "error"; context: string; error: unknown };

/** The courier's view of the room at one moment (see {@link Courier.snapshot}). */
export interface CourierSnapshot {
  /** Own peer id. */
  self: string | undefined;
  /** Whether the relay is usable. */
  relayUp: boolean;
  /** Other peers: presence ("unknown" when known only by its DataChannel), open DataChannel, history sync pending. */
  peers: { id: string; presence: "online" | "away" | "unknown"; direct: boolean; syncing: boolean }[];
  /** Own messages awaiting acks. */
  outbox: OutboxEntry[];
}

/** Timing of the courier, from the network profile. */
export interface CourierTiming {
  /** An unacknowledged message (and an unanswered history sync) is re-sent after this; Infinity disables the timer. */
  resendIntervalMs: number;
}

/** Everything a courier needs from its surroundings. */
export interface CourierOptions {
  /** The room id: the store's scope. */
  room: string;
  /** Persistence of history, outbox and room state. */
  store: Store;
  /** The server relay. */
  relay: RelayTransport;
  /** Payload encryption; `plainCodec` in tests. */
  codec: PayloadCodec;
  /** Timing numbers from the network profile. */
  timing: CourierTiming;
  /** Whether unacknowledged messages are re-sent at once when a path changes (only tests turn it off). */
  resendOnPathChange?: boolean;
  /** Most characters of messages (as JSON) per `hist` packet. */
  historyBatchChars?: number;
  /** Most own messages (re-)sent per tick or path change; the rest wait for the next tick. */
  resendBurst?: number;
  /** Wall clock in ms; defaults to `Date.now`. */
  now?: () => number;
  /** Timers; default to the global ones. */
  timers?: Timers;
  /** Random bytes; defaults to WebCrypto. */
  randomBytes?: (count: number) => Uint8Array;
}

/** Options with their defaults applied. */
type Settings = Required<Omit<CourierOptions, "room" | "store" | "relay" | "codec">>;

function defaults(options: CourierOptions): Settings {
  return {
    timing: options.timing,
    resendOnPathChange: options.resendOnPathChange ?? true,
    historyBatchChars: options.historyBatchChars ?? DEFAULT_HISTORY_BATCH_CHARS,
    resendBurst: options.resendBurst ?? DEFAULT_RESEND_BURST,
    now: options.now ?? (() => Date.now()),
    timers: options.timers ?? GLOBAL_TIMERS,
    randomBytes: options.randomBytes ?? ((count) => crypto.getRandomValues(new Uint8Array(count))),
  };
}

/** A base64url codec without encryption: for tests and for wiring before crypto (never in production). */
export const plainCodec: PayloadCodec = {
  encode(packet) {
    return toBase64Url(new TextEncoder().encode(JSON.stringify(packet)));
  },
  decode(payload) {
    const binary = atob(payload.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  },
};

/** What the courier knows about another peer. */
interface PeerState {
  /** Presence from the server; "unknown" for a peer known only through its DataChannel. */
  presence: "online" | "away" | "unknown";
  /** Its open DataChannel, if any. */
  link?: DirectLink;
  /** Our histories may differ: keep sending it our digest until both digests cover each other. */
  needSync: boolean;
  /** Its latest digest (from its `sync` or the last packet of its `hist` answer). */
  theirs?: Digest;
}

/** An own message awaiting acknowledgement. */
interface Pending {
  /** The persisted outbox entry (kept in step with the store). */
  entry: OutboxEntry;
  /** When it last went out, by the courier's clock; -Infinity when it must go at the next chance. */
  lastSent: number;
  /** Stored: only then may it leave, so a crash never forgets a message a peer already has. */
  ready: boolean;
}

/** Whether a value is a well-formed wire message whose author matches its order key. */
function toWireMessage(value: unknown): (WireMessage & { parts: OrderParts }) | null {
  if (typeof value !== "object" || value === null) return null;
  const m = value as Record<string, unknown>;
  if (typeof m.id !== "string" || !ID_PATTERN.test(m.id)) return null;
  if (typeof m.body !== "string" || typeof m.time !== "number" || typeof m.order !== "string") return null;
  if (m.to !== undefined && (typeof m.to !== "string" || !ID_PATTERN.test(m.to))) return null;
  const parts = parseOrderKey(m.order);
  if (!parts || parts.author !== m.author) return null;
  const wire: WireMessage & { parts: OrderParts } = {
    id: m.id,
    author: parts.author,
    order: m.order,
    time: m.time,
    body: m.body,
    parts,
  };
  if (m.to !== undefined) wire.to = m.to as string;
  return wire;
}

function toWire(message: StoredMessage): WireMessage {
  const wire: WireMessage = {
    id: message.id,
    author: message.author,
    order: message.order,
    time: message.time,
    body: message.body,
  };
  if (message.to !== undefined) wire.to = message.to;
  return wire;
}

function byOrder(a: StoredMessage, b: StoredMessage): number {
  return a.order < b.order ? -1 : a.order > b.order ? 1 : 0;
}

/** The delivery-guarantee state machine of one room. Create it with {@link Courier.load}. */
export class Courier {
  #room: string;
  #store: Store;
  #relay: RelayTransport;
  #codec: PayloadCodec;
  #s: Settings;
  #clock: HybridClock;
  #messages = new Map<string, StoredMessage>();
  #list: StoredMessage[] | null = null;
  #outbox = new Map<string, Pending>();
  #peers = new Map<string, PeerState>();
  #self: string | undefined;
  #ownIds = new Set<string>();
  #n = 0;
  #lastSeq = 0;
  #relayUp = false;
  #timer: TimerId | undefined;
  #closed = false;
  #listeners = new Set<(event: CourierEvent) => void>();
  #writes = new Map<string, Promise<unknown>>();
  #busy = 0;
  #idle: (() => void)[] = [];
  #counters: CourierCounters = { sent: 0, delivered: 0, resent: 0, received: 0, duplicates: 0, rejected: 0 };

  /** Rebuilds a room's courier from its store: history, outbox, own id and last log seq. */
  static async load(options: CourierOptions): Promise<Courier> {
    const { store, room } = options;
    const [state, history, outbox] = await Promise.all([
      store.getState(room),
      store.listMessages(room),
      store.listOutbox(room),
    ]);
    return new Courier(options, state.peer, state.lastSeq ?? 0, history, outbox);
  }

  /** Use {@link Courier.load}; the constructor takes what it read from the store. */
  private constructor(
    options: CourierOptions,
    self: string | undefined,
    lastSeq: number,
    history: StoredMessage[],
    outbox: OutboxEntry[],
  ) {
    this.#room = options.room;
    this.#store = options.store;
    this.#relay = options.relay;
    this.#codec = options.codec;
    this.#s = defaults(options);
    this.#clock = new HybridClock(this.#s.now);
    this.#lastSeq = lastSeq;
    this.#setSelf(self, history);
    for (const message of history) {
      const parts = parseOrderKey(message.order);
      if (parts) this.#clock.observe(parts.ms, parts.c);
      this.#messages.set(message.id, message);
      if (message.status !== "received") this.#ownIds.add(message.author);
    }
    for (const entry of outbox) {
      if (this.#messages.has(entry.id)) this.#outbox.set(entry.id, { entry, lastSent: -Infinity, ready: true });
      else this.#fail("load", new Error(`outbox entry ${entry.id} has no history record`));
    }
  }

  /** Messages of the room, sorted by order key (a new array after each change). */
  get messages(): readonly StoredMessage[] {
    if (!this.#list) this.#list = [...this.#messages.values()].sort(byOrder);
    return this.#list;
  }

  /** A copy of the counters. */
  get counters(): CourierCounters {
    return { ...this.#counters };
  }

  /** Own peer id (author of new messages); undefined before the first `welcome` and the first own message. */
  get self(): string | undefined {
    return this.#self;
  }

  /** The `since` to put in `hello`: the highest room-log seq already processed (0 for none). */
  get since(): number {
    return this.#lastSeq;
  }

  /** Own messages not yet delivered to everyone. */
  get outboxSize(): number {
    return this.#outbox.size;
  }

  /** What the courier knows now, for the diagnostics view: peers, their paths, and the outbox. */
  snapshot(): CourierSnapshot {
    return {
      self: this.#self,
      relayUp: this.#relayUp,
      peers: [...this.#peers].map(([id, state]) => ({
        id,
        presence: state.presence,
        direct: state.link !== undefined,
        syncing: state.needSync,
      })),
      outbox: [...this.#outbox.values()].map(({ entry }) => ({ ...entry, ackedBy: [...entry.ackedBy] })),
    };
  }

  /** The status of a message by id, or undefined when unknown. */
  status(id: string): MessageStatus | undefined {
    return this.#messages.get(id)?.status;
  }

  /** Listens to courier events; returns the unsubscribe function. */
  subscribe(listener: (event: CourierEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once every store write and async encode/decode started so far has finished. */
  settled(): Promise<void> {
    if (this.#busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops timers and ignores every later input (a reload builds a new courier from the store). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#s.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  // ---- own messages -------------------------------------------------------

  /** Writes an own message: shown at once as pending, stored with its outbox entry, then sent on the best path. */
  async send(body: string, to?: string): Promise<StoredMessage> {
    if (this.#closed) throw new Error("courier is closed");
    if (this.#self === undefined) {
      this.#setSelf(toBase64Url(this.#s.randomBytes(PROVISIONAL_ID_BYTES)), []);
      this.#track(this.#store.patchState(this.#room, { peer: this.#self }), "save provisional id");
    }
    const author = this.#self!;
    const { ms, c } = this.#clock.tick();
    const order = formatOrderKey({ ms, c, author, n: ++this.#n });
    const message: StoredMessage = {
      id: toBase64Url(this.#s.randomBytes(MESSAGE_ID_BYTES)),
      author,
      order,
      body,
      status: "pending",
      time: this.#s.now(),
    };
    const entry: OutboxEntry = { id: message.id, order, ackedBy: [], accepted: false, attempts: 0 };
    if (to !== undefined) message.to = entry.to = to;
    this.#messages.set(message.id, message);
    this.#list = null;
    const pending: Pending = { entry, lastSent: -Infinity, ready: false };
    this.#outbox.set(message.id, pending);
    this.#emit({ type: "messages" });
    await this.#write(
      message.id,
      this.#store.putOwn(this.#room, message, { ...entry, ackedBy: [] }),
      "store own message",
    );
    pending.ready = true;
    if (!this.#closed && this.#outbox.get(message.id) === pending) this.#transmit(pending);
    this.#arm();
    return message;
  }

  // ---- relay --------------------------------------------------------------

  /** The relay is usable: a `welcome` came with our peer id and the roster. Re-sends the outbox and syncs history. */
  relayUp(welcome: { peer: string; peers: { id: string; presence: "online" | "away" }[] }): void {
    if (this.#closed) return;
    if (welcome.peer !== this.#self) {
      this.#setSelf(welcome.peer, this.messages);
      this.#track(this.#store.patchState(this.#room, { peer: welcome.peer }), "save peer id");
    }
    this.#relayUp = true;
    const roster = new Map(welcome.peers.map((p) => [p.id, p.presence]));
    for (const [id, state] of this.#peers) {
      if (!roster.has(id) && !state.link) this.#peers.delete(id);
      else if (!roster.has(id)) state.presence = "unknown";
    }
    for (const [id, presence] of roster) {
      if (this.#ownIds.has(id)) continue;
      const state = this.#peer(id);
      state.presence = presence;
      if (presence === "online") state.needSync = true;
    }
    this.#checkAllDelivered();
    this.#pathChanged();
  }

  /** The relay socket closed: messages wait (or use DataChannels) until the next {@link relayUp}. */
  relayDown(): void {
    this.#relayUp = false;
  }

  /** A `presence` frame: peers joining or coming back get re-sends and a history sync; peers leaving stop counting. */
  presence(peer: string, state: PeerPresence): void {
    if (this.#closed || peer === this.#self || this.#ownIds.has(peer)) return;
    if (state === "left") {
      this.#peers.delete(peer);
      // Someone else may hold what only the leaver had told us about: compare notes again.
      for (const other of this.#peers.values()) other.needSync = true;
      this.#checkAllDelivered();
      this.#arm();
      return;
    }
    const entry = this.#peer(peer);
    if (state === "away") {
      entry.presence = "away";
      return;
    }
    entry.presence = "online";
    entry.needSync = true;
    this.#pathChanged(peer);
  }

  /** An `accepted` frame: the room log holds our message, so it is at least "sent". */
  accepted(id: string, seq: number): void {
    if (this.#closed) return;
    const pending = this.#outbox.get(id);
    if (pending && !pending.entry.accepted) {
      pending.entry.accepted = true;
      this.#saveEntry(pending);
    }
    this.#raise(id, "sent", seq);
  }

  /** An `error` frame refused our chat frame `ref` (rate limit, server failure): re-send it at the next tick. */
  refused(ref: string): void {
    const pending = this.#outbox.get(ref);
    if (!pending || this.#closed) return;
    pending.lastSent = -Infinity;
    this.#arm();
  }

  /** A relayed `chat` frame (live or backlog): a message, acknowledged to its sender once stored. */
  receiveChat(frame: { from: string; id: string; data: string; seq: number }): void {
    if (this.#closed) return;
    this.#decode(frame.data, frame.from, (packet) => {
      if (packet.t !== "msg" || packet.m.id !== frame.id) {
        this.#reject(frame.from, "chat frame without its message");
        return this.#seen(frame.seq);
      }
      const done = this.#ingest([packet.m], frame.from, true, frame.seq);
      this.#track(done.then(() => this.#seen(frame.seq)), "save log position");
    }, () => this.#seen(frame.seq));
  }

  /** A relayed `signal` payload meant for the courier (acks, history sync, re-sends). */
  receiveSignal(from: string, payload: string): void {
    if (this.#closed) return;
    this.#decode(payload, from, (packet) => this.#handle(packet, from));
  }

  // ---- DataChannels -------------------------------------------------------

  /** A DataChannel to `peer` opened: it becomes the path to that peer; unacknowledged messages and a sync follow. */
  linkOpened(peer: string, link: DirectLink): void {
    if (this.#closed) return;
    const state = this.#peer(peer);
    state.link = link;
    state.needSync = true;
    this.#pathChanged(peer);
  }

  /** The DataChannel to `peer` closed: traffic to it falls back to the relay at once. */
  linkClosed(peer: string): void {
    const state = this.#peers.get(peer);
    if (!state || this.#closed) return;
    state.link = undefined;
    if (state.presence === "unknown" && this.#relayUp) {
      // Known only through its channel, and the server's roster did not list it: it is gone.
      this.#peers.delete(peer);
      this.#checkAllDelivered();
    }
    this.#pathChanged(peer);
  }

  /** A payload that arrived on the DataChannel from `peer`. */
  receiveDirect(peer: string, payload: string): void {
    if (this.#closed) return;
    this.#decode(payload, peer, (packet) => this.#handle(packet, peer));
  }

  // ---- inner workings -----------------------------------------------------

  #setSelf(self: string | undefined, history: readonly StoredMessage[]): void {
    this.#self = self;
    if (self === undefined) return;
    this.#ownIds.add(self);
    this.#peers.delete(self);
    let n = 0;
    for (const message of history) {
      if (message.author !== self) continue;
      const parts = parseOrderKey(message.order);
      if (parts && parts.n > n) n = parts.n;
    }
    this.#n = n;
  }

  #peer(id: string): PeerState {
    let state = this.#peers.get(id);
    if (!state) {
      state = { presence: "unknown", needSync: false };
      this.#peers.set(id, state);
    }
    return state;
  }

  /** A path appeared or changed (to one peer, or the relay for all): first sends, re-sends and syncs go now. */
  #pathChanged(peer?: string): void {
    let budget = this.#s.resendBurst;
    for (const pending of this.#outbox.values()) {
      if (budget <= 0) break;
      if (pending.entry.attempts === 0) budget -= this.#transmit(pending);
      else if (this.#s.resendOnPathChange) budget -= this.#transmit(pending, peer);
    }
    for (const [id, state] of this.#peers) {
      if (state.needSync && (peer === undefined || peer === id)) this.#sendSync(id);
    }
    this.#arm();
  }

  /** The peers that must acknowledge an own message before it is delivered. */
  #required(message: StoredMessage): string[] {
    if (message.to !== undefined) return [message.to];
    const ids: string[] = [];
    for (const id of this.#peers.keys()) if (!this.#ownIds.has(id)) ids.push(id);
    return ids;
  }

  /**
   * Sends an own message to every peer (or `only` that one) that has not
   * acknowledged it, each on its best path. Returns 1 when it tried, else 0.
   */
  #transmit(pending: Pending, only?: string): number {
    if (!pending.ready) return 0;
    const message = this.#messages.get(pending.entry.id)!;
    const acked = pending.entry.ackedBy;
    const required = this.#required(message);
    const targets = required.filter((id) => !acked.includes(id) && (only === undefined || id === only));
    // Alone in the room: the room log keeps it for whoever joins later.
    const logIt = !pending.entry.accepted && required.length === 0;
    if (!logIt && !targets.some((id) => this.#reachable(this.#peers.get(id)) || !pending.entry.accepted)) return 0;
    if (!this.#relayUp && !targets.some((id) => this.#peers.get(id)?.link)) return 0;
    this.#withPayload({ t: "msg", m: toWire(message) }, (payload) => {
      if (this.#closed || this.#outbox.get(message.id) !== pending) return;
      let relayChat = false;
      let went = false;
      const signals: string[] = [];
      for (const id of targets) {
        const state = this.#peers.get(id);
        if (state?.link?.send(payload)) {
          went = true;
        } else if (!pending.entry.accepted) {
          relayChat = true;
        } else if (state && state.presence !== "away") {
          signals.push(id);
        }
      }
      if (targets.length === 0) relayChat = logIt;
      if (this.#relayUp) {
        if (relayChat) this.#relay.sendChat(message.id, message.to, payload);
        else for (const id of signals) this.#relay.sendSignal(id, payload);
        went ||= relayChat || signals.length > 0;
      }
      if (!went) return;
      pending.lastSent = this.#s.now();
      this.#count(pending.entry.attempts === 0 ? "sent" : "resent");
      pending.entry.attempts++;
      this.#saveEntry(pending);
    });
    return 1;
  }

  /** Sends a packet to one peer: its DataChannel when open, else a relay signal (unless it is away). */
  #toPeer(peer: string, packet: Packet): void {
    this.#withPayload(packet, (payload) => {
      if (this.#closed) return;
      const state = this.#peers.get(peer);
      if (state?.link?.send(payload)) return;
      if (this.#relayUp && state?.presence !== "away") this.#relay.sendSignal(peer, payload);
    });
  }

  #reachable(state: PeerState | undefined): boolean {
    return state !== undefined && (state.link !== undefined || (this.#relayUp && state.presence !== "away"));
  }

  #sendSync(peer: string): void {
    if (this.#reachable(this.#peers.get(peer))) this.#toPeer(peer, { t: "sync", have: this.#digest() });
  }

  /**
   * Our digest of room messages. Direct messages stay out of history sync:
   * their author's outbox delivers them, and nobody else should hold them.
   */
  #digest(): Digest {
    const parts: OrderParts[] = [];
    for (const message of this.#messages.values()) {
      if (message.to !== undefined) continue;
      const p = parseOrderKey(message.order);
      if (p) parts.push(p);
    }
    return buildDigest(parts);
  }

  #handle(packet: Packet, from: string): void {
    switch (packet.t) {
      case "msg":
        this.#ingest([packet.m], from, true);
        return;
      case "hist": {
        const state = this.#peers.get(from);
        if (state && packet.have) state.theirs = packet.have;
        this.#ingest(packet.ms, from, false);
        if (state) this.#checkSynced(state);
        return;
      }
      case "ack":
        for (const id of packet.ids) this.#acked(id, from);
        return;
      case "sync": {
        this.#answerSync(from, packet.have);
        const state = this.#peers.get(from);
        if (!state) return;
        state.theirs = packet.have;
        // It holds something we lack: ask it too (a sync pulls, so either side noticing is enough).
        if (!state.needSync && !digestCovers(this.#digest(), packet.have)) {
          state.needSync = true;
          this.#sendSync(from);
          this.#arm();
        }
        this.#checkSynced(state);
        return;
      }
    }
  }

  /** Answers a `sync`: everything the asker lacks, in batches; the last batch carries our digest. */
  #answerSync(peer: string, have: Digest): void {
    const batch: WireMessage[] = [];
    let chars = 0;
    for (const message of this.messages) {
      if (message.to !== undefined) continue;
      const parts = parseOrderKey(message.order);
      if (!parts || digestHas(have, parts.author, parts.n)) continue;
      const wire = toWire(message);
      batch.push(wire);
      chars += JSON.stringify(wire).length;
      if (chars >= this.#s.historyBatchChars) {
        this.#toPeer(peer, { t: "hist", ms: batch.splice(0) });
        chars = 0;
      }
    }
    this.#toPeer(peer, { t: "hist", ms: batch, have: this.#digest() });
  }

  /** Sync with a peer is complete once we hold everything its digest lists and it holds everything we may give it. */
  #checkSynced(state: PeerState): void {
    const theirs = state.theirs;
    if (!state.needSync || !theirs) return;
    const mine = this.#digest();
    if (digestCovers(mine, theirs) && digestCovers(theirs, mine)) state.needSync = false;
  }

  /**
   * Takes in messages from `from`: new ones are stored, shown and acknowledged
   * once stored; known ones are counted as duplicates and acknowledged again.
   * `direct` means `from` is the author sending its own (ack to `from`); else
   * they came by history sync (ack to each author).
   */
  #ingest(list: unknown[], from: string, direct: boolean, seq?: number): Promise<unknown> {
    const writes: Promise<unknown>[] = [];
    const acks = new Map<string, string[]>();
    let fresh = false;
    let orphan = false;
    for (const raw of list) {
      const m = toWireMessage(raw);
      if (!m) {
        this.#reject(from, "malformed message");
        continue;
      }
      // The author's own send is acknowledged to its sender; a copy from history sync to its author, if around.
      const ackTo = direct ? from : this.#peers.has(m.author) ? m.author : undefined;
      const known = this.#messages.get(m.id);
      if (known) {
        if (this.#ownIds.has(m.author)) {
          if (seq !== undefined) this.accepted(m.id, seq);
          continue;
        }
        this.#count("duplicates");
        const write = this.#writes.get(m.id);
        if (write) writes.push(write);
      } else {
        this.#clock.observe(m.parts.ms, m.parts.c);
        const own = this.#ownIds.has(m.author);
        const message: StoredMessage = {
          id: m.id,
          author: m.author,
          order: m.order,
          body: m.body,
          status: own ? "sent" : "received",
          time: m.time,
        };
        if (m.to !== undefined) message.to = m.to;
        if (seq !== undefined) message.seq = seq;
        this.#messages.set(m.id, message);
        this.#list = null;
        fresh = true;
        if (own) {
          // Our own message that this store had lost: take it back into the outbox.
          const entry: OutboxEntry = {
            id: m.id,
            order: m.order,
            ackedBy: [],
            accepted: seq !== undefined,
            attempts: 1,
          };
          if (m.to !== undefined) entry.to = m.to;
          this.#outbox.set(m.id, { entry, lastSent: this.#s.now(), ready: true });
          writes.push(
            this.#write(m.id, this.#store.putOwn(this.#room, message, { ...entry, ackedBy: [] }), "store own message"),
          );
          continue;
        }
        this.#count("received");
        const author = this.#peers.get(m.author);
        if (m.to === undefined && (!author || author.presence === "away")) orphan = true;
        this.#emit({ type: "received", message });
        writes.push(this.#write(m.id, this.#store.putMessage(this.#room, message), "store message"));
      }
      if (ackTo === undefined || this.#ownIds.has(ackTo)) continue;
      const ids = acks.get(ackTo);
      if (ids) ids.push(m.id);
      else acks.set(ackTo, [m.id]);
    }
    if (fresh) this.#emit({ type: "messages" });
    if (orphan) {
      // Its author is gone or away: we may be the only one holding it, so offer it to the others.
      for (const [id, state] of this.#peers) if (id !== from) state.needSync = true;
      this.#arm();
    }
    const stored = Promise.all(writes).then(() => {
      if (this.#closed) return;
      for (const [peer, ids] of acks) {
        for (let i = 0; i < ids.length; i += ACK_BATCH) {
          this.#toPeer(peer, { t: "ack", ids: ids.slice(i, i + ACK_BATCH) });
        }
      }
    });
    this.#track(stored, "acknowledge");
    return stored;
  }

  /** Peer `from` acknowledged own message `id`. */
  #acked(id: string, from: string): void {
    if (typeof id !== "string") return;
    const pending = this.#outbox.get(id);
    if (!pending || pending.entry.ackedBy.includes(from)) return;
    pending.entry.ackedBy.push(from);
    this.#raise(id, "sent");
    if (!this.#checkDelivered(pending)) this.#saveEntry(pending);
  }

  /** Delivered: some peer acknowledged it and so did every peer that must. Returns whether it is done. */
  #checkDelivered(pending: Pending): boolean {
    const message = this.#messages.get(pending.entry.id)!;
    const acked = pending.entry.ackedBy;
    if (acked.length === 0 || !this.#required(message).every((id) => acked.includes(id))) return false;
    this.#outbox.delete(message.id);
    this.#track(this.#store.deleteOutbox(this.#room, message.id), "remove from outbox");
    this.#raise(message.id, "delivered");
    this.#count("delivered");
    return true;
  }

  #checkAllDelivered(): void {
    for (const pending of [...this.#outbox.values()]) this.#checkDelivered(pending);
  }

  /** Raises a message's status (never lowers it) and records its log seq. */
  #raise(id: string, status: MessageStatus, seq?: number): void {
    const message = this.#messages.get(id);
    if (!message) return;
    const higher = STATUS_RANK[status] > STATUS_RANK[message.status];
    if (!higher && (seq === undefined || message.seq !== undefined)) return;
    const next: StoredMessage = { ...message, status: higher ? status : message.status };
    if (seq !== undefined && message.seq === undefined) next.seq = seq;
    this.#messages.set(id, next);
    this.#list = null;
    this.#track(this.#store.setStatus(this.#room, id, next.status, next.seq), "save status");
    if (higher) this.#emit({ type: "status", id, status });
    this.#emit({ type: "messages" });
  }

  #saveEntry(pending: Pending): void {
    if (this.#outbox.get(pending.entry.id) !== pending) return;
    const entry = { ...pending.entry, ackedBy: [...pending.entry.ackedBy] };
    this.#track(this.#store.putOutbox(this.#room, entry), "save outbox entry");
  }

  /** A relayed chat frame with this log seq has been dealt with: the next `hello` can start after it. */
  #seen(seq: number): void {
    if (this.#closed || !(seq > this.#lastSeq)) return;
    this.#lastSeq = seq;
    this.#track(this.#store.patchState(this.#room, { lastSeq: seq }), "save log position");
  }

  /** Arms the re-send timer while something can make progress: a reachable peer owes an ack or a sync, or the log. */
  #arm(): void {
    if (this.#closed || this.#timer !== undefined || !Number.isFinite(this.#s.timing.resendIntervalMs)) return;
    if (!this.#hasWork()) return;
    this.#timer = this.#s.timers.setTimeout(() => {
      this.#timer = undefined;
      this.#tick();
    }, this.#s.timing.resendIntervalMs);
  }

  /** Whether a tick could do anything (peers that are away get everything when they come back). */
  #hasWork(): boolean {
    for (const state of this.#peers.values()) if (state.needSync && this.#reachable(state)) return true;
    for (const pending of this.#outbox.values()) {
      if (!pending.ready) continue;
      if (!pending.entry.accepted && this.#relayUp) return true;
      const acked = pending.entry.ackedBy;
      for (const id of this.#required(this.#messages.get(pending.entry.id)!)) {
        if (!acked.includes(id) && this.#reachable(this.#peers.get(id))) return true;
      }
    }
    return false;
  }

  #tick(): void {
    if (this.#closed) return;
    const due = this.#s.now() - this.#s.timing.resendIntervalMs;
    let budget = this.#s.resendBurst;
    const waiting = [...this.#outbox.values()];
    // Messages never sent go before re-sends.
    for (const pending of waiting) if (budget > 0 && pending.entry.attempts === 0) budget -= this.#transmit(pending);
    for (const pending of waiting) {
      if (budget > 0 && pending.entry.attempts > 0 && pending.lastSent <= due) budget -= this.#transmit(pending);
    }
    for (const [id, state] of this.#peers) if (state.needSync) this.#sendSync(id);
    this.#arm();
  }

  /** Decodes a payload into a valid packet, counting failures as rejected. */
  #decode(payload: string, from: string, then: (packet: Packet) => void, always?: () => void): void {
    let out: unknown;
    try {
      out = this.#codec.decode(payload, from);
    } catch (error) {
      this.#reject(from, String(error));
      always?.();
      return;
    }
    const handle = (value: unknown) => {
      if (this.#closed) return;
      const packet = toPacket(value);
      if (packet) return then(packet);
      this.#reject(from, "malformed packet");
      always?.();
    };
    if (!(out instanceof Promise)) {
      handle(out);
      return;
    }
    this.#track(
      out.then(handle, (error) => {
        this.#reject(from, String(error));
        always?.();
      }),
      "decode",
    );
  }

  #withPayload(packet: Packet, then: (payload: string) => void): void {
    const out = this.#codec.encode(packet, this.#self ?? "");
    if (typeof out === "string") then(out);
    else this.#track(out.then(then), "encode");
  }

  #reject(from: string, reason: string): void {
    this.#count("rejected");
    this.#emit({ type: "rejected", from, reason });
  }

  #count(name: keyof CourierCounters): void {
    this.#counters[name]++;
    this.#emit({ type: "counters" });
  }

  /** Tracks a store write of message `id`, so a duplicate's ack waits for it too. */
  #write(id: string, write: Promise<unknown>, context: string): Promise<unknown> {
    this.#writes.set(id, write);
    const done = write.finally(() => {
      if (this.#writes.get(id) === write) this.#writes.delete(id);
    });
    this.#track(done, context);
    return done.catch(() => {});
  }

  /** Counts an async step for {@link settled} and reports its failure (never swallowed). */
  #track(work: Promise<unknown>, context: string): void {
    this.#busy++;
    work.catch((error) => this.#fail(context, error)).finally(() => {
      if (--this.#busy > 0) return;
      const idle = this.#idle.splice(0);
      for (const resolve of idle) resolve();
    });
  }

  #fail(context: string, error: unknown): void {
    if (this.#listeners.size === 0) console.error(`courier: ${context} failed`, error);
    this.#emit({ type: "error", context, error });
  }

  #emit(event: CourierEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}

/** Checks a decoded value's shape; null when it is not a courier packet. */
function toPacket(value: unknown): Packet | null {
  if (typeof value !== "object" || value === null) return null;
  const p = value as Record<string, unknown>;
  switch (p.t) {
    case "msg":
      return typeof p.m === "object" && p.m !== null ? { t: "msg", m: p.m as WireMessage } : null;
    case "ack":
      return Array.isArray(p.ids) ? { t: "ack", ids: p.ids as string[] } : null;
    case "sync":
      return isDigest(p.have) ? { t: "sync", have: p.have } : null;
    case "hist":
      if (!Array.isArray(p.ms) || (p.have !== undefined && !isDigest(p.have))) return null;
      return p.have === undefined ? { t: "hist", ms: p.ms } : { t: "hist", ms: p.ms, have: p.have };
    default:
      return null;
  }
}
