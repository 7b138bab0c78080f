/**
 * Sessions, presence and room verifiers in Deno KV, so that a peer can
 * resume on any instance and every instance sees the same roster.
 *
 * Layout (prefix `ns`, default "signal"):
 * - `[ns, "p", room, peer]` → `{ state, inst, until, h, m, g }`: presence, which is also the session:
 *   `until` is when it stops counting (online: a lease the owning instance renews; away: the end
 *   of the resume window), `h` the SHA-256 of the session token (the token itself is never
 *   stored), `m` the member id, `g` the seat tag of its address group (`seat_policy.ts`). A token starts with its peer id, so resuming reads one key. One entry per peer
 *   keeps KV (and the memory its cache takes) small.
 * - `[ns, "p", room, ""]` → the room's seat counter: every new peer's presence is written in one
 *   atomic with a bump of it, checked against the version read with the roster, so simultaneous
 *   joins (on any instances) cannot all see a free seat. It sorts first in the room's presence
 *   list (peer ids are never empty), so reading the roster reads it too: no extra round trip.
 * - `[ns, "a", room]` → `{ v, until }`: the room's admission verifier `v` (= the admission key A,
 *   base64url; see lib/protocol/admission.ts) and when it stops counting. It lives as long as the
 *   room: every join and resume refreshes it, and so do appends and presence lease renewals
 *   (throttled to one write per room per refresh interval), each to the room's retention plus
 *   that interval, so it always outlives the room's newest log entry and presence.
 *
 * Verifiers in force are remembered (a bounded number of rooms, each only while it is in force):
 * a verifier in force never changes, so a hello is checked without a KV read, and a join's
 * refresh writes only when the last one is older than the refresh interval. A flood of hellos
 * (wrong proofs, or joins and leaves) then costs the KV nothing.
 * @module
 */
import type { Presence } from "../protocol/frames.ts";
import { jitteredPause } from "./jitter.ts";
import { hashTokenNow } from "./server_crypto.ts";
import { retryKvBusy } from "./kv_busy.ts";
import { decideSeat } from "./seat_policy.ts";

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
  /** The seat tag of the peer's address group in this room (`seat_policy.ts`), for sharing a full room fairly. */
  g?: string;
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
  /** The room's other peers whose presence still counts, as read for the check (without `yielded`). */
  roster: RosterRecord[];
  /** The session whose seat the new peer took (its presence is deleted in the same atomic), if the room was full. */
  yielded?: RosterRecord;
}

