/**
 * Invite links: `/<room id>#<room key>`. The key lives in the fragment, which
 * browsers never send to a server, so the server relays ciphertext it cannot read.
 * @module
 */
// ids.ts, not the protocol face: the landing's island imports this file, and should share only ids with the room.
import { newRoomId, randomId } from "../protocol/ids.ts";

/** Random bytes in a room key: 256 bits, an AES-256 key. */
export const ROOM_KEY_BYTES = 32;

/** A new room: its id (for the path) and key (for the fragment). */
export interface RoomLink {
  /** The room id, 22 base64url characters (128 random bits). */
  room: string;
  /** The room key, 43 base64url characters. */
  key: string;
  /** The path and fragment to navigate to. */
  href: string;
}

/** Creates a new room id and key. */
export function createRoomLink(): RoomLink {
  const room = newRoomId();
  const key = randomId(ROOM_KEY_BYTES);
  return { room, key, href: `/${room}#${key}` };
}
