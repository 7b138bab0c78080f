import { assert, assertEquals, assertMatch, assertNotEquals } from "@std/assert";
import {
  decrypt,
  encrypt,
  fromBase64Url,
  importRoomKey,
  IV_BYTES,
  type MessageAad,
  parseRoomKey,
  roomAdmission,
  RoomCipher,
  TAG_BYTES,
} from "../../lib/client/crypto.ts";
import { createRoomLink } from "../../lib/client/room_link.ts";
import { encodeBase64Url as toBase64Url } from "../../lib/protocol/mod.ts";
import { checkHelloProof } from "../../lib/protocol/admission.ts";

const decoder = new TextDecoder();

async function freshKey() {
  const link = createRoomLink();
  const parsed = parseRoomKey("#" + link.key);
  assert(parsed.ok);
  return { room: link.room, bytes: parsed.bytes, key: await importRoomKey(parsed.bytes) };
}

function flipBit(data: string, byteIndex: number): string {
  const bytes = fromBase64Url(data)!;
  bytes[byteIndex] ^= 0x01;
  return toBase64Url(bytes);
}

Deno.test("a message round-trips and the key is not extractable", async () => {
  const { room, key } = await freshKey();
  const aad: MessageAad = { room, sender: "alice", id: "m1" };
  const sealed = await encrypt(key, "hello, Привет 👋", aad);
  assertMatch(sealed, /^[A-Za-z0-9_-]+$/);
  const opened = await decrypt(key, sealed, aad);
  assert(opened.ok);
  assertEquals(decoder.decode(opened.bytes), "hello, Привет 👋");
  assertEquals(key.extractable, false);
  const binary = await encrypt(key, new Uint8Array([0, 1, 2, 255]), aad);
  const back = await decrypt(key, binary, aad);
  assert(back.ok);
  assertEquals([...back.bytes], [0, 1, 2, 255]);
});

Deno.test("two encryptions of the same text differ (fresh IV)", async () => {
  const { room, key } = await freshKey();
  const aad = { room, sender: "alice", id: "m1" };
  const a = await encrypt(key, "same", aad);
  const b = await encrypt(key, "same", aad);
  assertNotEquals(a, b);
  assertNotEquals(fromBase64Url(a)!.subarray(0, IV_BYTES), fromBase64Url(b)!.subarray(0, IV_BYTES));
});

Deno.test("tampered, wrongly keyed, re-addressed, truncated and garbage input is rejected", async (t) => {
  const { room, key } = await freshKey();
  const aad = { room, sender: "alice", id: "m1" };
  const sealed = await encrypt(key, "secret plan", aad);
  const length = fromBase64Url(sealed)!.length;

  await t.step("a flipped bit anywhere (IV, body, tag) fails authentication", async () => {
    for (const index of [0, IV_BYTES - 1, IV_BYTES, IV_BYTES + 3, length - 1]) {
      assertEquals(await decrypt(key, flipBit(sealed, index), aad), { ok: false, reason: "rejected" });
    }
  });
  await t.step("another room's key fails", async () => {
    const other = await freshKey();
    assertEquals(await decrypt(other.key, sealed, aad), { ok: false, reason: "rejected" });
  });
  await t.step("replay under another id, sender or room fails", async () => {
    assertEquals(await decrypt(key, sealed, { ...aad, id: "m2" }), { ok: false, reason: "rejected" });
    assertEquals(await decrypt(key, sealed, { ...aad, sender: "mallory" }), { ok: false, reason: "rejected" });
    assertEquals(await decrypt(key, sealed, { ...aad, room: room + "x" }), { ok: false, reason: "rejected" });
  });
  await t.step("fields cannot be shifted between sender and id", async () => {
    const split = await encrypt(key, "x", { room, sender: "ab", id: "c" });
    assertEquals(await decrypt(key, split, { room, sender: "a", id: "bc" }), { ok: false, reason: "rejected" });
  });
  await t.step("truncated input fails without throwing", async () => {
    const bytes = fromBase64Url(sealed)!;
    assertEquals(await decrypt(key, toBase64Url(bytes.subarray(0, length - 1)), aad), {
      ok: false,
      reason: "rejected",
    });
    assertEquals(await decrypt(key, toBase64Url(bytes.subarray(0, IV_BYTES + TAG_BYTES - 1)), aad), {
      ok: false,
      reason: "truncated",
    });
    assertEquals(await decrypt(key, "", aad), { ok: false, reason: "truncated" });
  });
  await t.step("non-base64 garbage fails without throwing", async () => {
    for (const junk of ["!!!!", "abc=", "a b", "A", "ä", sealed + "+"]) {
      assertEquals(await decrypt(key, junk, aad), { ok: false, reason: "malformed" });
    }
    assertEquals(await decrypt(key, 42 as unknown as string, aad), { ok: false, reason: "malformed" });
  });
});

