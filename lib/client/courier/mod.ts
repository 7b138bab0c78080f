/**
 * The courier's public face: Parley's delivery guarantee (see `courier.ts`),
 * the transports and codec the shell provides, the signer contract, the
 * packets on the wire, and the limits everything keeps.
 * @module
 */
export {
  Courier,
  type CourierOptions,
  CourierSendError,
  type CourierSnapshot,
  type CourierTiming,
  type RosterPeer,
  type SendFailure,
  type WelcomeInfo,
} from "./courier.ts";
export type { CourierCounters, CourierEvent } from "./events.ts";
export type { LogBounds } from "./log_position.ts";
export type { Packet, RejectReason, WireMessage } from "./packets.ts";
export type { PeerPresence } from "./peers.ts";
export { chatData, chatPayload, directAck, parseDirectAck } from "./wire.ts";
export { RETRYABLE_CODES } from "./outbox.ts";
export {
  createMemorySigner,
  memberIdOf,
  type MessageSigner,
  type Signature,
  SignatureVerifier,
  type SignedFields,
  signingText,
} from "./signer.ts";
export { type DirectLink, type PayloadCodec, plainCodec, type RelayTransport } from "./transport.ts";
export {
  ACK_BATCH,
  DEFAULT_HISTORY_BATCH_BYTES,
  DEFAULT_RESEND_BURST,
  MAX_BODY_CHARS,
  MAX_CLOCK_LEAD_MS,
  MAX_FUTURE_SKEW_MS,
  MAX_PARTS,
  MAX_TRANSPORT_BYTES,
  MESSAGE_ID_BYTES,
  PART_TTL_MS,
} from "./limits.ts";
