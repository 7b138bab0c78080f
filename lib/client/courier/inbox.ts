/**
 * The inbox: messages from peers. Each is checked against every bound (its id
 * must name its author: `message_id.ts`), verified through the signer (author
 * = the key's member id) before it is stored, dropped by id when already held
 * (and acknowledged again, as the first ack may have been lost), and
 * acknowledged only once stored: volatile while the store is not durable,
 * durably again once it is. A copy that fails verification never takes
 * another copy of the same id down with it.
 * @module
 */
import { type HybridClock, writerOf } from "../order_key.ts";
import type { Store, StoredMessage } from "../store.ts";
import type { MessageBook } from "./book.ts";
import type { Host } from "./events.ts";
import type { KeyBook } from "./keys.ts";
import { checkMessage, sameMessage, type WireMessage } from "./packets.ts";
import type { PeerTable } from "./peers.ts";
import type { Persister } from "./persist.ts";
import type { MessageSigner } from "./signer.ts";
import { Allowance } from "./allowance.ts";
import {
  FAILED_VERIFY_COST,
  LATE_ARRIVAL_MS,
  NEW_MESSAGES_BURST,
  NEW_MESSAGES_PER_SECOND,
  VERIFIES_PER_SECOND,
  VERIFY_BURST,
  VERIFY_CONCURRENCY,
} from "./limits.ts";

/** How long another member's message must have been held to count as already shown to the reader, ms. */
const SHOWN_MS = 60_000;

/** How a list of messages came. */
export interface Delivery {
  /** The sending session. */
  from: string;
  /** `msg`: the author's session sent its own (ack to `from`); `hist`: history sync (ack to the author's sessions). */
  kind: "msg" | "hist";
  /** The room log position, for a relayed chat frame. */
  seq?: number;
}

/** What the inbox needs. */
export interface InboxOptions {
  /** The room id. */
  room: string;
  /** The store. */
  store: Store;
  /** History in memory. */
  book: MessageBook;
  /** The other sessions. */
  peers: PeerTable;
  /** Verifies authors. */
  signer: MessageSigner;
  /** Authors' public keys (messages come without them), loaded when first needed. */
  keys: () => Promise<KeyBook>;
  /** The hybrid clock, moved past every message taken in. */
  clock: HybridClock;
  /** Writes to the store. */
  persist: Persister;
  /** Own peer id (the receiver of direct messages to us). */
  self: () => string | undefined;
  /** Acknowledges stored messages to one session (`volatile`: not durably stored). */
  ack: (peer: string, ids: string[], volatile: boolean) => void;
  /** The room log accepted an own message (its frame came back in the log). */
  ownLogged: (id: string, seq: number) => void;
  /** Whether a message of the own member was written by this tab (in its outbox, or under its writer). */
  mine: (id: string, writer: string) => boolean;
  /** Every session but `except` should compare histories again. */
  resync: (except: string) => void;
  /** Reporting. */
  host: Host;
}

/** The fate of a message's first copy: stored (true: durably) or refused (null), once `over`. */
interface Arrival {
  /** The first copy, being verified. */
  wire: WireMessage;
  /** Decided. */
  over: boolean;
  /** The outcome, once over. */
  result: boolean | null;
  /** Told the outcome. */
  waiters: ((result: boolean | null) => void)[];
}

/** What to acknowledge for one message, once stored. */
interface Taken {
  /** The message id. */
  id: string;
  /** The sessions to acknowledge it to. */
  ackTo: string[];
  /** Whether it is stored durably (else the ack is volatile). */
  durable: boolean;
}

/** Whether two copies of a message are identical, signature included. */
function sameCopy(a: WireMessage, b: WireMessage): boolean {
  return a.id === b.id && a.author === b.author && a.order === b.order && a.time === b.time && a.body === b.body &&
    a.to === b.to && a.pk === b.pk && a.sig === b.sig;
}

