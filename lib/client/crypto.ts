/**
 * End-to-end encryption of message bodies with the room key from the URL
 * fragment (which browsers never send to a server): AES-256-GCM from
 * WebCrypto, a fresh random 96-bit IV per message, and associated data that
 * binds room id, sender peer id and message id, so a ciphertext replayed under
 * another id, sender or room fails to open. The admission key A is derived
 * from the same key with HKDF, and each hello proves it with an HMAC over the
 * server's fresh nonce, so the server learns neither the key nor a reusable proof.
 *
 * Failures are values, never exceptions: `decrypt` returns `{ ok: false,
 * reason }`; {@link RoomCipher} also counts rejections for the diagnostics view.
 * Replay of an already seen id is the courier's job (dedupe by id).
 * @module
 */
import { encodeBase64Url as toBase64Url } from "../protocol/mod.ts";
import { admissionKey, helloProof } from "../protocol/admission.ts";
import { ROOM_KEY_BYTES } from "./room_link.ts";

/** Length of a room key in base64url characters (32 bytes, unpadded). */
export const ROOM_KEY_CHARS = 43;
/** AES-GCM IV length in bytes: 96 bits, the size GCM is designed for. */
export const IV_BYTES = 12;
/** AES-GCM authentication tag length in bytes. */
export const TAG_BYTES = 16;
export { ADMISSION_INFO } from "../protocol/admission.ts";

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Why a fragment holds no usable key. */
export type RoomKeyError = "missing" | "short" | "invalid";

/** The result of {@link parseRoomKey}. */
export type RoomKeyResult =
  | { ok: true; bytes: Uint8Array; text: string }
  | { ok: false; error: RoomKeyError };

/** Decodes unpadded base64url; undefined for any character outside the alphabet or an impossible length. */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") + "===".slice((text.length + 3) % 4);
  let binary: string;
  try {
    binary = atob(padded);
  } catch {
    // atob throws only for malformed input, which is exactly "not base64url".
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Reads the room key from a URL fragment (with or without the leading "#").
 * `missing`: empty; `short`: fewer than 43 characters; `invalid`: anything
 * else that is not exactly the canonical base64url of 32 bytes.
 */
export function parseRoomKey(fragment: string | null | undefined): RoomKeyResult {
  const text = (fragment ?? "").replace(/^#/, "").trim();
  if (text === "") return { ok: false, error: "missing" };
  if (!BASE64URL.test(text)) return { ok: false, error: "invalid" };
  if (text.length < ROOM_KEY_CHARS) return { ok: false, error: "short" };
  if (text.length > ROOM_KEY_CHARS) return { ok: false, error: "invalid" };
  const bytes = fromBase64Url(text);
  // Canonical form only: the 2 spare bits of the last character must be zero.
  if (!bytes || bytes.length !== ROOM_KEY_BYTES || toBase64Url(bytes) !== text) return { ok: false, error: "invalid" };
  return { ok: true, bytes, text };
}

/** Imports 32 key bytes as a non-extractable AES-GCM key: page scripts can use it, never read it back. */
export function importRoomKey(bytes: Uint8Array): Promise<CryptoKey> {
  if (bytes.length !== ROOM_KEY_BYTES) throw new RangeError(`room key must be ${ROOM_KEY_BYTES} bytes`);
  return crypto.subtle.importKey("raw", bytes as Uint8Array<ArrayBuffer>, { name: "AES-GCM" }, false, [
    "encrypt",
    "decrypt",
  ]);
}

/** What a ciphertext is bound to: opening it under any other value fails. */
export interface MessageAad {
  /** Room id. */
  room: string;
  /** Sender peer id (as stamped by the server or the DataChannel's peer). */
  sender: string;
  /** Message id. */
  id: string;
}

/** Encodes the associated data unambiguously (JSON array: no separator tricks). */
function aadBytes(aad: MessageAad): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify(["parley/1", aad.room, aad.sender, aad.id]));
}

/** Encrypts a body: base64url(iv ‖ ciphertext ‖ tag), with a fresh random IV each call. */
export async function encrypt(key: CryptoKey, plaintext: Uint8Array | string, aad: MessageAad): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const data = typeof plaintext === "string" ? encoder.encode(plaintext) : plaintext;
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aadBytes(aad) },
      key,
      data as Uint8Array<ArrayBuffer>,
    ),
  );
  const out = new Uint8Array(IV_BYTES + sealed.length);
  out.set(iv);
  out.set(sealed, IV_BYTES);
  return toBase64Url(out);
}

