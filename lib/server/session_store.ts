/**
 * Sessions, presence and room verifiers in Deno KV, so that a peer can
 * resume on any instance and every instance sees the same roster.
 *
 * Layout (prefix `ns`, default "signal"):
 * - `[ns, "p", room, peer]` → `{ state, inst, until, h }`: presence, which is also the session:
 *   `until` is when it stops counting (online: a lease the owning instance renews; away: the end
 *   of the resume window), `h` the SHA-256 of the session token (the token itself is never
 *   stored). A token starts with its peer id, so resuming reads one key. One entry per peer
 *   keeps KV (and the memory its cache takes) small.
 * - `[ns, "v", room]` → verifier: SHA-256 of the first peer's admission proof.
 * @module
 */
import { encodeBase64Url } from "../protocol/ids.ts";
import type { Presence } from "../protocol/frames.ts";
import { retryKvBusy } from "./kv_busy.ts";

/** A stored presence entry. */
export interface PresenceRecord {
  /** online: connected to `inst`; away: dropped, resumable until `until`. */
  state: Presence;
  /** The instance that owns the peer's socket (or owned it when it dropped). */
  inst: string;
  /** When the entry stops counting, ms since the epoch. */
  until: number;
  /** SHA-256 (base64url) of the peer's session token. */
  h: string;
}

/** A presence entry with its peer id and versionstamp. */
export interface RosterRecord extends PresenceRecord {
  /** The peer id. */
  peer: string;
  /** KV versionstamp, for checked deletes. */
  versionstamp: string;
}

/** Options of the store. */
export interface SessionStoreOptions {
  /** First key part, so several services (or tests) can share one KV. */
  namespace?: string;
  /** How long sessions and verifiers are kept after their last use, in ms. */
  ttlMs: number;
  /** The clock, injectable for tests. */
  now?: () => number;
}

/** KV allows 1000 mutations per atomic; presence batches stay far below. */
const BATCH = 200;

/** Hashes a session token for its KV key: a KV leak never yields usable tokens. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return encodeBase64Url(new Uint8Array(digest));
}

/** Reads and writes sessions, presence and verifiers. */
export class SessionStore {
  #kv: Deno.Kv;
  #ns: string;
  #ttlMs: number;
  #now: () => number;

  /** Uses `kv`, which the caller owns. */
  constructor(kv: Deno.Kv, options: SessionStoreOptions) {
    this.#kv = kv;
    this.#ns = options.namespace ?? "signal";
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** A peer's presence if it still counts (not past `until`), with its versionstamp. */
  async presence(room: string, peer: string): Promise<RosterRecord | null> {
    const entry = await retryKvBusy(() => this.#kv.get<PresenceRecord>([this.#ns, "p", room, peer]));
    if (!entry.value || entry.value.until <= this.#now()) return null;
    return { ...entry.value, peer, versionstamp: entry.versionstamp! };
  }

  /** Every peer of a room whose presence still counts. */
  async roster(room: string): Promise<RosterRecord[]> {
    const now = this.#now();
    return await retryKvBusy(async () => {
      const out: RosterRecord[] = [];
      for await (const entry of this.#kv.list<PresenceRecord>({ prefix: [this.#ns, "p", room] })) {
        if (entry.value.until > now) {
          out.push({ ...entry.value, peer: entry.key[3] as string, versionstamp: entry.versionstamp });
        }
      }
      return out;
    });
  }

  /** Writes a peer's presence; returns the new versionstamp. */
  async setPresence(room: string, peer: string, record: PresenceRecord): Promise<string> {
    const result = await retryKvBusy(() =>
      this.#kv.set([this.#ns, "p", room, peer], record, { expireIn: Math.max(1000, record.until - this.#now()) })
    );
    return result.versionstamp;
  }

  /**
   * Marks a peer away, but only if its entry is still the one this socket wrote
   * (`versionstamp`): a resume (on this or another instance) may have replaced it.
   * Returns the new versionstamp, or null when the entry is someone else's now.
   */
  async markAwayIf(room: string, peer: string, versionstamp: string, record: PresenceRecord): Promise<string | null> {
    const key = [this.#ns, "p", room, peer];
    const result = await retryKvBusy(() =>
      this.#kv.atomic().check({ key, versionstamp }).set(key, record, {
        expireIn: Math.max(1000, record.until - this.#now()),
      }).commit()
    );
    return result.ok ? result.versionstamp : null;
  }

  /** Writes many presences in few atomics (lease renewal, shutdown); returns each one's versionstamp. */
  async setPresences(items: { room: string; peer: string; record: PresenceRecord }[]): Promise<string[]> {
    const now = this.#now();
    const versionstamps: string[] = [];
    for (let i = 0; i < items.length; i += BATCH) {
      const batch = items.slice(i, i + BATCH);
      const result = await retryKvBusy(() => {
        const atomic = this.#kv.atomic();
        for (const { room, peer, record } of batch) {
          atomic.set([this.#ns, "p", room, peer], record, { expireIn: Math.max(1000, record.until - now) });
        }
        return atomic.commit();
      });
      // Unchecked atomics only fail by throwing; this narrows the type.
      if (!result.ok) throw new Error("presence batch was not committed");
      for (let j = 0; j < batch.length; j++) versionstamps.push(result.versionstamp);
    }
    return versionstamps;
  }

  /** Deletes a presence only if unchanged since `versionstamp` (nobody resumed meanwhile). */
  async deletePresenceIf(room: string, peer: string, versionstamp: string): Promise<boolean> {
    const key = [this.#ns, "p", room, peer];
    const result = await retryKvBusy(() => this.#kv.atomic().check({ key, versionstamp }).delete(key).commit());
    return result.ok;
  }

  /** Deletes a presence, which ends its session (`bye`). */
  async deletePresence(room: string, peer: string): Promise<void> {
    await retryKvBusy(() => this.#kv.delete([this.#ns, "p", room, peer]));
  }

  /** The room's verifier, or null when none was registered. */
  async verifier(room: string): Promise<string | null> {
    return (await retryKvBusy(() => this.#kv.get<string>([this.#ns, "v", room]))).value;
  }

  /**
   * Registers `verifier` if the room has none; returns the verifier in force
   * afterwards (another peer's, if it won the race).
   */
  async registerVerifier(room: string, verifier: string): Promise<string> {
    const key = [this.#ns, "v", room];
    for (;;) {
      const current = await retryKvBusy(() => this.#kv.get<string>(key));
      if (current.value !== null) return current.value;
      const result = await retryKvBusy(() =>
        this.#kv.atomic().check(current).set(key, verifier, { expireIn: this.#ttlMs }).commit()
      );
      if (result.ok) return verifier;
    }
  }

  /** Keeps a room's verifier alive as long as the room is used. */
  async touchVerifier(room: string, verifier: string): Promise<void> {
    await retryKvBusy(() => this.#kv.set([this.#ns, "v", room], verifier, { expireIn: this.#ttlMs }));
  }
}
