/**
 * Per-room persistence: the history (every message shown, own and others'),
 * the outbox (own messages not yet acknowledged by everyone) and a little
 * per-room state (session token, last seen log seq, display name, own peer id).
 *
 * This module holds the {@link Store} contract only; `store_memory.ts` (tests,
 * property tests) and `store_idb.ts` implement it with identical semantics, and
 * `store_resilient.ts` (what the page opens) puts IndexedDB and memory together
 * so a storage failure never breaks a room:
 * - every write is idempotent by message id: putting the same id twice leaves one record;
 * - a message's status never goes backwards (pending → sent → delivered);
 * - lists come back sorted: history by `order` (plain string comparison), outbox by `order` too;
 * - returned objects are copies: mutating them does not change the store.
 * @module
 */

/** The IndexedDB database rooms live in (`store_idb.ts` opens it; the room page's bootstrap reads it). */
export const IDB_NAME = "parley";

/** First wait before reopening the database (or loading its code again), ms. */
export const STORAGE_RETRY_BASE_MS = 1_000;
/** Longest wait between reopen attempts, ms: a user who frees space sees the notice go within this. */
export const STORAGE_RETRY_CAP_MS = 30_000;

/**
 * Delivery status of a message; `received` is a message written by another
 * member; `failed` an own message the server refused for good (see `failure`).
 */
export type MessageStatus = "pending" | "sent" | "delivered" | "received" | "failed";

/** Rank of each status: a write never lowers a message's rank (a failed message a peer acknowledged is sent). */
export const STATUS_RANK: Readonly<Record<MessageStatus, number>> = {
  pending: 0,
  failed: 0.5,
  sent: 1,
  delivered: 2,
  received: 2,
};

/**
 * Why an own message failed for good: the server refused its frame as too big
 * or malformed (`too_big`, `bad_frame`), refused it for another lasting reason
 * (`refused`), or it could not be encoded or split within the bounds (`unsendable`).
 */
export type FailureReason = "too_big" | "bad_frame" | "refused" | "unsendable";

/** One message of a room's history, as shown to the user (plaintext, after decryption). */
export interface StoredMessage {
  /** Unique message id (base64url), the key for end-to-end dedupe. */
  id: string;
  /** Member id of the author (older records: its peer id). */
  author: string;
  /** Order key, compared as plain strings, so every peer shows the same order (the courier builds it). */
  order: string;
  /** Plaintext body. */
  body: string;
  /** Delivery status; never goes backwards. */
  status: MessageStatus;
  /** Author's wall-clock time of writing, ms since the epoch (for display). */
  time: number;
  /** Receiving peer of a direct message; absent for the whole room. */
  to?: string;
  /** Position in the server's room log, once known (accepted or relayed). */
  seq?: number;
  /** The author's public key (base64url), so the message can travel on by history sync; absent on old records. */
  pk?: string;
  /** The author's signature (base64url) over the message (see the courier's `signer.ts`). */
  sig?: string;
  /** Why the message failed, when its status is `failed`. */
  failure?: FailureReason;
  /** Set by the courier on a stored record it could not read: shown as unreadable, never sent on. */
  unreadable?: boolean;
  /**
   * When this device took in another member's message, ms since the epoch: set only when it came more than
   * `LATE_ARRIVAL_MS` after its stated time and sorts before a message the reader already had on screen (an answer
   * that waited offline, or a member backdating a line into the past), so the reader sees it was not there before.
   */
  arrived?: number;
}

/** An own message awaiting acknowledgement; its body lives in the history under the same id. */
export interface OutboxEntry {
  /** Message id, same as the history record. */
  id: string;
  /** Order key, copied from the message so the outbox re-sends in order without a join. */
  order: string;
  /** Receiving peer of a direct message; absent for the whole room. */
  to?: string;
  /** Members (or, without a member id, peers) that acknowledged the message durably so far. */
  ackedBy: string[];
  /** Whether the server's room log accepted it (the message is then at least "sent"). */
  accepted: boolean;
  /** Send attempts so far, for pacing and diagnostics. */
  attempts: number;
}