/** Takes in peers' messages. */
export class Inbox {
  #o: InboxOptions;
  /** Verifications each sending session may cost ({@link VERIFY_BURST}). */
  #verifies: Allowance;
  /** New messages each sending session may make this client keep ({@link NEW_MESSAGES_BURST}). */
  #intake: Allowance;
  /** Each session's verifications under way, and those waiting for a slot. */
  #verifying = new Map<string, { running: number; waiting: (() => void)[] }>();
  #arrivals = new Map<string, Arrival>();
  #volatile = new Map<string, Set<string>>();
  /** Others' messages taken in during the last `SHOWN_MS`, by id → when (older ones, and loaded ones, count as shown). */
  #recent = new Map<string, number>();

  /** An inbox over the courier's parts. */
  constructor(options: InboxOptions) {
    this.#o = options;
    this.#verifies = new Allowance({
      burst: VERIFY_BURST,
      perSecond: VERIFIES_PER_SECOND,
      now: () => options.host.now(),
    });
    this.#intake = new Allowance({
      burst: NEW_MESSAGES_BURST,
      perSecond: NEW_MESSAGES_PER_SECOND,
      now: () => options.host.now(),
    });
  }

  /** Forgets the messages taken in more than `SHOWN_MS` ago: they count as shown now. */
  #pruneRecent(now: number): void {
    for (const [id, at] of this.#recent) {
      if (at > now - SHOWN_MS) break;
      this.#recent.delete(id); // in arrival order: the rest are newer
      this.#o.book.settle(id);
    }
  }

  /** Messages acknowledged as volatile, waiting for a durable store to be acknowledged again. */
  get volatile(): number {
    return this.#volatile.size;
  }

  /**
   * Takes in messages; `done` is called once each is stored or refused (and
   * its ack sent), so a relayed frame counts as dealt with only then.
   */
  take(list: unknown[], delivery: Delivery, done: () => void): void {
    const now = this.#o.host.now();
    const results: (Taken | null)[] = [];
    let open = list.length;
    const finish = () => {
      if (!this.#o.host.closed) this.#acknowledge(results);
      done();
    };
    if (open === 0) {
      finish();
      return;
    }
    list.forEach((raw, i) =>
      this.#one(raw, delivery, now, (taken) => {
        results[i] = taken;
        if (--open === 0) finish();
      })
    );
  }

  /** Sends the acks of stored messages, batched per session, durable and volatile apart. */
  #acknowledge(results: (Taken | null)[]): void {
    const acks = new Map<string, { durable: string[]; volatile: string[] }>();
    for (const result of results) {
      if (!result) continue;
      for (const peer of result.ackTo) {
        let batch = acks.get(peer);
        if (!batch) acks.set(peer, batch = { durable: [], volatile: [] });
        (result.durable ? batch.durable : batch.volatile).push(result.id);
        if (!result.durable) this.#rememberVolatile(result.id, peer);
      }
    }
    for (const [peer, batch] of acks) {
      this.#ack(peer, batch.durable, false);
      this.#ack(peer, batch.volatile, true);
    }
  }

  /**
   * Once the store is durable again, acknowledges durably what was
   * acknowledged as volatile, as soon as the persister has written it again
   * (call before `Persister.recover`).
   */
  recover(): void {
    const { persist, host } = this.#o;
    if (this.#volatile.size === 0 || !persist.durable()) return;
    const waiting = [...this.#volatile];
    this.#volatile.clear();
    for (const [id, peers] of waiting) {
      persist.whenDurable("m:" + id, (durable) => {
        if (host.closed) return;
        if (!durable) {
          this.#rememberVolatile(id);
          for (const peer of peers) this.#rememberVolatile(id, peer);
          return;
        }
        for (const peer of peers) this.#ack(peer, [id], false);
      });
    }
  }

  #rememberVolatile(id: string, peer?: string): void {
    let peers = this.#volatile.get(id);
    if (!peers) this.#volatile.set(id, peers = new Set());
    if (peer !== undefined) peers.add(peer);
  }

  #ack(peer: string, ids: string[], volatile: boolean): void {
    if (ids.length > 0) this.#o.ack(peer, ids, volatile);
  }

  /** One message: checked, verified, stored; `settle` learns whom to acknowledge it to (null: nobody). */
  #one(raw: unknown, delivery: Delivery, now: number, settle: (taken: Taken | null) => void): void {
    const { book, signer, host } = this.#o;
    const { from } = delivery;
    const checked = checkMessage(raw, now);
    if (!checked.ok) {
      host.reject(from, checked.reason);
      settle(null);
      return;
    }
    const { wire, parts } = checked.message;
    const own = wire.author === signer.member;
    // A record we could not read is repaired by a verified copy of its message.
    const held = book.get(wire.id);
    const known = held?.unreadable ? undefined : held;
    if (known) {
      if (!sameMessage(known, wire)) {
        host.reject(from, "conflict", wire.id);
        settle(null);
        return;
      }
      // Our own frame back from the log: the log holds it.
      if (own && delivery.seq !== undefined && this.#o.mine(wire.id, writerOf(parts))) {
        this.#o.ownLogged(wire.id, delivery.seq);
      }
    }
    if (wire.to !== undefined && wire.to !== this.#o.self() && !own) {
      host.reject(from, "not_for_us", wire.id);
      settle(null);
      return;
    }
    const answer = (result: boolean | null) => {
      if (result === null) return settle(null);
      const taken = book.get(wire.id);
      if (!taken || !sameMessage(taken, wire)) return settle(null);
      settle({ id: wire.id, ackTo: this.#ackTargets(wire.author, delivery), durable: result });
    };
    const arrival = this.#arrivals.get(wire.id);
    if (known || arrival) {
      host.count("duplicates");
      if (arrival && !arrival.over) {
        // A refused first copy (a forgery) refuses only its exact twins: another copy gets its own turn.
        arrival.waiters.push((result) => {
          if (result === null && !sameCopy(arrival.wire, wire)) this.#one(raw, delivery, host.now(), settle);
          else answer(result);
        });
      } else answer(arrival ? arrival.result : !this.#volatile.has(wire.id));
      return;
    }
    // Another member's new message that no server log bounds (history answers, DataChannels) costs its sending
    // session one of its allowance. Relayed chat frames (with a log position) are the server's to bound: its rates,
    // budget and log; own messages come from other tabs.
    if (!own && delivery.seq === undefined && !this.#intake.take(from)) {
      host.reject(from, "over_allowance", wire.id);
      settle(null);
      return;
    }
    const first: Arrival = { wire, over: false, result: null, waiters: [answer] };
    this.#arrivals.set(wire.id, first);
    this.#arrive(wire, parts.ms, parts.c, delivery, own, (result) => {
      first.over = true;
      first.result = result;
      if (this.#arrivals.get(wire.id) === first) this.#arrivals.delete(wire.id);
      if (result === false) this.#rememberVolatile(wire.id);
      for (const waiter of first.waiters.splice(0)) waiter(result);
    });
  }

  /**
   * The author's own send is acknowledged to its sender; a copy from history
   * sync to the author's sessions. Own messages too, from other tabs (whichever
   * tab holds it in its outbox stops re-sending), never to this session itself.
   */
  #ackTargets(author: string, delivery: Delivery): string[] {
    if (delivery.kind === "msg") return this.#o.peers.isOwnSession(delivery.from) ? [] : [delivery.from];
    return this.#o.peers.sessionsOfMember(author);
  }

  /** A new message: verified, shown, stored; `then` gets the store's durability, or null when refused. */
  #arrive(
    wire: WireMessage,
    ms: number,
    c: number,
    delivery: Delivery,
    own: boolean,
    then: (result: boolean | null) => void,
  ): void {
    const { book, peers, host, clock, persist, store, room } = this.#o;
    const verified = (outcome: Verified) => {
      if (host.closed) return;
      if (outcome.pk === undefined) {
        host.reject(delivery.from, outcome.reason, wire.id);
        return then(null);
      }
      if (book.has(wire.id) && !book.get(wire.id)!.unreadable) return then(true);
      clock.observe(ms, c);
      const message: StoredMessage = {
        id: wire.id,
        author: wire.author,
        order: wire.order,
        body: wire.body,
        status: own ? "sent" : "received",
        time: wire.time,
        pk: outcome.pk,
        sig: wire.sig,
      };
      if (wire.to !== undefined) message.to = wire.to;
      if (delivery.seq !== undefined) message.seq = delivery.seq;
      if (!own) {
        // Long after its time, sorting before a message the reader has had on screen (held when the page loaded,
        // written here, or taken in at least `SHOWN_MS` ago; a joiner's backlog, which comes in at once, is not):
        // say when it came (it may be backdated).
        const now = host.now();
        this.#pruneRecent(now);
        if (now - wire.time > LATE_ARRIVAL_MS && book.someShownAfter(wire.order)) {
          message.arrived = now;
        }
        this.#recent.set(wire.id, now);
      }
      book.set(message, !own);
      if (!own) {
        host.count("received");
        host.emit({ type: "received", message });
      }
      host.emit({ type: "messages" });
      if (message.to === undefined) {
        const sessions = peers.sessionsOfMember(wire.author);
        // Its author is gone or away: we may be the only one holding it, so offer it to the others.
        if (sessions.every((id) => peers.get(id)?.presence === "away")) this.#o.resync(delivery.from);
      }
      void persist.write("m:" + message.id, "store message", () => store.putMessage(room, message), then);
    };
    host.track(
      this.#verify(wire, delivery.from).then(verified, (error) => {
        host.fail("verify", error);
        verified({ pk: undefined, reason: "forged" });
      }),
      "verify",
    );
  }

  /**
   * Runs one session's verifications at most {@link VERIFY_CONCURRENCY} at a time (sessions side by side), so the
   * failures of a batch of forgeries are paid for before most of its signatures are checked: the batch costs about
   * its allowance, not a verification each. An honest burst verifies side by side.
   */
  async #inTurn<T>(from: string, work: () => Promise<T>): Promise<T> {
    let gate = this.#verifying.get(from);
    if (!gate) this.#verifying.set(from, gate = { running: 0, waiting: [] });
    const slots = gate;
    if (slots.running < VERIFY_CONCURRENCY) slots.running++;
    else await new Promise<void>((resolve) => slots.waiting.push(resolve)); // a finished one hands its slot over
    try {
      return await work();
    } finally {
      const next = slots.waiting.shift();
      if (next) next();
      else if (--slots.running === 0 && this.#verifying.get(from) === slots) this.#verifying.delete(from);
    }
  }

  /**
   * Verifies a message with its author's key: the one it carries, else the
   * key book's, else one recovered from its signature. A stored hint that
   * fails is dropped and recovery tried; a key that verified before is final.
   */
  async #verify(wire: WireMessage, from: string): Promise<Verified> {
    const { signer } = this.#o;
    const keys = await this.#o.keys();
    const verified = (pk: string): Promise<Verified> =>
      this.#inTurn(from, async () => {
        // A session pays for the signatures of its messages that fail (see `limits.ts`); one in debt is not verified.
        if (!this.#verifies.take(from)) return { pk: undefined, reason: "unknown_key" };
        if (!await signer.verify({ ...wire, pk })) {
          this.#verifies.charge(from, FAILED_VERIFY_COST);
          return { pk: undefined, reason: "forged" };
        }
        this.#verifies.give(from);
        keys.learn(wire.author, pk);
        return { pk };
      });
    if (wire.pk !== undefined) return verified(wire.pk);
    const known = keys.known(wire.author);
    if (known) {
      const outcome = await verified(known.pk);
      if (outcome.pk !== undefined || known.verified) return outcome;
      keys.forget(wire.author);
    }
    const recovered = await keys.recover(wire, from);
    if (recovered.pk === undefined) {
      return { pk: undefined, reason: recovered.reason === "forged" ? "forged" : "unknown_key" };
    }
    return verified(recovered.pk);
  }
}

/** The outcome of verifying a message: the key it verified with, or why not. */
type Verified = { pk: string } | { pk: undefined; reason: "forged" | "unknown_key" };
