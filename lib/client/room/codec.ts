/**
 * The courier's payload codec: AES-GCM with room, sender and message id (or
 * packet kind) as associated data, so a payload replayed under another
 * sender, id or room fails to open.
 *
 * An own-message payload carries its message id in front: `m` + a 22-character
 * id (the legacy form), or `n` + the id + `.` (any other id, e.g. the
 * 23-character author-bound ids of `courier/message_id.ts`; ids and sealed
 * text are base64url, which has no `.`). Any other packet is `x` + sealed.
 * @module
 */
import type { Packet, PayloadCodec } from "../courier/mod.ts";
import type { RoomCipher } from "../crypto.ts";

/** Characters of a legacy message id, carried after `m`. */
const LEGACY_ID_CHARS = 22;

/** The front of an own-message payload naming `id`. */
function idHead(id: string): string {
  return id.length === LEGACY_ID_CHARS ? "m" + id : "n" + id + ".";
}

/** The message id in front of a payload and where its sealed text starts; undefined for a payload without one. */
function splitHead(payload: string): { id: string; rest: number } | undefined {
  if (payload[0] === "m") return { id: payload.slice(1, 1 + LEGACY_ID_CHARS), rest: 1 + LEGACY_ID_CHARS };
  const end = payload[0] === "n" ? payload.indexOf(".") : -1;
  return end > 1 ? { id: payload.slice(1, end), rest: end + 1 } : undefined;
}

/** The payload codec: AES-GCM with room, sender and message id (or packet kind) as associated data. */
export function cipherCodec(cipher: RoomCipher): PayloadCodec {
  return {
    async encode(packet: Packet, sender: string): Promise<string> {
      const json = JSON.stringify(packet);
      if (packet.t === "msg") return idHead(packet.m.id) + await cipher.seal(sender, packet.m.id, json);
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
