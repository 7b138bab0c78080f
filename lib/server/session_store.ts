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
 * - `[ns, "a", room]` → `{ v, until }`: the room's admission verifier `v` (= the admission key A,
 *   base64url; see lib/protocol/admission.ts) and when it stops counting. It lives as long as the
 *   room: every join and resume refreshes it, and so do appends and presence lease renewals
 *   (throttled to one write per room per refresh interval), each to the room's retention plus
 *   that interval, so it always outlives the room's newest log entry and presence.
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
  /** The member id the peer's hello proved, if any (so every instance can show it). */
  m?: string;
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
/** Characters of the peer id a session token starts with (hub.ts makes tokens: `PEER_ID_CHARS`). */
const TOKEN_PEER_CHARS = 12;
/** Longest interval between two refreshes of a busy room's verifier: one KV write per room per 10 min at most. */
const MAX_VERIFIER_REFRESH_MS = 600_000;
/** Rooms remembered by the refresh throttle before old entries are swept. */
const THROTTLE_SWEEP_AT = 4_096;

/** A stored verifier. */
interface VerifierRecord {
  /** The verifier: the room's admission key A, base64url. */
  v: string;
  /** When it stops counting, ms since the epoch (KV expiry is lazy, so reads check this). */
  until: number;
}

/** Hashes a session token for its KV key: a KV leak never yields usable tokens. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return encodeBase64Url(new Uint8Array(digest));
}

/** The peer id a session token starts with (the token names its presence key). */
export function peerOfToken(token: string): string {
  return token.slice(0, TOKEN_PEER_CHARS);
}

/** Reads and writes sessions, presence and verifiers. */
export class SessionStore {
  #kv: Deno.Kv;
  #ns: string;
  #ttlMs: number;
  #now: () => number;
  /** How often activity may refresh a room's verifier; also the margin it outlives the room's retention by. */
  #refreshMs: number;
  /** Rooms whose verifier activity refreshed lately: room → when. */
  #refreshed = new Map<string, number>();
  /** When the throttle last forgot rooms that no longer need it. */
  #swept = 0;
  /** Background refreshes in flight, so shutdown can wait for them before the KV closes. */
  #refreshing = new Set<Promise<void>>();

  /** Uses `kv`, which the caller owns. */
  constructor(kv: Deno.Kv, options: SessionStoreOptions) {
    this.#kv = kv;
    this.#ns = options.namespace ?? "signal";
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#refreshMs = Math.max(1, Math.min(options.ttlMs / 8, MAX_VERIFIER_REFRESH_MS));
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
    // Peers still connected (or away) keep their rooms alive, verifiers included.
    for (const item of items) this.keepRoom(item.room);
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

  /**
   * Whether `token` is the session of a peer online in `room` now (for `/api/ice`):
   * its presence counts and holds the token's hash.
   */
  async liveSession(room: string, token: string): Promise<boolean> {
    const record = await this.presence(room, peerOfToken(token));
    return record !== null && record.state === "online" && record.h === await hashToken(token);
  }

  #verifierKey(room: string): Deno.KvKey {
    return [this.#ns, "a", room];
  }

  /** Writes `verifier` with a fresh life if `current` is still the stored entry; false if it changed meanwhile. */
  async #writeVerifier(room: string, current: Deno.KvEntryMaybe<VerifierRecord>, verifier: string): Promise<boolean> {
    const now = this.#now();
    const life = this.#ttlMs + this.#refreshMs;
    const key = this.#verifierKey(room);
    const result = await retryKvBusy(() =>
      this.#kv.atomic().check(current).set(key, { v: verifier, until: now + life } satisfies VerifierRecord, {
        expireIn: life,
      }).commit()
    );
    if (result.ok) this.#refreshed.set(room, now);
    return result.ok;
  }

  async #readVerifier(room: string): Promise<Deno.KvEntryMaybe<VerifierRecord>> {
    return await retryKvBusy(() => this.#kv.get<VerifierRecord>(this.#verifierKey(room)));
  }

  #live(entry: Deno.KvEntryMaybe<VerifierRecord>): string | null {
    return entry.value !== null && entry.value.until > this.#now() ? entry.value.v : null;
  }

  /** The room's verifier in force, or null when none is (never registered, or expired with the room). */
  async verifier(room: string): Promise<string | null> {
    return this.#live(await this.#readVerifier(room));
  }

  /**
   * Registers `verifier` if the room has none in force (one atomic check: of two
   * creators racing, one wins); returns the verifier in force afterwards.
   */
  async registerVerifier(room: string, verifier: string): Promise<string> {
    for (;;) {
      const current = await this.#readVerifier(room);
      const live = this.#live(current);
      if (live !== null) return live;
      if (await this.#writeVerifier(room, current, verifier)) return verifier;
    }
  }

  /** Gives the room's verifier a full life again if it is still `verifier`; false when another one is in force. */
  async refreshVerifier(room: string, verifier: string): Promise<boolean> {
    for (;;) {
      const current = await this.#readVerifier(room);
      if (this.#live(current) !== verifier) return false;
      if (await this.#writeVerifier(room, current, verifier)) return true;
    }
  }

  /**
   * The room is in use (an append, a presence lease): refreshes its verifier in
   * the background, at most once per refresh interval. Never throws.
   */
  keepRoom(room: string): void {
    const now = this.#now();
    const last = this.#refreshed.get(room);
    if (last !== undefined && now - last < this.#refreshMs) return;
    this.#refreshed.set(room, now);
    if (this.#refreshed.size > THROTTLE_SWEEP_AT && now - this.#swept >= this.#refreshMs) {
      this.#swept = now;
      for (const [key, at] of this.#refreshed) if (now - at >= this.#refreshMs) this.#refreshed.delete(key);
    }
    const task = (async () => {
      const current = await this.#readVerifier(room);
      const live = this.#live(current);
      // A lost race means someone else just refreshed it: nothing to do.
      if (live !== null) await this.#writeVerifier(room, current, live);
    })().catch((error) => console.error(`signal: refreshing the verifier of room ${room} failed`, error));
    this.#refreshing.add(task);
    task.finally(() => this.#refreshing.delete(task));
  }

  /** Waits for background verifier refreshes (before the KV closes). */
  async flush(): Promise<void> {
    while (this.#refreshing.size > 0) await Promise.allSettled([...this.#refreshing]);
  }
}
