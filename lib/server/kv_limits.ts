/**
 * Deno KV's limits, as the room log and the KV bus budget their atomics:
 * values under 64 KiB, at most 1000 mutations and 819,200 bytes per atomic.
 * @module
 */

/** Bytes of keys and values budgeted per atomic: KV allows 819,200, and this stays well below. */
export const KV_GROUP_MAX_BYTES = 600_000;
/** Chars per stored string piece: at most 60,000 bytes serialised, under KV's 64 KiB value limit. */
export const KV_PIECE_CHARS = 30_000;
/** Per-key overhead assumed when budgeting an atomic's size. */
export const KV_KEY_OVERHEAD = 128;

/** How many pieces a string is stored in (at least one, even when empty). */
export function pieceCount(text: string): number {
  return Math.max(1, Math.ceil(text.length / KV_PIECE_CHARS));
}

/** The `part`-th piece of a string stored in pieces. */
export function piece(text: string, part: number): string {
  return text.slice(part * KV_PIECE_CHARS, (part + 1) * KV_PIECE_CHARS);
}
