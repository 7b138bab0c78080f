/**
 * Message bodies that stress sizes: any script, surrogate pairs, and the
 * characters JSON escapes (control characters become 6 bytes each).
 * @module
 */
import { Prng } from "../../support/prng.ts";

/** Pieces of text of every kind that costs bytes differently. */
const PIECES = ["a", "Ж", "語", "😀", "\u0001", "\n", '"', "\\", "é", "\u2028", " ", "\u{1F3F3}\u{FE0F}"];

/** A body of exactly `length` UTF-16 code units, mixing scripts (a pair is never cut at the end). */
export function mixedBody(length: number, seed = 1): string {
  const rng = new Prng(seed);
  let out = "";
  while (out.length < length) {
    const piece = PIECES[rng.int(0, PIECES.length - 1)].repeat(rng.int(1, 40));
    out += piece;
  }
  out = out.slice(0, length);
  const last = out.charCodeAt(out.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) out = out.slice(0, -1) + "z";
  return out;
}

/** The body that costs the most bytes on the wire: every unit a control character (6 bytes in JSON). */
export function worstBody(length: number): string {
  return "\u0001".repeat(length);
}
