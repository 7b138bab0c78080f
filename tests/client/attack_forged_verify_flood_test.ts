/**
 * ATTACK: forged signatures that cost the sender nothing and the receiver an ECDSA verification each, unthrottled.
 *
 * `keys.ts` throttles key recovery per sending session (64 at once, 16/s) "so a member sending forged messages
 * under made-up authors cannot keep a receiver busy". But `Inbox.#verify` skips that allowance whenever the
 * message carries `pk`: it goes straight to `signer.verify`. So a member takes its own key, and sends `hist`
 * packets of up to 1,000 messages (a few hundred fit a frame) with `author` = its member id, `pk` = its key, fresh
 * ids and RANDOM 86-character `sig`s. Making one costs the attacker a random string; checking it costs the
 * victim an ECDSA P-256 verification (plus a key import). Nothing remembers that this session keeps sending
 * forgeries, so it can go on at the relay's full rate (~50 frames/s × ~250 messages) or faster over a
 * DataChannel (no rate limit at all), keeping the victim's verification queue (and its honest messages behind it)
 * busy indefinitely.
 *
 * Expected safe behaviour: verifications spent on one session's messages are bounded like recoveries (a per-session
 * allowance that forged messages use up, or a session whose messages failed verification is not verified again for
 * a while); here, 2,000 forged messages from one session in one second cost at most a few hundred verifications.
 */
import { assert, assertEquals } from "@std/assert";
import type { MessageSigner } from "../../lib/client/courier/mod.ts";
import { newMessageId } from "../../lib/client/courier/message_id.ts";
import { formatOrderKey } from "../../lib/client/order_key.ts";
import { encodeBase64Url } from "../../lib/protocol/ids.ts";
import { payloadOf, Rig, ROOM } from "./_sim/rig.ts";
import { newMember, signed } from "./_sim/signers.ts";

Deno.test("one session's flood of messages with random signatures and a carried key does not cost a verification each", async () => {
  const own = await newMember(ROOM);
  let verifications = 0;
  const counting: MessageSigner = {
    member: own.member,
    sign: (m) => own.sign(m),
    verify(m) {
      verifications++;
      return own.verify(m);
    },
  };
  const victim = await Rig.create({ signer: counting });
  const eve = await newMember(ROOM);
  const courier = await victim.load();
  courier.relayUp({ peer: "ann", peers: [{ id: "eve", presence: "online", member: eve.member }] });
  // Eve's real key, taken from one message she signs once.
  const pk = (await signed(eve, { id: "k", time: victim.time.now, body: "" })).pk!;

  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  let forged = 0;
  for (let packet = 0; packet < 10; packet++) {
    const ms = Array.from({ length: 200 }, (_, i) => ({
      id: newMessageId(eve.member, random),
      author: eve.member,
      order: formatOrderKey({ ms: victim.time.now, c: 0, author: eve.member, tab: "t", n: packet * 200 + i + 1 }),
      time: victim.time.now,
      body: ".",
      pk,
      sig: encodeBase64Url(random(64)),
    }));
    forged += ms.length;
    courier.receiveSignal("eve", payloadOf({ t: "hist", ms }));
  }
  await victim.settle();
  courier.close();
  assertEquals(courier.messages.length, 0, "none of them is shown");
  assert(
    verifications <= 300,
    `${forged} forged messages from one session cost the victim ${verifications} ECDSA verifications`,
  );
});
