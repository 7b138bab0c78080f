// fake-indexeddb (dev-only) gives Deno an in-memory IndexedDB, so the key pair is stored the way a browser stores it.
import "fake-indexeddb/auto";
import { assert, assertEquals, assertMatch, assertNotEquals, assertRejects } from "@std/assert";
import {
  generateMemberKeys,
  identityFromKeys,
  loadIdentity,
  type LockRunner,
  type MemberIdentity,
} from "../../lib/client/identity.ts";
import { MESSAGE_SIGNATURE_TAG, type Signature, type SignedFields } from "../../lib/client/courier/signer.ts";
import { checkMemberProof } from "../../lib/protocol/admission.ts";
import { fromBase64Url } from "../../lib/client/crypto.ts";
import type { RoomState, Store } from "../../lib/client/store.ts";
import { openIdbStore } from "../../lib/client/store_idb.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { encodeBase64Url } from "../../lib/protocol/mod.ts";

const ROOM = "room-identity-xxxxxxxxx";
const OTHER_ROOM = "room-other-xxxxxxxxxxxx";

async function fresh(room = ROOM): Promise<MemberIdentity> {
  return await identityFromKeys(room, await generateMemberKeys());
}

function message(author: string, fields: Partial<SignedFields> = {}): SignedFields {
  return {
    id: "m-1",
    author,
    order: `0000001700000000000-0000-${author}-1`,
    time: 1_700_000_000_000,
    body: "hi",
    ...fields,
  };
}

async function signed(identity: MemberIdentity, fields: Partial<SignedFields> = {}) {
  const m = message(identity.member, fields);
  return { ...m, ...await identity.signer.sign(m) };
}

/** A lock like the Web Locks API's, within one process. */
function processLock(): LockRunner {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(name: string, fn: () => Promise<T>) => {
    const run = (tails.get(name) ?? Promise.resolve()).then(fn);
    tails.set(name, run.catch(() => {}));
    return run;
  };
}

Deno.test("a member id is base64url of the first 16 bytes of SHA-256 of the raw public key", async () => {
  const keys = await generateMemberKeys();
  const identity = await identityFromKeys(ROOM, keys);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
  assertEquals(identity.member, encodeBase64Url(digest.subarray(0, 16)));
  assertMatch(identity.member, /^[A-Za-z0-9_-]{22}$/);
  assertEquals(identity.publicKey.length, 87);
  assertEquals(fromBase64Url(identity.publicKey), raw);
  assertEquals(raw.length, 65);
});

Deno.test("the private key can sign but can never be exported", async () => {
  const keys = await generateMemberKeys();
  assertEquals(keys.privateKey.extractable, false);
  await assertRejects(() => crypto.subtle.exportKey("pkcs8", keys.privateKey));
  await assertRejects(() => crypto.subtle.exportKey("jwk", keys.privateKey));
});

Deno.test("a signed message verifies at any other member of the room, with the contract's sizes", async () => {
  const alice = await fresh();
  const bob = await fresh();
  const m = await signed(alice);
  assertEquals([m.pk.length, m.sig.length], [87, 86]);
  assert(await bob.signer.verify(m), "bob accepts alice's message");
  assert(await alice.signer.verify(m), "and so does alice herself (another tab of hers)");
  const direct = await signed(alice, { to: "peer-b", body: "just you" });
  assert(await bob.signer.verify(direct), "a direct message signs its recipient");
});

Deno.test("the signature covers exactly the contract's canonical bytes", async () => {
  const alice = await fresh();
  const m = await signed(alice, { body: "ünïcödé ✓ \u2028" });
  const bytes = new TextEncoder().encode(
    JSON.stringify([MESSAGE_SIGNATURE_TAG, ROOM, m.id, m.author, m.order, m.time, m.body, null]),
  );
  const key = await crypto.subtle.importKey("raw", fromBase64Url(m.pk)!, { name: "ECDSA", namedCurve: "P-256" }, true, [
    "verify",
  ]);
  assert(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, fromBase64Url(m.sig)!, bytes));
});

