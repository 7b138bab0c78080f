/**
 * The hub: rooms, peers, sessions, presence, relay and the room log, on one
 * instance, coordinated with other instances through the bus and the shared
 * KV. The relay hot path parses each frame once and builds outgoing frames by
 * string concatenation: the ciphertext is never re-serialised.
 * @module
 */
import { CLOSE, type CloseCode, type ErrorCode } from "../protocol/codes.ts";
import type {
  AckFrame,
  ChatFrame,
  HelloFrame,
  Presence,
  PresenceFrame,
  RosterEntry,
  SignalFrame,
} from "../protocol/frames.ts";
import { randomId } from "../protocol/ids.ts";
import { isPlainChat, parseClientFrame } from "../protocol/validate.ts";
import { PROTOCOL_VERSION } from "../protocol/version.ts";
import type { Bus, BusEnvelope } from "./bus.ts";
import type { ServerConfig } from "./config.ts";
import { metrics } from "./metrics.ts";
import { Peer, type PeerSocket, Room, stamp } from "./room.ts";
import type { RoomLog } from "./room_log.ts";
import { hashToken, type RosterRecord, type SessionStore } from "./session_store.ts";
import { addressGroup } from "./address_group.ts";
import { decideSeat } from "./seat_policy.ts";
import { NO_BUDGET, type StorageBudget } from "./kv_budget.ts";
import { BacklogReader } from "./room_log_reader.ts";
import { utf8Length } from "./text_size.ts";

/** Random bytes in a peer id (72 bits: unique within a room, short on the wire). */
const PEER_ID_BYTES = 9;
/** Characters of a peer id: a session token starts with it. */
const PEER_ID_CHARS = 12;
/** Random bytes in a session token after the peer id (256 bits). */
const TOKEN_BYTES = 32;
/** Extra time other instances wait for the owner's `left` before deciding it themselves. */
const LEFT_GRACE_MS = 5_000;
/** Most `accepted` held back for one peer; past it they go at once (a burst, not a conversation). */
const MAX_HELD_PER_PEER = 256;
/**
 * How long a room found full refuses new peers without reading its seats again: joins that keep coming
 * to a full room cost one KV read per second, not one each. A seat freed meanwhile waits that long.
 */
const FULL_ROOM_MEMORY_MS = 1_000;
/** Rooms remembered as full at most. */
const FULL_ROOMS = 10_000;

// Unlabelled on purpose: a labelled inc() costs about as much as parsing the frame.
const chatRelayed = metrics.counter("parley_chat_frames_relayed_total", "Chat frames logged and relayed.");
const signalRelayed = metrics.counter("parley_signal_frames_relayed_total", "Signal frames relayed to one peer.");
const ackRelayed = metrics.counter("parley_ack_frames_relayed_total", "Ack frames relayed to one peer.");
const relayBusy = metrics.counter(
  "parley_relay_refused_total",
  "Signal and ack frames not relayed because the reader's send window was full (refused to a sender here, or dropped).",
);
const acceptedCarried = metrics.counter(
  "parley_accepted_carried_total",
  "Accepted confirmations that rode on a relayed ack instead of a frame of their own.",
);
const errorsSent = metrics.counter("parley_errors_total", "Errors reported to clients, by code.");
const logFailures = metrics.counter("parley_log_append_failures_total", "Room log appends that failed.");
const LIVE_HUBS = new Set<Hub>();
metrics.gauge("parley_rooms", "Rooms with a peer connected to this process.", () => {
  let n = 0;
  for (const hub of LIVE_HUBS) n += hub.roomCount;
  return n;
});
metrics.gauge("parley_peers", "Peers connected to this process (joined sockets).", () => {
  let n = 0;
  for (const hub of LIVE_HUBS) n += hub.peerCount;
  return n;
});

/** What instances tell each other about a room. */
type BusBody =
  /** Chat frames logged on the publishing instance: [to or null, seq, text, from]. */
  | { k: "c"; items: [string | null, number, string, string][] }
  /** A signal for a peer connected elsewhere. */
  | { k: "s"; to: string; text: string }
  /** An ack for a peer connected elsewhere (its `accepted` may be held there). */
  | { k: "a"; to: string; text: string }
  /** A presence change; `m`: the peer's member id, on joined/online. */
  | { k: "p"; peer: string; state: PresenceFrame["state"]; m?: string }
  /** The session of `peer` resumed on the publisher: close its old socket. */
  | { k: "r"; peer: string }
  /** The away session of `peer` gave its seat to a newcomer on the publisher (seat_policy.ts): close a resume of it. */
  | { k: "x"; peer: string };

/** The key of a peer's presence timer in a room. */
function timerKey(room: string, peer: string): string {
  return room + " " + peer;
}

/** Everything the hub needs, injected. */
export interface HubOptions {
  /** Limits and windows. */
  config: ServerConfig;
  /** Sessions, presence and verifiers (KV). */
  store: SessionStore;
  /** The room log. */
  log: RoomLog;
  /** The cross-instance bus. */
  bus: Bus;
  /** The KV storage budget, asked before a room is registered and before each append (default: none). */
  budget?: StorageBudget;
  /** The clock, injectable for tests. */
  now?: () => number;
  /** Answers a joined peer's `ice` frame (signal_service.ts); without it the frame is `unknown_type`. */
  ice?: (peer: Peer) => void;
}

/** Why a join failed, and how to close. */
export interface JoinRefusal {
  /** Joining failed. */
  ok: false;
  /** The error code for the `error` frame. */
  code: ErrorCode;
  /** Detail for the `error` frame. */
  message: string;
  /** The close code to use. */
  close: CloseCode;
}

