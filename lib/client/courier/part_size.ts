/**
 * What sending needs of parts (see `parts.ts`): whether a payload must be
 * split (its size as a transport message), the split itself, and whether a
 * transport message is a part. Kept apart from parsing and reassembling
 * parts, which a page needs only once a part arrives, and loads then.
 * @module
 */
import { MAX_PARTS, MAX_TRANSPORT_BYTES } from "./limits.ts";

/** The first character of a part. */
export const PART_MARK = "_";
/** Characters of a transfer id. */
export const TRANSFER_ID_CHARS = 11;
/** Characters of a part's header: mark, transfer id, index, count. */
export const PART_HEADER_CHARS = 1 + TRANSFER_ID_CHARS + 2 + 2;

/** Text that JSON carries as it is, one byte a character. */
const PLAIN = /^[A-Za-z0-9_-]*$/;
/** A transfer id. */
export const TRANSFER_ID = /^[A-Za-z0-9_-]{11}$/;

/** The bytes one UTF-16 unit (or pair) at `i` costs inside a JSON string, as UTF-8. */
function costAt(text: string, i: number): number {
  const code = text.charCodeAt(i);
  if (code < 0x20) return code === 8 || code === 9 || code === 10 || code === 12 || code === 13 ? 2 : 6;
  if (code === 0x22 || code === 0x5c) return 2;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = text.charCodeAt(i + 1);
    return next >= 0xdc00 && next <= 0xdfff ? 4 : 6;
  }
  if (code >= 0xdc00 && code <= 0xdfff) return 6;
  return 3;
}

/** Whether the unit at `i` starts a surrogate pair (so a cut must not fall after it). */
function pairAt(text: string, i: number): boolean {
  const code = text.charCodeAt(i);
  if (code < 0xd800 || code > 0xdbff) return false;
  const next = text.charCodeAt(i + 1);
  return next >= 0xdc00 && next <= 0xdfff;
}

/** The UTF-8 size of `text` as a JSON string's contents (escapes included, quotes not). */
export function transportBytes(text: string): number {
  if (PLAIN.test(text)) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    bytes += costAt(text, i);
    if (pairAt(text, i)) i++;
  }
  return bytes;
}

/** Whether a payload must travel in parts: too big for one transport message, or shaped like a part. */
export function needsParts(payload: string, maxBytes: number = MAX_TRANSPORT_BYTES): boolean {
  return payload.startsWith(PART_MARK) || payload.length === 0 || transportBytes(payload) > maxBytes;
}

/** The chat frame id of a part: its transfer id and index (13 base64url characters, unique per part). */
export function partFrameId(part: string): string {
  return part.slice(1, PART_HEADER_CHARS - 2);
}

/** Whether a transport message is a part (else it is a whole payload). */
export function isPart(text: string): boolean {
  return text.startsWith(PART_MARK);
}

/**
 * Splits a payload into parts of at most `maxBytes` each (header included);
 * null when it would need more than {@link MAX_PARTS}.
 */
export function splitPayload(payload: string, xfer: string, maxBytes: number = MAX_TRANSPORT_BYTES): string[] | null {
  if (!TRANSFER_ID.test(xfer)) throw new RangeError("a transfer id is 11 base64url characters");
  const budget = maxBytes - PART_HEADER_CHARS;
  const chunks: string[] = [];
  if (PLAIN.test(payload)) {
    for (let i = 0; i < payload.length; i += budget) chunks.push(payload.slice(i, i + budget));
  } else {
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < payload.length; i++) {
      const cost = costAt(payload, i);
      if (bytes + cost > budget) {
        chunks.push(payload.slice(start, i));
        start = i;
        bytes = 0;
      }
      bytes += cost;
      if (pairAt(payload, i)) i++;
    }
    if (start < payload.length) chunks.push(payload.slice(start));
  }
  if (chunks.length === 0) chunks.push("");
  if (chunks.length > MAX_PARTS) return null;
  const count = chunks.length.toString(36).padStart(2, "0");
  return chunks.map((chunk, i) => PART_MARK + xfer + i.toString(36).padStart(2, "0") + count + chunk);
}
