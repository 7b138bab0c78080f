/**
 * A hostile stranger (no room key) and a hostile member (the key, a modified client) against the
 * real signaling service and a real (in-memory) Deno KV: session tokens, KV growth, TURN credentials.
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { memberProof } from "../../lib/protocol/admission.ts";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { DEFAULT_CONFIG } from "../../lib/server/config.ts";
import { ICE_ADDRESS_RATE, ICE_RATE } from "../../lib/server/ice_access.ts";
import { IceServers, parseIceConfig } from "../../lib/server/ice_servers.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { createSignalServer } from "../../lib/server/mod.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { TestClient } from "../support/signal_test_client.ts";

const SECRET = "s3cret-that-must-never-leave-the-server";
/** A frozen clock: rate buckets never refill, so the count of requests alone decides. */
const NOW = 1_700_000_000_000;

function turnIce(): IceServers {
  const env: Record<string, string> = { TURN_URLS: "turn:turn.example.org?transport=udp", TURN_SECRET: SECRET };
  return new IceServers(parseIceConfig((name) => env[name]), { now: () => NOW });
}

function memberPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
}

/** Every key in the KV, as text. */
async function keysOf(kv: Deno.Kv): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const entry of kv.list({ prefix: [] })) keys.add(JSON.stringify(entry.key));
  return keys;
}

