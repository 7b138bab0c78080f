/**
 * The courier: Parley's delivery guarantee, as a pure state machine over its
 * parts (this folder's modules):
 *
 * - `outbox.ts`: own messages go out at once on the best path (the DataChannel
 *   to a peer when open, else the relay; never waiting for P2P) and again on a
 *   timer and whenever a path changes, until every other member acknowledged.
 * - `inbox.ts`: peers' messages are checked, verified (author = member id of
 *   the signing key), stored, and acknowledged only once stored.
 * - `history_sync.ts`: a peer that appears compares digests with us and each
 *   side sends what the other lacks, so late joiners get everything.
 * - `wire.ts` / `parts.ts`: payloads are cut to fit a frame and reassembled.
 * - `log_position.ts`: `since` never passes a relayed frame not yet stored.
 * - `peers.ts`: sessions, the members they belong to, presence and paths.
 * - `persist.ts`: the store follows memory, retried and re-written once durable.
 *
 * Everything lives in a {@link Store}, so a reload rebuilds the same state and
 * re-sends the outbox. Clock, timers, randomness, transports, the payload
 * codec (encryption) and the signer are injected: the shell wires the signal
 * socket, peer links, crypto and identity to it; tests drive it with fakes.
 * @module
 */
import { encodeBase64Url } from "../../protocol/mod.ts";
import { formatOrderKey, HybridClock, isTabTag, writerOf } from "../order_key.ts";
import type { MessageStatus, OutboxEntry, RoomState, Store, StoredMessage } from "../store.ts";
import { GLOBAL_TIMERS, type TimerId, type Timers } from "../timer_set.ts";
import { MessageBook } from "./book.ts";
import type { CourierCounters, CourierEvent, Host } from "./events.ts";
import { AckQueue } from "./ack_queue.ts";
import { HistorySync } from "./history_sync.ts";
import { Inbox } from "./inbox.ts";
import { KeyBook } from "./keys.ts";
import {
  ACK_BATCH,
  DEFAULT_HISTORY_BATCH_BYTES,
  DEFAULT_RESEND_BURST,
  ID_PATTERN,
  MAX_BODY_CHARS,
  TAB_TAG_BYTES,
} from "./limits.ts";
import { newMessageId } from "./message_id.ts";
import { type LogBounds, LogPosition, type LogTicket } from "./log_position.ts";
import { Outbox, type Pending } from "./outbox.ts";
import type { Packet, ReceivedPacket, RejectReason } from "./packets.ts";
import { askSync, type PeerPresence, type PeerState, PeerTable } from "./peers.ts";
import { Persister } from "./persist.ts";
import { readMessage, readOutboxEntry } from "./records.ts";
import { memberIdOf, type MessageSigner, signingText } from "./signer.ts";
import type { DirectLink, PayloadCodec, RelayTransport } from "./transport.ts";
import { type Arrival, directAck, type Outgoing, Wire } from "./wire.ts";

/** Why {@link Courier.send} refused a message. */
export type SendFailure =
  /** The body is longer than {@link MAX_BODY_CHARS} UTF-16 code units. */
  | "too_long"
  /** `to` is not a peer id. */
  | "bad_recipient"
  /** The courier is closed. */
  | "closed";

/** The typed error of {@link Courier.send}. */
export class CourierSendError extends Error {
  /** Why the message was refused. */
  readonly reason: SendFailure;

  /** An error for `reason`. */
  constructor(reason: SendFailure, message: string) {
    super(message);
    this.name = "CourierSendError";
    this.reason = reason;
  }
}

/** The courier's view of the room at one moment (see {@link Courier.snapshot}). */
export interface CourierSnapshot {
  /** Own peer id. */
  self: string | undefined;
  /** Own member id. */
  member: string;
  /** Whether the relay is usable. */
  relayUp: boolean;
  /** Other sessions: member, presence ("unknown" when known only by its DataChannel), DataChannel, sync pending. */
  peers: {
    id: string;
    member?: string;
    presence: "online" | "away" | "unknown";
    direct: boolean;
    syncing: boolean;
  }[];
  /** Own messages awaiting acks. */
  outbox: OutboxEntry[];
}

