/**
 * Member identity: per device and room, an ECDSA P-256 key pair from
 * WebCrypto. The private key is non-extractable (page scripts can sign with
 * it, never read it), kept in the {@link Store} (IndexedDB holds CryptoKeys as
 * they are), and in memory only when storage fails. The member id is
 * base64url(first 16 bytes of SHA-256(raw public key)): 22 characters, the
 * same in every tab of one browser, so tabs are sessions of one member.
 *
 * The key signs two things (see CONTRACT "Member identity" and "Signed messages"):
 * - `hello.member`: proof of possession over `"parley-member\n" + room + "\n" + nonce`;
 * - every own message, over the canonical JSON array of its fields ({@link messageSigningBytes}).
 * Verification never throws: anything malformed is simply not authentic.
 * @module
 */
import { encodeBase64Url } from "../protocol/mod.ts";
import { fromBase64Url } from "./crypto.ts";
import type { Store } from "./store.ts";

/** Bytes of a member id: the first 128 bits of SHA-256 of the raw public key. */
export const MEMBER_ID_BYTES = 16;
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
/** Domain tag of the member proof in `hello`. */
export const MEMBER_PROOF_TAG = "parley-member";
/** Public keys kept imported for verification, most recent first out last. */
export const VERIFY_KEY_CACHE = 256;

const ECDSA_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const MEMBER_ID = /^[A-Za-z0-9_-]{22}$/;
const encoder = new TextEncoder();

/** The fields of a message that its signature covers. */
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

/** The signature fields a signed message carries. */
export interface MessageSignature {
  /** base64url of the author's raw public key (87 chars). */
  pk: string;
  /** base64url of the raw ECDSA P-256/SHA-256 signature (86 chars). */
  sig: string;
}

/**
 * Signs own messages and verifies peers' (CONTRACT "Signed messages"; the
 * courier declares the same shape and receives an implementation of it).
 */
export interface MessageSigner {
  /** Own member id: the author of own messages. */
  readonly member: string;
  /** Signs an own message; returns the fields to add. */
  sign(m: SignedFields): Promise<MessageSignature>;
  /** Whether a peer's message is authentic: pk hashes to author and sig verifies. Never throws. */
  verify(m: SignedFields & MessageSignature): Promise<boolean>;
}

/** `hello.member`: the public key and a signature over the server's nonce. */
export interface MemberProof {
  /** base64url raw public key (87 chars). */
  key: string;
  /** base64url raw signature over `"parley-member\n" + room + "\n" + nonce` (86 chars). */
  sig: string;
}

/** This device's identity in one room. */
export interface MemberIdentity {
  /** The room the identity (and its signer) is bound to. */
  readonly room: string;
  /** The member id, 22 base64url chars. */
  readonly member: string;
  /** base64url raw public key (87 chars). */
  readonly publicKey: string;
  /** Whether the key pair is stored (false: it lives in memory and a reload makes a new member). */
  readonly persistent: boolean;
  /** Signs and verifies messages of this room. */
  readonly signer: MessageSigner;
  /** The proof of possession for `hello.member`, over the server's nonce. */
  memberProof(nonce: string): Promise<MemberProof>;
}

/** Runs `fn` while holding an exclusive lock named `name` across tabs (the Web Locks API in browsers). */
export type LockRunner = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/** Options of {@link loadIdentity}. */
export interface LoadIdentityOptions {
  /** The room id. */
  room: string;
  /** Where the key pair lives (`RoomState.identity`). */
  store: Store;
  /** Serializes get-or-create across tabs, so two tabs opening a new room at once agree on one key. */
  lock?: LockRunner;
  /** Generates a key pair; defaults to {@link generateMemberKeys}. */
  generate?: () => Promise<CryptoKeyPair>;
  /** Told when storage failed and the identity lives in memory only. */
  onStorageError?(error: unknown): void;
}

/** The Web Locks API where the platform has it (browsers), else undefined. */
export function webLocks(): LockRunner | undefined {
  const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
  if (!locks || typeof locks.request !== "function") return undefined;
  return <T>(name: string, fn: () => Promise<T>) => locks.request(name, fn) as Promise<T>;
}

/** A new ECDSA P-256 key pair whose private key can sign but never be exported. */
export async function generateMemberKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(ECDSA_KEY, false, ["sign", "verify"]);
}

/** The member id of a raw public key: base64url(SHA-256(raw)[0..16]). */
export async function memberIdOf(rawPublicKey: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", rawPublicKey as Uint8Array<ArrayBuffer>);
  return encodeBase64Url(new Uint8Array(digest, 0, MEMBER_ID_BYTES));
}

