/**
 * The key book: authors' public keys, so messages travel without them (a
 * raw P-256 key is 87 base64url characters, more than a typical chat line).
 * A receiver finds an author's key here, and otherwise recovers it from the
 * message's own signature (`key_recovery.ts`): the candidate whose hash is
 * the author's member id. Either way the signer verifies the signature with
 * the key found; the book only remembers keys that verified (and, after a
 * reload, keys of stored messages as hints, dropped at their first failure).
 *
 * Recovery costs a few milliseconds, so it runs once per author at a time
 * (messages of one author wait for one recovery) and each sending session
 * gets a bounded number per second: a member sending forged messages under
 * made-up authors cannot keep a receiver busy. A message refused for want of
 * a key is not acknowledged, so its sender (or history sync) offers it again.
 * @module
 */
import { encodeBase64Url } from "../../protocol/mod.ts";
import { fromBase64Url } from "../crypto.ts";
import { recoverPublicKeys } from "./key_recovery.ts";
import { memberIdOf, type SignedFields, signingText } from "./signer.ts";

/** Authors whose keys are kept (a room's members over its life; the digest allows 4,096 writers). */
export const MAX_KEYS = 4_096;
/** Recoveries one sending session may start at once. */
export const RECOVERY_BURST = 64;
/** Recoveries per second one sending session earns back. */
export const RECOVERIES_PER_SECOND = 16;
/** Sending sessions whose recovery allowance is remembered. */
const MAX_SENDERS = 256;

/** A key the book holds. */
export interface KnownKey {
  /** base64url raw public key. */
  pk: string;
  /** True once a message verified with it; false for a hint read from the store. */
  verified: boolean;
}

/** What a recovery found: the author's key, none (the signature is not the author's), or no try (over allowance). */
export type Recovered = { pk: string } | { pk: undefined; reason: "forged" | "throttled" };

/** Options of a {@link KeyBook}. */
export interface KeyBookOptions {
  /** The room the signatures are bound to. */
  room: string;
  /** The clock, for the recovery allowance. */
  now: () => number;
}

/** Authors' public keys, learned from verified messages and recovered from signatures. */
export class KeyBook {
  #room: string;
  #now: () => number;
  #keys = new Map<string, KnownKey>();
  #recovering = new Map<string, Promise<string | undefined>>();
  #allowance = new Map<string, { tokens: number; at: number }>();

  /** An empty book for one room. */
  constructor(options: KeyBookOptions) {
    this.#room = options.room;
    this.#now = options.now;
  }

  /** The key held for `author`, if any. */
  known(author: string): KnownKey | undefined {
    return this.#keys.get(author);
  }

  /** Remembers the key a message of `author` verified with. */
  learn(author: string, pk: string): void {
    this.#set(author, { pk, verified: true });
  }

  /** Remembers a key read from the store, until a message shows it wrong. */
  hint(author: string, pk: string): void {
    if (!this.#keys.has(author)) this.#set(author, { pk, verified: false });
  }

  /** Drops a hint that failed to verify a message. */
  forget(author: string): void {
    if (this.#keys.get(author)?.verified === false) this.#keys.delete(author);
  }

  /**
   * Recovers the key of `m.author` from its signature, as sent by session
   * `from` (whose allowance it spends). The key returned hashes to the author:
   * it is the author's or there is none; the caller still verifies with it.
   */
  async recover(m: SignedFields & { sig: string }, from: string): Promise<Recovered> {
    const running = this.#recovering.get(m.author);
    if (running) {
      const pk = await running;
      if (pk !== undefined) return { pk };
    }
    if (!this.#spend(from)) return { pk: undefined, reason: "throttled" };
    const work = this.#recover(m);
    this.#recovering.set(m.author, work);
    try {
      const pk = await work;
      return pk === undefined ? { pk: undefined, reason: "forged" } : { pk };
    } finally {
      if (this.#recovering.get(m.author) === work) this.#recovering.delete(m.author);
    }
  }

  async #recover(m: SignedFields & { sig: string }): Promise<string | undefined> {
    const sig = fromBase64Url(m.sig);
    if (!sig) return undefined;
    const text = new TextEncoder().encode(signingText(this.#room, m));
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", text));
    for (const raw of recoverPublicKeys(hash, sig)) {
      if (await memberIdOf(raw) === m.author) return encodeBase64Url(raw);
    }
    return undefined;
  }

  #spend(from: string): boolean {
    const now = this.#now();
    let bucket = this.#allowance.get(from);
    if (!bucket) {
      if (this.#allowance.size >= MAX_SENDERS) this.#allowance.delete(this.#allowance.keys().next().value!);
      bucket = { tokens: RECOVERY_BURST, at: now };
      this.#allowance.set(from, bucket);
    }
    bucket.tokens = Math.min(
      RECOVERY_BURST,
      bucket.tokens + Math.max(0, now - bucket.at) * RECOVERIES_PER_SECOND / 1000,
    );
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }

  #set(author: string, key: KnownKey): void {
    this.#keys.delete(author);
    if (this.#keys.size >= MAX_KEYS) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.set(author, key);
  }
}