/** The result of `Hub.join`. */
export type JoinResult = { ok: true; peer: Peer } | JoinRefusal;

/** What admission (admission.ts) decided for a join. */
export interface JoinAdmission {
  /** The member id the hello proved, if any. */
  member?: string;
  /** This join registers a new room: the storage budget must admit it before `commit` writes its verifier. */
  registers?: boolean;
  /**
   * Runs once every limit of the join has passed, before the peer counts: writes a new room's
   * verifier (or refreshes the room's). A refusal ends the join.
   */
  commit?: () => Promise<JoinRefusal | null>;
}

/** Lets the process exit while the timer is pending (Deno returns numbers or Node-style Timeouts). */
function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === "number") Deno.unrefTimer(timer);
  else (timer as { unref(): void }).unref();
}

function refuse(code: ErrorCode, message: string, close: CloseCode): JoinRefusal {
  return { ok: false, code, message, close };
}

/** The close code of a storage budget refusal. */
function budgetClose(code: "storage_full" | "budget_exceeded"): CloseCode {
  return code === "storage_full" ? CLOSE.TRY_AGAIN_LATER : CLOSE.TOO_MANY_ROOMS;
}

/** Sends an `error` frame and counts it. */
export function sendError(socket: PeerSocket, code: ErrorCode, message: string, ref?: string): void {
  errorsSent.inc({ code });
  socket.send(
    JSON.stringify(ref === undefined ? { type: "error", code, message } : { type: "error", code, message, ref }),
  );
}

/**
 * Refuses a frame its sender meant to relay to a reader with no room for it now (`rate_limited`, no strike): the
 * reader keeps up with what it is sent, and one member's burst must not close it.
 */
function busy(sender: Peer): void {
  relayBusy.inc();
  sendError(sender.socket, "rate_limited", "the peer is not keeping up; send it again later");
}

/**
 * Who a logged chat frame goes to live: the room (null), one peer, or nobody ({@link NOBODY}) for a `p2p` copy, whose
 * receivers have it over their DataChannels and which the log keeps for later readers.
 */
function liveTarget(frame: ChatFrame): string | null {
  return frame.p2p ? NOBODY : frame.to ?? null;
}

/** The live target of a `p2p` chat frame: no peer id is empty. */
const NOBODY = "";

/** The `accepted` frame of an own chat frame. */
function acceptedText(id: string, seq: number): string {
  return '{"type":"accepted","id":"' + id + '","seq":' + seq + "}";
}

/** Rooms, peers and relay of one instance. */
export class Hub {
  #config: ServerConfig;
  #store: SessionStore;
  #log: RoomLog;
  #bus: Bus;
  #budget: StorageBudget;
  #now: () => number;
  #rooms = new Map<string, Room>();
  #addressRooms = new Map<string, Map<string, number>>();
  /** Rooms found full lately: room → until when a join is refused without reading the room again. */
  #full = new Map<string, number>();
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Appends and KV writes in flight: shutdown waits for them before the KV goes away. */
  #appends = new Set<Promise<unknown>>();
  #unsubscribe: () => void;
  #leaseTimer: ReturnType<typeof setInterval>;
  #leaseMs: number;
  /** The lease renewal in flight: marking a peer away waits for it, so neither write undoes the other. */
  #renewing: Promise<void> | null = null;
  #closing = false;
  #ice: ((peer: Peer) => void) | undefined;
  /** `accepted` held back, oldest first: [peer, id, due by `performance.now()`]; one timer for all. */
  #held: [Peer, string, number][] = [];
  #heldHead = 0;
  #heldTimer: ReturnType<typeof setTimeout> | undefined;