/** Timing of the courier, from the network profile. */
export interface CourierTiming {
  /** An unacknowledged message (and an unanswered history sync) is re-sent after this; Infinity disables the timer. */
  resendIntervalMs: number;
  /** Acks to a session within this long of the previous one wait and go together (default 0: each at once). */
  ackCoalesceMs?: number;
}

/** A session in the `welcome` roster. */
export interface RosterPeer {
  /** Peer id. */
  id: string;
  /** Presence. */
  presence: "online" | "away";
  /** Its member id, stamped by the server (absent for third-party clients). */
  member?: string;
}

/** What the courier takes from a `welcome`. */
export interface WelcomeInfo {
  /** Own peer id. */
  peer: string;
  /** The other sessions. */
  peers: RosterPeer[];
  /** The room log's bounds and epoch. */
  log?: LogBounds;
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
  /** Signs own messages and verifies peers' (the member identity). */
  signer: MessageSigner;
  /** Timing numbers from the network profile. */
  timing: CourierTiming;
  /**
   * This tab's tag in order keys (1-16 base64url chars), so tabs of one member
   * number their messages apart; keep it per tab (sessionStorage) to keep
   * digests small. Default: random per load.
   */
  tab?: string;
  /** Whether unacknowledged messages are re-sent at once when a path changes (only tests turn it off). */
  resendOnPathChange?: boolean;
  /** Most bytes (UTF-8 of the JSON) per `hist` packet, so each fits one frame. */
  historyBatchBytes?: number;
  /** Most frames (re-)sent per tick or path change; the rest wait for the next tick. */
  resendBurst?: number;
  /** Wall clock in ms; defaults to `Date.now`. */
  now?: () => number;
  /** Timers; default to the global ones. */
  timers?: Timers;
  /** Random bytes; defaults to WebCrypto. */
  randomBytes?: (count: number) => Uint8Array;
}

/** Options with their defaults applied. */
type Settings = Required<
  Omit<CourierOptions, "room" | "store" | "relay" | "codec" | "signer" | "tab" | "historyBatchBytes">
>;

function defaults(options: CourierOptions): Settings {
  return {
    timing: options.timing,
    resendOnPathChange: options.resendOnPathChange ?? true,
    resendBurst: options.resendBurst ?? DEFAULT_RESEND_BURST,
    now: options.now ?? (() => Date.now()),
    timers: options.timers ?? GLOBAL_TIMERS,
    randomBytes: options.randomBytes ?? ((count) => crypto.getRandomValues(new Uint8Array(count))),
  };
}

/** What {@link Courier.load} read from the store. */
interface Loaded {
  /** The room state (log position and epoch). */
  state: RoomState;
  /** Stored messages, unchecked. */
  history: unknown[];
  /** Stored outbox entries, unchecked. */
  outbox: unknown[];
  /** Reads that failed (the courier starts without what they held). */
  problems: { context: string; error: unknown }[];
}

