/**
 * What a `hello` proves, computed the same way by client and server (WebCrypto
 * only): knowledge of the room key (challenge-response on the server's nonce,
 * keyed with the admission key A, of which the server keeps only A itself as
 * the room's verifier), and optionally possession of a member key (ECDSA P-256
 * signature over the same nonce). Both are bound to one room and one nonce, so
 * a proof seen on one connection is worthless on any other.
 * @module
 */
import type { HelloFrame, MemberProof } from "./frames.ts";
import { encodeBase64Url } from "./ids.ts";

/** HKDF info of the admission key; the version changes whenever the derivation does. */
export const ADMISSION_INFO = "parley admission v2";
/** Bytes of the admission key A (HKDF output) and of the server's nonce. */
export const ADMISSION_KEY_BYTES = 32;
/** Random bytes in a challenge nonce (256 bits: never repeats). */
export const NONCE_BYTES = 32;
/** A nonce, a proof or a verifier: exactly 32 bytes in base64url, 43 characters. */
export const KEY43_PATTERN: RegExp = /^[A-Za-z0-9_-]{43}$/;
/** A member's raw P-256 public key (65 bytes, uncompressed point) in base64url: 87 characters. */
export const MEMBER_KEY_PATTERN: RegExp = /^[A-Za-z0-9_-]{87}$/;
/** A raw ECDSA P-256 signature (r ‖ s, 64 bytes) in base64url: 86 characters. */
export const MEMBER_SIG_PATTERN: RegExp = /^[A-Za-z0-9_-]{86}$/;
/** Bytes of SHA-256(raw public key) that make a member id (128 bits, 22 characters). */
export const MEMBER_ID_BYTES = 16;
/** A page nonce (see "Early hello" in README.md): 39 bytes in base64url, 52 characters, opaque to clients. */
export const PAGE_NONCE_PATTERN: RegExp = /^[A-Za-z0-9_-]{52}$/;
/** The `Server-Timing` metric of the room page whose `desc` is the page nonce. */
export const PAGE_NONCE_TIMING = "nonce";
/** The upgrade URL's parameter carrying the page nonce of an early hello. */
export const PAGE_NONCE_PARAM = "nonce";
/** The upgrade URL's parameter carrying an early hello: base64url of the UTF-8 JSON of the `hello` frame. */
export const EARLY_HELLO_PARAM = "hello";
/** The longest early hello parameter a server reads (a hello with every field is about 600 characters). */
export const MAX_EARLY_HELLO_CHARS = 2_048;

const encoder = new TextEncoder();
const HMAC = { name: "HMAC", hash: "SHA-256" } as const;
const ECDSA_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SIG = { name: "ECDSA", hash: "SHA-256" } as const;

/** Decodes unpadded base64url that a pattern above already accepted. */
function decode(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/") + "===".slice((text.length + 3) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** An early hello's parameter: base64url (unpadded) of the UTF-8 JSON of the frame. Never put `verifier` in it. */
export function encodeEarlyHello(frame: HelloFrame): string {
  if (frame.verifier !== undefined) {
    throw new RangeError("an early hello travels in a URL: it never carries the verifier");
  }
  return encodeBase64Url(encoder.encode(JSON.stringify(frame)));
}

/** The JSON text of an early hello's parameter, or null when it is not base64url of UTF-8 within the size bound. */
export function decodeEarlyHello(param: string): string | null {
  if (param.length > MAX_EARLY_HELLO_CHARS || !/^[A-Za-z0-9_-]+$/.test(param)) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(decode(param));
  } catch {
    // Not base64 of whole bytes, or not UTF-8.
    return null;
  }
}

/** A fresh challenge nonce: 32 random bytes, base64url. */
export function newNonce(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
}

/** What `hello.proof` authenticates: UTF-8("parley-hello\n" + room + "\n" + nonce). */
export function helloMessage(room: string, nonce: string): Uint8Array<ArrayBuffer> {
  return encoder.encode("parley-hello\n" + room + "\n" + nonce);
}

