/**
 * Message authorship: the contract's `MessageSigner` (implemented with the
 * member's persisted key in `lib/client/identity.ts`), the exact text that is
 * signed, and a signer over an in-memory key for tests and for a shell that
 * has no persisted identity yet.
 *
 * `author` = member id = base64url(first 16 bytes of SHA-256(raw public key));
 * `pk` = base64url(raw 65-byte P-256 public key); `sig` = base64url(raw
 * 64-byte ECDSA P-256/SHA-256 signature) over UTF-8(JSON.stringify(
 * ["parley-msg-v1", room, id, author, order, time, body, to ?? null])).
 * @module
 */
import { encodeBase64Url } from "../../protocol/mod.ts";
import { fromBase64Url } from "../crypto.ts";

/** The signed fields of a message. */
export interface SignedFields {
  /** Message id. */
  id: string;
  /** Author's member id. */
  author: string;
  /** Order key. */
  order: string;
  /** Author's wall-clock time of writing. */
  time: number;
  /** Plaintext body. */
  body: string;
  /** The one receiving peer of a direct message. */
  to?: string;
}

/** A message's signature fields. */
export interface Signature {
  /** base64url raw public key (87 characters). */
  pk: string;
  /** base64url raw ECDSA signature (86 characters). */
  sig: string;
}

/** Signs own messages and verifies peers' (lib/client/courier/ declares it; lib/client/identity.ts implements it). */
export interface MessageSigner {
  /** Own member id: the author of own messages. */
  readonly member: string;
  /** Signs an own message; returns the fields to add. */
  sign(m: SignedFields): Promise<Signature>;
  /** Whether a peer's message is authentic: pk hashes to author and sig verifies. Never throws. */
  verify(m: SignedFields & Signature): Promise<boolean>;
}

/** Bytes of a member id: the first 16 bytes of SHA-256 of the raw public key. */
const MEMBER_ID_BYTES = 16;
/** A raw uncompressed P-256 public key. */
const RAW_PUBLIC_KEY_BYTES = 65;
/** A raw P-256 signature (r ‖ s). */
const RAW_SIGNATURE_BYTES = 64;
/** Imported public keys kept for verification, so a busy room does not re-import them. */
const KEY_CACHE_SIZE = 256;

const ECDSA_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const encoder = new TextEncoder();

/** The exact text a message signature covers (the contract's canonical form). */
export function signingText(room: string, m: SignedFields): string {
  return JSON.stringify(["parley-msg-v1", room, m.id, m.author, m.order, m.time, m.body, m.to ?? null]);
}

/** The member id of a raw public key. */
export async function memberIdOf(rawPublicKey: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", rawPublicKey as Uint8Array<ArrayBuffer>));
  return encodeBase64Url(hash.subarray(0, MEMBER_ID_BYTES));
}

/** A verifier shared by signers: checks key hash and signature, caching imported keys. */
export class SignatureVerifier {
  #room: string;
  #keys = new Map<string, Promise<{ member: string; key: CryptoKey } | null>>();

  /** A verifier for one room's messages. */
  constructor(room: string) {
    this.#room = room;
  }

  /** Whether `m` is authentic: `pk` hashes to `author` and `sig` verifies. Never throws. */
  async verify(m: SignedFields & Signature): Promise<boolean> {
    try {
      const imported = await this.#key(m.pk);
      if (!imported || imported.member !== m.author) return false;
      const sig = fromBase64Url(m.sig);
      if (!sig || sig.length !== RAW_SIGNATURE_BYTES) return false;
      return await crypto.subtle.verify(ECDSA_SIGN, imported.key, sig, encoder.encode(signingText(this.#room, m)));
    } catch {
      return false;
    }
  }

  #key(pk: string): Promise<{ member: string; key: CryptoKey } | null> {
    let found = this.#keys.get(pk);
    if (!found) {
      found = importPublic(pk);
      if (this.#keys.size >= KEY_CACHE_SIZE) this.#keys.delete(this.#keys.keys().next().value!);
      this.#keys.set(pk, found);
    }
    return found;
  }
}

async function importPublic(pk: string): Promise<{ member: string; key: CryptoKey } | null> {
  const raw = typeof pk === "string" ? fromBase64Url(pk) : undefined;
  if (!raw || raw.length !== RAW_PUBLIC_KEY_BYTES) return null;
  try {
    const key = await crypto.subtle.importKey("raw", raw, ECDSA_KEY, false, ["verify"]);
    return { member: await memberIdOf(raw), key };
  } catch {
    return null;
  }
}

/**
 * A {@link MessageSigner} over a key pair held in memory (generated when not
 * given): the member id lasts as long as the key. For tests, and for a shell
 * without a persisted identity (own messages then stay own through their
 * stored status, but another tab is another member).
 */
export async function createMemorySigner(room: string, keys?: CryptoKeyPair): Promise<MessageSigner> {
  const pair = keys ?? await crypto.subtle.generateKey(ECDSA_KEY, false, ["sign", "verify"]);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const pk = encodeBase64Url(raw);
  const member = await memberIdOf(raw);
  const verifier = new SignatureVerifier(room);
  return {
    member,
    async sign(m) {
      const sig = await crypto.subtle.sign(ECDSA_SIGN, pair.privateKey, encoder.encode(signingText(room, m)));
      return { pk, sig: encodeBase64Url(new Uint8Array(sig)) };
    },
    verify: (m) => verifier.verify(m),
  };
}
