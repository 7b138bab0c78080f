/**
 * Message authorship, in one place: the contract's `MessageSigner`, the exact
 * bytes a message signature covers, the verifier every signer shares, and the
 * signer over a key pair (the member's persisted one in
 * `lib/client/identity.ts`, or one held in memory by tests).
 *
 * `author` = member id = base64url(first 16 bytes of SHA-256(raw public key))
 * (`memberIdOf` of `lib/protocol/admission.ts`, which the server uses too);
 * `pk` = base64url(raw 65-byte P-256 public key); `sig` = base64url(raw
 * 64-byte ECDSA P-256/SHA-256 signature) over UTF-8(JSON.stringify(
 * ["parley-msg-v1", room, id, author, order, time, body, to ?? null])).
 * Verification never throws: anything malformed is simply not authentic.
 * @module
 */
import { encodeBase64Url, memberIdOf } from "../../protocol/mod.ts";
import { fromBase64Url } from "../crypto.ts";

export { memberIdOf };

/** Characters of a member id (base64url of 16 bytes). */
export const MEMBER_ID_CHARS = 22;
/** Bytes of a raw uncompressed P-256 public key (0x04 ‖ x ‖ y). */
export const PUBLIC_KEY_BYTES = 65;
/** Characters of a raw public key in base64url. */
export const PUBLIC_KEY_CHARS = 87;
/** Bytes of a raw (IEEE P1363) ECDSA P-256 signature, as WebCrypto makes it. */
export const SIGNATURE_BYTES = 64;
/** Characters of a signature in base64url. */
export const SIGNATURE_CHARS = 86;
/** Domain tag of message signatures; bump to change the signed bytes. */
export const MESSAGE_SIGNATURE_TAG = "parley-msg-v1";
/** Public keys kept imported for verification, the least recently used dropped first. */
export const VERIFY_KEY_CACHE = 256;

const ECDSA_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const MEMBER_ID = /^[A-Za-z0-9_-]{22}$/;
const encoder = new TextEncoder();

/** The signed fields of a message. */
export interface SignedFields {
  /** Message id. */
  id: string;
  /** Author's member id. */
  author: string;
  /** Order key. */
  order: string;
  /** Author's wall-clock time of writing, ms since the epoch. */
  time: number;
  /** Plaintext body. */
  body: string;
  /** The one receiving peer of a direct message; absent for the whole room. */
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

/** A {@link MessageSigner} over a key pair, with the public key it signs with. */
export interface KeySigner extends MessageSigner {
  /** base64url raw public key (87 characters): the `pk` of every signature. */
  readonly publicKey: string;
}

/** The exact text a message signature covers (the contract's canonical form). */
export function signingText(room: string, m: SignedFields): string {
  return JSON.stringify([MESSAGE_SIGNATURE_TAG, room, m.id, m.author, m.order, m.time, m.body, m.to ?? null]);
}

/** The exact bytes a message signature covers: UTF-8 of {@link signingText}. */
export function messageSigningBytes(room: string, m: SignedFields): Uint8Array<ArrayBuffer> {
  return encoder.encode(signingText(room, m));
}

/** A new ECDSA P-256 key pair whose private key can sign but never be exported. */
export async function generateMemberKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(ECDSA_KEY, false, ["sign", "verify"]);
}

/** Verifies signed messages of one room, keeping recently seen public keys imported. */
export class SignatureVerifier {
  #room: string;
  /** pk text → imported key and the member id it hashes to; insertion order is recency. */
  #keys = new Map<string, Promise<{ key: CryptoKey; member: string } | null>>();

  /** A verifier for messages of `room`. */
  constructor(room: string) {
    this.#room = room;
  }

  /** Whether `m` is authentic: well-formed, `pk` hashes to `author`, and `sig` verifies over its fields. Never throws. */
  async verify(m: SignedFields & Signature): Promise<boolean> {
    try {
      if (!isSignedShape(m)) return false;
      const sig = fromBase64Url(m.sig);
      if (!sig || sig.length !== SIGNATURE_BYTES) return false;
      const known = await this.#publicKey(m.pk);
      if (!known || known.member !== m.author) return false;
      return await crypto.subtle.verify(ECDSA_SIGN, known.key, sig, messageSigningBytes(this.#room, m));
    } catch {
      // A peer's bytes made WebCrypto throw: by definition not an authentic message.
      return false;
    }
  }

  #publicKey(pk: string): Promise<{ key: CryptoKey; member: string } | null> {
    let entry = this.#keys.get(pk);
    if (entry) {
      this.#keys.delete(pk);
    } else {
      entry = importPublicKey(pk);
      if (this.#keys.size >= VERIFY_KEY_CACHE) this.#keys.delete(this.#keys.keys().next().value!);
    }
    this.#keys.set(pk, entry);
    return entry;
  }
}

/** Imports a raw public key and derives its member id; null when it is not a P-256 point. */
async function importPublicKey(pk: string): Promise<{ key: CryptoKey; member: string } | null> {
  const raw = pk.length === PUBLIC_KEY_CHARS ? fromBase64Url(pk) : undefined;
  if (!raw || raw.length !== PUBLIC_KEY_BYTES || raw[0] !== 0x04) return null;
  try {
    const key = await crypto.subtle.importKey("raw", raw, ECDSA_KEY, true, ["verify"]);
    return { key, member: await memberIdOf(raw) };
  } catch {
    // Not a point on the curve.
    return null;
  }
}

/** Whether every signed field has the type and form the contract gives it. */
function isSignedShape(m: unknown): m is SignedFields & Signature {
  if (typeof m !== "object" || m === null) return false;
  const r = m as Record<string, unknown>;
  return typeof r.id === "string" && typeof r.author === "string" && MEMBER_ID.test(r.author) &&
    typeof r.order === "string" && typeof r.time === "number" && Number.isFinite(r.time) &&
    typeof r.body === "string" && (r.to === undefined || typeof r.to === "string") &&
    typeof r.pk === "string" && r.pk.length === PUBLIC_KEY_CHARS &&
    typeof r.sig === "string" && r.sig.length === SIGNATURE_CHARS;
}

/**
 * The {@link MessageSigner} of a key pair in `room`. It signs only as its own
 * member (signing as someone else is a bug in the caller, never a peer's
 * doing: it throws), unless `anyAuthor` is set, which only tests do to write
 * forgeries.
 */
export async function keySigner(room: string, keys: CryptoKeyPair, anyAuthor = false): Promise<KeySigner> {
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
  const member = await memberIdOf(raw);
  const publicKey = encodeBase64Url(raw);
  const verifier = new SignatureVerifier(room);
  return {
    member,
    publicKey,
    async sign(m) {
      if (!anyAuthor && m.author !== member) {
        throw new Error(`cannot sign for author ${m.author}: own member is ${member}`);
      }
      const sig = await crypto.subtle.sign(ECDSA_SIGN, keys.privateKey, messageSigningBytes(room, m));
      return { pk: publicKey, sig: encodeBase64Url(new Uint8Array(sig)) };
    },
    verify: (m) => verifier.verify(m),
  };
}

/**
 * A {@link MessageSigner} over a key pair held in memory (generated when not
 * given) that signs whatever author it is told: for tests, which write
 * forgeries with it. The member id lasts as long as the key.
 */
export async function createMemorySigner(room: string, keys?: CryptoKeyPair): Promise<MessageSigner> {
  return await keySigner(room, keys ?? await generateMemberKeys(), true);
}