Deno.test("signing a message of another author is a caller bug and fails loudly", async () => {
  const alice = await fresh();
  const bob = await fresh();
  await assertRejects(() => alice.signer.sign(message(bob.member)), Error, "cannot sign for author");
});

Deno.test("a forged author is refused: nobody speaks as another member", async (t) => {
  const alice = await fresh();
  const mallory = await fresh();
  const bob = await fresh();
  await t.step("mallory's own key and signature, alice's member id as author", async () => {
    const base = message(alice.member);
    const forged = { ...base, ...await mallory.signer.sign({ ...base, author: mallory.member }) };
    assertEquals(await bob.signer.verify(forged), false);
  });
  await t.step("alice's public key, mallory's signature", async () => {
    const base = message(alice.member);
    const { sig } = await mallory.signer.sign({ ...base, author: mallory.member });
    assertEquals(await bob.signer.verify({ ...base, pk: alice.publicKey, sig }), false);
  });
  await t.step("alice's signed message re-labelled as mallory's", async () => {
    const m = await signed(alice);
    assertEquals(await bob.signer.verify({ ...m, author: mallory.member }), false);
    assertEquals(await bob.signer.verify({ ...m, author: mallory.member, pk: mallory.publicKey }), false);
  });
});

Deno.test("any tampered field fails: id, body, time, order, recipient, room", async (t) => {
  const alice = await fresh();
  const bob = await fresh();
  const m = await signed(alice);
  const cases: [string, Partial<SignedFields & Signature>][] = [
    ["id", { id: "m-2" }],
    ["body", { body: "hi!" }],
    ["time", { time: m.time + 1 }],
    ["order", { order: m.order.replace(/1$/, "2") }],
    ["a recipient added", { to: "peer-b" }],
  ];
  for (const [what, change] of cases) {
    await t.step(what, async () => assertEquals(await bob.signer.verify({ ...m, ...change }), false));
  }
  await t.step("a recipient removed", async () => {
    const direct = await signed(alice, { to: "peer-b" });
    const { to: _to, ...toAll } = direct;
    assertEquals(await bob.signer.verify(toAll), false);
  });
  await t.step("replayed into another room", async () => {
    const elsewhere = await fresh(OTHER_ROOM);
    assertEquals(await elsewhere.signer.verify(m), false);
  });
  await t.step("the untouched message still verifies", async () => assert(await bob.signer.verify(m)));
});

Deno.test("malformed signatures, keys and fields are refused without throwing", async (t) => {
  const alice = await fresh();
  const bob = await fresh();
  const m = await signed(alice);
  const offCurve = new Uint8Array(65).fill(7);
  offCurve[0] = 0x04;
  const compressedTag = fromBase64Url(m.pk)!.slice();
  compressedTag[0] = 0x05;
  const flipped = fromBase64Url(m.sig)!.slice();
  flipped[10] ^= 1;
  const cases: [string, unknown][] = [
    ["sig too short", { ...m, sig: m.sig.slice(1) }],
    ["sig not base64url", { ...m, sig: "!".repeat(86) }],
    ["sig all zero", { ...m, sig: encodeBase64Url(new Uint8Array(64)) }],
    ["sig with a flipped bit", { ...m, sig: encodeBase64Url(flipped) }],
    ["pk too short", { ...m, pk: m.pk.slice(1) }],
    ["pk not base64url", { ...m, pk: "*".repeat(87) }],
    ["pk off the curve", { ...m, pk: encodeBase64Url(offCurve) }],
    ["pk with a wrong point tag", { ...m, pk: encodeBase64Url(compressedTag) }],
    ["pk missing", { ...m, pk: undefined }],
    ["sig missing", { ...m, sig: undefined }],
    ["time as a string", { ...m, time: String(m.time) }],
    ["time not finite", { ...m, time: NaN }],
    ["body not a string", { ...m, body: 42 }],
    ["to null", { ...m, to: null }],
    ["author not a member id", { ...m, author: "x" }],
    ["null", null],
    ["a string", "hello"],
    ["an array", [m]],
  ];
  for (const [what, value] of cases) {
    await t.step(what, async () => {
      assertEquals(await bob.signer.verify(value as SignedFields & Signature), false);
    });
  }
});

