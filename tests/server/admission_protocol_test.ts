import { assert, assertEquals } from "@std/assert";
import {
  checkHelloProof,
  checkMemberProof,
  helloProof,
  memberIdOf,
  memberProof,
  newNonce,
} from "../../lib/protocol/admission.ts";
import { ERROR_CODES } from "../../lib/protocol/codes.ts";
import { parseClientFrame } from "../../lib/protocol/validate.ts";

const ROOM = "AAAAAAAAAAAAAAAAAAAAAA";
const NONCE = "N".repeat(43);
/**
 * Made with Python's `cryptography` (an implementation other than WebCrypto): private key
 * 0x1234567890abcdef1234567890abcdef on P-256, raw uncompressed public key, raw r ‖ s signature
 * over "parley-member\n" + ROOM + "\n" + NONCE; id = base64url(SHA-256(raw key)[0..16]).
 */
const VECTOR = {
  key: "BPnr5GQUfMEC2SMk0JnZJ8GlDkLVegihFv_sCimBnYxlcLr30SiIkCpqDB1nrdEDEjyFmrab-OlDHJOEkw1Lfu4",
  sig: "lQZrBYvi_YCKQFZRXA7fQkfeFXDhmETbHOz9SDLMrlnDCxiEQZNpPYmlHe4UTsUIuQa8kDokdHHID5tbg6CQGw",
  id: "1pNjehOs2lDZ1BicH2Afnw",
};

/** Flips one base64url character, keeping the form valid. */
function flip(text: string, at: number): string {
  return text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
}

Deno.test("nonces are 32 random bytes in 43 base64url characters, never repeated", () => {
  const seen = new Set(Array.from({ length: 1000 }, () => newNonce()));
  assertEquals(seen.size, 1000);
  for (const nonce of seen) assert(/^[A-Za-z0-9_-]{43}$/.test(nonce), nonce);
});

Deno.test("a member proof from an independent ECDSA implementation verifies and names its member", async () => {
  assertEquals(await checkMemberProof({ key: VECTOR.key, sig: VECTOR.sig }, ROOM, NONCE), VECTOR.id);
});

Deno.test("a forged member proof is refused: other nonce, other room, altered signature, key not on the curve", async () => {
  const good = { key: VECTOR.key, sig: VECTOR.sig };
  assertEquals(await checkMemberProof(good, ROOM, "M".repeat(43)), null);
  assertEquals(await checkMemberProof(good, "BBBBBBBBBBBBBBBBBBBBBB", NONCE), null);
  assertEquals(await checkMemberProof({ ...good, sig: flip(good.sig, 10) }, ROOM, NONCE), null);
  assertEquals(await checkMemberProof({ ...good, key: flip(good.key, 40) }, ROOM, NONCE), null);
  assertEquals(await checkMemberProof({ ...good, key: "A".repeat(87) }, ROOM, NONCE), null);
});

Deno.test("a WebCrypto member key pair proves itself, and its id is the hash of its raw key", async () => {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const nonce = newNonce();
  const proof = await memberProof(pair, ROOM, nonce);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  assertEquals(await checkMemberProof(proof, ROOM, nonce), await memberIdOf(raw));
  assertEquals((await memberIdOf(raw)).length, 22);
});

Deno.test("a hello proof checks only against its own verifier, room and nonce, and bad forms never throw", async () => {
  const a = "B2Gcsa4tU9_u0gGYWWEPVN2W2kdtpYLubZhsEZ39xbY";
  const proof = await helloProof(a, ROOM, NONCE);
  assert(await checkHelloProof(a, ROOM, NONCE, proof));
  assert(!await checkHelloProof(flip(a, 5), ROOM, NONCE, proof));
  assert(!await checkHelloProof(a, "BBBBBBBBBBBBBBBBBBBBBB", NONCE, proof));
  assert(!await checkHelloProof(a, ROOM, NONCE, flip(proof, 7)));
  assert(!await checkHelloProof("short", ROOM, NONCE, proof));
  assert(!await checkHelloProof(a, ROOM, NONCE, proof + "x"));
});

Deno.test("hello admission fields and the ice frame are validated strictly", () => {
  const proof = "P".repeat(43);
  const member = { key: VECTOR.key, sig: VECTOR.sig };
  const ok = [
    { type: "hello", v: 1, proof },
    { type: "hello", v: 1, proof, verifier: "V".repeat(43), member, token: "T".repeat(55), since: 3 },
    { type: "ice" },
  ];
  for (const frame of ok) assert(parseClientFrame(JSON.stringify(frame)).ok, JSON.stringify(frame));
  const bad: unknown[] = [
    { type: "hello", v: 1, proof: "P".repeat(42) },
    { type: "hello", v: 1, proof: "P".repeat(44) },
    { type: "hello", v: 1, proof: "P".repeat(42) + "=" },
    { type: "hello", v: 1, proof, verifier: "V".repeat(22) },
    { type: "hello", v: 1, proof, verifier: 5 },
    { type: "hello", v: 1, proof, member: { key: VECTOR.key } },
    { type: "hello", v: 1, proof, member: { ...member, extra: 1 } },
    { type: "hello", v: 1, proof, member: { key: VECTOR.key + "A", sig: VECTOR.sig } },
    { type: "hello", v: 1, proof, member: { key: VECTOR.key, sig: VECTOR.sig.slice(1) } },
    { type: "hello", v: 1, proof, member: [VECTOR.key, VECTOR.sig] },
    { type: "hello", v: 1, proof, member: "x" },
    { type: "hello", v: 1, proof, nonce: "N".repeat(43) },
    { type: "ice", servers: [] },
  ];
  for (const frame of bad) {
    const result = parseClientFrame(JSON.stringify(frame));
    assert(!result.ok, JSON.stringify(frame));
    assertEquals(result.code, "bad_frame", JSON.stringify(frame));
  }
  const proto = parseClientFrame(
    `{"type":"hello","v":1,"proof":"${proof}","member":{"key":"${VECTOR.key}",` +
      `"sig":"${VECTOR.sig}","__proto__":{}}}`,
  );
  assert(!proto.ok, "a __proto__ key in member is refused");
  assert(ERROR_CODES.includes("verifier_required"));
});
