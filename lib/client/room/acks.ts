/**
 * Relay acknowledgements that the server cannot forge, in a few bytes: an
 * `ack` frame names the message ids in clear (they are in the chat frames
 * anyway) and carries a MAC over them, so the server can relay it (and put
 * the sender's held `accepted` on it) but never make one up. Before, an ack
 * was a sealed JSON packet inside a signal envelope: 164 bytes up and 186
 * down for one id, against 84 and 86 here.
 *
 * MAC = first 8 bytes of HMAC-SHA-256(K, UTF-8(JSON ["parley-ack-v1", room,
 * sender, volatile ? 1 : 0, ids])), base64url (11 characters), with
 * K = HKDF-SHA-256(ikm = room key, salt = UTF-8(room id), info = "parley ack v1").
 * `sender` is the acknowledging session's peer id, which the server stamps
 * as `from`: an ack cannot be passed off as another session's. Anyone with
 * the room key could make one, as anyone with it could seal the old packet;
 * the server, which never has the key, gets one guess in 2^64 per frame.
 *
 * It imports nothing: the page loads it once the room is joined, as a chunk of its own.
 * @module
 */

/** HKDF info of the ack key; changes whenever the MAC does. */
export const ACK_KEY_INFO = "parley ack v1";
/** Bytes of the truncated MAC. */
export const ACK_MAC_BYTES = 8;

const encoder = new TextEncoder();

function encodeBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Makes and checks the MACs of one room's acks. */
export interface AckMac {
  /** The MAC of an ack sent by session `sender`. */
  sign(sender: string, ids: readonly string[], volatile: boolean): Promise<string>;
  /** Whether `mac` is the MAC of that ack from `sender`. Never throws. */
  check(sender: string, ids: readonly string[], volatile: boolean, mac: string): Promise<boolean>;
}

/** Derives a room's ack key from the room key bytes, once. */
export async function ackMac(keyBytes: Uint8Array, room: string): Promise<AckMac> {
  const ikm = await crypto.subtle.importKey("raw", keyBytes as Uint8Array<ArrayBuffer>, "HKDF", false, ["deriveKey"]);
  const key = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: encoder.encode(room), info: encoder.encode(ACK_KEY_INFO) },
    ikm,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign"],
  );
  const sign = async (sender: string, ids: readonly string[], volatile: boolean) => {
    const text = JSON.stringify(["parley-ack-v1", room, sender, volatile ? 1 : 0, ids]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
    return encodeBase64Url(mac.subarray(0, ACK_MAC_BYTES));
  };
  return {
    sign,
    async check(sender, ids, volatile, mac) {
      try {
        const expected = await sign(sender, ids, volatile);
        if (typeof mac !== "string" || mac.length !== expected.length) return false;
        let diff = 0;
        for (let i = 0; i < mac.length; i++) diff |= mac.charCodeAt(i) ^ expected.charCodeAt(i);
        return diff === 0;
      } catch {
        return false;
      }
    },
  };
}
