/**
 * Every frame of the signaling protocol, as TypeScript types. Frames are JSON
 * text objects with a short `type` field; see README.md for the wire format,
 * the order of frames and examples.
 * @module
 */
import type { ErrorCode } from "./codes.ts";

/** First frame of every connection, sent after the server's `challenge`: version, admission proof, resume data. */
export interface HelloFrame {
  /** Frame type. */
  type: "hello";
  /** Protocol version; must equal the URL's `v`. */
  v: number;
  /** Session token from an earlier `welcome`: resume the same peer id within the resume window. */
  token?: string;
  /** The highest log `seq` this client has seen: the server sends every logged chat frame after it. Omit for none. */
  since?: number;
  /**
   * Admission proof, required (without it: `admission_refused`): base64url(HMAC-SHA-256(A, "parley-hello\n" +
   * room + "\n" + nonce)), 43 characters, where A is the room's admission key and nonce the `challenge`'s.
   */
  proof?: string;
  /**
   * The log epoch `since` belongs to (from an earlier `welcome.log.epoch`). When it differs from the
   * log's current epoch, the log was reset and the server sends the backlog from the log's start.
   */
  epoch?: string;
  /** base64url(A), 43 characters: registers a new room's verifier. Send it when the server asks (`verifier_required`). */
  verifier?: string;
  /** Proof of a member key; the server stamps the member id it proves on this peer. Optional. */
  member?: MemberProof;
}

/** `hello.member`: a member's public key and its signature over this connection's nonce. */
export interface MemberProof {
  /** base64url of the raw (65-byte, uncompressed) P-256 public key: 87 characters. */
  key: string;
  /** base64url of the raw 64-byte ECDSA P-256/SHA-256 signature over "parley-member\n" + room + "\n" + nonce: 86 characters. */
  sig: string;
}

/** A chat frame from a client: opaque ciphertext to one peer or to the whole room. */
export interface ChatFrame {
  /** Frame type. */
  type: "chat";
  /** The client's message id (base64url, ≤ 64): echoed in `accepted` and to receivers, for end-to-end dedupe. */
  id: string;
  /** The receiving peer id; omit to send to every peer of the room. */
  to?: string;
  /** The ciphertext, base64url without padding; never inspected by the server. */
  data: string;
  /**
   * Its receivers have it over their DataChannels: the room log keeps it for whoever reads the log later (a friend
   * who opens the link, a peer resuming), and the server relays it live to nobody. Only `true`, or absent.
   */
  p2p?: true;
}

/** A signaling frame (SDP offer/answer, ICE candidate...) for exactly one peer. */
export interface SignalFrame {
  /** Frame type. */
  type: "signal";
  /** The receiving peer id. */
  to: string;
  /** Any JSON value, forwarded as is. */
  data: unknown;
}

/**
 * An end-to-end acknowledgement for one peer: "I have stored these messages".
 * Not logged; relayed like a signal. `mac` is the receiver's proof (HMAC
 * under a key derived from the room key, see README "Acknowledgements"): the
 * server, which has no room key, cannot forge one.
 */
export interface AckFrame {
  /** Frame type. */
  type: "ack";
  /** The peer the acknowledgement is for (the messages' sender). */
  to: string;
  /** The client message ids acknowledged (1 to 400, `MAX_ACK_IDS`). */
  ids: string[];
  /** base64url MAC over room, sender, volatility and ids: 11 to 43 characters. */
  mac: string;
  /** Present when the receiver's storage is not durable now: never counts as "Delivered". */
  volatile?: true;
}

/** Application-level heartbeat: browsers cannot see WebSocket pings, so clients ping to check liveness. */
export interface PingFrame {
  /** Frame type. */
  type: "ping";
  /** Optional number echoed in the `pong`. */
  n?: number;
}

/** Leave the room now: presence `left` at once and the session ends. */
export interface ByeFrame {
  /** Frame type. */
  type: "bye";
}

/** Asks for ICE servers (with fresh TURN credentials); only after the `welcome`, rate-limited per session. */
export interface IceRequestFrame {
  /** Frame type. */
  type: "ice";
}

/** Any frame a client may send. */
export type ClientFrame = HelloFrame | ChatFrame | SignalFrame | AckFrame | PingFrame | ByeFrame | IceRequestFrame;

/** Presence of a peer in the roster. */
export type Presence = "online" | "away";

/** One peer in the `welcome` roster. */
export interface RosterEntry {
  /** The peer id. */
  id: string;
  /** `away`: dropped and within its resume window. */
  presence: Presence;
  /** The member id its hello proved (22 characters); absent for peers that sent no `member`. */
  member?: string;
}