  /** Starts the hub: subscribes to the bus and renews presence leases. */
  constructor(options: HubOptions) {
    this.#config = options.config;
    this.#store = options.store;
    this.#log = options.log;
    this.#bus = options.bus;
    this.#budget = options.budget ?? NO_BUDGET;
    this.#now = options.now ?? Date.now;
    this.#ice = options.ice;
    this.#leaseMs = Math.max(options.config.resumeWindowMs, 1_000);
    this.#unsubscribe = this.#bus.subscribe((envelope) => this.#onBus(envelope));
    this.#leaseTimer = setInterval(() => this.#track(this.renewLeases()), this.#leaseMs / 3);
    unrefTimer(this.#leaseTimer);
    LIVE_HUBS.add(this);
  }

  /** Rooms with a peer on this instance. */
  get roomCount(): number {
    return this.#rooms.size;
  }

  /** Peers connected to this instance. */
  get peerCount(): number {
    let n = 0;
    for (const room of this.#rooms.values()) n += room.local.size;
    return n;
  }

  /**
   * Admits a socket that sent `hello` to `roomId`: resumes or creates its
   * session, checks admission and limits, sends `welcome`, the backlog after
   * `since`, then held-back live frames. `isOpen` tells whether the socket is
   * still open after each await; `onWelcome` runs right after the welcome is
   * sent, from when the client may send frames (even while its backlog streams).
   * `admission` (checked by the caller) brings the member id and the verifier write.
   */
  async join(
    socket: PeerSocket,
    address: string,
    roomId: string,
    hello: HelloFrame,
    isOpen: () => boolean,
    onWelcome: (peer: Peer) => void = () => {},
    admission: JoinAdmission = {},
  ): Promise<JoinResult> {
    if (this.#closing) return refuse("shutting_down", "server is restarting", CLOSE.SERVICE_RESTART);
    const store = this.#store;
    let peerId = "";
    let token = hello.token ?? "";
    let tokenHash = "";
    let previous: Awaited<ReturnType<SessionStore["presence"]>> = null;
    if (hello.token !== undefined) {
      tokenHash = await hashToken(hello.token);
      const candidate = hello.token.slice(0, PEER_ID_CHARS);
      previous = await store.presence(roomId, candidate);
      // A session resumes only for the member it belongs to: a token seen elsewhere (an early hello's URL
      // in a log) lets no other member take the peer id, its directed frames, or evict its socket.
      if (previous && previous.h === tokenHash && previous.m === admission.member) peerId = candidate;
      else previous = null;
    }
    const resumed = peerId !== "";
    // Refused early, before any KV work (and before the storage budget counts a room); checked again below.
    if (this.#tooManyRooms(address, roomId)) {
      return refuse("too_many_rooms", "this address has too many rooms open", CLOSE.TOO_MANY_ROOMS);
    }
    if (!resumed) {
      peerId = randomId(PEER_ID_BYTES);
      token = peerId + randomId(TOKEN_BYTES);
      tokenHash = await hashToken(token);
    }
    if (!isOpen() || this.#closing) return refuse("internal", "socket closed while joining", CLOSE.NORMAL);
    // Checked again with no await before the count below: simultaneous joins cannot all pass it.
    if (this.#tooManyRooms(address, roomId)) {
      return refuse("too_many_rooms", "this address has too many rooms open", CLOSE.TOO_MANY_ROOMS);
    }

    // Register first (holding frames back), so nothing published from here on is missed.
    let room = this.#room(roomId);
    const old = room.local.get(peerId);
    if (old) {
      this.#replace(old);
      room = this.#room(roomId); // replacing the last local peer dropped the room
    }
    this.#clearTimer(roomId, peerId);
    room.deleteRemote(peerId);
    // room.id, not roomId: one string per room, not one per socket.
    const peer = new Peer(peerId, room.id, socket, address, tokenHash, admission.member);
    room.local.set(peerId, peer);
    this.#countAddress(address, roomId, 1);
    try {
      // Read before any write, so a full room is refused before admission writes a verifier; the seat
      // itself is claimed below, checked against this very read, so racing joins cannot all pass.
      // A room found full a moment ago is refused without reading it again (joins and leaves in a loop).
      // Remembered per address group: a group refused in a loop does not keep the room closed to others.
      const fullKey = roomId + " " + peer.seat;
      if (!resumed && this.#fullLately(fullKey)) {
        this.#unregister(peer);
        return refuse("room_full", "the room is full", CLOSE.ROOM_FULL);
      }
      const seats = resumed ? null : await store.seats(roomId);
      if (
        seats &&
        decideSeat(seats.roster.filter((entry) => entry.peer !== peerId), peer.seat, this.#config.maxPeersPerRoom)
            .kind === "full"
      ) {
        this.#unregister(peer);
        this.#foundFull(fullKey);
        return refuse("room_full", "the room is full", CLOSE.ROOM_FULL);
      }
      // The storage budget is the last limit before a new room's first write (its verifier).
      if (admission.registers) {
        const budget = await this.#budget.admitRoom(roomId, peer.network);
        if (!budget.ok) {
          this.#unregister(peer);
          return refuse(budget.code, budget.message, budgetClose(budget.code));
        }
      }
      // Every limit has passed (a new limit goes above this line): only now may admission write the verifier.
      const refusal = await admission.commit?.() ?? null;
      if (refusal) {
        this.#unregister(peer);
        return refusal;
      }
      const record = {
        state: "online" as const,
        inst: this.#bus.instanceId,
        until: this.#now() + this.#leaseMs,
        h: tokenHash,
        m: peer.member,
        g: peer.seat,
      };
      let roster: RosterRecord[];
      if (resumed) {
        roster = await store.roster(roomId);
        peer.presenceVersion = await store.setPresence(roomId, peerId, record);
      } else {
        // The room-full check and the presence write are one KV atomic: racing joins cannot all pass.
        const seat = await store.claimSeat(roomId, peerId, record, this.#config.maxPeersPerRoom, seats!);
        if (!seat) {
          this.#unregister(peer);
          this.#foundFull(fullKey);
          return refuse("room_full", "the room is full", CLOSE.ROOM_FULL);
        }
        roster = seat.roster;
        peer.presenceVersion = seat.versionstamp;
        if (seat.yielded) this.#unseat(room, seat.yielded.peer, peer);
      }
      const peers: RosterEntry[] = [];
      for (const entry of roster) {
        if (entry.peer === peerId) continue;
        peers.push({ id: entry.peer, presence: entry.state, member: entry.m }); // JSON drops an undefined member
        if (entry.inst !== this.#bus.instanceId && !room.local.has(entry.peer)) {
          room.setRemote(entry.peer, entry.state);
        }
      }
      for (const local of room.local.values()) {
        if (local !== peer && !peers.some((p) => p.id === local.id)) {
          peers.push({ id: local.id, presence: "online", member: local.member });
        }
      }
      if (previous && previous.inst !== this.#bus.instanceId && previous.state === "online" && !old) {
        this.#bus.publish(roomId, { k: "r", peer: peerId } satisfies BusBody);
      }
      this.#presence(room, peerId, resumed ? "online" : "joined", peer, roomId, peer.member);
      const bounds = await this.#log.bounds(roomId);
      this.#startDelivery(room, bounds.lastSeq);
      socket.send(JSON.stringify({
        type: "welcome",
        v: PROTOCOL_VERSION,
        peer: peerId,
        token,
        resumed,
        resumeWindowMs: this.#config.resumeWindowMs,
        peers,
        log: { first: bounds.firstSeq, last: bounds.lastSeq, epoch: bounds.epoch },
        member: peer.member,
      }));
      onWelcome(peer);
      let backlogEnd = 0;
      if (hello.since !== undefined) {
        // A since of another epoch counts in a log that is gone: serve this log from its start.
        const since = hello.epoch !== undefined && hello.epoch !== bounds.epoch ? 0 : hello.since;
        // A since beyond the log (a reset the client cannot tell) would hide new frames: read from the log's end.
        backlogEnd = await this.#sendBacklog(peer, Math.min(since, bounds.lastSeq), isOpen);
      }
      await this.#flushPending(peer, backlogEnd);
      if (hello.since !== undefined) socket.send('{"type":"synced","last":' + backlogEnd + "}");
      if (this.#closing) {
        this.#unregister(peer);
        return refuse("shutting_down", "server is restarting", CLOSE.SERVICE_RESTART);
      }
      return { ok: true, peer };
    } catch (error) {
      console.error(`signal: join of room ${roomId} failed`, error);
      this.#unregister(peer);
      return refuse("internal", "joining failed; retry", CLOSE.INTERNAL_ERROR);
    }
  }

  /** Streams the log after `since` to a joining peer, one bounded page at a time; returns the last position covered. */
  async #sendBacklog(peer: Peer, since: number, isOpen: () => boolean): Promise<number> {
    // A page holds about one send window (or less): big frames come a few per read, small ones many.
    const reader = new BacklogReader(this.#log, peer.room, since, {
      entries: this.#config.backlogPageSize,
      bytes: Math.min(this.#config.sendQueueBytes / 2, this.#config.backlogPageBytes),
      largest: this.#config.maxFrameBytes,
    });
    for (;;) {
      let covered = reader.position;
      const page = await reader.next();
      if (page.gap) {
        peer.socket.send('{"type":"gap","from":' + page.gap.from + ',"to":' + page.gap.to + "}");
        covered = page.gap.to;
      }
      for (const entry of page.entries) {
        if (this.#visibleTo(entry.data, peer.id)) {
          const text = entry.data.slice(0, -1) + ',"seq":' + entry.seq + "}";
          // In windows of the send bound, never the whole log at once.
          const ready = peer.socket.ready?.(text.length);
          if (ready !== undefined && ready !== true && !await ready) return covered;
          peer.socket.send(text);
        }
        covered = entry.seq;
      }
      if (page.done) return page.through;
      if (!isOpen()) return covered;
    }
  }

  /**
   * Sends the live frames held back while `peer` joined (minus those the backlog covered) within
   * the send window; frames arriving meanwhile queue behind them, so order holds.
   */
  async #flushPending(peer: Peer, backlogEnd: number): Promise<void> {
    const pending = peer.pending!;
    for (let i = 0; i < pending.length; i++) {
      const [seq, text] = pending[i];
      if (seq >= 0 && seq <= backlogEnd) continue;
      const ready = peer.socket.ready?.(text.length);
      if (ready !== undefined && ready !== true && !await ready) break;
      peer.socket.send(text);
      peer.pendingBytes -= text.length;
    }
    peer.pending = null;
    peer.pendingBytes = 0;
  }

  /** Whether a logged chat frame is for everyone, for `peer`, or from `peer`. */
  #visibleTo(data: string, peer: string): boolean {
    if (!data.includes('"to"')) return true;
    const frame = JSON.parse(data) as ChatFrame & { from: string };
    return frame.to === undefined || frame.to === peer || frame.from === peer;
  }

  /** Handles one text frame from a joined peer (size and rate already checked). */
  onFrame(peer: Peer, text: string): void {
    if (peer.gone) return; // said bye or was replaced; its socket is closing
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      sendError(peer.socket, parsed.code, parsed.message, parsed.ref);
      return;
    }
    const frame = parsed.frame;
    switch (frame.type) {
      case "chat":
        this.#chat(peer, frame, text);
        return;
      case "signal":
        this.#signal(peer, frame, text);
        return;
      case "ack":
        this.#ack(peer, frame);
        return;
      case "ping":
        peer.socket.send(frame.n === undefined ? '{"type":"pong"}' : '{"type":"pong","n":' + frame.n + "}");
        return;
      case "bye":
        this.#track(this.#bye(peer));
        return;
      case "hello":
        sendError(peer.socket, "hello_required", "already joined: hello is only the first frame");
        return;
      case "ice":
        if (this.#ice) this.#ice(peer);
        else sendError(peer.socket, "unknown_type", "this server hands out no ICE servers");
        return;
    }
  }

  #chat(peer: Peer, frame: ChatFrame, text: string): void {
    if (this.#closing) {
      sendError(peer.socket, "shutting_down", "not stored: the server is restarting; re-send after resuming", frame.id);
      return;
    }
    const stored = stamp(text, peer.fromSuffix);
    const id = frame.id;
    const to = liveTarget(frame);
    // The stamp adds only ASCII, so a plain client frame stays ASCII: the log need not measure it.
    const ascii = isPlainChat(text, frame);
    const budget = this.#budget.chargeBytes(peer.network, ascii ? stored.length : utf8Length(stored));
    if (!budget.ok) {
      sendError(peer.socket, budget.code, budget.message, id);
      if (budget.code === "budget_exceeded") peer.socket.close(CLOSE.TOO_MANY_ROOMS, budget.code);
      return;
    }
    const append = this.#log.append(peer.room, stored, ascii).then(
      (result) => {
        this.#appends.delete(append);
        this.#store.keepRoom(peer.room); // the room lives on: so does its verifier
        this.#accepted(peer, id, result.seq);
        this.#deliverChat(peer.room, peer.id, to, result.seq, stored.slice(0, -1) + ',"seq":' + result.seq + "}");
      },
      (error) => {
        this.#appends.delete(append);
        logFailures.inc();
        console.error(`signal: room log append to ${peer.room} failed`, error);
        sendError(peer.socket, "internal", "the message was not stored; re-send it", id);
      },
    );
    this.#appends.add(append);
  }

  #deliverChat(roomId: string, from: string, to: string | null, seq: number, text: string): void {
    chatRelayed.inc();
    const room = this.#rooms.get(roomId);
    if (!room) {
      this.#bus.publish(roomId, { k: "c", items: [[to, seq, text, from]] } satisfies BusBody);
      return;
    }
    this.#arrive(room, seq, to, from, text);
    // Frames for nobody elsewhere still go out, so other instances see no hole in the positions.
    if (room.remote.size > 0) this.#publishChat(room, to, seq, text, from);
  }

