/**
 * What the courier needs from the shell to move payloads: the server relay,
 * open DataChannels, and the payload codec (end-to-end encryption). The shell
 * adapts the signal socket, peer links and crypto to these.
 * @module
 */
import { fromBase64Url } from "../crypto.ts";
import type { Packet } from "./packets.ts";

/** The server relay, as the courier uses it (the shell adapts the signal socket to it). */
export interface RelayTransport {
  /**
   * Sends a `chat` frame: logged by the server, acknowledged with `accepted`, delivered to `to` or the room; with
   * `p2p`, delivered live to nobody (its receivers have it over DataChannels), only logged for later readers.
   */
  sendChat(id: string, to: string | undefined, payload: string, p2p?: boolean): void;
  /** Sends a `signal` frame to one online peer: forwarded, never logged. The shell tags it as a courier payload. */
  sendSignal(to: string, payload: string): void;
  /**
   * Sends an `ack` frame to one online peer (ids in clear, with a MAC the server cannot forge);
   * without it acks go as sealed packets in signals.
   */
  sendAck?(to: string, ids: string[], volatile: boolean): void;
}

/** An open DataChannel to one peer (e.g. a `PeerLink`). */
export interface DirectLink {
  /** Sends a payload; false when the channel is not open (the courier then uses the relay). */
  send(payload: string): boolean;
}

/**
 * Turns packets into payload strings and back: the shell's end-to-end
 * encryption. Payloads for relay chat must be base64url (the protocol's chat
 * `data`); the courier splits any payload larger than a frame into parts.
 */
export interface PayloadCodec {
  /** Encodes (encrypts) a packet sent by `sender` (own peer id); base64url text, as relay `chat` frames need. */
  encode(packet: Packet, sender: string): string | Promise<string>;
  /** Decodes (decrypts and authenticates) a payload from peer `from`; throws when tampered or wrongly keyed. */
  decode(payload: string, from: string): unknown | Promise<unknown>;
}

/** Base64url of bytes, built in chunks (large payloads stay fast). */
function toBase64Url(bytes: Uint8Array): string {
  const chunks: string[] = [];
  for (let i = 0; i < bytes.length; i += 0x8000) {
    chunks.push(String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]));
  }
  return btoa(chunks.join("")).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A base64url codec without encryption: for tests and for wiring before crypto (never in production). */
export const plainCodec: PayloadCodec = {
  encode(packet) {
    return toBase64Url(new TextEncoder().encode(JSON.stringify(packet)));
  },
  decode(payload) {
    const bytes = fromBase64Url(payload);
    if (!bytes) throw new Error("not base64url");
    return JSON.parse(new TextDecoder().decode(bytes));
  },
};
