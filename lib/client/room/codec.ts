/**
 * The courier's payload codec: AES-GCM with room, sender and message id (or
 * packet kind) as associated data, so a payload replayed under another
 * sender, id or room fails to open.
 *
 * An own-message payload carries its message id in front: `m` + a 22-character
 * id (the legacy form), or `i` + one base64url character giving the id's
 * length (`A` = 1 … `_` = 64) + the id (every other id, e.g. the 23-character
 * author-bound ids of `courier/message_id.ts`). Any other packet is `x` + sealed.
 * A payload is base64url throughout: the server takes a chat frame's `data` only in that form.
 * @module
 */
import type { Packet, PayloadCodec } from "../courier/mod.ts";
import type { RoomCipher } from "../crypto.ts";

/** Characters of a legacy message id, carried after `m`. */
const LEGACY_ID_CHARS = 22;
/** Base64url digits, one per id length from 1 to 64, after `i`. */
const LENGTHS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The front of an own-message payload naming `id`, or undefined when the id cannot be carried in front. */
function idHead(id: string): string | undefined {
  if (id.length === LEGACY_ID_CHARS) return "m" + id;
  return id.length >= 1 && id.length <= LENGTHS.length ? "i" + LENGTHS[id.length - 1] + id : undefined;
}

/** The message id in front of a payload and where its sealed text starts; undefined for a payload without one. */
function splitHead(payload: string): { id: string; rest: number } | undefined {
  if (payload[0] === "m") return { id: payload.slice(1, 1 + LEGACY_ID_CHARS), rest: 1 + LEGACY_ID_CHARS };
  if (payload[0] !== "i") return undefined;
  const length = LENGTHS.indexOf(payload[1]) + 1;
  return length > 0 ? { id: payload.slice(2, 2 + length), rest: 2 + length } : undefined;
}

/** The payload codec: AES-GCM with room, sender and message id (or packet kind) as associated data. */
export function cipherCodec(cipher: RoomCipher): PayloadCodec {
  return {
    async encode(packet: Packet, sender: string): Promise<string> {
      const json = JSON.stringify(packet);
      const head = packet.t === "msg" ? idHead(packet.m.id) : undefined;
      if (packet.t === "msg" && head !== undefined) return head + await cipher.seal(sender, packet.m.id, json);
      return "x" + await cipher.seal(sender, "courier", json);
    },
    async decode(payload: string, from: string): Promise<unknown> {
      const head = splitHead(payload);
      const id = head ? head.id : "courier";
      const sealed = payload.slice(head ? head.rest : 1);
      const opened = await cipher.open(from, id, sealed);
      if (!opened.ok) throw new Error(`rejected: ${opened.reason}`);
      const packet = JSON.parse(opened.text) as Packet;
      if (head && (packet.t !== "msg" || packet.m.id !== id)) throw new Error("rejected: id mismatch");
      return packet;
    },
  };
}

/** The message id of an own-message payload (one the codec made from a `msg` packet), or undefined for any other. */
export function messageIdOfPayload(payload: string): string | undefined {
  const head = splitHead(payload);
  return head && payload.length > head.rest ? head.id : undefined;
}
