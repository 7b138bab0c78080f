/**
 * The server's hot cryptography, synchronous: the hello proof check and the
 * session token hash, on `node:crypto` instead of WebCrypto.
 *
 * Why: Deno runs every WebCrypto call (`crypto.subtle.verify`, `digest`) as a
 * task on its blocking thread pool, and handing one over cost the event loop
 * more than the HMAC itself; under a flood of hellos, profiles of the server
 * showed `verify` holding the event loop for up to 30 ms at a time (and
 * threads coming and going), which every member's message waited behind. A
 * synchronous HMAC-SHA-256 of a few dozen bytes takes microseconds. The
 * results are the same bytes as `lib/protocol/admission.ts` computes with
 * WebCrypto in the browser (a test checks it).
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { helloMessage, KEY43_PATTERN } from "../protocol/admission.ts";

/** Decodes base64url that `KEY43_PATTERN` (or the like) already accepted. */
function decode(text: string): Uint8Array {
  return Buffer.from(text, "base64url");
}

/**
 * Whether `proof` is the hello proof of `verifier` (= A) for this room and nonce: the check of
 * `checkHelloProof` in lib/protocol/admission.ts, synchronous. Constant time, never throws.
 */
export function checkHelloProofNow(verifier: string, room: string, nonce: string, proof: string): boolean {
  if (!KEY43_PATTERN.test(verifier) || !KEY43_PATTERN.test(proof)) return false;
  const mac = createHmac("sha256", decode(verifier)).update(helloMessage(room, nonce)).digest();
  const given = decode(proof);
  return given.length === mac.length && timingSafeEqual(mac, given);
}

/** SHA-256 of a session token, base64url (what `hashToken` stores): synchronous. */
export function hashTokenNow(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}
