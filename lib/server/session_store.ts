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
 * - `[ns, "p", room, ""]` → the room's seat counter: every new peer's presence is written in one
 *   atomic with a bump of it, checked against the version read with the roster, so simultaneous
 *   joins (on any instances) cannot all see a free seat. It sorts first in the room's presence
 *   list (peer ids are never empty), so reading the roster reads it too: no extra round trip.
 * - `[ns, "v", room]` → verifier: SHA-256 of the first peer's admission proof.
 * @module
 */
import { encodeBase64Url } from "../protocol/ids.ts";
import type { Presence } from "../protocol/frames.ts";
import { jitteredPause } from "./jitter.ts";
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
  /** Random source in [0, 1) for backoff jitter, injectable for tests. */
  random?: () => number;
}

/** A seat claimed in a room: the new presence's versionstamp and the roster it was checked against. */
export interface SeatClaim {
  /** Versionstamp of the presence written. */
  versionstamp: string;
  /** The room's other peers whose presence still counts, as read for the check. */
  roster: RosterRecord[];
}

/** A presence to renew, only if it is still the one this instance wrote. */
export interface Renewal {
  /** The room id. */
  room: string;
  /** The peer id. */
  peer: string;
  /** The renewed entry. */
  record: PresenceRecord;
  /** Versionstamp of this instance's last write of the entry. */
  versionstamp: string;
}

/** KV allows 1000 mutations per atomic; presence batches stay far below. */
const BATCH = 200;
/** The key part of a room's seat counter, in place of a peer id. */
const SEAT = "";
/** Attempts at claiming a seat before giving up, when other joins keep winning the race. */
const SEAT_ATTEMPTS = 32;
/** Backoff between seat attempts. */
const SEAT_PAUSE = { firstMs: 1, maxMs: 100 };

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
  #random: () => number;

  /** Uses `kv`, which the caller owns. */
  constructor(kv: Deno.Kv, options: SessionStoreOptions) {
    this.#kv = kv;
    this.#ns = options.namespace ?? "signal";
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** A peer's presence if it still counts (not past `until`), with its versionstamp. */
  async presence(room: string, peer: string): Promise<RosterRecord | null> {
    const entry = await retryKvBusy(() => this.#kv.get<PresenceRecord>([this.#ns, "p", room, peer]));
    if (!entry.value || entry.value.until <= this.#now()) return null;
    return { ...entry.value, peer, versionstamp: entry.versionstamp! };
  }

  /** Every peer of a room whose presence still counts. */
  async roster(room: string): Promise<RosterRecord[]> {
    return (await retryKvBusy(() => this.#readRoom(room))).roster;
  }

  /** A room's live presences and its seat counter, in one list. */
  async #readRoom(room: string): Promise<{ roster: RosterRecord[]; seat: Deno.KvEntryMaybe<number> }> {
    const now = this.#now();
    const roster: RosterRecord[] = [];
    const seatKey = [this.#ns, "p", room, SEAT];
    let seat: Deno.KvEntryMaybe<number> = { key: seatKey, value: null, versionstamp: null };
    for await (const entry of this.#kv.list<PresenceRecord | number>({ prefix: [this.#ns, "p", room] })) {
      const peer = entry.key[3] as string;
      if (peer === SEAT) {
        seat = entry as Deno.KvEntry<number>;
        continue;
      }
      const value = entry.value as PresenceRecord;
      if (value.until > now) roster.push({ ...value, peer, versionstamp: entry.versionstamp });
    }
    return { roster, seat };
  }

  /**
   * Writes a new peer's presence if the room has fewer than `maxPeers` other
   * peers whose presence counts; null when it is full. The write is checked
   * against the room's seat counter as read with the roster, so joins racing
   * on any instances are serialised by KV: at most `maxPeers` ever pass.
   */
  async claimSeat(room: string, peer: string, record: PresenceRecord, maxPeers: number): Promise<SeatClaim | null> {
    const key = [this.#ns, "p", room, peer];
    for (let attempt = 0; attempt < SEAT_ATTEMPTS; attempt++) {
      const { roster, seat } = await retryKvBusy(() => this.#readRoom(room));
      const others = roster.filter((entry) => entry.peer !== peer);
      if (others.length >= maxPeers) return null;
      const result = await retryKvBusy(() =>
        this.#kv.atomic()
          .check(seat)
          .set(seat.key, (seat.value ?? 0) + 1, { expireIn: this.#ttlMs })
          .set(key, record, { expireIn: Math.max(1000, record.until - this.#now()) })
          .commit()
      );
      if (result.ok) return { versionstamp: result.versionstamp, roster: others };
      await new Promise((resolve) => setTimeout(resolve, jitteredPause(attempt, SEAT_PAUSE, this.#random)));
    }
    throw new Error(`claiming a seat in room ${room} lost the race ${SEAT_ATTEMPTS} times`);
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

  /**
   * Renews presences in few atomics, each entry only if it is still the one
   * this instance wrote (`versionstamp`): a renewal must not resurrect a peer
   * marked away meanwhile, nor overwrite a resume on another instance. Returns
   * each one's new versionstamp, or null for an entry that changed.
   */
  async renewPresences(items: Renewal[]): Promise<(string | null)[]> {
    const out: (string | null)[] = [];
    for (let i = 0; i < items.length; i += BATCH) {
      const batch = items.slice(i, i + BATCH);
      const now = this.#now();
      const result = await retryKvBusy(() => {
        const atomic = this.#kv.atomic();
        for (const { room, peer, record, versionstamp } of batch) {
          const key = [this.#ns, "p", room, peer];
          atomic.check({ key, versionstamp }).set(key, record, { expireIn: Math.max(1000, record.until - now) });
        }
        return atomic.commit();
      });
      if (result.ok) {
        for (let j = 0; j < batch.length; j++) out.push(result.versionstamp);
        continue;
      }
      // Some entry changed (rare): renew the batch one by one to find which.
      for (const { room, peer, record, versionstamp } of batch) {
        const key = [this.#ns, "p", room, peer];
        const one = await retryKvBusy(() =>
          this.#kv.atomic().check({ key, versionstamp })
            .set(key, record, { expireIn: Math.max(1000, record.until - this.#now()) }).commit()
        );
        out.push(one.ok ? one.versionstamp : null);
      }
    }
    return out;
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