/** The exact bytes a message signature covers: UTF-8 of the contract's canonical JSON array. */
export function messageSigningBytes(room: string, m: SignedFields): Uint8Array<ArrayBuffer> {
  return encoder.encode(
    JSON.stringify([MESSAGE_SIGNATURE_TAG, room, m.id, m.author, m.order, m.time, m.body, m.to ?? null]),
  );
}

/** The exact bytes the member proof signs. */
export function memberProofBytes(room: string, nonce: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${MEMBER_PROOF_TAG}\n${room}\n${nonce}`);
}

/** Whether a stored value is a usable key pair (a record from an older or foreign client is not). */
function isKeyPair(value: unknown): value is CryptoKeyPair {
  if (typeof value !== "object" || value === null) return false;
  const { privateKey, publicKey } = value as Partial<CryptoKeyPair>;
  return privateKey instanceof CryptoKey && publicKey instanceof CryptoKey &&
    privateKey.type === "private" && publicKey.type === "public" &&
    (privateKey.algorithm as EcKeyAlgorithm).namedCurve === "P-256" &&
    privateKey.usages.includes("sign");
}

/**
 * The room's identity on this device: the stored key pair, or a new one that
 * is stored. When the store cannot read or write it, a key pair in memory
 * serves this page (`persistent: false`); a later load tries the store again.
 */
export async function loadIdentity(options: LoadIdentityOptions): Promise<MemberIdentity> {
  const { room, store } = options;
  const generate = options.generate ?? generateMemberKeys;
  const getOrCreate = async (): Promise<{ keys: CryptoKeyPair; persistent: boolean }> => {
    const saved = (await store.getState(room)).identity;
    if (isKeyPair(saved)) return { keys: saved, persistent: true };
    const keys = await generate();
    await store.patchState(room, { identity: keys });
    return { keys, persistent: true };
  };
  let found: { keys: CryptoKeyPair; persistent: boolean };
  try {
    found = options.lock ? await options.lock(`parley-identity:${room}`, getOrCreate) : await getOrCreate();
  } catch (error) {
    options.onStorageError?.(error);
    found = { keys: await generate(), persistent: false };
  }
  return await identityFromKeys(room, found.keys, found.persistent);
}

/** An identity over a key pair (generated, stored, or made by a test). */
export async function identityFromKeys(room: string, keys: CryptoKeyPair, persistent = false): Promise<MemberIdentity> {
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
  const member = await memberIdOf(raw);
  const publicKey = encodeBase64Url(raw);
  const signBytes = async (bytes: Uint8Array<ArrayBuffer>) =>
    encodeBase64Url(new Uint8Array(await crypto.subtle.sign(ECDSA_SIGN, keys.privateKey, bytes)));
  const verifier = new SignatureVerifier(room);
  const signer: MessageSigner = {
    member,
    async sign(m) {
      // Signing as someone else is a bug in the caller, never a peer's doing: fail loudly.
      if (m.author !== member) throw new Error(`cannot sign for author ${m.author}: own member is ${member}`);
      return { pk: publicKey, sig: await signBytes(messageSigningBytes(room, m)) };
    },
    verify: (m) => verifier.verify(m),
  };
  return {
    room,
    member,
    publicKey,
    persistent,
    signer,
    async memberProof(nonce) {
      return { key: publicKey, sig: await signBytes(memberProofBytes(room, nonce)) };
    },
  };
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
  async verify(m: SignedFields & MessageSignature): Promise<boolean> {
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
function isSignedShape(m: unknown): m is SignedFields & MessageSignature {
  if (typeof m !== "object" || m === null) return false;
  const r = m as Record<string, unknown>;
  return typeof r.id === "string" && typeof r.author === "string" && MEMBER_ID.test(r.author) &&
    typeof r.order === "string" && typeof r.time === "number" && Number.isFinite(r.time) &&
    typeof r.body === "string" && (r.to === undefined || typeof r.to === "string") &&
    typeof r.pk === "string" && r.pk.length === PUBLIC_KEY_CHARS &&
    typeof r.sig === "string" && r.sig.length === SIGNATURE_CHARS;
}

/** Checks a member proof (for tests and any verifier written in TypeScript): the member id it proves, or null. */
export async function verifyMemberProof(room: string, nonce: string, proof: MemberProof): Promise<string | null> {
  try {
    if (typeof proof?.key !== "string" || typeof proof.sig !== "string") return null;
    const known = await importPublicKey(proof.key);
    const sig = fromBase64Url(proof.sig);
    if (!known || !sig || sig.length !== SIGNATURE_BYTES) return null;
    const ok = await crypto.subtle.verify(ECDSA_SIGN, known.key, sig, memberProofBytes(room, nonce));
    return ok ? known.member : null;
  } catch {
    // Malformed input is a failed proof.
    return null;
  }
}
