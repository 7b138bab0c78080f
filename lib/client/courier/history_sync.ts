/**
 * History sync: a peer that appears gets our digest and we get its, then each
 * side sends what the other lacks, so messages that only went over
 * DataChannels (or whose author is gone) reach late joiners too. Answers are
 * cut into `hist` batches that each fit one frame; a single message larger
 * than a batch goes alone (and is split into parts by the transport layer).
 * @module
 */
import { utf8Length } from "../../protocol/validate.ts";
import { type Digest, digestCovers, digestHas, writerOf } from "../order_key.ts";
import type { MessageBook } from "./book.ts";
import { Allowance } from "./allowance.ts";
import {
  MAX_HIST_MESSAGES,
  MAX_SYNC_ROUNDS,
  SYNC_ANSWER_BURST_BYTES,
  SYNC_ANSWER_BYTES_PER_SECOND,
  SYNC_ANSWERS_PER_SECOND,
} from "./limits.ts";
import { type Packet, toWire, type WireMessage } from "./packets.ts";
import type { PeerState, PeerTable } from "./peers.ts";

/** `{"t":"hist","ms":[]}`: a batch's bytes besides its messages. */
const HIST_OVERHEAD = 20;
/** `,"have":`: what the digest field adds besides the digest. */
const HAVE_OVERHEAD = 8;

/** One `hist` packet of an answer, with its size as JSON (within a byte per message). */
export interface HistoryBatch {
  /** The packet. */
  packet: Packet;
  /** Its bytes as JSON, as counted while cutting (what the answers' byte allowance is charged). */
  bytes: number;
}

/**
 * Cuts the messages a peer lacks (per its digest `have`) into `hist` packets of at most `maxBytes` of JSON each, the
 * last one carrying our digest. Lazy: a batch is made when asked for, so an answer the byte allowance cuts short
 * costs no more than what is sent (a peer may ask for a whole history every second).
 */
export function* historyAnswer(book: MessageBook, have: Digest, maxBytes: number): Generator<HistoryBatch> {
  let batch: WireMessage[] = [];
  let bytes = HIST_OVERHEAD;
  for (const message of book.list) {
    const parts = book.parts(message.id);
    if (!parts || !book.offerable(message) || digestHas(have, writerOf(parts), parts.n)) continue;
    const wire = toWire(message);
    if (!wire) continue;
    const size = utf8Length(JSON.stringify(wire)) + 1;
    if (batch.length > 0 && (bytes + size > maxBytes || batch.length >= MAX_HIST_MESSAGES)) {
      yield { packet: { t: "hist", ms: batch }, bytes };
      batch = [];
      bytes = HIST_OVERHEAD;
    }
    batch.push(wire);
    bytes += size;
  }
  const digest = book.digest();
  const digestBytes = HAVE_OVERHEAD + utf8Length(JSON.stringify(digest));
  if (batch.length > 0 && bytes + digestBytes > maxBytes) {
    yield { packet: { t: "hist", ms: batch }, bytes };
    batch = [];
    bytes = HIST_OVERHEAD;
  }
  yield { packet: { t: "hist", ms: batch, have: digest }, bytes: bytes + digestBytes };
}

/** What history sync needs from the courier. */
export interface HistorySyncOptions {
  /** The history. */
  book: MessageBook;
  /** The other sessions. */
  peers: PeerTable;
  /** Sends a packet to one session on its best path. */
  toPeer: (peer: string, packet: Packet) => void;
  /** Most bytes of JSON per `hist` packet. */
  batchBytes: number;
  /** Arms the courier's timer (a sync is owed). */
  arm: () => void;
  /** The clock, ms, for the answers' allowances. */
  now: () => number;
}

/** The sync exchange with each session. */
export class HistorySync {
  #o: HistorySyncOptions;
  /** One answer a second per asking session ({@link SYNC_ANSWERS_PER_SECOND}). */
  #answers: Allowance;
  /** Bytes of answers to all sessions together ({@link SYNC_ANSWER_BURST_BYTES}), under the key "". */
  #bytes: Allowance;

  /** History sync over a book and a peer table. */
  constructor(options: HistorySyncOptions) {
    this.#o = options;
    this.#answers = new Allowance({ burst: 1, perSecond: SYNC_ANSWERS_PER_SECOND, now: options.now });
    this.#bytes = new Allowance({
      burst: SYNC_ANSWER_BURST_BYTES,
      perSecond: SYNC_ANSWER_BYTES_PER_SECOND,
      now: options.now,
      maxKeys: 1,
    });
  }

  /** Sends our digest to a session that may differ from us, when it can be reached. */
  offer(peer: string): void {
    if (this.#o.peers.reachable(peer)) this.#o.toPeer(peer, { t: "sync", have: this.#o.book.digest() });
  }

  /**
   * A `sync` from `from`: answer with what it lacks (at most once a second per session, within the answers' byte
   * allowance; see `limits.ts`), and ask back when it holds what we lack.
   */
  onSync(from: string, have: Digest): void {
    if (this.#answers.take(from)) {
      for (const { packet, bytes } of historyAnswer(this.#o.book, have, this.#o.batchBytes)) {
        if (!this.#bytes.take("", bytes)) break;
        this.#o.toPeer(from, packet);
      }
    }
    const state = this.#o.peers.get(from);
    if (!state) return;
    state.theirs = have;
    // It holds something we lack: ask it too (a sync pulls, so either side noticing is enough), unless asking it
    // stopped bringing anything (see `onAnswer`); only something new (`askSync`) starts that again.
    if (!state.needSync && (state.syncRounds ?? 0) < MAX_SYNC_ROUNDS && !digestCovers(this.#o.book.digest(), have)) {
      state.needSync = true;
      this.offer(from);
      this.#o.arm();
    }
    this.check(state);
  }

  /**
   * The digest that ends a `hist` answer from `from`. An answer after which the two still do not cover each other,
   * and our history has not grown since the last such answer, is a round without progress; after `MAX_SYNC_ROUNDS`
   * of them we stop asking (histories whose digests leave out different writers never cover each other). Offers or
   * answers lost on the way count for nothing, so a lossy link keeps asking as long as it needs to.
   */
  onAnswer(from: string, have: Digest | undefined): void {
    const state = this.#o.peers.get(from);
    if (!state) return;
    if (!have) return this.check(state);
    state.theirs = have;
    this.check(state);
    if (!state.needSync) return;
    const size = this.#o.book.size;
    if (state.syncSize === undefined || size > state.syncSize) {
      state.syncSize = size;
      state.syncRounds = 0;
    } else if ((state.syncRounds = (state.syncRounds ?? 0) + 1) >= MAX_SYNC_ROUNDS) {
      state.needSync = false;
    }
  }

  /** Sync with a session is complete once we hold everything its digest lists and it holds everything we may give. */
  check(state: PeerState): void {
    const theirs = state.theirs;
    if (!state.needSync || !theirs) return;
    const mine = this.#o.book.digest();
    if (digestCovers(mine, theirs) && digestCovers(theirs, mine)) {
      state.needSync = false;
      state.syncRounds = 0;
      state.syncSize = undefined;
    }
  }
}
