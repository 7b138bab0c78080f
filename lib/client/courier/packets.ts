/**
 * The courier's inner packets (JSON objects inside the encrypted payload) and
 * their validation. Nothing a peer sends is trusted: every field is checked
 * for type, form and range before anything else looks at it, and counts are
 * bounded (see `limits.ts`).
 *
 * - `msg`: an author's session sends its own message (relay chat, relay signal or DataChannel).
 * - `ack`: "I have stored these ids"; `volatile` when the store is not durable now.
 * - `sync`: "here is what I have" (history digest), asking for what I lack.
 * - `hist`: messages the asker lacks; the last packet of an answer carries the sender's digest.
 * @module
 */
import { type Digest, isDigest, type OrderParts, parseOrderKey } from "../order_key.ts";
import type { StoredMessage } from "../store.ts";
import {
  ACK_BATCH,
  ID_PATTERN,
  KEY_PATTERN,
  MAX_BODY_CHARS,
  MAX_DIGEST_NUMBERS,
  MAX_DIGEST_WRITERS,
  MAX_FUTURE_SKEW_MS,
  MAX_HIST_MESSAGES,
} from "./limits.ts";
import { idFitsAuthor } from "./message_id.ts";

/** A message as it travels between peers (inside the encrypted payload). */
export interface WireMessage {
  /** Unique message id (base64url). */
  id: string;
  /** Author's member id; equals the author part of `order`. */
  author: string;
  /** Order key (see `order_key.ts`). */
  order: string;
  /** Author's wall-clock time of writing, ms since the epoch, for display. */
  time: number;
  /** Plaintext body, at most {@link MAX_BODY_CHARS} UTF-16 code units. */
  body: string;
  /** The one receiving peer (session) of a direct message; absent for the whole room. */
  to?: string;
  /**
   * The author's public key (base64url raw P-256). Senders leave it out: a
   * receiver knows it (`keys.ts`) or recovers it from `sig`. Taken when present.
   */
  pk?: string;
  /** The author's signature over the fields above (see `signer.ts`). */
  sig: string;
}

/** The courier's inner packets, JSON objects the codec turns into payloads. */
export type Packet =
  | { t: "msg"; m: WireMessage }
  | { t: "ack"; ids: string[]; volatile?: true }
  | { t: "sync"; have: Digest }
  | { t: "hist"; ms: WireMessage[]; have?: Digest };

/** A packet as received: its messages are still unchecked values, checked one by one. */
export type ReceivedPacket =
  | { t: "msg"; m: unknown }
  | { t: "ack"; ids: string[]; volatile: boolean }
  | { t: "sync"; have: Digest }
  | { t: "hist"; ms: unknown[]; have?: Digest };

/** Why a payload, packet or message from a peer was refused. */
export type RejectReason =
  /** The codec could not open it (tampered, wrong key, wrong sender). */
  | "undecodable"
  /** A part of a split payload was malformed, too many, or over a bound. */
  | "bad_part"
  /** Not a courier packet, or a packet field out of bounds. */
  | "malformed_packet"
  /** A relayed chat frame that does not carry its own message. */
  | "chat_mismatch"
  /** A message field of the wrong type or form. */
  | "malformed_message"
  /** A body over {@link MAX_BODY_CHARS}. */
  | "too_long"
  /** `time` or the order key lies too far ahead of the receiver's clock. */
  | "future"
  /** The signature does not verify, or the key is not the author's. */
  | "forged"
  /** No key to verify with now: the author is new and the sender's allowance of key recoveries is spent. */
  | "unknown_key"
  /** An id already held for another message. */
  | "conflict"
  /** An id that names another member as its author (a re-used id: see `message_id.ts`). */
  | "unbound_id"
  /** A direct message for another peer. */
  | "not_for_us"
  /** A new message past its sending session's allowance of new messages (`NEW_MESSAGES_BURST`): it comes again. */
  | "over_allowance";

/** Bounds for a digest received from a peer. */
export const DIGEST_BOUNDS = { maxWriters: MAX_DIGEST_WRITERS, maxNumbers: MAX_DIGEST_NUMBERS };

function isId(value: unknown): value is string {
  return typeof value === "string" && ID_PATTERN.test(value);
}

