/**
 * The outbox: own messages awaiting acknowledgement. A message goes out at
 * once on the best path to every member that has not acknowledged it (the
 * DataChannel to a session when open, else the relay: a logged chat frame
 * until the room log accepted it, then signals), and again on the courier's
 * timer and whenever a path changes. Its status moves pending → sent (the
 * log accepted it, or a peer acknowledged it) → delivered (every other member
 * acknowledged it durably), never backwards; a frame the server refuses for
 * good marks that one message failed.
 * @module
 */
import type { ErrorCode } from "../../protocol/codes.ts";
import { utf8Length } from "../../protocol/validate.ts";
import {
  type FailureReason,
  type MessageStatus,
  type OutboxEntry,
  STATUS_RANK,
  type Store,
  type StoredMessage,
} from "../store.ts";
import type { MessageBook } from "./book.ts";
import type { Host } from "./events.ts";
import { Allowance } from "./allowance.ts";
import { MAX_RESEND_BACKOFF_MS, MAX_TRANSPORT_BYTES, RESEND_BURST_BYTES, RESEND_BYTES_PER_SECOND } from "./limits.ts";
import { toWire } from "./packets.ts";
import { TRANSFER_ID_CHARS } from "./part_size.ts";
import type { PeerTable } from "./peers.ts";
import type { Persister } from "./persist.ts";
import type { Wire } from "./wire.ts";

/** Server error codes after which a refused chat frame is sent again (the refusal says nothing about the frame). */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set<ErrorCode | "storage_full" | "budget_exceeded">([
  "rate_limited",
  "internal",
  "shutting_down",
  "hello_required",
  "storage_full",
  "budget_exceeded",
]);

/** Server error codes that refuse a chat frame for good, and the failure they stand for. */
const FATAL_CODES: Readonly<Record<string, FailureReason>> = {
  too_big: "too_big",
  bad_frame: "bad_frame",
  unknown_type: "bad_frame",
  binary_refused: "bad_frame",
};

/** An own message awaiting acknowledgement. */
export interface Pending {
  /** The persisted outbox entry (kept in step with the store). */
  entry: OutboxEntry;
  /** When it last went out, by the courier's clock; -Infinity when it must go at the next chance. */
  lastSent: number;
  /** Stored: only then may it leave, so a crash never forgets a message a peer already has. */
  ready: boolean;
  /**
   * Members that acknowledged it from a store that is not durable: it is
   * "sent", never "delivered" on their word, and still re-sent to them (their
   * durable ack may be lost), until they acknowledge durably.
   */
  volatileBy: Set<string>;
  /**
   * Sessions that acknowledged it durably (in memory: after a reload they get
   * it once more). Delivery counts members, but every session of the room
   * gets it until it acknowledges or goes away, so no tab of a member that
   * acknowledged from another tab is left without it.
   */
  sessionsAcked: Set<string>;
}

/** One split relay chat send: its parts are accepted one by one. */
interface Transfer {
  /** The message. */
  id: string;
  /** Its parts. */
  count: number;
  /** Parts the log accepted. */
  accepted: Set<number>;
  /** The highest log seq among them. */
  seq: number;
}

/** What the outbox needs. */
export interface OutboxOptions {
  /** The room id (the store's scope). */
  room: string;
  /** The store. */
  store: Store;
  /** History in memory. */
  book: MessageBook;
  /** The other sessions. */
  peers: PeerTable;
  /** The transport layer. */
  wire: Wire<unknown>;
  /** Writes to the store. */
  persist: Persister;
  /** Reporting. */
  host: Host;
}

/** Own messages not yet delivered to every member. */
export class Outbox {
  /** Bytes of re-sends, under the key "" ({@link RESEND_BURST_BYTES}). */
  #resendBytes: Allowance;
  #o: OutboxOptions;
  #pending = new Map<string, Pending>();
  #transfers = new Map<string, Transfer>();