/** The server's answer to `hello`. */
export interface WelcomeFrame {
  /** Frame type. */
  type: "welcome";
  /** Protocol version spoken. */
  v: number;
  /** This client's peer id (same as before when resumed). */
  peer: string;
  /** The session token to present in a later `hello` to resume. Keep it secret. */
  token: string;
  /** Whether the token resumed an earlier identity. */
  resumed: boolean;
  /** How long after a drop the token still resumes, in ms. */
  resumeWindowMs: number;
  /** The other peers of the room. */
  peers: RosterEntry[];
  /**
   * The room log at join time: oldest kept `seq`, newest `seq` (0 when empty), and its epoch: the id of
   * this incarnation of the log; `seq` values are only comparable within one epoch.
   */
  log: { first: number; last: number; epoch: string };
  /** This client's member id, when its hello carried a valid `member`. */
  member?: string;
}

/** A relayed chat frame: the client's frame plus the stamped sender and log position. */
export interface RelayedChatFrame extends ChatFrame {
  /** The sender's peer id, set by the server. */
  from: string;
  /** The frame's position in the room log. */
  seq: number;
}

/** A relayed signaling frame, with the sender stamped by the server. */
export interface RelayedSignalFrame extends SignalFrame {
  /** The sender's peer id, set by the server. */
  from: string;
}

/**
 * A relayed `ack` (without `to`), with the sender stamped by the server, and
 * `acc` when the server held back `accepted` for some of the ids (see
 * {@link AcceptedFrame}): aligned with `ids`, each the log `seq` of that own
 * chat frame, or 0 for none.
 */
export interface RelayedAckFrame {
  /** Frame type. */
  type: "ack";
  /** The acknowledged client message ids. */
  ids: string[];
  /** The acknowledging client's MAC. */
  mac: string;
  /** The acknowledging client's storage is not durable now. */
  volatile?: true;
  /** Log positions of own chat frames the server had not yet confirmed, aligned with `ids` (0: none). */
  acc?: number[];
  /** The acknowledging peer, set by the server. */
  from: string;
}

/** Acknowledgement: the chat frame with this `id` is durable in the room log. */
export interface AcceptedFrame {
  /** Frame type. */
  type: "accepted";
  /** The client's message id. */
  id: string;
  /** Its position in the room log. */
  seq: number;
}

/** A change in a peer's presence. */
export interface PresenceFrame {
  /** Frame type. */
  type: "presence";
  /** The peer concerned. */
  peer: string;
  /** joined: new peer; online: came back within its resume window; away: dropped; left: gone for good. */
  state: "joined" | "online" | "away" | "left";
  /** The peer's member id, on `joined` and `online`, when its hello proved one. */
  member?: string;
}

/** Log entries `from`..`to` were dropped by the log's bounds or retention before this client read them. */
export interface GapFrame {
  /** Frame type. */
  type: "gap";
  /** First missing `seq`. */
  from: number;
  /** Last missing `seq`. */
  to: number;
}

/** The backlog after `since` has been sent; live frames follow. */
export interface SyncedFrame {
  /** Frame type. */
  type: "synced";
  /** The newest `seq` covered by the backlog. */
  last: number;
}

/** Answer to `ping`. */
export interface PongFrame {
  /** Frame type. */
  type: "pong";
  /** The ping's `n`, if any. */
  n?: number;
}

/** An error; a close may follow (see README.md for which codes close). */
export interface ErrorFrame {
  /** Frame type. */
  type: "error";
  /** What went wrong. */
  code: ErrorCode;
  /** Human-readable detail, for logs. */
  message: string;
  /** The client message id of the refused chat frame, when there is one: re-send it later. */
  ref?: string;
}

/** The first frame of every connection: the nonce the `hello` must prove knowledge of the room key on. */
export interface ChallengeFrame {
  /** Frame type. */
  type: "challenge";
  /** 32 random bytes, base64url (43 characters); one per connection. */
  nonce: string;
}

/** The answer to `ice`: servers for `RTCPeerConnection`, with TURN credentials minted for this session. */
export interface IceServersFrame {
  /** Frame type. */
  type: "ice";
  /** `RTCIceServer` entries; empty when the deployment configures none. */
  iceServers: { urls: string[]; username?: string; credential?: string }[];
  /** Seconds the credentials stay valid: ask again before then. */
  ttl: number;
}

/** Any frame the server sends. */
export type ServerFrame =
  | WelcomeFrame
  | RelayedChatFrame
  | RelayedSignalFrame
  | AcceptedFrame
  | RelayedAckFrame
  | PresenceFrame
  | GapFrame
  | SyncedFrame
  | PongFrame
  | ErrorFrame
  | ChallengeFrame
  | IceServersFrame;
