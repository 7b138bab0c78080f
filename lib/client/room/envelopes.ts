/**
 * Signal envelopes: what one peer sends another through the server's
 * `signal` frames. WebRTC negotiation (`rtc`) and presence metadata (`meta`)
 * are sealed here with the room key; courier packets (`courier`) come already
 * sealed by the courier's codec.
 *
 * Order matters (an ICE candidate before its offer is lost), and AES-GCM in
 * WebCrypto may finish out of order. So each peer has one serial queue for
 * what goes out (seal, then send) and one for what comes in (open, then
 * hand over): one peer's envelopes are sent and handled strictly in the order
 * they were written and received. Different peers never wait for each other.
 * @module
 */
import type { OpenResult } from "../crypto.ts";
import { SerialQueues } from "./serial_queue.ts";

/** Envelope kinds: WebRTC negotiation, courier packets, and small presence metadata. */
export type EnvelopeKind = "rtc" | "courier" | "meta";

/** The JSON a `signal` frame carries between two Parley clients. */
export interface SignalEnvelope {
  /** What the payload is. */
  k: EnvelopeKind;
  /** The payload: sealed JSON (`rtc`, `meta`) or a courier payload. */
  p: string;
}

/** An envelope after opening, as handed to the room. */
export type OpenedEnvelope =
  | { k: "courier"; payload: string }
  | { k: "rtc" | "meta"; value: unknown };

/** Why an envelope was dropped: not an envelope, or its seal did not open (tampered, wrong key, foreign). */
export type EnvelopeRejection = "malformed" | "unreadable";

/** The sealing half of the room cipher (`RoomCipher` is one). */
export interface EnvelopeCipher {
  /** Encrypts `text` as `sender`, bound to the label `id`. */
  seal(sender: string, id: string, text: string): Promise<string>;
  /** Opens what `sender` sealed under `id`; failures are values, never exceptions. */
  open(sender: string, id: string, data: string): Promise<OpenResult>;
}

/** What the envelope layer needs. */
export interface EnvelopesOptions {
  /** Seals and opens `rtc` and `meta` payloads. */
  cipher: EnvelopeCipher;
  /** Own peer id now (the sender bound into each seal); undefined before the first welcome. */
  self(): string | undefined;
  /** Puts an envelope on the wire (a `signal` frame to `to`). */
  send(to: string, envelope: SignalEnvelope): void;
  /** Told of every dropped envelope, for counters and the event log. */
  onRejected(from: string, kind: EnvelopeKind | undefined, reason: EnvelopeRejection, detail?: string): void;
}

/** Sealed, ordered signal envelopes to and from each peer. */
export interface Envelopes {
  /** Seals `value` for `to` and sends it after everything queued for `to` before; resolves once sent. */
  sendSealed(to: string, kind: "rtc" | "meta", value: unknown): Promise<void>;
  /** Sends a courier payload for `to`, in order with the sealed envelopes. */
  sendCourier(to: string, payload: string): Promise<void>;
  /** Opens an envelope from `from` and hands it to `handle` after every envelope `from` sent before. */
  receive(from: string, data: unknown, handle: (envelope: OpenedEnvelope) => void): Promise<void>;
}

const KINDS = new Set<string>(["rtc", "courier", "meta"]);

/** The envelope in a signal frame's data, or null when it is not one. */
export function parseEnvelope(data: unknown): SignalEnvelope | null {
  if (typeof data !== "object" || data === null) return null;
  const { k, p } = data as Record<string, unknown>;
  return typeof k === "string" && KINDS.has(k) && typeof p === "string" ? { k: k as EnvelopeKind, p } : null;
}

/** Creates the envelope layer of one room. */
export function createEnvelopes(options: EnvelopesOptions): Envelopes {
  const outbound = new SerialQueues<string>();
  const inbound = new SerialQueues<string>();

  return {
    sendSealed(to, kind, value) {
      // The sender is read when the seal starts, inside the queue, so it is the id the envelope goes out under.
      return outbound.run(to, async () => {
        const self = options.self();
        if (!self) return;
        options.send(to, { k: kind, p: await options.cipher.seal(self, kind, JSON.stringify(value)) });
      });
    },
    sendCourier(to, payload) {
      return outbound.run(to, () => options.send(to, { k: "courier", p: payload }));
    },
    receive(from, data, handle) {
      const envelope = parseEnvelope(data);
      if (!envelope) {
        options.onRejected(from, undefined, "malformed");
        return Promise.resolve();
      }
      return inbound.run(from, async () => {
        if (envelope.k === "courier") return handle({ k: "courier", payload: envelope.p });
        const opened = await options.cipher.open(from, envelope.k, envelope.p);
        if (!opened.ok) return options.onRejected(from, envelope.k, "unreadable", opened.reason);
        let value: unknown;
        try {
          value = JSON.parse(opened.text);
        } catch {
          // Authentic but not JSON: a foreign or broken client, dropped like a bad seal.
          return options.onRejected(from, envelope.k, "malformed", "not JSON");
        }
        handle({ k: envelope.k, value });
      });
    },
  };
}
