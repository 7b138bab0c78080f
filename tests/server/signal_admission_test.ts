/**
 * Admission by challenge-response against real sockets: who gets in, who does
 * not, when a room's verifier is written, and how long it lives.
 * @module
 */
import { assertEquals, assertMatch, assertNotEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { memberIdOf, memberProof } from "../../lib/protocol/admission.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { TestClient } from "../support/signal_test_client.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";

/** Another room key than the test clients' default one. */
const OTHER_KEY = new Uint8Array(32).fill(9);

/** Sends a raw frame and returns the error frame and close that follow. */
async function refusal(client: TestClient, frame: unknown): Promise<{ code: unknown; close: number }> {
  client.send(frame);
  const error = await client.nextOf("error");
  return { code: error.code, close: (await client.waitClosed()).code };
}

Deno.test("a new room is registered by the verifier its creator sends when asked; then only its key gets in", async (t) => {
  const server = await startInProcess();
  const room = newRoomId();
  const clients: TestClient[] = [];
  const connect = async (key?: Uint8Array) => {
    const client = await TestClient.connect(server.signalUrl(room), { key });
    clients.push(client);
    return client;
  };
  try {
    let alice!: TestClient;
    let aliceWelcome!: Record<string, unknown>;
    let bob!: TestClient;
    await t.step("the socket opens with a challenge: 32 random bytes, a new nonce per socket", async () => {
      const [a, b] = [await connect(), await connect()];
      assertMatch(await a.challenge(), /^[A-Za-z0-9_-]{43}$/);
      assertNotEquals(await a.challenge(), await b.challenge());
      assertEquals(a.all[0].type, "challenge", "the challenge is the first frame");
      await a.close();
      await b.close();
    });

    await t.step("a client that omits the verifier again after verifier_required is refused", async () => {
      const stubborn = await connect();
      const hello = await stubborn.helloFrame();
      stubborn.send(hello);
      assertEquals((await stubborn.nextOf("error")).code, "verifier_required");
      assertEquals(await refusal(stubborn, hello), { code: "admission_refused", close: 4403 });
      assertEquals(await server.store.verifier(room), null);
    });

    await t.step("a hello without verifier on a new room gets verifier_required; the socket stays open", async () => {
      alice = await connect();
      const hello = await alice.helloFrame();
      alice.send(hello);
      assertEquals((await alice.nextOf("error")).code, "verifier_required");
      assertEquals(await server.store.verifier(room), null, "nothing is registered yet");
      alice.send({ ...hello, verifier: alice.verifier });
      aliceWelcome = await alice.nextOf("welcome");
      assertEquals(await server.store.verifier(room), alice.verifier);
    });

    await t.step("the same key is admitted at once, without sending the verifier", async () => {
      bob = await connect();
      bob.send(await bob.helloFrame());
      const welcome = await bob.nextOf("welcome");
      assertEquals(welcome.peers, [{ id: aliceWelcome.peer, presence: "online" }]);
    });

    await t.step("a wrong key is refused with admission_refused and 4403, even sending its own verifier", async () => {
      const mallory = await connect(OTHER_KEY);
      assertEquals(await refusal(mallory, await mallory.helloFrame({ verifier: mallory.verifier })), {
        code: "admission_refused",
        close: 4403,
      });
      assertEquals(await server.store.verifier(room), alice.verifier, "the verifier is unchanged");
    });

    await t.step("a hello without proof is refused", async () => {
      const mallory = await connect();
      assertEquals(await refusal(mallory, { type: "hello", v: PROTOCOL_VERSION }), {
        code: "admission_refused",
        close: 4403,
      });
    });

    await t.step("a proof replayed on another socket is refused: it is bound to its nonce", async () => {
      const carol = await connect();
      const seen = await carol.helloFrame(); // what an eavesdropper (or a logging proxy) saw
      carol.send(seen);
      await carol.nextOf("welcome");
      const mallory = await connect(OTHER_KEY);
      await mallory.challenge();
      assertEquals(await refusal(mallory, seen), { code: "admission_refused", close: 4403 });
    });

    await t.step("a resume needs the proof too; with it the peer keeps its id", async () => {
      const token = aliceWelcome.token;
      await alice.close();
      const thief = await connect(OTHER_KEY);
      assertEquals(await refusal(thief, await thief.helloFrame({ token })), {
        code: "admission_refused",
        close: 4403,
      });
      const back = await connect();
      assertEquals((await back.hello({ token })).peer, aliceWelcome.peer);
    });

    await t.step("nobody in the room learnt of the refused peers", () => {
      const presence = bob.all.filter((f) => f.type === "presence").map((f) => f.state);
      assertEquals(presence, ["joined", "away", "online"]); // carol; alice away and back
    });
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});

Deno.test("a room with data but no verifier is never registered: the squat is refused", async (t) => {
  const server = await startInProcess();
  try {
    await t.step("log entries without a verifier", async () => {
      const room = newRoomId();
      await server.log.append(room, '{"type":"chat","id":"m1","data":"YQ","from":"Xk3_a9QpL0sd"}');
      const squatter = await TestClient.connect(server.signalUrl(room));
      assertEquals(await refusal(squatter, await squatter.helloFrame({ verifier: squatter.verifier })), {
        code: "admission_refused",
        close: 4403,
      });
      assertEquals(await server.store.verifier(room), null);
    });

    await t.step("presence without a verifier", async () => {
      const room = newRoomId();
      await server.store.setPresence(room, "Xk3_a9QpL0sd", {
        state: "away",
        inst: "gone",
        until: Date.now() + 60_000,
        h: "x",
      });
      const squatter = await TestClient.connect(server.signalUrl(room));
      const hello = await squatter.helloFrame();
      squatter.send(hello);
      assertEquals((await squatter.nextOf("error")).code, "admission_refused", "not even asked for a verifier");
      assertEquals((await squatter.waitClosed()).code, 4403);
      assertEquals(await server.store.verifier(room), null);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("a verifier is written only after every limit passed: not when too_many_rooms or room_full refuses", async (t) => {
  await t.step("too_many_rooms", async () => {
    const server = await startInProcess({ config: { maxRoomsPerAddress: 1 } });
    const [first, second] = [newRoomId(), newRoomId()];
    const clients: TestClient[] = [];
    try {
      const alice = await TestClient.connect(server.signalUrl(first));
      clients.push(alice);
      await alice.hello();
      const crowded = await TestClient.connect(server.signalUrl(second), { key: OTHER_KEY });
      clients.push(crowded);
      assertEquals(await refusal(crowded, await crowded.helloFrame({ verifier: crowded.verifier })), {
        code: "too_many_rooms",
        close: 4429,
      });
      assertEquals(await server.store.verifier(second), null, "the refused join wrote no verifier");
      await alice.close();
      // The room is still free: its real creator (another key) registers it.
      const creator = await TestClient.connect(server.signalUrl(second));
      clients.push(creator);
      await creator.hello();
      assertEquals(await server.store.verifier(second), creator.verifier);
    } finally {
      for (const client of clients) await client.close();
      await server.stop();
    }
  });

  await t.step("room_full", async () => {
    const server = await startInProcess({ config: { maxPeersPerRoom: 0 } });
    const room = newRoomId();
    try {
      const client = await TestClient.connect(server.signalUrl(room));
      assertEquals(await refusal(client, await client.helloFrame({ verifier: client.verifier })), {
        code: "room_full",
        close: 4409,
      });
      assertEquals(await server.store.verifier(room), null);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("the verifier lives as long as the room: resumes and appends keep it, an idle room lets it go", async (t) => {
  const HOUR = 3_600_000;
  let clock = Date.now();
  const now = () => clock;
  // Retention 1 h; the resume window is long, so the same session resumes after each fake hour.
  const server = await startInProcess({ now, config: { roomTtlMs: HOUR, resumeWindowMs: 10 * HOUR } });
  const room = newRoomId();
  const clients: TestClient[] = [];
  const connect = async (key?: Uint8Array) => {
    const client = await TestClient.connect(server.signalUrl(room), { key });
    clients.push(client);
    return client;
  };
  try {
    let current = await connect();
    let token = (await current.hello()).token;
    await t.step("four resumes, 50 min apart, keep the verifier alive past three retention periods", async () => {
      for (let i = 0; i < 4; i++) {
        await current.close();
        clock += 50 * 60_000;
        current = await connect();
        const welcome = await current.hello({ token });
        assertEquals(welcome.resumed, true);
        token = welcome.token;
      }
      assertEquals(await server.store.verifier(room), current.verifier);
    });

    await t.step("a wrong key is still refused, rather than registering the room anew", async () => {
      const mallory = await connect(OTHER_KEY);
      assertEquals(await refusal(mallory, await mallory.helloFrame({ verifier: mallory.verifier })), {
        code: "admission_refused",
        close: 4403,
      });
    });

    await t.step("an append keeps it too", async () => {
      clock += 50 * 60_000;
      const appendedAt = clock;
      current.send({ type: "chat", id: "late", data: "bGF0ZQ" });
      await current.nextOf("accepted");
      // The append refreshes the verifier in the background: wait for the write.
      const key = ["signal", "a", room];
      await until(async () => ((await server.kv.get<{ until: number }>(key)).value?.until ?? 0) > appendedAt + HOUR);
      clock += 50 * 60_000; // 100 min after the last resume, 50 after the append
      assertEquals(await server.store.verifier(room), current.verifier);
    });

    await t.step("once the room is left and its retention passed, the room and its verifier are gone", async () => {
      current.send({ type: "bye" });
      await current.waitClosed();
      clock += 2 * HOUR;
      assertEquals(await server.store.verifier(room), null);
      assertEquals((await server.log.readAfter(room, 0, 1)).entries, []);
      // A dead room is free again: a new creator registers it with its own key.
      const next = await connect(OTHER_KEY);
      await next.hello();
      assertEquals(await server.store.verifier(room), next.verifier);
    });
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});

/** Polls an async check (a hang guard, not a timing assertion). */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error("condition not met");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("a member proof at hello is checked, and its member id is stamped on the peer everywhere", async (t) => {
  const server = await startInProcess({ instances: 2 });
  const room = newRoomId();
  const [one, two] = server.instances;
  const clients: TestClient[] = [];
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const member = await memberIdOf(new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)));
  const connect = async (url: string, key?: Uint8Array) => {
    const client = await TestClient.connect(url, { key });
    clients.push(client);
    return client;
  };
  try {
    const bob = await connect(one.signalUrl(room));
    await bob.hello();
    let alicePeer = "";
    let aliceToken = "";

    await t.step("a valid proof: welcome.member, and presence joined with member on both instances", async () => {
      const alice = await connect(two.signalUrl(room));
      const welcome = await alice.hello({ member: await memberProof(pair, room, await alice.challenge()) });
      assertEquals(welcome.member, member);
      assertEquals(welcome.peers, [{ id: bob.welcome!.peer, presence: "online" }], "bob proved no member");
      alicePeer = welcome.peer;
      aliceToken = welcome.token;
      const joined = await bob.next((f) => f.type === "presence" && f.peer === alicePeer);
      assertEquals(joined, { type: "presence", peer: alicePeer, state: "joined", member });
    });

    await t.step("a later joiner sees it in welcome.peers, from the shared roster", async () => {
      const carol = await connect(one.signalUrl(room));
      const welcome = await carol.hello();
      assertEquals(welcome.member, undefined);
      const alice = welcome.peers.find((p) => p.id === alicePeer);
      assertEquals(alice, { id: alicePeer, presence: "online", member });
    });

    await t.step("a resume on the other instance says online with the member", async () => {
      await clients[1].close();
      await bob.next((f) => f.type === "presence" && f.peer === alicePeer && f.state === "away");
      const back = await connect(one.signalUrl(room));
      const welcome = await back.hello({
        token: aliceToken,
        member: await memberProof(pair, room, await back.challenge()),
      });
      assertEquals([welcome.peer, welcome.member], [alicePeer, member]);
      const online = await bob.next((f) => f.type === "presence" && f.peer === alicePeer && f.state === "online");
      assertEquals(online.member, member);
    });

    await t.step("a forged member proof (signed over another nonce) is bad_frame, close 4400", async () => {
      const mallory = await connect(two.signalUrl(room));
      await mallory.challenge();
      const stolen = await memberProof(pair, room, "N".repeat(43));
      assertEquals(await refusal(mallory, await mallory.helloFrame({ member: stolen })), {
        code: "bad_frame",
        close: 4400,
      });
      const joined = bob.all.filter((f) => f.type === "presence" && f.state === "joined");
      assertEquals(joined.length, 2, "alice and carol joined; mallory was never seen");
    });
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});
