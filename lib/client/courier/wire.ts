/**
 * The courier's transport layer: packets become payloads (through the codec)
 * and payloads become transport messages that fit a frame, split into parts
 * when they do not; incoming transport messages are reassembled, decoded and
 * checked into packets. Every path (relay chat, relay signal, DataChannel)
 * goes through here, so no path ever carries a frame the server would close
 * with 1009.
 * @module
 */
import { encodeBase64Url } from "../../protocol/mod.ts";
import { ACK_BATCH, ID_PATTERN, MAX_TRANSPORT_BYTES, TRANSFER_ID_BYTES } from "./limits.ts";
import { type Packet, type ReceivedPacket, type RejectReason, toPacket } from "./packets.ts";
import { payloadHead } from "./message_id.ts";
import { isPart, needsParts, partFrameId, splitPayload } from "./part_size.ts";
import type { Reassembler } from "./parts.ts";
import type { DirectLink, PayloadCodec, RelayTransport } from "./transport.ts";

/** A payload ready to go: whole, or as parts of one transfer. */
export interface Outgoing {
  /** The transport messages: one whole payload, or its parts in order. */
  pieces: string[];
  /** The transfer id when the payload is split. */
  xfer?: string;
}

/** The path a transport message came by. */
export type Via = "chat" | "signal" | "direct";

/** Where a decoded packet came from. */
export interface Arrival<T> {
  /** The sending peer (session). */
  from: string;
  /** The path. */
  via: Via;
  /** For a whole relayed chat frame: its frame id (the message id it must carry). */
  chatId?: string;
  /** Tags of every transport message the packet was made of (e.g. log positions). */
  tags: T[];
}

/** What the transport layer needs. */
export interface WireOptions<T> {
  /** Payload encryption. */
  codec: PayloadCodec;
  /** The server relay. */
  relay: RelayTransport;
  /** Own peer id, the sender a payload is sealed as. */
  self: () => string | undefined;
  /** Random bytes, for transfer ids. */
  randomBytes: (count: number) => Uint8Array;
  /** Clock, for the age of unfinished payloads. */
  now: () => number;
  /** Most bytes per transport message; default {@link MAX_TRANSPORT_BYTES}. */
  maxTransportBytes?: number;
  /** A packet arrived; call `done` once it has been dealt with (its messages stored or refused). */
  onPacket: (packet: ReceivedPacket, arrival: Arrival<T>, done: () => void) => void;
  /** Something arrived that is not a valid packet. */
  onReject: (from: string, reason: RejectReason, detail?: string) => void;
  /** The tags of transport messages that are dealt with (used, refused, or dropped). */
  release: (tags: T[]) => void;
  /** Counts an async step and reports its failure. */
  track: (work: Promise<unknown>, context: string) => void;
}

/** The first character of a chat frame's data that stands for `m` + the frame's id. */
const ID_FROM_FRAME = "M";

/**
 * The chat `data` of a payload sent under frame id `id`: an own-message
 * payload (`m` + id + sealed, see `room/codec.ts`) drops the id the frame
 * already carries, 22 characters up and 22 down per message.
 */
export function chatData(id: string, payload: string): string {
  const head = payloadHead(id);
  return head !== undefined && payload.length > head.length && payload.startsWith(head)
    ? ID_FROM_FRAME + payload.slice(head.length)
    : payload;
}

/** The payload a chat frame's `data` stands for, under its frame id (the inverse of {@link chatData}). */
export function chatPayload(id: string, data: string): string {
  return data[0] === ID_FROM_FRAME ? (payloadHead(id) ?? "") + data.slice(1) : data;
}

/** The first character of an ack on a direct path; `!` after it marks a volatile one. */
const DIRECT_ACK = "a";

/**
 * An ack as a DataChannel message: `a` (`a!` when volatile) and the ids,
 * comma-separated. Neither sealed nor MAC'd: the channel is DTLS between the
 * two pages, keyed by fingerprints they exchanged sealed under the room key,
 * so the server can neither read nor write it. Taken only from a direct path.
 */
