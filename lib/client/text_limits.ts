/**
 * The two text bounds the page shows before the client core has run: a
 * module of its own, so the room's first module carries these numbers
 * without the courier's other bounds (`courier/limits.ts`) or the roster.
 * @module
 */

/** Most UTF-16 code units in a message body (any script): ≈ 256 KiB of UTF-8 at most. */
export const MAX_BODY_CHARS = 65_536;

/** Most characters of a display name. */
export const MAX_NAME_LENGTH = 40;
