/**
 * Invite links: `/<room id>#<room key>`. The key lives in the fragment, which
 * browsers never send to a server, so the server relays ciphertext it cannot read.
 * @module
 */

/** Random bytes in a room id: 128 bits, unguessable. */
export const ROOM_ID_BYTES = 16;
/** Random bytes in a room key: 256 bits, an AES-256 key. */
export const ROOM_KEY_BYTES = 32;

/** Encodes bytes as unpadded base64url, safe in paths and fragments. */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function randomBase64Url(length: number): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(length)));
}

/** A new room: its id (for the path) and key (for the fragment). */
export interface RoomLink {
  /** The room id, 22 base64url characters. */
  room: string;
  /** The room key, 43 base64url characters. */
  key: string;
  /** The path and fragment to navigate to. */
  href: string;
}

/** Creates a new room id and key. */
export function createRoomLink(): RoomLink {
  const room = randomBase64Url(ROOM_ID_BYTES);
  const key = randomBase64Url(ROOM_KEY_BYTES);
  return { room, key, href: `/${room}#${key}` };
}
