import { assertEquals } from "@std/assert";
import { type IceAnswer, IceConfig } from "../../lib/client/ice_config.ts";

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