export function directAck(ids: readonly string[], volatile: boolean): string {
  return DIRECT_ACK + (volatile ? "!" : "") + ids.join(",");
}

/** The ack in a direct message, or null when it is not a well-formed one. */
export function parseDirectAck(text: string): { ids: string[]; volatile: boolean } | null {
  if (text[0] !== DIRECT_ACK) return null;
  const volatile = text[1] === "!";
  const ids = text.slice(volatile ? 2 : 1).split(",");
  return ids.length <= ACK_BATCH && ids.every((id) => ID_PATTERN.test(id)) ? { ids, volatile } : null;
}

/** Encodes, splits, sends; receives, reassembles, decodes. */
export class Wire<T> {
  #o: WireOptions<T>;
  #max: number;
  #parts?: Reassembler<T>;
  /** Parts that arrived before `parts.ts` was loaded, in order. */
  #early: Parameters<Wire<T>["receive"]>[] = [];
  /** Whether a load of `parts.ts` is under way for them. */
  #awaitingParts = false;

  /** A transport layer over the given codec and relay. */
  constructor(options: WireOptions<T>) {
    this.#o = options;
    this.#max = options.maxTransportBytes ?? MAX_TRANSPORT_BYTES;
  }

  /** Unfinished split payloads held (the courier's timer sweeps them while any are held). */
  get assembling(): number {
    return this.#parts?.size ?? 0;
  }

  /** Drops unfinished payloads past their age bound. */
  sweep(): void {
    this.#parts?.sweep();
  }