Deno.test("a session token resumes only its own member's session: another member holding it neither takes the id nor evicts", async (t) => {
  const server = await startInProcess();
  const room = newRoomId();
  const clients: TestClient[] = [];
  const connect = async () => {
    const client = await TestClient.connect(server.signalUrl(room));
    clients.push(client);
    return client;
  };
  const alicePair = await memberPair();
  const malloryPair = await memberPair();
  try {
    let alice = await connect();
    const welcome = await alice.hello({ member: await memberProof(alicePair, room, await alice.challenge()) });

    await t.step("mallory (the key, her own member key) with alice's token: a new identity; alice stays", async () => {
      const mallory = await connect();
      const w = await mallory.hello({
        token: welcome.token,
        member: await memberProof(malloryPair, room, await mallory.challenge()),
      });
      assertEquals(w.resumed, false);
      assertNotEquals(w.peer, welcome.peer);
      assertNotEquals(w.token, welcome.token);
      alice.send({ type: "ping", n: 1 });
      assertEquals((await alice.nextOf("pong")).n, 1, "alice's socket was not replaced");
      assert(!alice.all.some((f) => f.type === "error" && f.code === "replaced"));
      assertEquals((await server.store.presence(room, welcome.peer))?.state, "online");
    });

    await t.step("with alice's token and no member proof: a new identity too", async () => {
      const anonymous = await connect();
      const w = await anonymous.hello({ token: welcome.token });
      assertEquals(w.resumed, false);
      assertNotEquals(w.peer, welcome.peer);
      assert(!alice.all.some((f) => f.type === "error" && f.code === "replaced"));
    });

    await t.step("alice herself, proving her member key, resumes her session", async () => {
      await alice.close();
      alice = await connect();
      const w = await alice.hello({
        token: welcome.token,
        member: await memberProof(alicePair, room, await alice.challenge()),
      });
      assertEquals([w.resumed, w.peer, w.member], [true, welcome.peer, welcome.member]);
    });
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});

Deno.test("a session token is bound to its room, ends with bye, and expires with the resume window", async (t) => {
  let now = NOW;
  const server = await startInProcess({ now: () => now });
  const [roomA, roomB] = [newRoomId(), newRoomId()];
  const clients: TestClient[] = [];
  const connect = async (room: string) => {
    const client = await TestClient.connect(server.signalUrl(room));
    clients.push(client);
    return client;
  };
  try {
    const alice = await connect(roomA);
    const welcome = await alice.hello();

    await t.step("the token in another room (whose key the client holds): a new identity", async () => {
      const elsewhere = await connect(roomB);
      const w = await elsewhere.hello({ token: welcome.token });
      assertEquals(w.resumed, false);
      assertNotEquals(w.peer, welcome.peer);
      assertEquals((await server.store.presence(roomA, welcome.peer))?.state, "online", "alice is untouched");
    });

    await t.step("after the resume window the token gives a new identity", async () => {
      await alice.close();
      // The drop is written before the window starts counting.
      while ((await server.store.presence(roomA, welcome.peer))?.state !== "away") {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      now += server.config.resumeWindowMs + 1;
      const late = await connect(roomA);
      const w = await late.hello({ token: welcome.token });
      assertEquals(w.resumed, false);
      assertNotEquals(w.peer, welcome.peer);
    });

    await t.step("after bye the token gives a new identity", async () => {
      const bob = await connect(roomA);
      const first = await bob.hello();
      bob.send({ type: "bye" });
      await bob.waitClosed();
      const back = await connect(roomA);
      const w = await back.hello({ token: first.token });
      assertEquals(w.resumed, false);
      assertNotEquals(w.peer, first.peer);
    });
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});

Deno.test("a stranger leaves nothing in KV: wrong proofs, hellos to made-up rooms, made-up tokens at /api/ice", async () => {
  const server = await startInProcess({ now: () => NOW });
  const room = newRoomId();
  const stranger = { key: new Uint8Array(32).fill(9) };
  const clients: TestClient[] = [];
  try {
    const alice = await TestClient.connect(server.signalUrl(room));
    clients.push(alice);
    const welcome = await alice.hello({ since: 0 });
    alice.send({ type: "chat", id: "m1", data: "ZGF0YQ" });
    await alice.nextOf("accepted");
    const before = await keysOf(server.kv);

    for (let i = 0; i < 10; i++) {
      const wrong = await TestClient.connect(server.signalUrl(room), stranger);
      clients.push(wrong);
      wrong.send(await wrong.helloFrame({ token: welcome.token }));
      assertEquals((await wrong.nextOf("error")).code, "admission_refused");
    }
    for (let i = 0; i < 10; i++) {
      const fresh = await TestClient.connect(server.signalUrl(newRoomId()), stranger);
      clients.push(fresh);
      fresh.send(await fresh.helloFrame());
      assertEquals((await fresh.nextOf("error")).code, "verifier_required");
      await fresh.close();
    }
    for (let i = 0; i < 10; i++) {
      const token = welcome.peer + crypto.randomUUID().replaceAll("-", "");
      const response = await server.instances[0].service.iceAccess.answerRequest(
        new Request(`http://localhost/api/ice?room=${room}`, { headers: { authorization: `Bearer ${token}` } }),
        "198.51.100.7",
      );
      assertEquals(response.status, 401);
      await response.body?.cancel();
    }
    assertEquals([...await keysOf(server.kv)].filter((key) => !before.has(key)), []);
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});

Deno.test("a member cannot farm TURN credentials by opening session after session from one address", async () => {
  // The join pace (JOIN_RATE_ADDR) is not under test here: with the clock frozen it would never refill.
  const server = await startInProcess({
    ice: turnIce(),
    now: () => NOW,
    config: { joinRate: { perSecond: 1, burst: 10_000 } },
  });
  const room = newRoomId();
  let minted = 0;
  try {
    // Each session takes its whole allowance, then says bye: a fresh session brings a fresh session allowance.
    for (let sessions = 0; minted < ICE_ADDRESS_RATE.burst; sessions++) {
      assert(sessions < ICE_ADDRESS_RATE.burst, `${sessions} sessions minted only ${minted} credentials`);
      const session = await TestClient.connect(server.signalUrl(room));
      await session.hello();
      for (let i = 0; i < ICE_RATE.burst; i++) session.send({ type: "ice" });
      const answers = () => session.all.filter((f) => f.type === "ice" || f.type === "error");
      await session.until(() => answers().length === ICE_RATE.burst);
      minted += answers().filter((f) => f.type === "ice").length;
      session.send({ type: "bye" });
      await session.waitClosed();
    }
    assertEquals(minted, ICE_ADDRESS_RATE.burst, "the address's allowance, not sessions times theirs");
    const fresh = await TestClient.connect(server.signalUrl(room));
    try {
      await fresh.hello();
      fresh.send({ type: "ice" });
      assertEquals((await fresh.next((f) => f.type === "ice" || f.type === "error")).code, "rate_limited");
    } finally {
      await fresh.close();
    }
  } finally {
    await server.stop();
  }
});

Deno.test("/api/ice: tokens tried from one address cost one session read per request allowed; other addresses are served", async () => {
  const kv = await Deno.openKv(":memory:");
  let sessionReads = 0;
  // Counts reads of sessions (presence keys), whatever else the server's background work reads.
  const counted = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "get" || typeof value !== "function") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (key: Deno.KvKey, ...rest: unknown[]) => {
        if (key[1] === "p") sessionReads++;
        return value.call(target, key, ...rest);
      };
    },
  });
  const bus = new LocalBusNetwork().join("instance-0");
  const server = await createSignalServer({ config: DEFAULT_CONFIG, kv: counted, bus, ice: turnIce() });
  const ask = async (address: string) => {
    const token = "A".repeat(12) + crypto.randomUUID().replaceAll("-", "");
    const request = new Request(`http://localhost/api/ice?room=${newRoomId()}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const response = await server.ice(request, { hostname: address });
    await response.body?.cancel();
    return response.status;
  };
  try {
    const statuses: number[] = [];
    for (let i = 0; i < ICE_ADDRESS_RATE.burst + 200; i++) statuses.push(await ask("203.0.113.9"));
    const unauthorized = statuses.filter((status) => status === 401).length;
    const limited = statuses.filter((status) => status === 429).length;
    assertEquals(unauthorized + limited, statuses.length, "no credentials for made-up tokens");
    assert(limited > 0, "the address's allowance ran out");
    assertEquals(sessionReads, unauthorized, "a request refused for its address reads nothing");
    assertEquals(await ask("203.0.113.10"), 401, "another address has its own allowance");
  } finally {
    await server.shutdown();
    await bus.close();
    kv.close();
  }
});