/** A room's peers and its seat counter, as read together (see `SessionStore.seats`). */
export interface RoomSeats {
  /** Every peer of the room whose presence still counts. */
  roster: RosterRecord[];
  /** The room's seat counter entry (value null when there is none yet). */
  seat: Deno.KvEntryMaybe<number>;
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
/** Characters of the peer id a session token starts with (hub.ts makes tokens: `PEER_ID_CHARS`). */
const TOKEN_PEER_CHARS = 12;
/** Longest interval between two refreshes of a busy room's verifier: one KV write per room per 10 min at most. */
const MAX_VERIFIER_REFRESH_MS = 600_000;
/** Rooms remembered by the refresh throttle before old entries are swept. */
const THROTTLE_SWEEP_AT = 4_096;
/** Verifiers in force remembered, by room (the least recently stored go first). */
const VERIFIER_CACHE_ROOMS = 4_096;

/** A stored verifier. */
interface VerifierRecord {
  /** The verifier: the room's admission key A, base64url. */
  v: string;
  /** When it stops counting, ms since the epoch (KV expiry is lazy, so reads check this). */
  until: number;
}

/** Hashes a session token for its KV key: a KV leak never yields usable tokens (synchronous SHA-256 inside). */
export function hashToken(token: string): Promise<string> {
  return Promise.resolve(hashTokenNow(token));
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
  #random: () => number;
  /** How often activity may refresh a room's verifier; also the margin it outlives the room's retention by. */
  #refreshMs: number;
  /** Rooms whose verifier activity refreshed lately: room → when. */
  #refreshed = new Map<string, number>();
  /** When the throttle last forgot rooms that no longer need it. */
  #swept = 0;
  /** Background refreshes in flight, so shutdown can wait for them before the KV closes. */
  #refreshing = new Set<Promise<void>>();
  /** Verifiers in force as last read or written, by room: one in force never changes until its `until`. */
  #verifiers = new Map<string, VerifierRecord>();

  /** Uses `kv`, which the caller owns. */
  constructor(kv: Deno.Kv, options: SessionStoreOptions) {
    this.#kv = kv;
    this.#ns = options.namespace ?? "signal";
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
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
    return (await retryKvBusy(() => this.#readRoom(room))).roster;
  }

  /**
   * A room's peers whose presence counts and its seat counter, in one list: what the hub checks
   * the room's limit against before a join's first write, then hands to `claimSeat`.
   */
  seats(room: string): Promise<RoomSeats> {
    return retryKvBusy(() => this.#readRoom(room));
  }

  async #readRoom(room: string): Promise<RoomSeats> {
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
   * Writes a new peer's presence if the room has a seat for it: fewer than
   * `maxPeers` other peers whose presence counts, or a seat that the fair
   * share of a full room gives it (`seat_policy.ts`: the displaced session's
   * presence is deleted in the same atomic, checked against its version); null
   * when there is none. The write is checked against the room's seat counter as
   * read with the roster, so joins racing on any instances are serialised by KV:
   * at most `maxPeers` ever pass. `seen`: the room as `seats` just read it, so
   * the first attempt reads nothing. The new peer's seat tag is `record.g`.
   */
  async claimSeat(
    room: string,
    peer: string,
    record: PresenceRecord,
    maxPeers: number,
    seen?: RoomSeats,
  ): Promise<SeatClaim | null> {
    const key = [this.#ns, "p", room, peer];
    for (let attempt = 0; attempt < SEAT_ATTEMPTS; attempt++) {
      const { roster, seat } = attempt === 0 && seen ? seen : await this.seats(room);
      const others = roster.filter((entry) => entry.peer !== peer);
      const decision = decideSeat(others, record.g ?? "", maxPeers);
      if (decision.kind === "full") return null;
      const yielded = decision.kind === "yield" ? decision.holder : undefined;
      const result = await retryKvBusy(() => {
        const atomic = this.#kv.atomic().check(seat);
        if (yielded) {
          const held = [this.#ns, "p", room, yielded.peer];
          atomic.check({ key: held, versionstamp: yielded.versionstamp }).delete(held);
        }
        return atomic
          .set(seat.key, (seat.value ?? 0) + 1, { expireIn: this.#ttlMs })
          .set(key, record, { expireIn: Math.max(1000, record.until - this.#now()) })
          .commit();
      });
      if (result.ok) {
        return { versionstamp: result.versionstamp, roster: others.filter((entry) => entry !== yielded), yielded };
      }
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
    // Peers still connected (or away) keep their rooms alive, verifiers included.
    for (const item of items) this.keepRoom(item.room);
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
    if (result.ok) {
      this.#refreshed.set(room, now);
      this.#remember(room, { v: verifier, until: now + life });
    }
    return result.ok;
  }

  async #readVerifier(room: string): Promise<Deno.KvEntryMaybe<VerifierRecord>> {
    const entry = await retryKvBusy(() => this.#kv.get<VerifierRecord>(this.#verifierKey(room)));
    if (this.#live(entry) !== null) this.#remember(room, entry.value!);
    return entry;
  }

  /** Remembers a verifier in force. */
  #remember(room: string, record: VerifierRecord): void {
    this.#verifiers.delete(room);
    this.#verifiers.set(room, record);
    if (this.#verifiers.size > VERIFIER_CACHE_ROOMS) this.#verifiers.delete(this.#verifiers.keys().next().value!);
  }

  /** The remembered verifier of a room while it is in force, else undefined. */
  #remembered(room: string): VerifierRecord | undefined {
    const record = this.#verifiers.get(room);
    if (record === undefined) return undefined;
    if (record.until > this.#now()) return record;
    this.#verifiers.delete(room);
    return undefined;
  }

  #live(entry: Deno.KvEntryMaybe<VerifierRecord>): string | null {
    return entry.value !== null && entry.value.until > this.#now() ? entry.value.v : null;
  }

  /** Whether the room's verifier in force is remembered: {@link SessionStore.verifier} answers without a KV read. */
  knowsVerifier(room: string): boolean {
    return this.#remembered(room) !== undefined;
  }

  /**
   * The room's verifier in force, or null when none is (never registered, or expired with the room).
   * A verifier in force never changes, so one remembered is answered without a KV read.
   */
  async verifier(room: string): Promise<string | null> {
    const remembered = this.#remembered(room);
    if (remembered !== undefined) return remembered.v;
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

  /**
   * Gives the room's verifier a full life again if it is still `verifier`; false when another one
   * is in force. Nothing is written when it was given one within the refresh interval (it then
   * still outlives the room's retention).
   */
  async refreshVerifier(room: string, verifier: string): Promise<boolean> {
    const remembered = this.#remembered(room);
    if (remembered?.v === verifier && remembered.until - this.#now() >= this.#ttlMs) return true;
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