/** Checks a decoded value's shape and counts; null when it is not a courier packet. Messages stay unchecked. */
export function toPacket(value: unknown): ReceivedPacket | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const p = value as Record<string, unknown>;
  switch (p.t) {
    case "msg":
      return typeof p.m === "object" && p.m !== null ? { t: "msg", m: p.m } : null;
    case "ack": {
      const ids = p.ids;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > ACK_BATCH || !ids.every(isId)) return null;
      if (p.volatile !== undefined && p.volatile !== true) return null;
      return { t: "ack", ids, volatile: p.volatile === true };
    }
    case "sync":
      return isDigest(p.have, DIGEST_BOUNDS) ? { t: "sync", have: p.have } : null;
    case "hist":
      if (!Array.isArray(p.ms) || p.ms.length > MAX_HIST_MESSAGES) return null;
      if (p.have !== undefined && !isDigest(p.have, DIGEST_BOUNDS)) return null;
      return p.have === undefined ? { t: "hist", ms: p.ms } : { t: "hist", ms: p.ms, have: p.have };
    default:
      return null;
  }
}

/** A checked wire message with its parsed order key. */
export interface CheckedMessage {
  /** The message, rebuilt from checked fields only. */
  wire: WireMessage;
  /** Its order key's parts. */
  parts: OrderParts;
}

/** The result of {@link checkMessage}. */
export type CheckResult = { ok: true; message: CheckedMessage } | { ok: false; reason: RejectReason };

/**
 * Checks one message from a peer against every bound, with `now` the
 * receiver's clock: ids (an id bound to the message's author), lengths, a
 * signature's form, an order key whose author is the message's author, and
 * times no further ahead than {@link MAX_FUTURE_SKEW_MS}. The signature itself is verified later (async).
 */
export function checkMessage(value: unknown, now: number): CheckResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: "malformed_message" };
  }
  const m = value as Record<string, unknown>;
  if (!isId(m.id) || !isId(m.author) || typeof m.order !== "string" || typeof m.body !== "string") {
    return { ok: false, reason: "malformed_message" };
  }
  if (m.pk !== undefined && (typeof m.pk !== "string" || !KEY_PATTERN.test(m.pk))) {
    return { ok: false, reason: "malformed_message" };
  }
  if (typeof m.sig !== "string" || !KEY_PATTERN.test(m.sig)) return { ok: false, reason: "malformed_message" };
  if (m.to !== undefined && !isId(m.to)) return { ok: false, reason: "malformed_message" };
  if (!idFitsAuthor(m.id, m.author)) return { ok: false, reason: "unbound_id" };
  if (typeof m.time !== "number" || !Number.isSafeInteger(m.time) || m.time < 0) {
    return { ok: false, reason: "malformed_message" };
  }
  const parts = parseOrderKey(m.order);
  if (!parts || parts.author !== m.author) return { ok: false, reason: "malformed_message" };
  if (m.body.length > MAX_BODY_CHARS) return { ok: false, reason: "too_long" };
  const limit = now + MAX_FUTURE_SKEW_MS;
  if (m.time > limit || parts.ms > limit) return { ok: false, reason: "future" };
  const wire: WireMessage = {
    id: m.id,
    author: m.author,
    order: m.order,
    time: m.time,
    body: m.body,
    sig: m.sig,
  };
  if (m.pk !== undefined) wire.pk = m.pk as string;
  if (m.to !== undefined) wire.to = m.to as string;
  return { ok: true, message: { wire, parts } };
}

/**
 * The wire form of a stored (signed) message, without its public key (the
 * receiver has it or recovers it); undefined when it has no signature to travel with.
 */
export function toWire(message: StoredMessage): WireMessage | undefined {
  if (message.pk === undefined || message.sig === undefined) return undefined;
  const wire: WireMessage = {
    id: message.id,
    author: message.author,
    order: message.order,
    time: message.time,
    body: message.body,
    sig: message.sig,
  };
  if (message.to !== undefined) wire.to = message.to;
  return wire;
}

/** Whether two copies of one id are the same message (a true duplicate, not a conflicting id). */
export function sameMessage(a: { author: string; order: string; body: string }, b: WireMessage): boolean {
  return a.author === b.author && a.order === b.order && a.body === b.body;
}
