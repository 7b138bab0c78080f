import { assert, assertEquals, assertMatch, assertNotEquals, assertThrows } from "@std/assert";
import {
  importTurnSecret,
  MAX_TURN_TTL_SECONDS,
  MIN_TURN_TTL_SECONDS,
  TurnCredentials,
  turnPassword,
} from "../../lib/server/turn_credentials.ts";
import { type IceAnswer, IceServers, parseIceConfig } from "../../lib/server/ice_servers.ts";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { findExecutable, startCoturn, tryAllocate } from "../support/coturn.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { TestClient } from "../support/signal_test_client.ts";

/** Computes the TURN REST password with openssl, independently of WebCrypto. */
async function opensslPassword(secret: string, username: string): Promise<string> {
  const child = new Deno.Command(await findExecutable("openssl"), {
    args: ["dgst", "-sha1", "-hmac", secret, "-binary"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(username));
  await writer.close();
  const out = await child.output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return btoa(String.fromCharCode(...out.stdout));
}

Deno.test("the TURN password is base64 HMAC-SHA1 of the username (RFC 2202 vector)", async () => {
  // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?") = effcdf6a...7c79.
  const key = await importTurnSecret("Jefe");
  assertEquals(await turnPassword(key, "what do ya want for nothing?"), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
});

Deno.test("a credential is `<expiry>:<peer>` signed with the secret, matching a fixed openssl vector", async () => {
  // Vector: printf %s "1700000000:peer-abc" | openssl dgst -sha1 -hmac north-wind-secret-0123 -binary | base64
  const turn = new TurnCredentials({
    secret: "north-wind-secret-0123",
    ttlSeconds: 600,
    now: () => (1_700_000_000 - 600) * 1000,
  });
  const credential = await turn.mint("peer-abc");
  assertEquals(credential, {
    username: "1700000000:peer-abc",
    credential: "iYsqtQ1CgPbqy8mbhRsTmtkrGpM=",
    expiresAt: 1_700_000_000_000,
  });
});

Deno.test("credentials match openssl for ASCII and UTF-8 secrets", async (t) => {
  const secrets = ["0123456789abcdef0123456789abcdef", "sécret-ünïcode-key-✓-long-enough", "a".repeat(100)];
  for (const secret of secrets) {
    await t.step(`secret ${JSON.stringify(secret.slice(0, 12))}…`, async () => {
      const turn = new TurnCredentials({ secret, ttlSeconds: 3600 });
      const { username, credential } = await turn.mint();
      assertEquals(credential, await opensslPassword(secret, username));
    });
  }
});

Deno.test("expiry is the current whole second plus the TTL, never longer", async () => {
  const turn = new TurnCredentials({
    secret: "0123456789abcdef",
    ttlSeconds: 900,
    now: () => 1_700_000_000_999,
    randomLabel: () => "fixed",
  });
  const { username, expiresAt } = await turn.mint();
  assertEquals(username, "1700000900:fixed");
  assertEquals(expiresAt, 1_700_000_900_000);
  assertEquals(turn.ttlSeconds, 900);
});

Deno.test("an anonymous credential gets a fresh random label each time", async () => {
  const turn = new TurnCredentials({ secret: "0123456789abcdef", ttlSeconds: 600 });
  const a = await turn.mint();
  const b = await turn.mint();
  assertMatch(a.username, /^\d{10}:[A-Za-z0-9_-]{16}$/);
  assertNotEquals(a.username.split(":")[1], b.username.split(":")[1]);
});

Deno.test("bad labels, short secrets and out-of-range TTLs are refused", async (t) => {
  await t.step("a label with a separator or odd characters", async () => {
    const turn = new TurnCredentials({ secret: "0123456789abcdef", ttlSeconds: 600 });
    for (const label of ["a:b", "", "x".repeat(65), "sp ace", "ü"]) {
      let refused = false;
      await turn.mint(label).catch((error) => (refused = error instanceof RangeError));
      assert(refused, `label ${JSON.stringify(label)} was accepted`);
    }
  });
  await t.step("a secret shorter than 16 characters", () => {
    assertThrows(() => new TurnCredentials({ secret: "short", ttlSeconds: 600 }), RangeError, "at least 16");
  });
  await t.step("a TTL outside the bounds or fractional", () => {
    for (const ttlSeconds of [MIN_TURN_TTL_SECONDS - 1, MAX_TURN_TTL_SECONDS + 1, 600.5, NaN]) {
      assertThrows(() => new TurnCredentials({ secret: "0123456789abcdef", ttlSeconds }), RangeError, "TURN TTL");
    }
  });
});

/** Asks for ICE servers as the app does: an admitted peer's `ice` frame, on a server backed by `ice`. */
async function askOverSocket(ice: IceServers): Promise<{ iceServers: IceAnswer["iceServers"] }> {
  const server = await startInProcess({ ice });
  const client = await TestClient.connect(server.signalUrl(newRoomId()));
  try {
    await client.hello();
    client.send({ type: "ice" });
    return await client.nextOf("ice") as unknown as { iceServers: IceAnswer["iceServers"] };
  } finally {
    await client.close();
    await server.stop();
  }
}

function turnEntry(answer: { iceServers: IceAnswer["iceServers"] }): { username: string; credential: string } {
  const entry = answer.iceServers.find((server) => server.urls.some((url) => url.startsWith("turn")));
  assert(entry?.username && entry.credential, `no TURN entry in ${JSON.stringify(answer)}`);
  return { username: entry.username, credential: entry.credential };
}

Deno.test("a real coturn accepts the credentials an admitted peer gets and refuses expired or forged ones", async (t) => {
  await using coturn = await startCoturn();
  const env = (secret: string) => (name: string) =>
    ({ TURN_URLS: `${coturn.urls.udp},${coturn.urls.tcp}`, TURN_SECRET: secret })[name];
  const ice = new IceServers(parseIceConfig(env(coturn.secret)));

  const expectAllocation = async (tcp: boolean) => {
    const { username, credential } = turnEntry(await askOverSocket(ice));
    const result = await tryAllocate({ host: coturn.host, port: coturn.port, username, credential, tcp });
    assert(
      result.ok,
      `allocation failed (exit ${result.code}):\n${result.output}\n--- coturn log:\n${await coturn.readLog()}`,
    );
    for (const address of result.relayAddresses) {
      const port = Number(address.split(":").at(-1));
      assert(port >= coturn.relayPorts[0] && port <= coturn.relayPorts[1], `relay port ${port} outside the range`);
    }
    await coturn.waitForLog(`user <${username}>: incoming packet ALLOCATE processed, success`);
  };

  const expectRefusal = async (source: IceServers) => {
    const { username, credential } = turnEntry(await askOverSocket(source));
    const result = await tryAllocate({ host: coturn.host, port: coturn.port, username, credential });
    assert(!result.ok, `allocation with bad credentials succeeded:\n${result.output}`);
    assert(result.output.includes("Cannot complete Allocation"), result.output);
    await coturn.waitForLog(`user <${username}>: incoming packet message processed, error 401: Unauthorized`);
  };

  await t.step("fresh credentials allocate a relay over UDP", () => expectAllocation(false));
  await t.step("fresh credentials allocate a relay over TCP", () => expectAllocation(true));

  await t.step("credentials whose expiry has passed are refused with 401", async () => {
    const minted = Date.now() - 2 * 600 * 1000; // minted 20 min ago with a 10 min TTL
    const stale = new IceServers(parseIceConfig(env(coturn.secret)), { now: () => minted });
    await expectRefusal(stale);
  });

  await t.step("credentials signed with another secret are refused with 401", async () => {
    const forged = new IceServers(parseIceConfig(env("not-the-coturn-secret-0123456789")));
    await expectRefusal(forged);
  });
});
