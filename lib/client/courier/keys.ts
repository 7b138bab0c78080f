/**
 * The key book: authors' public keys, so messages travel without them (a
 * raw P-256 key is 87 base64url characters, more than a typical chat line).
 * A receiver finds an author's key here, and otherwise recovers it from the
 * message's own signature (`key_recovery.ts`): the candidate whose hash is
 * the author's member id. Either way the signer verifies the signature with
 * the key found; the book only remembers keys that verified, and takes keys
 * of stored messages (read at load) as hints, dropped at their first failure.
 *
 * Recovery costs a few milliseconds, so it runs once per author at a time
 * (messages of one author wait for one recovery) and each sending session
 * gets a bounded number per second: a member sending forged messages under
 * made-up authors cannot keep a receiver busy. A message refused for want of
 * a key is not acknowledged, so its sender (or history sync) offers it again.
 *
 * This module and the recovery code are part of the room's first module (the
 * first message of another author needs them); what it needs of the signer
 * comes in its options.
 * @module
 */
import { recoverPublicKeys } from "./key_recovery.ts";
import type { SignedFields } from "./signer.ts";
import { fromBase64Url } from "../crypto.ts";
import { encodeBase64Url } from "../../protocol/ids.ts";
import { Allowance } from "./allowance.ts";

/** Authors whose keys are kept (a room's members over its life; the digest allows 4,096 writers). */
export const MAX_KEYS = 4_096;
/** Recoveries one sending session may start at once. */
export const RECOVERY_BURST = 64;
/** Recoveries per second one sending session earns back. */
export const RECOVERIES_PER_SECOND = 16;

/** A key the book holds. */
export interface KnownKey {
  /** base64url raw public key. */
  pk: string;
  /** True once a message verified with it; false for a hint (a stored message's key). */
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
  /** The exact text a message signature covers (`signer.ts`). */
  signingText: (room: string, m: SignedFields) => string;
  /** The member id of a raw public key (`signer.ts`). */
  memberIdOf: (raw: Uint8Array) => Promise<string>;
  /** Keys of stored messages by author, read at load: hints, shared with the courier that fills them. */
  hints?: Map<string, string>;
}

/** Authors' public keys, learned from verified messages and recovered from signatures. */
export class KeyBook {
  #o: KeyBookOptions;
  #hints: Map<string, string>;
  #keys = new Map<string, string>();
  #recovering = new Map<string, Promise<string | undefined>>();
  #allowance: Allowance;

  /** A book for one room, starting from its hints. */
  constructor(options: KeyBookOptions) {
    this.#o = options;
    this.#hints = options.hints ?? new Map();
    this.#allowance = new Allowance({ burst: RECOVERY_BURST, perSecond: RECOVERIES_PER_SECOND, now: options.now });
  }

  /** The key held for `author`, if any. */
  known(author: string): KnownKey | undefined {
    const pk = this.#keys.get(author);
    if (pk !== undefined) return { pk, verified: true };
    const hint = this.#hints.get(author);
    return hint === undefined ? undefined : { pk: hint, verified: false };
  }

  /** Remembers the key a message of `author` verified with. */
  learn(author: string, pk: string): void {
    this.#keys.delete(author);
    if (this.#keys.size >= MAX_KEYS) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.set(author, pk);
    this.#hints.delete(author);
  }

  /** Drops a hint that failed to verify a message. */
  forget(author: string): void {
    this.#hints.delete(author);
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
    if (!this.#allowance.take(from)) return { pk: undefined, reason: "throttled" };
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
    const text = new TextEncoder().encode(this.#o.signingText(this.#o.room, m));
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", text));
    for (const raw of recoverPublicKeys(hash, sig)) {
      if (await this.#o.memberIdOf(raw) === m.author) return encodeBase64Url(raw);
    }
    return undefined;
  }
}