/** Why a ciphertext was rejected: not base64url, too short to hold IV and tag, or failed authentication. */
export type DecryptFailure = "malformed" | "truncated" | "rejected";

/** The result of {@link decrypt}. */
export type DecryptResult =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; reason: DecryptFailure };

/**
 * Opens a ciphertext from {@link encrypt}. Never throws for bad input: a
 * tampered, truncated, wrongly keyed or re-addressed (other room, sender or
 * id) message comes back as `{ ok: false, reason }`. The caller counts it
 * (or uses {@link RoomCipher}, which does) and never shows it.
 */
export async function decrypt(key: CryptoKey, data: string, aad: MessageAad): Promise<DecryptResult> {
  if (typeof data !== "string") return { ok: false, reason: "malformed" };
  const bytes = fromBase64Url(data);
  if (!bytes) return { ok: false, reason: "malformed" };
  if (bytes.length < IV_BYTES + TAG_BYTES) return { ok: false, reason: "truncated" };
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: aadBytes(aad) },
      key,
      bytes.subarray(IV_BYTES),
    );
    return { ok: true, bytes: new Uint8Array(plain) };
  } catch (error) {
    // WebCrypto signals a failed GCM tag check with OperationError; anything else is a real bug.
    if (error instanceof DOMException && error.name === "OperationError") return { ok: false, reason: "rejected" };
    throw error;
  }
}

/** What a client needs to be admitted to a room: its admission key A, and the proof for each nonce. */
export interface RoomAdmission {
  /** base64url(A): the verifier a new room is registered with (`hello.verifier`). */
  readonly verifier: string;
  /** `hello.proof` for the nonce of one connection's `challenge`. */
  proof(nonce: string): Promise<string>;
}

/**
 * Derives a room's admission key A = HKDF-SHA-256(room key, salt = room id,
 * info = "parley admission v2") once; proofs are HMACs of it over each nonce.
 */
export async function roomAdmission(keyBytes: Uint8Array, room: string): Promise<RoomAdmission> {
  const verifier = await admissionKey(keyBytes, room);
  return { verifier, proof: (nonce) => helloProof(verifier, room, nonce) };
}

/** The result of {@link RoomCipher.open}: text on success. */
export type OpenResult =
  | { ok: true; text: string }
  | { ok: false; reason: DecryptFailure | "not_utf8" };

/** A room's key and id bound together, counting rejected messages for the diagnostics view. */
export class RoomCipher {
  #key: CryptoKey;
  #rejected = 0;
  /** The room id every ciphertext is bound to. */
  readonly room: string;

  /** Wraps an imported key; use {@link RoomCipher.create} from key bytes. */
  constructor(key: CryptoKey, room: string) {
    this.#key = key;
    this.room = room;
  }

  /** Imports key bytes (from {@link parseRoomKey}) for a room. */
  static async create(keyBytes: Uint8Array, room: string): Promise<RoomCipher> {
    return new RoomCipher(await importRoomKey(keyBytes), room);
  }

  /** Messages rejected so far (tampered, wrong key, re-addressed, malformed, not UTF-8). */
  get rejected(): number {
    return this.#rejected;
  }

  /** Encrypts a text body as `sender` under message `id`. */
  seal(sender: string, id: string, text: string): Promise<string> {
    return encrypt(this.#key, text, { room: this.room, sender, id });
  }

  /** Encrypts bytes as `sender` under message `id`. */
  sealBytes(sender: string, id: string, bytes: Uint8Array): Promise<string> {
    return encrypt(this.#key, bytes, { room: this.room, sender, id });
  }

  /** Opens bytes from `sender` under message `id`; failures are counted and returned, never thrown. */
  async openBytes(sender: string, id: string, data: string): Promise<DecryptResult> {
    const result = await decrypt(this.#key, data, { room: this.room, sender, id });
    if (!result.ok) this.#rejected++;
    return result;
  }

  /** Opens a text body from `sender` under message `id`; failures are counted and returned, never thrown. */
  async open(sender: string, id: string, data: string): Promise<OpenResult> {
    const result = await decrypt(this.#key, data, { room: this.room, sender, id });
    if (!result.ok) {
      this.#rejected++;
      return result;
    }
    try {
      return { ok: true, text: decoder.decode(result.bytes) };
    } catch (error) {
      // A fatal TextDecoder throws TypeError on invalid UTF-8: an authentic but foreign body, counted as rejected.
      if (!(error instanceof TypeError)) throw error;
      this.#rejected++;
      return { ok: false, reason: "not_utf8" };
    }
  }
}