Deno.test("a room cipher opens its own messages and counts rejections", async () => {
  const { room, bytes } = await freshKey();
  const alice = await RoomCipher.create(bytes, room);
  const bob = await RoomCipher.create(bytes, room);
  const sealed = await alice.seal("alice", "m1", "hi bob");
  assertEquals(await bob.open("alice", "m1", sealed), { ok: true, text: "hi bob" });
  assertEquals(bob.rejected, 0);
  assertEquals((await bob.open("alice", "m9", sealed)).ok, false);
  assertEquals((await bob.open("alice", "m1", "garbage!")).ok, false);
  assertEquals((await bob.open("alice", "m1", flipBit(sealed, 20))).ok, false);
  assertEquals(bob.rejected, 3);
  const stranger = await RoomCipher.create((await freshKey()).bytes, room);
  assertEquals(await stranger.open("alice", "m1", sealed), { ok: false, reason: "rejected" });
  assertEquals(stranger.rejected, 1);
});

Deno.test("a body that is authentic but not UTF-8 is rejected, not shown", async () => {
  const { room, bytes, key } = await freshKey();
  const cipher = await RoomCipher.create(bytes, room);
  const sealed = await encrypt(key, new Uint8Array([0xff, 0xfe]), { room, sender: "a", id: "m" });
  assertEquals(await cipher.open("a", "m", sealed), { ok: false, reason: "not_utf8" });
  assertEquals(cipher.rejected, 1);
});

Deno.test("the admission key is deterministic per key and room, differs across rooms, and is not the key", async () => {
  const { room, bytes } = await freshKey();
  const { verifier } = await roomAdmission(bytes, room);
  assertMatch(verifier, /^[A-Za-z0-9_-]{43}$/);
  assertEquals((await roomAdmission(bytes, room)).verifier, verifier);
  assertNotEquals((await roomAdmission(bytes, room.slice(1) + "A")).verifier, verifier);
  assertNotEquals((await roomAdmission((await freshKey()).bytes, room)).verifier, verifier);
  assertNotEquals(verifier, toBase64Url(bytes));
});

Deno.test("a hello proof is bound to its nonce: the server's check accepts it there and nowhere else", async () => {
  const { room, bytes } = await freshKey();
  const admission = await roomAdmission(bytes, room);
  const proof = await admission.proof("N".repeat(43));
  assertMatch(proof, /^[A-Za-z0-9_-]{43}$/);
  assert(await checkHelloProof(admission.verifier, room, "N".repeat(43), proof));
  assert(!await checkHelloProof(admission.verifier, room, "M".repeat(43), proof), "replayed on another nonce");
  const other = await roomAdmission((await freshKey()).bytes, room);
  assert(!await checkHelloProof(other.verifier, room, "N".repeat(43), proof), "accepted under another key");
});

Deno.test("admission key and proof match vectors from an independent HKDF/HMAC (Python hashlib)", async () => {
  // python3: prk = hmac(salt=room, key bytes 0..31); A = hmac(prk, b"parley admission v2" + b"\x01");
  //          proof = hmac(A, "parley-hello\n" + room + "\n" + "N" * 43), all SHA-256, base64url.
  const admission = await roomAdmission(new Uint8Array(32).map((_, i) => i), "AAAAAAAAAAAAAAAAAAAAAA");
  assertEquals(admission.verifier, "B2Gcsa4tU9_u0gGYWWEPVN2W2kdtpYLubZhsEZ39xbY");
  assertEquals(await admission.proof("N".repeat(43)), "CT68sIJ1nqUxgFymJze_SNHfmyv4hV8i1w8UzCICX20");
});

Deno.test("the fragment parser accepts a generated key and names what is wrong with others", async (t) => {
  const { key } = createRoomLink();
  await t.step("a generated key, with or without '#'", () => {
    const a = parseRoomKey("#" + key);
    const b = parseRoomKey(key);
    assert(a.ok && b.ok);
    assertEquals(a.bytes.length, 32);
    assertEquals(a.text, key);
    assertEquals(toBase64Url(b.bytes), key);
  });
  await t.step("missing", () => {
    for (const empty of ["", "#", null, undefined, "  "]) {
      assertEquals(parseRoomKey(empty), { ok: false, error: "missing" });
    }
  });
  await t.step("short", () => {
    assertEquals(parseRoomKey("#" + key.slice(0, 42)), { ok: false, error: "short" });
    assertEquals(parseRoomKey("#abc"), { ok: false, error: "short" });
  });
  await t.step("invalid", () => {
    assertEquals(parseRoomKey("#" + key + "A"), { ok: false, error: "invalid" });
    assertEquals(parseRoomKey("#" + key.slice(0, 42) + "!"), { ok: false, error: "invalid" });
    assertEquals(parseRoomKey("#" + key.slice(0, 42) + "="), { ok: false, error: "invalid" });
    // 43 characters whose last one sets the two spare bits: not the canonical encoding of any key.
    const zeros = "A".repeat(42);
    assert(parseRoomKey("#" + zeros + "A").ok);
    assertEquals(parseRoomKey("#" + zeros + "B"), { ok: false, error: "invalid" });
  });
});
