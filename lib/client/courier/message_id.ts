/**
 * Message ids bound to their author: an id starts with the first
 * {@link AUTHOR_PREFIX_CHARS} characters of its author's member id, then random
 * characters, and a receiver refuses a message whose id does not start with
 * its author's prefix. A member who saw someone's message therefore cannot
 * send its own signed content under that id to win the race for it (an id
 * squat): its copy would have to claim the id's author, whose key it lacks, or
 * come from a key whose member id shares the prefix, 72 bits of SHA-256 that
 * no one can grind.
 *
 * New ids are 23 characters: one more than the 22 random characters of the
 * ids clients made before this rule. Such legacy ids (at most
 * {@link LEGACY_ID_CHARS} characters) are still taken without the check, so
 * histories written earlier keep travelling; no current client makes one.
 * @module
 */
import { encodeBase64Url } from "../../protocol/mod.ts";
import { MESSAGE_ID_BYTES } from "./limits.ts";

/** Characters of the author's member id (22 in all) that begin each of its message ids: 72 bits. */
export const AUTHOR_PREFIX_CHARS = 12;

/** Longest id of the legacy form (16 random bytes in base64url), taken without a binding to its author. */
export const LEGACY_ID_CHARS = 22;

/** A new id for a message of `author`: its prefix, then {@link MESSAGE_ID_BYTES} random bytes in base64url. */
export function newMessageId(author: string, randomBytes: (count: number) => Uint8Array): string {
  return author.slice(0, AUTHOR_PREFIX_CHARS) + encodeBase64Url(randomBytes(MESSAGE_ID_BYTES));
}

/** Whether `id` may be a message of `author`: it starts with the author's prefix, or is of the legacy form. */
export function idFitsAuthor(id: string, author: string): boolean {
  if (id.length <= LEGACY_ID_CHARS) return true;
  return author.length >= AUTHOR_PREFIX_CHARS && id.startsWith(author.slice(0, AUTHOR_PREFIX_CHARS));
}

/** Base64url digits, one per id length from 1 to 64, after `i` in a payload head. */
const LENGTHS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * The head of an own-message payload naming `id` (see `room/codec.ts`): `m` + a legacy 22-character id, or `i` + one
 * base64url character giving the id's length (`A` = 1 … `_` = 64) + the id; undefined when no head can carry it.
 */
export function payloadHead(id: string): string | undefined {
  if (id.length === LEGACY_ID_CHARS) return "m" + id;
  return id.length >= 1 && id.length <= LENGTHS.length ? "i" + LENGTHS[id.length - 1] + id : undefined;
}

/** The message id in a payload's head and where the rest starts; undefined for a payload without one. */
export function splitPayloadHead(payload: string): { id: string; rest: number } | undefined {
  if (payload[0] === "m") return { id: payload.slice(1, 1 + LEGACY_ID_CHARS), rest: 1 + LEGACY_ID_CHARS };
  if (payload[0] !== "i") return undefined;
  const length = LENGTHS.indexOf(payload[1]) + 1;
  return length > 0 ? { id: payload.slice(2, 2 + length), rest: 2 + length } : undefined;
}
