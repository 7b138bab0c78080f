/**
 * Identifier formats: room ids, peer ids, message ids and tokens.
 * All are base64url text, so they can be placed in URLs and frames without
 * escaping. Runs in browsers and in Deno (WebCrypto only).
 * @module
 */

/** Random bytes in a new room id: 16 bytes = 128 bits, 22 base64url characters. */
export const ROOM_ID_BYTES = 16;

/** A room id: 22 to 64 base64url characters (at least 128 random bits). */
export const ROOM_ID_PATTERN: RegExp = /^[A-Za-z0-9_-]{22,64}$/;

/** A peer id or a client message id: 1 to 64 base64url characters. */
export const SHORT_ID_PATTERN: RegExp = /^[A-Za-z0-9_-]{1,64}$/;

/** A session token: 22 to 128 base64url characters. */
export const SECRET_PATTERN: RegExp = /^[A-Za-z0-9_-]{22,128}$/;

/** Opaque chat ciphertext: base64url characters only (no padding), so it needs no JSON escaping. */
export const PAYLOAD_PATTERN: RegExp = /^[A-Za-z0-9_-]+$/;

/** Encodes bytes as base64url without padding. */
export function encodeBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Returns `count` random bytes from the platform's CSPRNG, encoded as base64url. */
export function randomId(count: number): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(count)));
}

/** Creates a new unguessable room id (128 random bits). */
export function newRoomId(): string {
  return randomId(ROOM_ID_BYTES);
}

/** Whether `value` is a well-formed room id. */
export function isRoomId(value: unknown): value is string {
  return typeof value === "string" && ROOM_ID_PATTERN.test(value);
}