/** The delivery-guarantee state machine of one room. Create it with {@link Courier.load}. */
export class Courier {
  #room: string;
  #store: Store;
  #signer: MessageSigner;
  #s: Settings;
  #clock: HybridClock;
  #book = new MessageBook();
  #peers: PeerTable;
  #persist: Persister;
  #log: LogPosition;
  #wire: Wire<LogTicket>;
  #outbox: Outbox;
  #inbox: Inbox;
  /** Keys of stored messages by author (hints for the key book, which loads when first needed). */
  #hints = new Map<string, string>();
  #keys: KeyBook | undefined;
  #acks: AckQueue;
  #relay: RelayTransport;
  #sync: HistorySync;
  #host: Host;
  #writer: string;
  #tab: string;
  #self: string | undefined;
  #n = 0;
  #timer: TimerId | undefined;
  #closed = false;
  #listeners = new Set<(event: CourierEvent) => void>();
  #early: CourierEvent[] | null = [];
  #busy = 0;
  #idle: (() => void)[] = [];
  #counters: CourierCounters = {
    sent: 0,
    delivered: 0,
    resent: 0,
    received: 0,
    duplicates: 0,
    rejected: 0,
    failed: 0,
  };

  /** Rebuilds a room's courier from its store: history, outbox and log position (unreadable records contained). */
  static async load(options: CourierOptions): Promise<Courier> {
    const { store, room } = options;
    const problems: Loaded["problems"] = [];
    const read = async <T>(context: string, fn: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await fn();
      } catch (error) {
        problems.push({ context, error });
        return fallback;
      }
    };
    // The log position first: another tab sharing the store advances it only after storing what it covers,
    // so the history read afterwards holds every message below it.
    const state = await read<RoomState>("load room state", () => store.getState(room), {});
    const [history, outbox] = await Promise.all([
      read<unknown[]>("load history", () => store.listMessages(room), []),
      read<unknown[]>("load outbox", () => store.listOutbox(room), []),
    ]);
    return new Courier(options, { state: state ?? {}, history, outbox, problems });
  }

  /** Use {@link Courier.load}; the constructor takes what it read from the store. */
  private constructor(options: CourierOptions, loaded: Loaded) {
    this.#room = options.room;
    this.#store = options.store;
    this.#signer = options.signer;
    this.#s = defaults(options);
    this.#clock = new HybridClock(this.#s.now);
    this.#host = Object.defineProperty(
      {
        now: () => this.#s.now(),
        emit: (event: CourierEvent) => this.#emit(event),
        count: (name: keyof CourierCounters) => this.#count(name),
        reject: (from: string, reason: RejectReason, detail?: string) => this.#reject(from, reason, detail),
        fail: (context: string, error: unknown) => this.#fail(context, error),
        track: (work: Promise<unknown>, context: string) => this.#track(work, context),
        arm: () => this.#arm(),
      },
      "closed",
      { get: () => this.#closed },
    ) as Host;
    this.#peers = new PeerTable(this.#signer.member);
    this.#persist = new Persister({
      store: this.#store,
      track: (work, context) => this.#track(work, context),
      fail: (context, error) => this.#fail(context, error),
      arm: () => this.#arm(),
    });
    const { state } = loaded;
    const lastSeq = Number.isSafeInteger(state.lastSeq) && state.lastSeq! >= 0 ? state.lastSeq! : 0;
    const epoch = typeof state.epoch === "string" ? state.epoch : undefined;
    this.#log = new LogPosition(lastSeq, epoch, (next) => {
      void this.#persist.write(
        "state",
        "save log position",
        () => this.#store.patchState(this.#room, { lastSeq: next.lastSeq, epoch: next.epoch }),
      );
    });
    this.#wire = new Wire<LogTicket>({
      codec: options.codec,
      relay: options.relay,
      self: () => this.#self,
      randomBytes: this.#s.randomBytes,
      now: this.#s.now,
      onPacket: (packet, arrival, done) => this.#onPacket(packet, arrival, done),
      onReject: (from, reason, detail) => this.#reject(from, reason, detail),
      release: (tags) => {
        for (const ticket of tags) this.#log.done(ticket);
      },
      track: (work, context) => this.#track(work, context),
    });
    this.#outbox = new Outbox({
      room: this.#room,
      store: this.#store,
      book: this.#book,
      peers: this.#peers,
      wire: this.#wire as Wire<unknown>,
      persist: this.#persist,
      host: this.#host,
    });
    this.#relay = options.relay;
    this.#acks = new AckQueue({
      delayMs: options.timing.ackCoalesceMs ?? 0,
      now: this.#s.now,
      timers: this.#s.timers,
      send: (peer, ids, volatile) => this.#toPeer(peer, volatile ? { t: "ack", ids, volatile } : { t: "ack", ids }),
    });
    this.#inbox = new Inbox({
      room: this.#room,
      store: this.#store,
      book: this.#book,
      peers: this.#peers,
      signer: this.#signer,
      keys: () => this.#keyBook(),
      clock: this.#clock,
      persist: this.#persist,
      self: () => this.#self,
      ack: (peer, ids, volatile) => this.#acks.add(peer, ids, volatile),
      ownLogged: (id, seq) => this.#outbox.accepted(id, seq),
      mine: (id, writer) => this.#outbox.get(id) !== undefined || writer === this.#writer,
      resync: (except) => {
        for (const [id, state] of this.#peers.entries()) if (id !== except) askSync(state);
        this.#arm();
      },
      host: this.#host,
    });
    this.#sync = new HistorySync({
      book: this.#book,
      peers: this.#peers,
      toPeer: (peer, packet) => this.#toPeer(peer, packet),
      batchBytes: options.historyBatchBytes ?? DEFAULT_HISTORY_BATCH_BYTES,
      arm: () => this.#arm(),
      now: this.#s.now,
    });
    this.#tab = isTabTag(options.tab) ? options.tab : encodeBase64Url(this.#s.randomBytes(TAB_TAG_BYTES));
    this.#writer = writerOf({ author: this.#signer.member, tab: this.#tab });
    for (const problem of loaded.problems) this.#fail(problem.context, problem.error);
    this.#restore(loaded);
  }

  /** Takes the stored history and outbox in, containing whatever cannot be read. */
  #restore(loaded: Loaded): void {
    for (const record of loaded.history) {
      const message = readMessage(record);
      if (!message) {
        this.#fail("load", new Error("a stored message without an id was left out"));
        continue;
      }
      if (message.unreadable) this.#fail("load", new Error(`stored message ${message.id} is unreadable`));
      this.#book.set(message);
      if (message.pk !== undefined && !message.unreadable) this.#hints.set(message.author, message.pk);
      const parts = this.#book.parts(message.id);
      if (parts) this.#clock.observe(parts.ms, parts.c);
    }
    this.#n = this.#book.lastNumber(this.#writer);
    for (const record of loaded.outbox) {
      const entry = readOutboxEntry(record);
      const id = typeof (record as { id?: unknown })?.id === "string" ? (record as { id: string }).id : undefined;
      const message = entry && this.#book.get(entry.id);
      if (entry && message?.status === "delivered") {
        // Every member has it; the entry outlived its removal (another tab of ours was still sending it).
        void this.#persist.write(
          "o:" + entry.id,
          "remove from outbox",
          () => this.#store.deleteOutbox(this.#room, entry.id),
        );
        continue;
      }
      if (entry && message && !message.unreadable) {
        const pending = this.#outbox.add(entry, true);
        if (message.pk === undefined || message.sig === undefined) this.#outbox.fail(pending.entry.id, "unsendable");
        continue;
      }
      this.#fail("load", new Error(`outbox entry ${id ?? "?"} is unreadable or has no readable message`));
      if (id !== undefined) {
        void this.#persist.write(
          "o:" + id,
          "remove unreadable outbox entry",
          () => this.#store.deleteOutbox(this.#room, id),
        );
      }
    }
  }

  /** Messages of the room, sorted by order key (a new array after each change). */
  get messages(): readonly StoredMessage[] {
    return this.#book.list;
  }

  /** A copy of the counters. */
  get counters(): CourierCounters {
    return { ...this.#counters };
  }

  /** Own peer id (this session) from the last `welcome`; undefined before the first. */
  get self(): string | undefined {
    return this.#self;
  }

  /** Own member id: the author of own messages. */
  get member(): string {
    return this.#signer.member;
  }

  /** This tab's tag in order keys. */
  get tab(): string {
    return this.#tab;
  }

  /** The `since` to put in `hello`: below every relayed frame not yet stored (0 for none). */
  get since(): number {
    return this.#log.since;
  }

  /** The room log epoch `since` counts in, for `hello.epoch`; undefined until a `welcome` named one. */
  get epoch(): string | undefined {
    return this.#log.epoch;
  }

  /** Own messages not yet delivered to everyone. */
  get outboxSize(): number {
    return this.#outbox.size;
  }

  /** What the courier knows now, for the diagnostics view: peers, their paths, and the outbox. */
  snapshot(): CourierSnapshot {
    return {
      self: this.#self,
      member: this.#signer.member,
      relayUp: this.#peers.relayUp,
      peers: [...this.#peers.entries()].map(([id, state]) => {
        const peer: CourierSnapshot["peers"][number] = {
          id,
          presence: state.presence,
          direct: state.link !== undefined,
          syncing: state.needSync,
        };
        if (state.member !== undefined) peer.member = state.member;
        return peer;
      }),
      outbox: this.#outbox.values().map(({ entry }) => ({ ...entry, ackedBy: [...entry.ackedBy] })),
    };
  }

  /** The status of a message by id, or undefined when unknown. */
  status(id: string): MessageStatus | undefined {
    return this.#book.get(id)?.status;
  }

  /** Listens to courier events (the first listener also gets problems found while loading); returns the unsubscribe. */
  subscribe(listener: (event: CourierEvent) => void): () => void {
    this.#listeners.add(listener);
    const early = this.#early ?? [];
    this.#early = null;
    for (const event of early) listener(event);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once every store write and async step started so far has finished (failed writes wait for a retry). */
  settled(): Promise<void> {
    if (this.#busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** The key book, made on first use (it is part of the first module: the first message of a new author needs it). */
  #keyBook(): Promise<KeyBook> {
    this.#keys ??= new KeyBook({ room: this.#room, now: this.#s.now, signingText, memberIdOf, hints: this.#hints });
    return Promise.resolve(this.#keys);
  }

  /** Stops timers and ignores every later input (a reload builds a new courier from the store). */
  close(): void {
    this.#closed = true;
    this.#persist.close();
    this.#acks.close();
    if (this.#timer !== undefined) this.#s.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  // ---- own messages -------------------------------------------------------

  /**
   * Writes an own message: shown at once as pending, signed, stored with its
   * outbox entry, then sent on the best path. Throws {@link CourierSendError}
   * for a body over {@link MAX_BODY_CHARS}, a bad recipient, or a closed courier.
   */
  async send(body: string, to?: string): Promise<StoredMessage> {
    if (this.#closed) throw new CourierSendError("closed", "courier is closed");
    if (typeof body !== "string" || body.length > MAX_BODY_CHARS) {
      throw new CourierSendError("too_long", `a message holds at most ${MAX_BODY_CHARS} characters`);
    }
    if (to !== undefined && !ID_PATTERN.test(to)) throw new CourierSendError("bad_recipient", "not a peer id");
    const author = this.#signer.member;
    const { ms, c } = this.#clock.tick();
    const order = formatOrderKey({ ms, c, author, tab: this.#tab, n: ++this.#n });
    const message: StoredMessage = {
      id: newMessageId(author, this.#s.randomBytes),
      author,
      order,
      body,
      status: "pending",
      time: Math.floor(this.#s.now()),
    };
    const entry: OutboxEntry = { id: message.id, order, ackedBy: [], accepted: false, attempts: 0 };
    if (to !== undefined) message.to = entry.to = to;
    this.#book.set(message);
    this.#book.markStored(message.id, false);
    const pending = this.#outbox.add(entry, false);
    this.#emit({ type: "messages" });
    let signed: StoredMessage;
    try {
      signed = { ...message, ...await this.#signer.sign(message) };
    } catch (error) {
      this.#fail("sign", error);
      this.#outbox.fail(message.id, "unsendable");
      return this.#book.get(message.id) ?? message;
    }
    if (this.#closed || this.#outbox.get(message.id) !== pending) return signed;
    const current = this.#book.get(message.id)!;
    signed = { ...current, pk: signed.pk, sig: signed.sig };
    if (signed.pk !== undefined) this.#hints.set(author, signed.pk);
    this.#book.set(signed);
    const own = signed;
    // It leaves only once stored (a failed write is retried by the timer): a crash never forgets what a peer has.
    await this.#persist.write(
      "m:" + message.id,
      "store own message",
      () => this.#store.putOwn(this.#room, own, { ...entry, ackedBy: [] }),
      () => {
        this.#book.markStored(message.id, true);
        pending.ready = true;
        if (!this.#closed && this.#outbox.get(message.id) === pending) this.#outbox.transmit(pending);
        this.#arm();
      },
    );
    this.#arm();
    return this.#book.get(message.id) ?? signed;
  }

  // ---- relay --------------------------------------------------------------

  /**
   * The relay is usable: a `welcome` came with our peer id, the roster (with
   * members) and the log bounds. Follows a log reset, then re-sends the outbox
   * and syncs history.
   */
  relayUp(welcome: WelcomeInfo): void {
    if (this.#closed) return;
    this.#self = welcome.peer;
    this.#peers.addOwnSession(welcome.peer);
    this.#peers.relayUp = true;
    if (this.#log.welcome(welcome.log)) this.#outbox.logReset();
    const roster = new Map(welcome.peers.map((p) => [p.id, p]));
    for (const [id, state] of [...this.#peers.entries()]) {
      if (!roster.has(id) && !state.link) this.#peers.delete(id);
      else if (!roster.has(id)) state.presence = "unknown";
    }
    for (const [id, entry] of roster) {
      const state = this.#peers.ensure(id);
      if (!state) continue;
      state.presence = entry.presence;
      this.#learnMember(id, state, entry.member);
      if (entry.presence === "online") askSync(state);
    }
    this.#outbox.checkAllDelivered();
    this.#pathChanged();
  }

  /** The relay socket closed: messages wait (or use DataChannels) until the next {@link relayUp}. */
  relayDown(): void {
    this.#peers.relayUp = false;
  }

  /**
   * A `presence` frame (`member` as stamped by the server): sessions joining
   * or coming back get re-sends and a history sync; sessions leaving stop counting.
   */
  presence(peer: string, state: PeerPresence, member?: string): void {
    if (this.#closed || this.#peers.isOwnSession(peer)) return;
    if (state === "left") {
      this.#peers.delete(peer);
      // Someone else may hold what only the leaver had told us about: compare notes again.
      for (const other of this.#peers.states()) askSync(other);
      this.#outbox.checkAllDelivered();
      this.#arm();
      return;
    }
    const entry = this.#peers.ensure(peer)!;
    this.#learnMember(peer, entry, member);
    if (state === "away") {
      entry.presence = "away";
      return;
    }
    entry.presence = "online";
    askSync(entry);
    this.#pathChanged(peer);
  }

  /** An `accepted` frame (for a whole message or one of its parts): the room log holds it, so it is at least "sent". */
  accepted(id: string, seq: number): void {
    if (this.#closed) return;
    const whole = this.#outbox.frameAccepted(id, seq);
    if (whole) this.#outbox.accepted(whole.id, whole.seq);
  }

  /**
   * Another tab of this member holds the acknowledgements of own message `id`
   * and saw it delivered: it shows "Delivered" here too. Only a message this
   * member wrote is raised, and never lowered; an outbox entry of this tab
   * keeps going until its own acknowledgements arrive.
   */
  deliveredElsewhere(id: string): void {
    if (this.#closed) return;
    const message = this.#book.get(id);
    if (!message || message.author !== this.#signer.member || message.status === "failed") return;
    this.#outbox.raise(id, "delivered");
  }

  /**
   * An `error` frame refused our chat frame `ref` with `code`: re-sent at the
   * next tick after a passing refusal (rate limit, server failure), failed for
   * good after a lasting one (too big, malformed).
   */
  refused(ref: string, code?: string): void {
    if (this.#closed) return;
    this.#outbox.refused(ref, code);
  }

  /** A relayed `chat` frame (live or backlog): a message or one of its parts, acknowledged once stored. */
  receiveChat(frame: { from: string; id: string; data: string; seq: number }): void {
    if (this.#closed) return;
    const ticket = this.#log.begin(frame.seq);
    this.#wire.receive("chat", frame.from, frame.data, ticket, frame.id);
  }

  /**
   * A relayed `ack` frame whose MAC the shell checked: session `from` stored
   * these own messages (`volatile`: not durably). Ids are checked like any
   * packet's; a malformed list is refused whole.
   */
  receiveAck(from: string, ids: readonly unknown[], volatile: boolean): void {
    if (this.#closed) return;
    if (
      ids.length === 0 || ids.length > ACK_BATCH || !ids.every((id) => typeof id === "string" && ID_PATTERN.test(id))
    ) {
      this.#reject(from, "malformed_packet", "ack");
      return;
    }
    for (const id of ids as string[]) this.#outbox.acked(id, from, volatile);
  }

  /** A relayed `signal` payload meant for the courier (acks, history sync, re-sends). */
  receiveSignal(from: string, payload: string): void {
    if (this.#closed) return;
    this.#wire.receive("signal", from, payload);
  }

  // ---- DataChannels -------------------------------------------------------

  /** A DataChannel to `peer` opened: it becomes the path to that peer; unacknowledged messages and a sync follow. */
  linkOpened(peer: string, link: DirectLink): void {
    if (this.#closed) return;
    const state = this.#peers.ensure(peer);
    if (!state) return;
    state.link = link;
    askSync(state);
    this.#pathChanged(peer);
  }

  /** The DataChannel to `peer` closed: traffic to it falls back to the relay at once. */
  linkClosed(peer: string): void {
    const state = this.#peers.get(peer);
    if (!state || this.#closed) return;
    state.link = undefined;
    if (state.presence === "unknown" && this.#peers.relayUp) {
      // Known only through its channel, and the server's roster did not list it: it is gone.
      this.#peers.delete(peer);
      this.#outbox.checkAllDelivered();
    }
    this.#pathChanged(peer);
  }

  /** A payload that arrived on the DataChannel from `peer`. */
  receiveDirect(peer: string, payload: string): void {
    if (this.#closed) return;
    this.#wire.receive("direct", peer, payload);
  }

  // ---- inner workings -----------------------------------------------------

  /** A decoded packet; `done` is called once it is dealt with (its messages stored or refused). */
  #onPacket(packet: ReceivedPacket, arrival: Arrival<LogTicket>, done: () => void): void {
    if (this.#closed) return;
    const { from, via } = arrival;
    try {
      if (via === "chat") {
        const id = packet.t === "msg" ? (packet.m as { id?: unknown }).id : undefined;
        if (packet.t !== "msg" || (arrival.chatId !== undefined && id !== arrival.chatId)) {
          this.#reject(from, "chat_mismatch");
          return done();
        }
        const seq = arrival.tags.reduce((max, ticket) => Math.max(max, ticket.seq), 0);
        this.#inbox.take([packet.m], { from, kind: "msg", seq: seq > 0 ? seq : undefined }, done);
        return;
      }
      switch (packet.t) {
        case "msg":
          this.#inbox.take([packet.m], { from, kind: "msg" }, done);
          return;
        case "hist": {
          const state = this.#peers.get(from);
          if (state && packet.have) state.theirs = packet.have;
          this.#inbox.take(packet.ms, { from, kind: "hist" }, () => {
            if (!this.#closed) this.#sync.onAnswer(from, packet.have);
            done();
          });
          return;
        }
        case "ack":
          for (const id of packet.ids) this.#outbox.acked(id, from, packet.volatile);
          return done();
        case "sync":
          this.#sync.onSync(from, packet.have);
          return done();
      }
    } catch (error) {
      this.#fail("take in packet", error);
      done();
    }
  }

  /** Records a session's member as the server stamped it; acks it gave before then count for that member. */
  #learnMember(id: string, state: PeerState, member: string | undefined): void {
    if (typeof member !== "string" || state.member === member) return;
    state.member = member;
    this.#outbox.memberLearned(id, member);
  }

  /**
   * Sends a packet to one session: its DataChannel when open, else by relay
   * (unless it is away). An ack goes plain on a DataChannel, and as an `ack`
   * frame on the relay when the relay has them; anything else is sealed, and
   * goes by relay as a signal.
   */
  #toPeer(peer: string, packet: Packet): void {
    const byRelay = (out: Outgoing | null) => {
      if (this.#closed || !this.#peers.relayUp || this.#peers.get(peer)?.presence === "away") return;
      if (packet.t === "ack" && this.#relay.sendAck) this.#relay.sendAck(peer, packet.ids, packet.volatile === true);
      else if (out) this.#wire.sendSignal(peer, out);
    };
    if (packet.t === "ack") {
      const link = this.#peers.get(peer)?.link;
      if (link?.send(directAck(packet.ids, packet.volatile === true))) return;
      if (this.#relay.sendAck) return byRelay(null);
    }
    this.#wire.prepare(packet, (out) => {
      if (this.#closed) return;
      if (!out) {
        this.#fail("send", new Error(`a ${packet.t} packet exceeds every bound`));
        return;
      }
      const state = this.#peers.get(peer);
      if (state?.link && this.#wire.sendDirect(state.link, out)) return;
      byRelay(out);
    });
  }

  /** A path appeared or changed (to one peer, or the relay for all): first sends, re-sends and syncs go now. */
  #pathChanged(peer?: string): void {
    let budget = this.#s.resendBurst;
    for (const pending of this.#outbox.values()) {
      if (budget <= 0) break;
      if (pending.entry.attempts === 0) budget -= this.#outbox.transmit(pending);
      else if (this.#s.resendOnPathChange) budget -= this.#outbox.transmit(pending, peer);
    }
    for (const [id, state] of this.#peers.entries()) {
      if (state.needSync && (peer === undefined || peer === id)) this.#sync.offer(id);
    }
    this.#arm();
  }

  /** Arms the re-send timer while something can make progress. */
  #arm(): void {
    if (this.#closed || this.#timer !== undefined || !Number.isFinite(this.#s.timing.resendIntervalMs)) return;
    if (!this.#hasWork()) return;
    this.#timer = this.#s.timers.setTimeout(() => {
      this.#timer = undefined;
      this.#tick();
    }, this.#s.timing.resendIntervalMs);
  }

  /**
   * Whether a tick could do anything: a reachable session owes an ack or a
   * sync, the log has not accepted a message, a write waits for a retry or
   * for durable storage, or split payloads wait for parts (to expire).
   * Sessions that are away get everything when they come back.
   */
  #hasWork(): boolean {
    if (this.#persist.failing > 0 || this.#persist.volatile > 0 || this.#inbox.volatile > 0) return true;
    if (this.#wire.assembling > 0) return true;
    for (const [id, state] of this.#peers.entries()) if (state.needSync && this.#peers.reachable(id)) return true;
    for (const pending of this.#outbox.values()) if (this.#outbox.hasWork(pending)) return true;
    return false;
  }

  #tick(): void {
    if (this.#closed) return;
    this.#wire.sweep();
    this.#persist.retry();
    this.#inbox.recover();
    this.#persist.recover();
    const now = this.#s.now();
    let budget = this.#s.resendBurst;
    const waiting: Pending[] = this.#outbox.values();
    // Messages never sent go before re-sends.
    for (const pending of waiting) {
      if (budget > 0 && pending.entry.attempts === 0) budget -= this.#outbox.transmit(pending);
    }
    for (const pending of waiting) {
      if (budget > 0 && this.#outbox.due(pending, now, this.#s.timing.resendIntervalMs)) {
        budget -= this.#outbox.transmit(pending);
      }
    }
    for (const [id, state] of this.#peers.entries()) if (state.needSync) this.#sync.offer(id);
    this.#arm();
  }

  #reject(from: string, reason: RejectReason, detail?: string): void {
    this.#count("rejected");
    this.#emit(detail === undefined ? { type: "rejected", from, reason } : { type: "rejected", from, reason, detail });
  }

  #count(name: keyof CourierCounters): void {
    this.#counters[name]++;
    this.#emit({ type: "counters" });
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
    if (this.#early && !this.#closed) {
      this.#early.push({ type: "error", context, error });
      return;
    }
    if (this.#listeners.size === 0 && !this.#closed) console.error(`courier: ${context} failed`, error);
    this.#emit({ type: "error", context, error });
  }

  #emit(event: CourierEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
