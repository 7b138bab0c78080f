/**
 * The early hello: a room page carries a page nonce, and its socket sends the
 * hello in the upgrade request, proving the key over that nonce, so the
 * server welcomes it without a challenge round trip. Page nonces are this
 * deployment's, for one room, fresh, and used at most once on any instance;
 * anything else about an early hello gets the socket an ordinary challenge.
 * @module
 */
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";
import { assert, assertEquals, assertMatch, assertNotEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import {
  admissionKey,
  encodeEarlyHello,
  helloProof,
  memberIdOf,
  memberProof,
  PAGE_NONCE_PATTERN,
} from "../../lib/protocol/admission.ts";
import type { HelloFrame } from "../../lib/protocol/frames.ts";
import { PAGE_NONCE_TTL_MS, PageNonces } from "../../lib/server/page_nonce.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { TEST_ROOM_KEY, TestClient } from "../support/signal_test_client.ts";

/** Another room key than the test clients' default one. */
const OTHER_KEY = new Uint8Array(32).fill(9);

/** The early hello a room page's bootstrap sends for `room` over `nonce`: proof, and optionally a member proof. */
async function earlyHello(
  room: string,
  nonce: string,
  options: { key?: Uint8Array; pair?: CryptoKeyPair; fields?: Partial<HelloFrame> } = {},
): Promise<HelloFrame> {
  const verifier = await admissionKey(options.key ?? TEST_ROOM_KEY, room);
  return {
    type: "hello",
    v: PROTOCOL_VERSION,
    since: 0,
    proof: await helloProof(verifier, room, nonce),
    ...(options.pair ? { member: await memberProof(options.pair, room, nonce) } : {}),
    ...options.fields,
  };
}

/** The upgrade URL with an early hello, as the bootstrap builds it. */
function earlyUrl(signalUrl: string, nonce: string, hello: HelloFrame): string {
  return `${signalUrl}&nonce=${nonce}&hello=${encodeEarlyHello(hello)}`;
}

Deno.test("page nonces: one room, fresh, this deployment's; the secret is shared through KV; used once", async (t) => {
  const kv = await Deno.openKv(":memory:");
  let now = 1_764_000_000_000;
  const clock = () => now;
  const one = new PageNonces({ kv, now: clock });
  const two = new PageNonces({ kv, now: clock });
  const room = newRoomId();
  try {
    await t.step("52 base64url characters, a new one each time", async () => {
      const [a, b] = [await one.issue(room), await one.issue(room)];
      assertMatch(a, PAGE_NONCE_PATTERN);
      assertNotEquals(a, b);
    });

    await t.step("good for its room on every instance of the deployment, not for another room", async () => {
      const nonce = await one.issue(room);
      assertEquals(await one.check(room, nonce), "ok");
      assertEquals(await two.check(room, nonce), "ok", "the other instance reads the same secret from KV");
      assertEquals(await one.check(newRoomId(), nonce), "forged");
    });

    await t.step("a changed byte, another deployment's secret, or not a nonce at all: refused", async () => {
      const nonce = await one.issue(room);
      const flipped = nonce.slice(0, 40) + (nonce[40] === "A" ? "B" : "A") + nonce.slice(41);
      assertEquals(await one.check(room, flipped), "forged");
      const elsewhere = new PageNonces({ kv, secret: new Uint8Array(32).fill(1), now: clock });
      assertEquals(await elsewhere.check(room, nonce), "forged");
      assertEquals(await one.check(room, "x".repeat(43)), "malformed");
      assertEquals(await one.check(room, "A".repeat(52)), "malformed", "an unknown version");
    });

    await t.step("expired after its time to live", async () => {
      const nonce = await one.issue(room);
      now += PAGE_NONCE_TTL_MS;
      assertEquals(await one.check(room, nonce), "ok");
      now += 1;
      assertEquals(await one.check(room, nonce), "expired");
    });

    await t.step("used once, whichever instance redeems it", async () => {
      const nonce = await one.issue(room);
      assertEquals(await two.consume(nonce), true);
      assertEquals(await one.consume(nonce), false);
      assertEquals(await two.consume(nonce), false);
    });
  } finally {
    kv.close();
  }
});

Deno.test("an early hello is welcomed without a challenge; a replay of it only gets a challenge", async (t) => {
  const server = await startInProcess({ instances: 2 });
  const [one, two] = server.instances;
  const room = newRoomId();
  const clients: TestClient[] = [];
  const connect = async (url: string, key?: Uint8Array) => {
    const client = await TestClient.connect(url, { key });
    clients.push(client);
    return client;
  };
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const member = await memberIdOf(new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)));
  try {
    let creator!: TestClient;
    let seenUrl = "";

    await t.step(
      "a new room: verifier_required, then the hello with the verifier over the same page nonce",
      async () => {
        const nonce = await one.service.pageNonces.issue(room);
        const hello = await earlyHello(room, nonce);
        creator = await connect(earlyUrl(one.signalUrl(room), nonce, hello));
        assertEquals((await creator.next()).code, "verifier_required", "no challenge came first");
        creator.send({ ...hello, verifier: creator.verifier });
        await creator.nextOf("welcome");
        assertEquals(creator.nonce, null, "the socket never got a challenge");
        assertEquals(await server.store.verifier(room), creator.verifier);
      },
    );

    await t.step("a joiner's first frame is its welcome, with its member id stamped", async () => {
      const nonce = await one.service.pageNonces.issue(room);
      seenUrl = earlyUrl(one.signalUrl(room), nonce, await earlyHello(room, nonce, { pair }));
      const joiner = await connect(seenUrl);
      const welcome = await joiner.next();
      assertEquals([welcome.type, welcome.member], ["welcome", member]);
      assertEquals(joiner.all[0].type, "welcome", "the first frame");
      const joined = await creator.next((f) => f.type === "presence" && f.state === "joined");
      assertEquals([joined.peer, joined.member], [welcome.peer, member]);
    });

    await t.step(
      "the same upgrade URL again (a logging proxy saw it) gets a challenge, on either instance",
      async () => {
        for (const instance of [one, two]) {
          const replayed = seenUrl.replace(one.signalUrl(room), instance.signalUrl(room));
          const mallory = await connect(replayed, OTHER_KEY);
          assertMatch(await mallory.challenge(), /^[A-Za-z0-9_-]{43}$/);
          assertEquals(mallory.all[0].type, "challenge", "not welcomed");
          mallory.send(await mallory.helloFrame());
          assertEquals((await mallory.nextOf("error")).code, "admission_refused");
          assertEquals((await mallory.waitClosed()).code, 4403);
        }
      },
    );

    await t.step("a nonce issued by one instance is redeemed on another", async () => {
      const nonce = await two.service.pageNonces.issue(room);
      const client = await connect(earlyUrl(one.signalUrl(room), nonce, await earlyHello(room, nonce)));
      assertEquals((await client.next()).type, "welcome");
    });

    await t.step(
      "an expired nonce, another room's, or a hello carrying the verifier: a challenge instead",
      async () => {
        const old = new PageNonces({ kv: server.kv, now: () => Date.now() - PAGE_NONCE_TTL_MS - 1_000 });
        const expired = await old.issue(room);
        const otherRoom = await one.service.pageNonces.issue(newRoomId());
        const fresh = await one.service.pageNonces.issue(room);
        for (
          const url of [
            earlyUrl(one.signalUrl(room), expired, await earlyHello(room, expired)),
            earlyUrl(one.signalUrl(room), otherRoom, await earlyHello(room, otherRoom)),
            `${one.signalUrl(room)}&nonce=${fresh}&hello=${
              btoa(JSON.stringify({ ...await earlyHello(room, fresh), verifier: creator.verifier }))
                .replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "")
            }`,
            `${one.signalUrl(room)}&nonce=${fresh}&hello=not-json`,
          ]
        ) {
          const client = await connect(url);
          await client.challenge();
          assertEquals(client.all[0].type, "challenge", url);
          const welcome = await client.hello();
          assert(welcome.peer, "and the challenge works as ever");
        }
      },
    );

    await t.step("a wrong key in an early hello is refused like any hello, and nobody sees it", async () => {
      const nonce = await one.service.pageNonces.issue(room);
      const mallory = await connect(
        earlyUrl(one.signalUrl(room), nonce, await earlyHello(room, nonce, { key: OTHER_KEY })),
        OTHER_KEY,
      );
      assertEquals((await mallory.nextOf("error")).code, "admission_refused");
      assertEquals((await mallory.waitClosed()).code, 4403);
    });

    await t.step("the creator saw only the members that were admitted", () => {
      const joined = creator.all.filter((f) => f.type === "presence" && f.state === "joined");
      assertEquals(joined.length, 1 + 1 + 4, "the joiner, the other instance's, and the four challenge fallbacks");
    });
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});