/** Small per-room state that must survive a reload. */
export interface RoomState {
  /** Session token from the server's `welcome`, to resume the same peer id. */
  token?: string;
  /** Highest room-log seq seen, sent as `since` in `hello` to get only what was missed. */
  lastSeq?: number;
  /** The user's display name in this room. */
  name?: string;
  /** Own peer id from the last `welcome`, to recognise own messages echoed from the log. */
  peer?: string;
  /** This device's member key pair in the room (private key non-extractable; see `identity.ts`). */
  identity?: CryptoKeyPair;
  /** The room log's epoch that `lastSeq` counts in (`welcome.log.epoch`), sent as `hello.epoch`. */
  epoch?: string;
  /** Other members' display names as last told (member id → name), bounded (`room/names.ts`). */
  names?: Record<string, string>;
  /** The room key (the link's fragment), kept on this device only, to reopen the chat from the landing page. */
  key?: string;
  /** This user's own name for the chat, on this device only. */
  title?: string;
  /** The newest message this user has seen, for the landing page's unread count. */
  readId?: string;
  /** When this device last opened the chat, ms since the epoch, to list recent chats first. */
  openedAt?: number;
}

/** Options for listing history. */
export interface ListOptions {
  /** Return at most this many messages, the newest ones (highest order keys); all when absent. */
  limit?: number;
}

/** Persistence of a client's rooms; every method is async and scoped by room id. */
export interface Store {
  /** Inserts or replaces a message by id; the stored status keeps the higher of old and new rank. */
  putMessage(room: string, message: StoredMessage): Promise<void>;
  /** Atomically stores an own message and its outbox entry, so a crash never keeps one without the other. */
  putOwn(room: string, message: StoredMessage, entry: OutboxEntry): Promise<void>;
  /** One message by id, or undefined. */
  getMessage(room: string, id: string): Promise<StoredMessage | undefined>;
  /** History sorted by order key (oldest first). */
  listMessages(room: string, options?: ListOptions): Promise<StoredMessage[]>;
  /** Raises a message's status (never lowers it) and optionally records its log seq; false when the id is unknown. */
  setStatus(room: string, id: string, status: MessageStatus, seq?: number): Promise<boolean>;
  /** Inserts or replaces an outbox entry by id. */
  putOutbox(room: string, entry: OutboxEntry): Promise<void>;
  /** Outbox sorted by order key (oldest first), for re-sending on load. */
  listOutbox(room: string): Promise<OutboxEntry[]>;
  /** Removes an outbox entry (fully acknowledged); removing a missing id is a no-op. */
  deleteOutbox(room: string, id: string): Promise<void>;
  /** The room's small state; an empty object when nothing was saved. */
  getState(room: string): Promise<RoomState>;
  /** Merges fields into the room's state; a field set to undefined is removed. Returns the new state. */
  patchState(room: string, patch: Partial<RoomState>): Promise<RoomState>;
  /** Forgets everything about a room (history, outbox, state). */
  clearRoom(room: string): Promise<void>;
  /** Releases the underlying database; the store is unusable afterwards. */
  close(): void;
  /**
   * Whether writes now reach durable storage: every write resolved so far survives a reload. False while a
   * store runs in memory after a failure: the courier then acknowledges as volatile and re-acknowledges once
   * it turns true again.
   */
  durable(): boolean;
}

/** Returns the status of higher rank, keeping `current` on a tie (and never keeping an unknown one). */
export function maxStatus(current: MessageStatus, next: MessageStatus): MessageStatus {
  if (!Object.hasOwn(STATUS_RANK, current)) return next;
  return STATUS_RANK[next] > STATUS_RANK[current] ? next : current;
}

/** A copy without fields set to undefined, so both stores return identical objects (IndexedDB keeps the keys). */
function withoutUndefined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [field, item] of Object.entries(value)) if (item !== undefined) out[field] = item;
  return out as T;
}

/** Merges a new write of a message into the stored one: fields replaced, status and seq never lost. */
export function mergeMessage(old: StoredMessage | undefined, next: StoredMessage): StoredMessage {
  const merged = withoutUndefined(next);
  if (!old) return merged;
  merged.status = maxStatus(old.status, next.status);
  if (merged.seq === undefined && old.seq !== undefined) merged.seq = old.seq;
  return merged;
}

/** A deep copy of an outbox entry without undefined fields. */
export function copyOutbox(entry: OutboxEntry): OutboxEntry {
  const copy = withoutUndefined(entry);
  copy.ackedBy = [...entry.ackedBy];
  return copy;
}

/** Applies a state patch: undefined fields are removed. */
export function applyStatePatch(state: RoomState, patch: Partial<RoomState>): RoomState {
  const next: Record<string, unknown> = { ...state };
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) delete next[field];
    else next[field] = value;
  }
  return next as RoomState;
}