/** What `hello.member.sig` signs: UTF-8("parley-member\n" + room + "\n" + nonce). */
export function memberMessage(room: string, nonce: string): Uint8Array<ArrayBuffer> {
  return encoder.encode("parley-member\n" + room + "\n" + nonce);
}

/**
 * The admission key A of a room, base64url (it is also the room's verifier):
 * HKDF-SHA-256(ikm = room key bytes, salt = UTF-8(room id), info = "parley admission v2"), 32 bytes.
 * Reveals nothing of the room key, and differs from room to room.
 */
export async function admissionKey(keyBytes: Uint8Array, room: string): Promise<string> {
  const ikm = await crypto.subtle.importKey("raw", keyBytes as Uint8Array<ArrayBuffer>, "HKDF", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: encoder.encode(room), info: encoder.encode(ADMISSION_INFO) },
    ikm,
    ADMISSION_KEY_BYTES * 8,
  );
  return encodeBase64Url(new Uint8Array(bits));
}

function importAdmissionKey(key: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", decode(key), HMAC, false, [usage]);
}

/** `hello.proof`: base64url(HMAC-SHA-256(A, helloMessage(room, nonce))), 43 characters. */
export async function helloProof(key: string, room: string, nonce: string): Promise<string> {
  if (!KEY43_PATTERN.test(key)) throw new RangeError("the admission key must be 43 base64url characters");
  const mac = await crypto.subtle.sign("HMAC", await importAdmissionKey(key, "sign"), helloMessage(room, nonce));
  return encodeBase64Url(new Uint8Array(mac));
}

/** Whether `proof` is the hello proof of `verifier` (= A) for this room and nonce; constant time, never throws. */
export async function checkHelloProof(verifier: string, room: string, nonce: string, proof: string): Promise<boolean> {
  if (!KEY43_PATTERN.test(verifier) || !KEY43_PATTERN.test(proof)) return false;
  return await crypto.subtle.verify(
    "HMAC",
    await importAdmissionKey(verifier, "verify"),
    decode(proof),
    helloMessage(room, nonce),
  );
}

/** A member id: base64url(first 16 bytes of SHA-256(raw public key)), 22 characters. */
export async function memberIdOf(rawKey: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", rawKey as Uint8Array<ArrayBuffer>));
  return encodeBase64Url(digest.subarray(0, MEMBER_ID_BYTES));
}

/**
 * The member id proven by `member` for this room and nonce, or null when the key
 * is not a P-256 point or the signature does not verify. Never throws.
 */
export async function checkMemberProof(member: MemberProof, room: string, nonce: string): Promise<string | null> {
  if (!MEMBER_KEY_PATTERN.test(member.key) || !MEMBER_SIG_PATTERN.test(member.sig)) return null;
  const raw = decode(member.key);
  let ok: boolean;
  try {
    const key = await crypto.subtle.importKey("raw", raw, ECDSA_KEY, false, ["verify"]);
    ok = await crypto.subtle.verify(ECDSA_SIG, key, decode(member.sig), memberMessage(room, nonce));
  } catch (error) {
    // Not a point on the curve: WebCrypto refuses it, at import (DOMException) or, in Deno, at verify (TypeError).
    if (error instanceof DOMException || error instanceof TypeError) return null;
    throw error;
  }
  return ok ? await memberIdOf(raw) : null;
}

/** Signs this connection's nonce with a member key pair (the client side of {@link checkMemberProof}). */
export async function memberProof(pair: CryptoKeyPair, room: string, nonce: string): Promise<MemberProof> {
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const sig = new Uint8Array(await crypto.subtle.sign(ECDSA_SIG, pair.privateKey, memberMessage(room, nonce)));
  return { key: encodeBase64Url(raw), sig: encodeBase64Url(sig) };
}