Deno.test("the member proof binds key, room and nonce", async () => {
  const alice = await fresh();
  const nonce = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  const proof = await alice.memberProof(nonce);
  assertEquals([proof.key.length, proof.sig.length], [87, 86]);
  assertEquals(proof.key, alice.publicKey);
  // The server's check (lib/protocol/admission.ts) accepts it for this room and nonce only.
  assertEquals(await checkMemberProof(proof, ROOM, nonce), alice.member);
  assertEquals(await checkMemberProof(proof, ROOM, nonce.replace(/^./, nonce[0] === "A" ? "B" : "A")), null);
  assertEquals(await checkMemberProof(proof, OTHER_ROOM, nonce), null);
  const mallory = await fresh();
  assertEquals(await checkMemberProof({ key: mallory.publicKey, sig: proof.sig }, ROOM, nonce), null);
  assertEquals(await checkMemberProof({ key: "nope", sig: proof.sig }, ROOM, nonce), null);
});

Deno.test("the identity is stored once per room and shared by every load (the tabs of one browser)", async () => {
  const store = new MemoryStore();
  const first = await loadIdentity({ room: ROOM, store });
  const second = await loadIdentity({ room: ROOM, store });
  assertEquals(first.persistent, true);
  assertEquals(second.member, first.member);
  const elsewhere = await loadIdentity({ room: OTHER_ROOM, store });
  assertNotEquals(elsewhere.member, first.member, "one key per room: rooms cannot be linked by member id");
  const m = await signed(second);
  assert(await first.signer.verify(m));
});

Deno.test("two tabs opening a new room at once agree on one key under the lock", async () => {
  const store = new MemoryStore();
  const lock = processLock();
  let generated = 0;
  const generate = () => {
    generated++;
    return generateMemberKeys();
  };
  const tabs = await Promise.all([1, 2, 3].map(() => loadIdentity({ room: ROOM, store, lock, generate })));
  assertEquals(new Set(tabs.map((tab) => tab.member)).size, 1);
  assertEquals(generated, 1);
});

Deno.test("the key pair survives IndexedDB: a new page of the same browser signs as the same member", async () => {
  const name = `parley-identity-test-${crypto.randomUUID()}`;
  const before = await openIdbStore(name);
  const first = await loadIdentity({ room: ROOM, store: before });
  before.close();
  const after = await openIdbStore(name);
  try {
    const stored = (await after.getState(ROOM)).identity!;
    assertEquals(stored.privateKey.extractable, false, "stored as a non-extractable CryptoKey");
    const again = await loadIdentity({ room: ROOM, store: after });
    assertEquals(again.member, first.member);
    assert(await first.signer.verify(await signed(again)), "the reloaded private key signs");
  } finally {
    after.close();
  }
});

Deno.test("when storage fails the identity lives in memory and says so", async () => {
  const failing: Store = Object.assign(new MemoryStore(), {
    getState(): Promise<RoomState> {
      return Promise.reject(new DOMException("quota", "QuotaExceededError"));
    },
  });
  const errors: unknown[] = [];
  const identity = await loadIdentity({ room: ROOM, store: failing, onStorageError: (e) => errors.push(e) });
  assertEquals(identity.persistent, false);
  assertEquals(errors.length, 1);
  assert(await identity.signer.verify(await signed(identity)), "it still signs");
});

Deno.test("a stored record that is not a key pair is replaced by a new identity", async () => {
  const store = new MemoryStore();
  await store.patchState(ROOM, { identity: { privateKey: "junk", publicKey: 1 } as unknown as CryptoKeyPair });
  const identity = await loadIdentity({ room: ROOM, store });
  assertEquals(identity.persistent, true);
  assertEquals((await loadIdentity({ room: ROOM, store })).member, identity.member);
});
