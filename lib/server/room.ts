/**
 * The in-memory state of one room on this instance: its connected peers,
 * the peers it knows on other instances, and its appends in flight.
 * @module
 */
import type { Presence } from "../protocol/frames.ts";
import { addressNetwork } from "./address_group.ts";
import { seatTag } from "./seat_policy.ts";

/** The socket side a peer needs: the service adapts a WebSocket to it, tests may fake it. */
export interface PeerSocket {
  /** Sends one text frame; a no-op once the socket is closing. */
  send(text: string): void;
  /** Closes with a code and a reason (≤ 123 bytes). */
  close(code: number, reason: string): void;
  /**
   * Backpressure, optional (test fakes have none): `true` when `bytes` more fit the socket's send
   * window now, else a promise of true once they do, or false once the socket is dropped.
   */
  ready?(bytes: number): true | Promise<boolean>;
  /**
   * Optional: whether `bytes` held back for this socket (while it joins) are within its send bound;
   * false means it was not and the socket closed as a slow consumer (4008).
   */
  holds?(bytes: number): boolean;
  /**
   * Optional: whether `bytes` more fit the socket's send window now (half its bound), changing nothing; a relayed
   * frame that does not fit is refused to its sender rather than sent (see `Peer.relay`).
   */
  spare?(bytes: number): boolean;
}

/** One connected peer (one socket) in a room. */
export class Peer {
  /** Server-assigned id, kept across resumes. */
  readonly id: string;
  /** The room id. */
  readonly room: string;
  /** The peer's socket. */
  readonly socket: PeerSocket;
  /** The client address, for per-address limits. */
  readonly address: string;
  /** SHA-256 of the session token, kept in every presence write (it is the session). */
  readonly tokenHash: string;
  /** The member id its hello proved, if any: stamped in welcome, roster and presence. */
  readonly member: string | undefined;
  /** Its network (`addressNetwork`): what its storage budget is charged to, frame by frame. */
  readonly network: string;
  /** The seat tag of its network in the room (`seat_policy.ts`), kept in every presence write. */
  readonly seat: string;
  /** `,"from":"<id>"}`: appended to a client frame (minus its `}`) to stamp the sender without re-serialising. */
  readonly fromSuffix: string;
  /** Frames held back while the welcome and backlog are sent: [seq or -1 for unlogged frames, text]. */
  pending: [number, string][] | null = [];
  /** UTF-16 length of the frames in `pending`: bounded like the socket's send queue. */
  pendingBytes = 0;
  /** Own chat frames logged whose `accepted` is held back for an `ack` to carry it: id → seq (null: none). */
  held: Map<string, number> | null = null;
  /** Versionstamp of this socket's last presence write: marking it away later must not undo a resume. */
  presenceVersion: string | null = null;
  /** The socket is closed or replaced; nothing more is sent. */
  gone = false;
  /** A newer socket of the same session took over: no presence change when this one closes. */
  replaced = false;

  /** Builds a peer; it starts in the joining state, holding frames back. */
  constructor(id: string, room: string, socket: PeerSocket, address: string, tokenHash: string, member?: string) {
    this.id = id;
    this.member = member;
    this.room = room;
    this.socket = socket;
    this.address = address;
    this.tokenHash = tokenHash;
    this.network = addressNetwork(address);
    this.seat = seatTag(room, this.network);
    this.fromSuffix = ',"from":"' + id + '"}';
  }

  /** Sends a frame now, or holds it while the peer is joining. */
  push(seq: number, text: string): void {
    if (this.pending === null) {
      this.socket.send(text);
      return;
    }
    this.pending.push([seq, text]);
    this.pendingBytes += text.length;
    // Over the bound the socket closes (4008); its resume reads chat from the log, presence from the welcome.
    if (this.socket.holds?.(this.pendingBytes) === false) {
      this.pending = [];
      this.pendingBytes = 0;
    }
  }

  /**
   * Sends a frame another member relayed (a signal, an ack), unlogged, when it fits this peer's send window (or,
   * while it joins, what it may hold back): false when it does not, and nothing was sent. One member's burst aimed at
   * this peer is then refused to that member, and never closes this peer as a slow consumer.
   */
  relay(text: string): boolean {
    const fits = this.socket.spare?.((this.pending === null ? 0 : this.pendingBytes) + text.length) ?? true;
    if (fits) this.push(-1, text);
    return fits;
  }
}

/** What `Room.remote` is while a room knows no peer elsewhere: shared, never written. */
const NO_REMOTE: ReadonlyMap<string, Presence> = new Map();

/** A room as this instance sees it. */
export class Room {
  /** The room id. */
  readonly id: string;
  /** Peers connected to this instance, by id. */
  readonly local: Map<string, Peer> = new Map();
  /** Peers elsewhere, made on first use: most rooms live on one instance, and a Map per room costs memory. */
  #remote: Map<string, Presence> | null = null;
  /** Chat frames logged but not yet published on the bus: [to or null, seq, text, from]. */
  outbox: [string | null, number, string, string][] | null = null;
  /**
   * The highest log position delivered to this room's local peers, every lower one delivered
   * before it (or meant for nobody here); null until the first join read the log's bounds.
   * Frames are delivered strictly in this order, so a client's highest `seq` is a safe `since`.
   */
  delivered: number | null = null;
  /** Logged frames that arrived ahead of a missing position: seq → [to or null, from, text]. Rare, so lazy. */
  held: Map<number, [string | null, string, string]> | null = null;
  /** A log read filling missing positions is in flight. */
  filling = false;

  /** An empty room. */
  constructor(id: string) {
    this.id = id;
  }

  /** Peers connected to (or away from) other instances, by id; change it with `setRemote`/`deleteRemote`. */
  get remote(): ReadonlyMap<string, Presence> {
    return this.#remote ?? NO_REMOTE;
  }

  /** Records the presence of a peer on another instance. */
  setRemote(peer: string, presence: Presence): void {
    (this.#remote ??= new Map()).set(peer, presence);
  }

  /** Forgets a peer on another instance; true if it was known. */
  deleteRemote(peer: string): boolean {
    const remote = this.#remote;
    if (remote === null || !remote.delete(peer)) return false;
    if (remote.size === 0) this.#remote = null;
    return true;
  }
}

/** Cuts the closing `}` (and trailing whitespace) off a parsed JSON object's text and appends `suffix`. */
export function stamp(text: string, suffix: string): string {
  let end = text.length - 1;
  while (text.charCodeAt(end) !== 125 /* } */) end--;
  return text.slice(0, end) + suffix;
}
