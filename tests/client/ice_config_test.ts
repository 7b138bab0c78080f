import { assertEquals } from "@std/assert";
import { ICE_FETCH_TIMEOUT_MS, type IceAnswer, iceAnswerOf, IceConfig } from "../../lib/client/ice_config.ts";
import { FakeClock, settle } from "../support/fake_clock.ts";

function answer(n: number, expiresAt: number): IceAnswer {
  return {
    iceServers: [{ urls: `turn:127.0.0.1:3478?n=${n}`, username: `u${n}`, credential: "c" }],
    ttl: 600,
    expiresAt,
  };
}

Deno.test("ICE servers are cached and fetched again before the credential expires", async () => {
  let now = 0;
  let fetches = 0;
  const ice = new IceConfig({
    fetchIce: () => Promise.resolve(answer(++fetches, now + 600_000)),
    refreshMarginMs: 60_000,
    now: () => now,
  });
  assertEquals((await ice.servers())[0].username, "u1");
  now = 539_999;
  assertEquals((await ice.servers())[0].username, "u1", "still fresh");
  now = 540_000;
  assertEquals((await ice.servers())[0].username, "u2", "refreshed a margin before expiry");
  assertEquals(fetches, 2);
});

Deno.test("concurrent callers share one fetch", async () => {
  let fetches = 0;
  const ice = new IceConfig({
    fetchIce: () => Promise.resolve(answer(++fetches, Date.now() + 600_000)),
    refreshMarginMs: 60_000,
  });
  await Promise.all([ice.servers(), ice.servers(), ice.servers()]);
  assertEquals(fetches, 1);
});

Deno.test("a failed refresh keeps the last list, and a first failure gives an empty list", async () => {
  let now = 0;
  let fail = false;
  const ice = new IceConfig({
    fetchIce: () => fail ? Promise.reject(new Error("offline")) : Promise.resolve(answer(1, now + 600_000)),
    refreshMarginMs: 60_000,
    now: () => now,
  });
  await ice.servers();
  fail = true;
  now = 700_000;
  assertEquals((await ice.servers())[0].username, "u1");
  const empty = new IceConfig({ fetchIce: () => Promise.reject(new Error("down")), refreshMarginMs: 1 });
  const warn = console.warn;
  console.warn = () => {};
  try {
    assertEquals(await empty.servers(), []);
  } finally {
    console.warn = warn;
  }
});

Deno.test("a fetch that does not answer in time never stalls P2P: no TURN now, the late answer cached for next time", async () => {
  const clock = new FakeClock(0);
  let answerLate: (answer: IceAnswer) => void = () => {};
  let fetches = 0;
  const ice = new IceConfig({
    fetchIce: () => {
      fetches++;
      return new Promise((resolve) => answerLate = resolve);
    },
    refreshMarginMs: 60_000,
    timers: clock,
    now: clock.now,
  });
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (text: string) => warnings.push(text);
  try {
    let servers: RTCIceServer[] | undefined;
    void ice.servers().then((list) => servers = list);
    await clock.advance(ICE_FETCH_TIMEOUT_MS - 1);
    assertEquals(servers, undefined, "still waiting within the timeout");
    await clock.advance(1);
    await settle();
    assertEquals(servers, [], "host candidates only, at the timeout");
    assertEquals(warnings.length, 1);
    answerLate(answer(1, 600_000));
    await settle();
    assertEquals((await ice.servers())[0].username, "u1", "the late answer serves the next connection");
    assertEquals(fetches, 1);
  } finally {
    console.warn = warn;
  }
});

Deno.test("a timed-out refresh keeps the last list", async () => {
  const clock = new FakeClock(0);
  let hang = false;
  const ice = new IceConfig({
    fetchIce: () => hang ? new Promise(() => {}) : Promise.resolve(answer(1, 600_000)),
    refreshMarginMs: 60_000,
    timeoutMs: 1_000,
    timers: clock,
    now: clock.now,
  });
  await ice.servers();
  hang = true;
  await clock.advance(560_000);
  const refreshed = ice.servers();
  await clock.advance(1_000);
  assertEquals((await refreshed)[0].username, "u1");
});

Deno.test("an ice frame becomes an answer that expires its ttl after it arrived", () => {
  const frame = { type: "ice" as const, iceServers: [{ urls: ["stun:s.example"] }], ttl: 600 };
  assertEquals(iceAnswerOf(frame, 1_000), { iceServers: frame.iceServers, ttl: 600, expiresAt: 601_000 });
});
