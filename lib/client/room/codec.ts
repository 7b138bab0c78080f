/**
 * The courier's payload codec: AES-GCM with room, sender and message id (or
 * packet kind) as associated data, so a payload replayed under another
 * sender, id or room fails to open. An own message travels in its compact
 * bytes (`courier/message_bytes.ts`: raw signature, no field names, no key);
 * other packets as JSON. The compact form is part of the room's first
 * module: the first message needs it, and a lazy load would add a round trip
 * before it shows.
 *
 * An own-message payload carries its message id in front (`courier/message_id.ts`
 * `payloadHead`): `m` + a 22-character id (the legacy form), or `i` + one
 * base64url character giving the id's length + the id (the 23-character
 * author-bound ids). Any other packet is `x` + sealed. A payload is base64url
 * throughout: the server takes a chat frame's `data` only in that form.
 * @module
 */
import type { Packet, PayloadCodec } from "../courier/mod.ts";
import type { RoomCipher } from "../crypto.ts";
import { payloadHead, splitPayloadHead } from "../courier/message_id.ts";
import { decodeMessagePacket, encodeMessagePacket } from "../courier/message_bytes.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The payload codec: AES-GCM with room, sender and message id (or packet kind) as associated data. */
export function cipherCodec(cipher: RoomCipher): PayloadCodec {
  return {
    async encode(packet: Packet, sender: string): Promise<string> {
      const head = packet.t === "msg" ? payloadHead(packet.m.id) : undefined;
      if (packet.t === "msg" && head !== undefined) {
        return head + await cipher.sealBytes(sender, packet.m.id, encodeMessagePacket(packet));
      }
      return "x" + await cipher.seal(sender, "courier", JSON.stringify(packet));
    },
    async decode(payload: string, from: string): Promise<unknown> {
      const head = splitPayloadHead(payload);
      const id = head ? head.id : "courier";
      const sealed = payload.slice(head ? head.rest : 1);
      const opened = await cipher.openBytes(from, id, sealed);
      if (!opened.ok) throw new Error(`rejected: ${opened.reason}`);
      if (!head) return JSON.parse(decoder.decode(opened.bytes));
      const packet = decodeMessagePacket(opened.bytes, id) as Packet;
      if (packet.t !== "msg" || packet.m.id !== id) throw new Error("rejected: id mismatch");
      return packet;
    },
  };
}

/** The message id of an own-message payload (one the codec made from a `msg` packet), or undefined for any other. */
export function messageIdOfPayload(payload: string): string | undefined {
  const head = splitPayloadHead(payload);
  return head && payload.length > head.rest ? head.id : undefined;
}
