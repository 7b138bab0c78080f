/**
 * The compact form of a `msg` packet, the bytes the codec encrypts for each
 * own message (`room/codec.ts`). JSON inside a payload that is then base64url
 * encoded paid twice for binary fields (the 64-byte signature became 86
 * characters, then 115) and once for every field name; here the signature
 * is raw, the order key is its numbers, member ids and tab tags are their
 * bytes, and the body is raw UTF-8 at the end. Fields the receiver knows
 * otherwise are left out: the id (bound to the payload as associated data),
 * the author (the order key names it) and the public key (see `keys.ts`).
 *
 * Layout (version 1), every integer an unsigned LEB128 varint:
 *
 * ```
 * 0x01 | flags | sig (64) | ms | counter | n | ms - time (zig-zag) | author | [tab] | [to] | [pk (65)] | body (UTF-8)
 * ```
 *
 * `flags`: 1 = `to`, 2 = `pk`, 4 = `tab`. A short id (`author`, `tab`, `to`)
 * is one byte `L` then, for `L` < 128, `L` ASCII characters, or, for
 * `L` ≥ 128, the `L` − 128 bytes whose canonical base64url it is.
 *
 * A message this form cannot carry exactly (a body with lone surrogates, a
 * signature or key of another length) goes as JSON, which the decoder also
 * takes: a JSON payload starts with `{`, never with 0x01. The decoder checks
 * lengths only; `checkMessage` checks every field as for any packet.
 *
 * It is part of the room's first module (the first message needs it), and
 * shares that module's base64url and order-key code.
 * @module
 */
import type { Packet, WireMessage } from "./packets.ts";
import { fromBase64Url as decodeBase64Url } from "../crypto.ts";
import { formatOrderKey, parseOrderKey } from "../order_key.ts";
import { encodeBase64Url } from "../../protocol/ids.ts";

/** The first byte of the compact form. */
const VERSION = 0x01;
/** The first byte of a JSON payload (`{`). */
const JSON_START = 0x7b;
const FLAG_TO = 1;
const FLAG_PK = 2;
const FLAG_TAB = 4;
const SIGNATURE_BYTES = 64;
const PUBLIC_KEY_BYTES = 65;
/** A short id of bytes: 128 + their count. */
const BYTES_MARK = 0x80;
/** What a short id may be in this form: base64url characters, fewer than {@link BYTES_MARK}. */
const SHORT_ID = /^[A-Za-z0-9_-]{0,127}$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The bytes of canonical unpadded base64url, or undefined for anything else. */
function fromBase64Url(text: string): Uint8Array | undefined {
  const bytes = decodeBase64Url(text);
  return bytes && encodeBase64Url(bytes) === text ? bytes : undefined;
}

/** Whether a string is well-formed UTF-16 (no lone surrogate), so UTF-8 carries it exactly. */
function wellFormed(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0xd800 || code > 0xdfff) continue;
    if (code > 0xdbff) return false;
    const next = text.charCodeAt(i + 1);
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
    i++;
  }
  return true;
}

/** Grows as bytes are written. */
class Writer {
  #bytes = new Uint8Array(256);
  #length = 0;

  #room(extra: number): void {
    if (this.#length + extra <= this.#bytes.length) return;
    const next = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + extra));
    next.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = next;
  }

  byte(value: number): void {
    this.#room(1);
    this.#bytes[this.#length++] = value;
  }

  bytes(value: Uint8Array): void {
    this.#room(value.length);
    this.#bytes.set(value, this.#length);
    this.#length += value.length;
  }

  varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }

  shortId(id: string): void {
    const raw = fromBase64Url(id);
    if (raw && raw.length < BYTES_MARK && raw.length < id.length) {
      this.byte(BYTES_MARK + raw.length);
      this.bytes(raw);
      return;
    }
    this.byte(id.length);
    for (let i = 0; i < id.length; i++) this.byte(id.charCodeAt(i));
  }

  done(): Uint8Array<ArrayBuffer> {
    return this.#bytes.slice(0, this.#length);
  }
}

/** Reads what a {@link Writer} wrote; throws on anything short or out of form. */
class Reader {
  #bytes: Uint8Array;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  byte(): number {
    if (this.#at >= this.#bytes.length) throw new Error("message bytes end early");
    return this.#bytes[this.#at++];
  }