  #reassembler(parts: PartsModule): Reassembler<T> {
    this.#parts ??= new parts.Reassembler<T>({
      now: this.#o.now,
      onDrop: (tags) => this.#o.release(tags),
      onDone: (tags) => this.#o.release(tags),
    });
    return this.#parts;
  }

  /**
   * Encodes a packet and cuts it to size, then calls `then` (at once when the
   * codec is synchronous); `then` gets null when the payload exceeds every
   * bound. Before the first `welcome` there is no session to seal it as: nothing goes.
   */
  prepare(packet: Packet, then: (out: Outgoing | null) => void): void {
    const finish = (payload: string) => then(this.#cut(payload));
    const self = this.#o.self();
    if (self === undefined) return;
    let encoded: string | Promise<string>;
    try {
      encoded = this.#o.codec.encode(packet, self);
    } catch (error) {
      this.#o.track(Promise.reject(error), "encode");
      return;
    }
    if (typeof encoded === "string") finish(encoded);
    else this.#o.track(encoded.then(finish), "encode");
  }

  #cut(payload: string): Outgoing | null {
    if (!needsParts(payload, this.#max)) return { pieces: [payload] };
    const xfer = encodeBase64Url(this.#o.randomBytes(TRANSFER_ID_BYTES));
    const pieces = splitPayload(payload, xfer, this.#max);
    return pieces ? { pieces, xfer } : null;
  }

  /** The relay chat frame ids of an outgoing payload: `id` when whole, else one per part. */
  chatIds(out: Outgoing, id: string): string[] {
    return out.xfer === undefined ? [id] : out.pieces.map(partFrameId);
  }

  /** Sends over a DataChannel; false when the channel refused (then nothing counts as sent). */
  sendDirect(link: DirectLink, out: Outgoing): boolean {
    for (const piece of out.pieces) if (!link.send(piece)) return false;
    return true;
  }

  /** Sends as relay signals to one peer. */
  sendSignal(peer: string, out: Outgoing): void {
    for (const piece of out.pieces) this.#o.relay.sendSignal(peer, piece);
  }

  /**
   * Sends as relay chat frames (logged), under the message id or, for parts,
   * their own frame ids. A whole own-message payload leaves its id out: the
   * frame carries it (see {@link chatData}); with `p2p`, only logged (see `RelayTransport.sendChat`).
   */
  sendChat(id: string, to: string | undefined, out: Outgoing, p2p = false): void {
    const ids = this.chatIds(out, id);
    out.pieces.forEach((piece, i) => this.#o.relay.sendChat(ids[i], to, chatData(ids[i], piece), p2p));
  }

  /**
   * Takes in one transport message. `chatId` is the relayed chat frame's id;
   * `tag` (if any) is released once the packet it belongs to is dealt with.
   */
  receive(via: Via, from: string, text: unknown, tag?: T, chatId?: string): void {
    const tags = tag === undefined ? [] : [tag];
    if (typeof text !== "string" || text.length === 0) {
      this.#refuse(from, "bad_part", tags, "empty or not text");
      return;
    }
    if (text[0] === DIRECT_ACK) {
      // Plain acks are trusted only from a DataChannel (or a tab of this browser), never from the relay.
      const ack = via === "direct" ? parseDirectAck(text) : null;
      if (!ack) this.#refuse(from, "malformed_packet", tags, "plain ack off a direct path, or malformed");
      else this.#o.onPacket({ t: "ack", ...ack }, { from, via, tags }, () => this.#o.release(tags));
      return;
    }
    if (!isPart(text)) {
      this.#decode(chatId === undefined ? text : chatPayload(chatId, text), { from, via, chatId, tags });
      return;
    }
    if (!partsModule) {
      // The first part this page sees: it and those after it wait for parts.ts, then go on in order.
      // (A failed load leaves them held, their tags unreleased, and the next part tries again.)
      this.#early.push([via, from, text, tag, chatId]);
      if (!this.#awaitingParts) {
        this.#awaitingParts = true;
        this.#o.track(
          loadParts().then(() => {
            for (const early of this.#early.splice(0)) this.receive(...early);
          }).finally(() => this.#awaitingParts = false),
          "parts",
        );
      }
      return;
    }
    const part = partsModule.parsePart(text);
    if (!part || (chatId !== undefined && chatId !== partFrameId(text))) {
      this.#refuse(from, "bad_part", tags, part ? "chat frame id does not match the part" : "malformed part");
      return;
    }
    const added = this.#reassembler(partsModule).add(from, part, tag);
    switch (added.status) {
      case "partial":
        return;
      case "refused":
        this.#refuse(from, "bad_part", tags, "part contradicts its transfer or exceeds the bounds");
        return;
      case "duplicate":
        return;
      case "complete":
        this.#decode(added.payload, { from, via, tags: added.tags }, () => this.#parts?.finish(added.key));
        return;
    }
  }

  #refuse(from: string, reason: RejectReason, tags: T[], detail?: string): void {
    this.#o.onReject(from, reason, detail);
    this.#o.release(tags);
  }

  /** Decodes a whole payload into a packet and hands it on; `finished` is called once it is dealt with. */
  #decode(payload: string, arrival: Arrival<T>, finished?: () => void): void {
    let over = false;
    const done = () => {
      if (over) return;
      over = true;
      this.#o.release(arrival.tags);
      finished?.();
    };
    const handle = (value: unknown) => {
      const packet = toPacket(value);
      if (!packet) {
        this.#o.onReject(arrival.from, "malformed_packet");
        done();
        return;
      }
      this.#o.onPacket(packet, arrival, done);
    };
    const refuse = (error: unknown) => {
      this.#o.onReject(arrival.from, "undecodable", String(error));
      done();
    };
    let out: unknown;
    try {
      out = this.#o.codec.decode(payload, arrival.from);
    } catch (error) {
      refuse(error);
      return;
    }
    if (out instanceof Promise) this.#o.track(out.then(handle, refuse), "decode");
    else handle(out);
  }
}

/** Parsing and reassembling parts of payloads over a frame (`parts.ts`). */
type PartsModule = typeof import("./parts.ts");

let partsModule: PartsModule | undefined;
let partsLoading: Promise<PartsModule> | undefined;

/**
 * Loads `parts.ts`, which only a page that receives a payload over a frame needs: a lazy chunk in the browser, so a
 * first visit does not wait for it (the page prefetches it once the room has settled, for offline use). Once loaded,
 * parts are handled at once; a failed load is tried again on the next part.
 */
export function loadParts(): Promise<PartsModule> {
  partsLoading ??= import("./parts.ts").then((parts) => partsModule = parts, (error) => {
    partsLoading = undefined;
    throw error;
  });
  return partsLoading;
}