  /** Delivers a logged chat frame to the room's local peers in log order, once. */
  #arrive(room: Room, seq: number, to: string | null, from: string, text: string): void {
    const delivered = room.delivered;
    if (delivered !== null && seq <= delivered) return; // already delivered (bus after a log read)
    if (delivered === null || room.filling || seq !== delivered + 1) {
      (room.held ??= new Map()).set(seq, [to, from, text]);
      if (delivered !== null && !room.filling) void this.#fill(room);
      return;
    }
    room.delivered = seq;
    this.#route(room, seq, to, from, text);
    if (room.held) this.#drainHeld(room);
  }

  #route(room: Room, seq: number, to: string | null, from: string, text: string): void {
    if (to !== null) {
      room.local.get(to)?.push(seq, text);
      return;
    }
    for (const target of room.local.values()) {
      if (target.id !== from) target.push(seq, text);
    }
  }

  /** Delivers held frames that are next in order. */
  #drainHeld(room: Room): void {
    const held = room.held;
    if (!held) return;
    for (;;) {
      const next = room.delivered! + 1;
      const item = held.get(next);
      if (!item) break;
      held.delete(next);
      room.delivered = next;
      this.#route(room, next, item[0], item[1], item[2]);
    }
    if (held.size === 0 && !room.filling) room.held = null;
  }

  /**
   * Fills missing positions from the log: a position another instance logged
   * is durable before any later one, so the log has it (or dropped it).
   */
  async #fill(room: Room): Promise<void> {
    room.filling = true;
    try {
      for (;;) {
        const held = room.held ??= new Map();
        for (const seq of held.keys()) if (seq <= room.delivered!) held.delete(seq);
        this.#drainHeld(room);
        if (held.size === 0 || this.#rooms.get(room.id) !== room) return;
        const target = Math.min(...held.keys());
        const limit = Math.min(target - room.delivered! - 1, this.#config.backlogPageSize);
        const page = await this.#log.readAfter(room.id, room.delivered!, limit);
        for (const entry of page.entries) {
          if (entry.seq >= target) break;
          if (entry.seq <= room.delivered!) continue;
          room.delivered = entry.seq;
          const frame = JSON.parse(entry.data) as ChatFrame & { from: string };
          const text = entry.data.slice(0, -1) + ',"seq":' + entry.seq + "}";
          this.#route(room, entry.seq, liveTarget(frame), frame.from, text);
        }
        // What a short page did not bring was dropped by the log's bounds: nothing to wait for.
        if (page.entries.length < limit) room.delivered = Math.max(room.delivered!, target - 1);
      }
    } catch (error) {
      console.error(`signal: filling room ${room.id} from the log failed; delivering out of order`, error);
      const held = room.held ?? new Map();
      for (const seq of [...held.keys()].sort((a, b) => a - b)) {
        const [to, from, text] = held.get(seq)!;
        held.delete(seq);
        room.delivered = Math.max(room.delivered!, seq);
        this.#route(room, seq, to, from, text);
      }
    } finally {
      room.filling = false;
      if (room.held?.size === 0) room.held = null;
    }
  }

  /** Sets where in-order delivery starts for a room that just got its first peer. */
  #startDelivery(room: Room, lastSeq: number): void {
    if (room.delivered !== null) return;
    room.delivered = lastSeq;
    if (room.held) void this.#fill(room);
  }

  /** Queues a chat frame for the bus; a room's frames of one tick go in one message. */
  #publishChat(room: Room, to: string | null, seq: number, text: string, from: string): void {
    if (room.outbox) {
      room.outbox.push([to, seq, text, from]);
      return;
    }
    room.outbox = [[to, seq, text, from]];
    queueMicrotask(() => {
      const items = room.outbox!;
      room.outbox = null;
      this.#bus.publish(room.id, { k: "c", items } satisfies BusBody);
    });
  }

  /**
   * Tells `peer` its chat frame `id` is in the log at `seq`: at once, or held
   * back for up to `acceptedDelayMs` so that the receiver's `ack` of it carries it.
   */
  #accepted(peer: Peer, id: string, seq: number): void {
    const delay = this.#config.acceptedDelayMs;
    const held = peer.held ??= new Map();
    if (delay <= 0 || this.#closing || peer.gone || (held.size >= MAX_HELD_PER_PEER && !held.has(id))) {
      if (held.size === 0) peer.held = null;
      peer.socket.send(acceptedText(id, seq));
      return;
    }
    held.set(id, seq);
    this.#held.push([peer, id, performance.now() + delay]);
    if (this.#heldTimer === undefined) this.#armHeld(delay);
  }

  #armHeld(ms: number): void {
    this.#heldTimer = setTimeout(() => this.#releaseHeld(), Math.max(0, ms));
    unrefTimer(this.#heldTimer);
  }

  /** Sends every held `accepted` that is due; re-arms for the next. */
  #releaseHeld(all = false): void {
    this.#heldTimer = undefined;
    const queue = this.#held;
    const now = performance.now();
    while (this.#heldHead < queue.length && (all || queue[this.#heldHead][2] <= now)) {
      const [peer, id] = queue[this.#heldHead++];
      const seq = peer.held?.get(id);
      if (seq === undefined) continue;
      peer.held!.delete(id);
      if (peer.held!.size === 0) peer.held = null;
      if (!peer.gone) peer.socket.send(acceptedText(id, seq));
    }
    if (this.#heldHead === queue.length) {
      this.#held = [];
      this.#heldHead = 0;
    } else {
      if (this.#heldHead > 1024 && this.#heldHead * 2 > queue.length) {
        this.#held = queue.slice(this.#heldHead);
        this.#heldHead = 0;
      }
      this.#armHeld(this.#held[this.#heldHead][2] - now);
    }
  }

  /** Relays an `ack` to its one peer (not logged), like a signal; `to` is dropped, `from` stamped. */
  #ack(peer: Peer, frame: AckFrame): void {
    const room = this.#rooms.get(peer.room)!;
    const text = '{"type":"ack","ids":' + JSON.stringify(frame.ids) + ',"mac":"' + frame.mac + '"' +
      (frame.volatile ? ',"volatile":true' : "") + peer.fromSuffix;
    const target = room.local.get(frame.to);
    if (target) {
      if (!this.#deliverAck(target, text, frame.ids)) return busy(peer);
      ackRelayed.inc();
    } else if (room.remote.get(frame.to) === "online") {
      ackRelayed.inc();
      this.#bus.publish(room.id, { k: "a", to: frame.to, text } satisfies BusBody);
    } else {
      sendError(peer.socket, "unknown_peer", "no such peer online in this room");
    }
  }

  /**
   * Hands a relayed ack to a local peer, carrying the `accepted` held for any of its ids (`acc`); false, sending
   * nothing and keeping what is held, when it does not fit the peer's send window (see `Peer.relay`).
   */
  #deliverAck(target: Peer, text: string, ids?: string[]): boolean {
    const held = target.held;
    let out = text;
    let carried: string[] | null = null;
    if (held !== null) {
      const list = ids ?? (JSON.parse(text) as { ids: string[] }).ids;
      let acc: number[] | null = null;
      list.forEach((id, i) => {
        const seq = held.get(id);
        if (seq === undefined) return;
        (carried ??= []).push(id);
        (acc ??= new Array(list.length).fill(0))[i] = seq;
      });
      if (acc !== null) out = stamp(text, ',"acc":[' + (acc as number[]).join(",") + "]}");
    }
    if (!target.relay(out)) return false;
    if (held !== null && carried !== null) {
      for (const id of carried as string[]) held.delete(id);
      acceptedCarried.inc(undefined, (carried as string[]).length);
      if (held.size === 0) target.held = null;
    }
    return true;
  }

  #signal(peer: Peer, frame: SignalFrame, text: string): void {
    const room = this.#rooms.get(peer.room)!;
    const target = room.local.get(frame.to);
    if (target) {
      if (!target.relay(stamp(text, peer.fromSuffix))) return busy(peer);
      signalRelayed.inc();
    } else if (room.remote.get(frame.to) === "online") {
      signalRelayed.inc();
      this.#bus.publish(room.id, { k: "s", to: frame.to, text: stamp(text, peer.fromSuffix) } satisfies BusBody);
    } else {
      sendError(peer.socket, "unknown_peer", "no such peer online in this room");
    }
  }

  async #bye(peer: Peer): Promise<void> {
    if (peer.gone) return;
    this.#unregister(peer);
    peer.socket.close(CLOSE.NORMAL, "bye");
    const room = this.#rooms.get(peer.room);
    this.#presence(room, peer.id, "left", null, peer.room);
    try {
      await this.#store.deletePresence(peer.room, peer.id);
    } catch (error) {
      console.error(`signal: ending the session of ${peer.id} failed`, error);
    }
  }

  /** The socket of `peer` closed: it is away for the resume window, then it has left. */
  disconnect(peer: Peer): void {
    if (peer.gone) return;
    this.#unregister(peer);
    if (peer.replaced || this.#closing) return;
    this.#track(this.#markAway(peer));
  }

  /** Keeps a background task (which handles its own errors) in the set shutdown waits for. */
  #track(task: Promise<void>): void {
    this.#appends.add(task);
    task.finally(() => this.#appends.delete(task));
  }

  async #markAway(peer: Peer): Promise<void> {
    const { room: roomId, id } = peer;
    // Peers here hear it at once: a resume on this instance can only come after, so order holds.
    const room = this.#rooms.get(roomId);
    if (room) this.#tellLocal(room, id, "away");
    try {
      // A renewal that collected this peer before it dropped writes first; this write then checks against it.
      await this.#renewing;
      if (peer.presenceVersion === null) return;
      const until = this.#now() + this.#config.resumeWindowMs;
      // Other instances hear it only if no resume replaced the entry meanwhile (here or elsewhere):
      // an "away" after that resume's "online" would be wrong.
      const versionstamp = await this.#store.markAwayIf(roomId, id, peer.presenceVersion, {
        state: "away",
        inst: this.#bus.instanceId,
        until,
        h: peer.tokenHash,
        m: peer.member,
        g: peer.seat,
      });
      if (versionstamp === null || this.#closing || this.#rooms.get(roomId)?.local.has(id)) return;
      this.#bus.publish(roomId, { k: "p", peer: id, state: "away" } satisfies BusBody);
      this.#setTimer(roomId, id, this.#config.resumeWindowMs, async () => {
        if (!await this.#store.deletePresenceIf(roomId, id, versionstamp) || this.#closing) return;
        this.#presence(this.#rooms.get(roomId), id, "left", null, roomId);
      });
    } catch (error) {
      console.error(`signal: marking ${id} away failed`, error);
    }
  }

  /** Tells this instance's peers of a room (except `self`) about a presence change, with `member` if known. */
  #tellLocal(room: Room, peer: string, state: PresenceFrame["state"], self: Peer | null = null, member?: string): void {
    const text = '{"type":"presence","peer":"' + peer + '","state":"' + state +
      (member ? '","member":"' + member + '"}' : '"}');
    for (const target of room.local.values()) {
      if (target !== self) target.push(-1, text);
    }
  }

  /** Tells local peers (except `self`) and, when `room` is local, other instances about a presence change. */
  #presence(
    room: Room | undefined,
    peer: string,
    state: PresenceFrame["state"],
    self: Peer | null,
    roomId = room?.id,
    member?: string,
  ): void {
    if (roomId === undefined) return;
    this.#bus.publish(roomId, { k: "p", peer, state, m: member } satisfies BusBody);
    if (room) this.#tellLocal(room, peer, state, self, member);
  }

  #onBus(envelope: BusEnvelope): void {
    const room = this.#rooms.get(envelope.room);
    if (!room) return;
    const body = envelope.body as BusBody;
    switch (body.k) {
      case "c":
        for (const [to, seq, text, from] of body.items) {
          if (!room.local.has(from) && !room.remote.has(from)) room.setRemote(from, "online");
          this.#arrive(room, seq, to, from, text);
        }
        return;
      case "s":
        // From another instance: a signal the reader has no room for is dropped (its sender's client sends again).
        if (room.local.get(body.to)?.relay(body.text) === false) relayBusy.inc();
        return;
      case "a": {
        const target = room.local.get(body.to);
        if (target && !this.#deliverAck(target, body.text)) relayBusy.inc();
        return;
      }
      case "r": {
        const old = room.local.get(body.peer);
        if (old) this.#replace(old);
        this.#rooms.get(room.id)?.setRemote(body.peer, "online");
        return;
      }
      case "p":
        this.#onRemotePresence(room, body.peer, body.state, body.m);
        return;
      case "x": {
        // The publisher's "left" reaches the instances that knew the peer as remote; the one that owned it (its
        // socket, or its away timer) tells its neighbours here.
        const owned = !room.remote.has(body.peer) && this.#hasTimer(room.id, body.peer);
        if (this.#closeUnseated(room, body.peer) || owned) {
          this.#clearTimer(room.id, body.peer);
          this.#tellLocal(room, body.peer, "left");
        }
        return;
      }
    }
  }

  #onRemotePresence(room: Room, peer: string, state: PresenceFrame["state"], member?: string): void {
    if (room.local.has(peer)) return; // ours now: a stale event from the instance it left
    const known = room.remote.get(peer);
    if (state === "left") {
      if (known === undefined) return;
      room.deleteRemote(peer);
      this.#clearTimer(room.id, peer);
    } else {
      const presence: Presence = state === "away" ? "away" : "online";
      room.setRemote(peer, presence);
      this.#clearTimer(room.id, peer);
      if (presence === "away") {
        // If the owner dies before saying "left", decide it here after the window.
        this.#setTimer(room.id, peer, this.#config.resumeWindowMs + LEFT_GRACE_MS, () => {
          const current = this.#rooms.get(room.id);
          if (current?.remote.get(peer) !== "away") return;
          current.deleteRemote(peer);
          this.#tellLocal(current, peer, "left");
        });
      }
    }
    this.#tellLocal(room, peer, state, null, member);
  }

  /**
   * `peer`, away, gave its seat to a newcomer (its presence is already deleted): everyone but the newcomer (whose
   * roster never had it) hears it left. A resume of it under way somewhere (registered, its presence not written
   * yet) is closed with room_full there, as a join that came too late.
   */
  #unseat(room: Room, peer: string, newcomer: Peer): void {
    this.#closeUnseated(room, peer);
    room.deleteRemote(peer);
    this.#clearTimer(room.id, peer);
    this.#bus.publish(room.id, { k: "x", peer } satisfies BusBody);
    this.#presence(room, peer, "left", newcomer);
  }

  /** Closes the socket of a session that gave its seat up, if it is connected here (then true). */
  #closeUnseated(room: Room, id: string): boolean {
    const peer = room.local.get(id);
    if (!peer) return false;
    // Unregistered first, so its close marks nothing away.
    this.#unregister(peer);
    sendError(peer.socket, "room_full", "the room is full: your seat went to someone from another network");
    peer.socket.close(CLOSE.ROOM_FULL, "room_full");
    return true;
  }

  #replace(old: Peer): void {
    old.replaced = true;
    this.#unregister(old);
    sendError(old.socket, "replaced", "this session connected again on another socket");
    old.socket.close(CLOSE.REPLACED, "replaced");
  }

  #room(id: string): Room {
    let room = this.#rooms.get(id);
    if (!room) {
      room = new Room(id);
      this.#rooms.set(id, room);
    }
    return room;
  }

  #unregister(peer: Peer): void {
    if (peer.gone) return;
    peer.gone = true;
    const room = this.#rooms.get(peer.room);
    if (room && room.local.get(peer.id) === peer) {
      room.local.delete(peer.id);
      this.#countAddress(peer.address, peer.room, -1);
      if (room.local.size === 0) this.#rooms.delete(peer.room);
    }
  }

  /** Whether `room` (a room id and seat tag) was found full less than `FULL_ROOM_MEMORY_MS` ago. */
  #fullLately(room: string): boolean {
    const until = this.#full.get(room);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#full.delete(room);
    return false;
  }

  /** Remembers that `room` (a room id and seat tag) is full, for a moment (bounded: the oldest entries go first). */
  #foundFull(room: string): void {
    this.#full.delete(room);
    this.#full.set(room, this.#now() + FULL_ROOM_MEMORY_MS);
    if (this.#full.size > FULL_ROOMS) this.#full.delete(this.#full.keys().next().value!);
  }

  /** Whether joining `room` would take the address group over its open rooms on this instance. */
  #tooManyRooms(address: string, room: string): boolean {
    const rooms = this.#addressRooms.get(addressGroup(address));
    return !rooms?.has(room) && (rooms?.size ?? 0) >= this.#config.maxRoomsPerAddress;
  }

  #countAddress(address: string, room: string, delta: number): void {
    const group = addressGroup(address);
    let rooms = this.#addressRooms.get(group);
    if (!rooms) {
      rooms = new Map();
      this.#addressRooms.set(group, rooms);
    }
    const count = (rooms.get(room) ?? 0) + delta;
    if (count > 0) rooms.set(room, count);
    else rooms.delete(room);
    if (rooms.size === 0) this.#addressRooms.delete(group);
  }

  #setTimer(room: string, peer: string, ms: number, run: () => void | Promise<void>): void {
    const key = timerKey(room, peer);
    this.#clearTimer(room, peer);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.#track(
        Promise.resolve(run()).catch((error) => console.error(`signal: presence timer of ${peer} failed`, error)),
      );
    }, ms);
    this.#timers.set(key, timer);
  }

  #hasTimer(room: string, peer: string): boolean {
    return this.#timers.has(timerKey(room, peer));
  }

  #clearTimer(room: string, peer: string): void {
    const key = timerKey(room, peer);
    const timer = this.#timers.get(key);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#timers.delete(key);
    }
  }

  /**
   * Renews the presence lease of every peer connected here (the lease timer
   * calls it every third of a lease). A renewal already in flight is returned,
   * not doubled. Each entry is renewed only if it is still this socket's write,
   * and a peer dropping meanwhile is marked away only after the renewal landed.
   */
  renewLeases(): Promise<void> {
    if (this.#closing) return Promise.resolve();
    this.#renewing ??= this.#renew().finally(() => this.#renewing = null);
    return this.#renewing;
  }

  async #renew(): Promise<void> {
    const until = this.#now() + this.#leaseMs;
    const inst = this.#bus.instanceId;
    const peers: Peer[] = [];
    for (const room of this.#rooms.values()) {
      for (const peer of room.local.values()) if (peer.presenceVersion !== null) peers.push(peer);
    }
    try {
      const versions = await this.#store.renewPresences(peers.map((peer) => ({
        room: peer.room,
        peer: peer.id,
        record: { state: "online" as const, inst, until, h: peer.tokenHash, m: peer.member, g: peer.seat },
        versionstamp: peer.presenceVersion!,
      })));
      // Gone peers too: their "away" waits for this renewal and checks against its write.
      for (let i = 0; i < peers.length; i++) if (versions[i] !== null) peers[i].presenceVersion = versions[i];
      await this.#sweepRemote();
    } catch (error) {
      console.error("signal: renewing presence leases failed", error);
    }
  }

  /**
   * Forgets remote peers whose presence is gone from KV: an instance that died
   * (SIGKILL, crash) never says "left", but its leases run out.
   */
  async #sweepRemote(): Promise<void> {
    for (const room of [...this.#rooms.values()]) {
      if (room.remote.size === 0) continue;
      const alive = new Set((await this.#store.roster(room.id)).map((entry) => entry.peer));
      for (const peer of [...room.remote.keys()]) {
        if (alive.has(peer) || room.local.has(peer)) continue;
        room.deleteRemote(peer);
        this.#clearTimer(room.id, peer);
        this.#tellLocal(room, peer, "left");
      }
    }
  }

  /**
   * Stops the hub: waits for appends in flight (so every accepted frame is
   * acknowledged and durable), marks every peer away (resumable elsewhere),
   * and closes every socket with 1012.
   */
  async shutdown(reason = "server restart"): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#leaseTimer);
    while (this.#appends.size > 0) await Promise.allSettled([...this.#appends]);
    // Every frame logged is confirmed before its socket closes.
    clearTimeout(this.#heldTimer);
    this.#releaseHeld(true);
    const until = this.#now() + this.#config.resumeWindowMs;
    const inst = this.#bus.instanceId;
    const peers: Peer[] = [];
    for (const room of this.#rooms.values()) peers.push(...room.local.values());
    try {
      await this.#store.setPresences(
        peers.map((peer) => ({
          room: peer.room,
          peer: peer.id,
          record: { state: "away" as const, inst, until, h: peer.tokenHash, m: peer.member, g: peer.seat },
        })),
      );
    } catch (error) {
      console.error("signal: marking peers away at shutdown failed", error);
    }
    for (const peer of peers) {
      this.#bus.publish(peer.room, { k: "p", peer: peer.id, state: "away" } satisfies BusBody);
      peer.gone = true;
      peer.socket.close(CLOSE.SERVICE_RESTART, reason);
    }
    this.#rooms.clear();
    this.#addressRooms.clear();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#unsubscribe();
    LIVE_HUBS.delete(this);
  }
}