  bytes(count: number): Uint8Array {
    if (this.#at + count > this.#bytes.length) throw new Error("message bytes end early");
    const out = this.#bytes.subarray(this.#at, this.#at + count);
    this.#at += count;
    return out;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(value)) break;
        return value;
      }
      scale *= 0x80;
    }
    throw new Error("varint out of range");
  }

  shortId(): string {
    const mark = this.byte();
    if (mark >= BYTES_MARK) return encodeBase64Url(this.bytes(mark - BYTES_MARK));
    let id = "";
    for (const b of this.bytes(mark)) {
      if (b >= 0x80) throw new Error("short id is not ASCII");
      id += String.fromCharCode(b);
    }
    return id;
  }

  rest(): Uint8Array {
    const out = this.#bytes.subarray(this.#at);
    this.#at = this.#bytes.length;
    return out;
  }
}

/** The compact bytes of one message, or null when only JSON carries it exactly. */
function compact(m: WireMessage): Uint8Array<ArrayBuffer> | null {
  const parts = parseOrderKey(m.order);
  const sig = fromBase64Url(m.sig);
  const pk = m.pk === undefined ? undefined : fromBase64Url(m.pk);
  if (!parts || parts.author !== m.author || !sig || sig.length !== SIGNATURE_BYTES) return null;
  if (m.pk !== undefined && (!pk || pk.length !== PUBLIC_KEY_BYTES)) return null;
  if (!Number.isSafeInteger(m.time) || !wellFormed(m.body)) return null;
  if (![parts.author, parts.tab ?? "", m.to ?? ""].every((id) => SHORT_ID.test(id))) return null;
  const delta = parts.ms - m.time;
  if (!Number.isSafeInteger(delta * 2)) return null;
  const w = new Writer();
  w.byte(VERSION);
  w.byte((m.to !== undefined ? FLAG_TO : 0) | (pk ? FLAG_PK : 0) | (parts.tab !== undefined ? FLAG_TAB : 0));
  w.bytes(sig);
  w.varint(parts.ms);
  w.varint(parts.c);
  w.varint(parts.n);
  w.varint(delta >= 0 ? delta * 2 : -delta * 2 - 1);
  w.shortId(parts.author);
  if (parts.tab !== undefined) w.shortId(parts.tab);
  if (m.to !== undefined) w.shortId(m.to);
  if (pk) w.bytes(pk);
  w.bytes(encoder.encode(m.body));
  return w.done();
}

/** The bytes of a `msg` packet: compact when it can be, JSON otherwise. */
export function encodeMessagePacket(packet: Extract<Packet, { t: "msg" }>): Uint8Array<ArrayBuffer> {
  return compact(packet.m) ?? encoder.encode(JSON.stringify(packet));
}

/**
 * A `msg` packet from its bytes (compact or JSON) and the id the payload was
 * bound to. Throws when the bytes are not one; the message itself is left
 * for `checkMessage`.
 */
export function decodeMessagePacket(bytes: Uint8Array, id: string): unknown {
  if (bytes[0] === JSON_START) return JSON.parse(decoder.decode(bytes));
  const r = new Reader(bytes);
  if (r.byte() !== VERSION) throw new Error("unknown message form");
  const flags = r.byte();
  if (flags & ~(FLAG_TO | FLAG_PK | FLAG_TAB)) throw new Error("unknown message flags");
  const sig = encodeBase64Url(r.bytes(SIGNATURE_BYTES));
  const ms = r.varint();
  const c = r.varint();
  const n = r.varint();
  const zigzag = r.varint();
  const author = r.shortId();
  const tab = flags & FLAG_TAB ? r.shortId() : undefined;
  const to = flags & FLAG_TO ? r.shortId() : undefined;
  const pk = flags & FLAG_PK ? encodeBase64Url(r.bytes(PUBLIC_KEY_BYTES)) : undefined;
  const body = decoder.decode(r.rest());
  const delta = zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
  const m: Record<string, unknown> = {
    id,
    author,
    order: formatOrderKey({ ms, c, author, tab, n }),
    time: ms - delta,
    body,
    sig,
  };
  if (to !== undefined) m.to = to;
  if (pk !== undefined) m.pk = pk;
  return { t: "msg", m };
}