  /** An empty outbox. */
  constructor(options: OutboxOptions) {
    this.#o = options;
    this.#resendBytes = new Allowance({
      burst: RESEND_BURST_BYTES,
      perSecond: RESEND_BYTES_PER_SECOND,
      now: () => options.host.now(),
      maxKeys: 1,
    });
  }

  /**
   * Whether a message sent before is due for a timed re-send at `now`: the re-send interval after its last send,
   * doubled for each attempt after the first, at most {@link MAX_RESEND_BACKOFF_MS}.
   */
  due(pending: Pending, now: number, intervalMs: number): boolean {
    const attempts = pending.entry.attempts;
    if (attempts === 0) return false;
    const wait = Math.min(MAX_RESEND_BACKOFF_MS, intervalMs * 2 ** Math.min(attempts - 1, 16));
    return pending.lastSent <= now - wait;
  }

  /** Messages waiting. */
  get size(): number {
    return this.#pending.size;
  }

  /** One waiting message. */
  get(id: string): Pending | undefined {
    return this.#pending.get(id);
  }

  /** Every waiting message, oldest first. */
  values(): Pending[] {
    return [...this.#pending.values()];
  }

  /** Adds a message (ready: already stored). */
  add(entry: OutboxEntry, ready: boolean): Pending {
    const pending: Pending = { entry, lastSent: -Infinity, ready, volatileBy: new Set(), sessionsAcked: new Set() };
    this.#pending.set(entry.id, pending);
    return pending;
  }

  /** The members (or member-less sessions) that must acknowledge a message before it is delivered. */
  required(message: StoredMessage): Set<string> {
    if (message.to !== undefined) return new Set([this.#o.peers.identity(message.to)]);
    return this.#o.peers.requiredForRoom();
  }

  /**
   * The sessions still owed a message: the receiver of a direct message until
   * its member acknowledged, else every session (own other tabs included)
   * that has not acknowledged it.
   */
  #targets(pending: Pending, message: StoredMessage, only?: string): string[] {
    const peers = this.#o.peers;
    let targets: string[];
    if (message.to !== undefined) {
      const done = peers.identity(message.to) === peers.ownMember
        ? pending.sessionsAcked.has(message.to)
        : pending.entry.ackedBy.includes(peers.identity(message.to));
      targets = done ? [] : [message.to];
    } else {
      targets = [];
      for (const [id] of peers.entries()) if (!pending.sessionsAcked.has(id)) targets.push(id);
    }
    return only === undefined ? targets : targets.filter((id) => id === only);
  }

  /** Whether the timer could make progress on this message now. */
  hasWork(pending: Pending): boolean {
    if (!pending.ready) return false;
    const peers = this.#o.peers;
    if (!pending.entry.accepted && peers.relayUp) return true;
    const message = this.#o.book.get(pending.entry.id);
    if (!message) return false;
    return this.#targets(pending, message).some((id) => peers.reachable(id));
  }

  /**
   * Sends an own message to every session (or `only` that one) still owed it,
   * each on its best path. Returns the frames it may cost (0 when it did not try).
   */
  transmit(pending: Pending, only?: string): number {
    if (!pending.ready) return 0;
    const { peers, book, wire, host } = this.#o;
    const id = pending.entry.id;
    const message = book.get(id);
    const signed = message && toWire(message);
    if (!message || !signed) {
      this.fail(id, "unsendable");
      return 0;
    }
    const targets = this.#targets(pending, message, only);
    // Not in the room log yet: there is always something to send (to the sessions owed it, or a copy for the log).
    if (pending.entry.accepted && !targets.some((s) => peers.reachable(s))) return 0;
    if (!peers.relayUp && !targets.some((s) => peers.get(s)?.link)) return 0;
    wire.prepare({ t: "msg", m: signed }, (out) => {
      if (host.closed || this.#pending.get(id) !== pending) return;
      if (!out) {
        this.fail(id, "unsendable");
        return;
      }
      // A re-send is paid from the re-sends' byte allowance (see `limits.ts`), for every session it goes to (a
      // larger one than the whole allowance needs it full); one over it waits for a later tick.
      if (pending.entry.attempts > 0) {
        const bytes = out.pieces.reduce((sum, piece) => sum + piece.length, 0) * Math.max(1, targets.length);
        if (!this.#resendBytes.take("", Math.min(bytes, RESEND_BURST_BYTES))) return;
      }
      let relayChat = false;
      let went = false;
      const signals: string[] = [];
      for (const target of targets) {
        const state = peers.get(target);
        if (state?.link && wire.sendDirect(state.link, out)) went = true;
        else if (!pending.entry.accepted) relayChat = true;
        else if (state && state.presence !== "away") signals.push(target);
      }
      // Not in the room log yet, and nobody needs the relay to carry it (alone in the room, or every session owed it
      // took it over its DataChannel): the log still keeps it, for whoever opens the link later, and the server
      // relays this copy to nobody.
      const logOnly = !relayChat && !pending.entry.accepted;
      if (peers.relayUp) {
        if (relayChat || logOnly) {
          if (out.xfer !== undefined) {
            this.#transfers.set(out.xfer, { id, count: out.pieces.length, accepted: new Set(), seq: 0 });
          }
          wire.sendChat(id, message.to, out, logOnly);
        } else for (const target of signals) wire.sendSignal(target, out);
        went ||= relayChat || logOnly || signals.length > 0;
      }
      if (!went) return;
      pending.lastSent = host.now();
      host.count(pending.entry.attempts === 0 ? "sent" : "resent");
      pending.entry.attempts++;
      this.save(pending);
    });
    return estimateFrames(message) * Math.max(1, Math.min(targets.length, 4));
  }

  /**
   * An `accepted` frame for chat frame `frameId` (a whole message, or one part):
   * returns the message id and its log seq once the whole message is in the log.
   */
  frameAccepted(frameId: string, seq: number): { id: string; seq: number } | undefined {
    if (this.#pending.has(frameId) || !this.#isPartId(frameId)) return { id: frameId, seq };
    const transfer = this.#transfers.get(frameId.slice(0, TRANSFER_ID_CHARS));
    if (!transfer) return undefined;
    transfer.accepted.add(parseInt(frameId.slice(TRANSFER_ID_CHARS), 36));
    transfer.seq = Math.max(transfer.seq, seq);
    if (transfer.accepted.size < transfer.count) return undefined;
    this.#transfers.delete(frameId.slice(0, TRANSFER_ID_CHARS));
    return { id: transfer.id, seq: transfer.seq };
  }

  #isPartId(frameId: string): boolean {
    return frameId.length === TRANSFER_ID_CHARS + 2 && this.#transfers.has(frameId.slice(0, TRANSFER_ID_CHARS));
  }

  /** The message a chat frame id belongs to (whole or part). */
  messageOfFrame(frameId: string): string | undefined {
    if (this.#pending.has(frameId)) return frameId;
    if (!this.#isPartId(frameId)) return undefined;
    return this.#transfers.get(frameId.slice(0, TRANSFER_ID_CHARS))?.id;
  }

  /** The room log accepted message `id` at `seq`: it is at least "sent". */
  accepted(id: string, seq: number): void {
    const pending = this.#pending.get(id);
    if (pending && !pending.entry.accepted) {
      pending.entry.accepted = true;
      this.save(pending);
    }
    this.raise(id, "sent", seq);
    // Delivered over DataChannels before the log had it: it may leave the outbox now.
    if (pending) this.checkDelivered(pending);
  }

  /** The room log started over: every message it held for late joiners must be logged again. */
  logReset(): void {
    for (const pending of this.#pending.values()) {
      if (!pending.entry.accepted) continue;
      pending.entry.accepted = false;
      pending.lastSent = -Infinity;
      this.save(pending);
    }
    this.#transfers.clear();
  }

  /**
   * The server refused chat frame `frameId` with `code`: sent again at the next
   * tick when the refusal was about the moment, failed for good when about the frame.
   */
  refused(frameId: string, code: string | undefined): void {
    const id = this.messageOfFrame(frameId);
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (!pending) return;
    const fatal = code === undefined ? undefined : FATAL_CODES[code];
    if (fatal && !RETRYABLE_CODES.has(code!)) {
      this.fail(pending.entry.id, fatal);
      return;
    }
    pending.lastSent = -Infinity;
    this.#o.host.arm();
  }

  /** Session `from` acknowledged own message `id`; `volatile` when its store is not durable now. */
  acked(id: string, from: string, volatile: boolean): void {
    const pending = this.#pending.get(id);
    const peers = this.#o.peers;
    // A session not in the table yet cannot be told apart (its member is unknown): its next ack will count.
    if (!pending || peers.isOwnSession(from) || !peers.get(from)) return;
    const who = peers.identity(from);
    const ownTab = peers.isOwnTab(from);
    if (volatile) {
      // Held in memory only: not delivered until it acknowledges durably, and still re-sent to.
      if (!ownTab && !pending.entry.ackedBy.includes(who)) pending.volatileBy.add(who);
      if (!ownTab) this.raise(id, "sent");
      return;
    }
    pending.sessionsAcked.add(from);
    // Another tab of ours has it: that never counts for delivery.
    if (!ownTab && !pending.entry.ackedBy.includes(who)) {
      pending.volatileBy.delete(who);
      pending.entry.ackedBy.push(who);
      this.raise(id, "sent");
      if (this.checkDelivered(pending)) return;
      this.save(pending);
      return;
    }
    this.checkDelivered(pending);
  }

  /**
   * A session's member became known (it was known only by its DataChannel):
   * acks it gave under its session id now count for its member.
   */
  memberLearned(session: string, member: string): void {
    for (const pending of this.#pending.values()) {
      const acked = pending.entry.ackedBy;
      const at = acked.indexOf(session);
      if (at < 0) continue;
      acked.splice(at, 1);
      if (!acked.includes(member)) acked.push(member);
      if (!this.checkDelivered(pending)) this.save(pending);
    }
  }

  /**
   * Delivered: some member acknowledged it and so did every member that must.
   * It then leaves the outbox once every session within reach (tabs of those
   * members, own other tabs) has it too. Returns whether it left.
   */
  checkDelivered(pending: Pending): boolean {
    const { book, peers, host } = this.#o;
    const message = book.get(pending.entry.id);
    const acked = pending.entry.ackedBy;
    if (!message) return false;
    // A direct message to another tab of ours: that tab's own ack is its delivery.
    const toOwnTab = message.to !== undefined && peers.identity(message.to) === peers.ownMember;
    if (toOwnTab ? !pending.sessionsAcked.has(message.to!) : acked.length === 0) return false;
    if (!toOwnTab) { for (const who of this.required(message)) if (!acked.includes(who)) return false; }
    if (message.status !== "delivered") {
      this.raise(message.id, "delivered");
      host.count("delivered");
    }
    if (message.to === undefined) {
      for (const [id, state] of peers.entries()) {
        if (!pending.sessionsAcked.has(id) && state.presence !== "away") return false;
      }
    }
    // Acknowledged by everyone over DataChannels, but not in the room log yet: it stays until the log has it, so a
    // friend who opens the link later (or a peer resuming from the log) gets it too.
    if (!pending.entry.accepted) return false;
    this.#remove(pending.entry.id);
    return true;
  }

  /** Checks every waiting message (a member left, so fewer must acknowledge). */
  checkAllDelivered(): void {
    for (const pending of [...this.#pending.values()]) this.checkDelivered(pending);
  }

  /** Fails an own message for good: out of the outbox, status `failed` with its reason. */
  fail(id: string, reason: FailureReason): void {
    if (!this.#pending.has(id)) return;
    this.#o.host.count("failed");
    this.raise(id, "failed", undefined, reason);
    this.#remove(id);
  }

  #remove(id: string): void {
    this.#pending.delete(id);
    for (const [xfer, transfer] of this.#transfers) if (transfer.id === id) this.#transfers.delete(xfer);
    const { persist, store, room } = this.#o;
    // Only once its final status is stored: a reload in between must not find it "sent" with no outbox entry.
    persist.whenDurable("m:" + id, () => {
      void persist.write("o:" + id, "remove from outbox", () => store.deleteOutbox(room, id));
    });
  }

  /** Raises a message's status (never lowers it) and records its log seq. */
  raise(id: string, status: MessageStatus, seq?: number, failure?: FailureReason): void {
    const { book, host, persist, store, room } = this.#o;
    const message = book.get(id);
    if (!message) return;
    const higher = STATUS_RANK[status] > STATUS_RANK[message.status];
    if (!higher && (seq === undefined || message.seq !== undefined)) return;
    const next: StoredMessage = { ...message, status: higher ? status : message.status };
    if (higher && status === "failed" && failure) next.failure = failure;
    else if (higher) delete next.failure;
    if (seq !== undefined && message.seq === undefined) next.seq = seq;
    book.set(next);
    void persist.write("m:" + id, "save status", () => store.putMessage(room, next));
    if (higher) {
      host.emit(next.failure ? { type: "status", id, status, failure: next.failure } : { type: "status", id, status });
    }
    host.emit({ type: "messages" });
  }

  /** Persists a waiting message's entry. */
  save(pending: Pending): void {
    if (this.#pending.get(pending.entry.id) !== pending) return;
    const { persist, store, room } = this.#o;
    const entry = { ...pending.entry, ackedBy: [...pending.entry.ackedBy] };
    void persist.write("o:" + entry.id, "save outbox entry", () => store.putOutbox(room, entry));
  }
}

/** The frames one copy of a message may take (its parts), estimated from its size before it is encoded. */
export function estimateFrames(message: StoredMessage): number {
  const bytes = utf8Length(message.body) * 2 + 512;
  return Math.max(1, Math.ceil((bytes * 4) / 3 / MAX_TRANSPORT_BYTES));
}
