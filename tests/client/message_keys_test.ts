/**
 * Messages travel without their author's public key: a receiver recovers a
 * new author's key from the signature (only the key that hashes to the
 * author counts), remembers it, and still verifies every message with
 * WebCrypto; forgeries and floods of made-up authors get nowhere.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { recoverPublicKeys } from "../../lib/client/courier/key_recovery.ts";
import { KeyBook, RECOVERY_BURST } from "../../lib/client/courier/keys.ts";
import { memberIdOf, signingText, type WireMessage } from "../../lib/client/courier/mod.ts";
import { fromBase64Url } from "../../lib/client/crypto.ts";
import { encodeBase64Url } from "../../lib/protocol/mod.ts";
import { payloadOf, Rig, ROOM } from "./_sim/rig.ts";
import { newMember, signed } from "./_sim/signers.ts";

const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;

function withoutKey(m: WireMessage): WireMessage {
  const { pk: _pk, ...rest } = m;
  return rest;
}

Deno.test("recovery finds the signing key among its two candidates, for any WebCrypto signature", async () => {
  for (let i = 0; i < 20; i++) {
    const pair = await crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"]);
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const text = crypto.getRandomValues(new Uint8Array(1 + i * 7));
    const sig = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, text));
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", text));
    const candidates = recoverPublicKeys(hash, sig).map(encodeBase64Url);
    assertEquals(candidates.length, 2);
    assert(candidates.includes(encodeBase64Url(raw)), `signature ${i}: the key is a candidate`);
  }
});

Deno.test("recovery gives nothing for signatures that cannot be one", () => {
  const hash = new Uint8Array(32).fill(7);
  assertEquals(recoverPublicKeys(hash, new Uint8Array(64)), [], "r = s = 0");
  assertEquals(recoverPublicKeys(hash, new Uint8Array(64).fill(0xff)), [], "r and s over the group order");
  assertEquals(recoverPublicKeys(hash, new Uint8Array(63).fill(1)), [], "short");
  assertEquals(recoverPublicKeys(new Uint8Array(31), new Uint8Array(64).fill(1)), [], "not a SHA-256 digest");
});

Deno.test("the key book recovers the key of many messages of one author at once, and only the author's key", async () => {
  const alice = await newMember(ROOM);
  const mallory = await newMember(ROOM);
  const book = new KeyBook({ room: ROOM, now: () => 0, signingText, memberIdOf });
  const messages = await Promise.all(
    [1, 2, 3].map((n) => signed(alice, { id: `m${n}`, time: 1_000 + n, n, body: `hello ${n}` })),
  );
  const found = await Promise.all(messages.map((m) => book.recover(withoutKey(m), "s1")));
  assertEquals(found.map((r) => r.pk), messages.map((m) => m.pk));
  assertEquals(await memberIdOf(fromBase64Url(found[0].pk!)!), alice.member);
  const forged = await signed(mallory, { id: "f", time: 1_000, body: "I am alice", author: alice.member });
  assertEquals(await book.recover(withoutKey(forged), "s1"), { pk: undefined, reason: "forged" });
});

Deno.test("each sending session gets a bounded number of key recoveries, earned back over time", async () => {
  const mallory = await newMember(ROOM);
  const alice = await newMember(ROOM);
  let now = 0;
  const book = new KeyBook({ room: ROOM, now: () => now, signingText, memberIdOf });
  const fake = await signed(mallory, { id: "x", time: 1_000, body: "spam", author: "A".repeat(22) });
  for (let i = 0; i < RECOVERY_BURST; i++) assertEquals((await book.recover(fake, "hostile")).pk, undefined);
  assertEquals(await book.recover(fake, "hostile"), { pk: undefined, reason: "throttled" });
  const honest = await signed(alice, { id: "a", time: 1_000, body: "hi" });
  assertEquals((await book.recover(withoutKey(honest), "honest")).pk, honest.pk, "other senders keep theirs");
  now += 1_000;
  assertEquals(await book.recover(fake, "hostile"), { pk: undefined, reason: "forged" }, "earned back");
});

Deno.test("a message without its key is taken, stored with the recovered key, and a forgery is refused", async () => {
  const rig = await Rig.create();
  const bob = await newMember(ROOM);
  const mallory = await newMember(ROOM);
  const courier = await rig.load();
  courier.relayUp({
    peer: "me",
    peers: [{ id: "bob", presence: "online", member: bob.member }, {
      id: "mal",
      presence: "online",
      member: mallory.member,
    }],
  });
  rig.take();
  const m = await signed(bob, { id: "b1", time: rig.time.now, body: "no key attached" });
  courier.receiveSignal("bob", payloadOf({ t: "msg", m: withoutKey(m) }));
  await rig.settle();
  assertEquals((await rig.store.getMessage(ROOM, "b1"))?.pk, m.pk, "stored with the author's key");
  const forged = await signed(mallory, { id: "f1", time: rig.time.now, n: 2, body: "bob says", author: bob.member });
  courier.receiveSignal("mal", payloadOf({ t: "msg", m: withoutKey(forged) }));
  const stolenKey = { ...withoutKey(forged), pk: m.pk };
  courier.receiveSignal("mal", payloadOf({ t: "msg", m: { ...stolenKey, id: "f2" } }));
  await rig.settle();
  assertEquals(courier.messages.map((x) => x.id), ["b1"]);
  assertEquals(rig.rejections(), ["forged", "forged"]);
  courier.close();
});

Deno.test("a wrong key kept in the store is a hint: the next message of its author recovers the right one", async () => {
  const first = await Rig.create();
  const bob = await newMember(ROOM);
  const other = await newMember(ROOM);
  const courier = await first.load();
  courier.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  first.take();
  const m1 = await signed(bob, { id: "b1", time: first.time.now, body: "one" });
  courier.receiveSignal("bob", payloadOf({ t: "msg", m: withoutKey(m1) }));
  await first.settle();
  courier.close();
  const stored = await first.store.getMessage(ROOM, "b1");
  await first.store.putMessage(ROOM, { ...stored!, pk: (await signed(other, { id: "o", time: 1, body: "" })).pk });
  const reloaded = await first.load();
  reloaded.relayUp({ peer: "me", peers: [{ id: "bob", presence: "online", member: bob.member }] });
  const m2 = await signed(bob, { id: "b2", time: first.time.now, n: 2, body: "two" });
  reloaded.receiveSignal("bob", payloadOf({ t: "msg", m: withoutKey(m2) }));
  await first.settle();
  assertEquals((await first.store.getMessage(ROOM, "b2"))?.pk, m2.pk);
  reloaded.close();
});
