import { assert, assertEquals, assertMatch, assertStringIncludes, assertThrows } from "@std/assert";
import {
  checkIceUrl,
  DEFAULT_TURN_TTL_SECONDS,
  describeIceConfig,
  type IceAnswer,
  IceConfigError,
  IceServers,
  parseIceConfig,
} from "../../lib/server/ice_servers.ts";
import { createHandler, type Manifest } from "$fresh/server.ts";
import { newRoomId } from "../../lib/protocol/ids.ts";
import * as iceRoute from "../../routes/api/ice.ts";
import * as metricsRoute from "../../routes/metrics.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { TestClient } from "../support/signal_test_client.ts";

const SECRET = "s3cret-that-must-never-leave-the-server";
const NOW = 1_700_000_000_000;

function envOf(vars: Record<string, string>) {
  return (name: string): string | undefined => vars[name];
}

Deno.test("with no ICE variables set, clients get no ICE servers at all", async () => {
  const config = parseIceConfig(envOf({}));
  assertEquals(config, { stunUrls: [], turnUrls: [], turnAuth: undefined, ttlSeconds: DEFAULT_TURN_TTL_SECONDS });
  const answer = await new IceServers(config, { now: () => NOW }).forClient();
  assertEquals(answer, { iceServers: [], ttl: 600, expiresAt: NOW + 600_000 });
});

Deno.test("empty strings count as unset", () => {
  const config = parseIceConfig(
    envOf({ STUN_URLS: "", TURN_URLS: " ", TURN_SECRET: "", TURN_TTL: "", TURN_USERNAME: "", TURN_CREDENTIAL: "" }),
  );
  assertEquals(config.stunUrls, []);
  assertEquals(config.turnAuth, undefined);
});

Deno.test("url lists are comma separated, trimmed, and keep their order", () => {
  const config = parseIceConfig(envOf({
    STUN_URLS: " stun:stun.example.org:3478 , stuns:stun.example.org,",
    TURN_URLS:
      "turn:198.51.100.7:3478?transport=udp,turn:[2001:db8::7]:3478?transport=tcp, turns:turn.example.org:443?transport=tcp",
    TURN_SECRET: SECRET,
  }));
  assertEquals(config.stunUrls, ["stun:stun.example.org:3478", "stuns:stun.example.org"]);
  assertEquals(config.turnUrls, [
    "turn:198.51.100.7:3478?transport=udp",
    "turn:[2001:db8::7]:3478?transport=tcp",
    "turns:turn.example.org:443?transport=tcp",
  ]);
});

Deno.test("malformed or misplaced urls are refused, naming the variable", async (t) => {
  const bad: Array<[variable: "STUN_URLS" | "TURN_URLS", url: string]> = [
    ["STUN_URLS", "stun://stun.example.org"],
    ["STUN_URLS", "https://stun.example.org"],
    ["STUN_URLS", "stun:"],
    ["STUN_URLS", "stun:host:0"],
    ["STUN_URLS", "stun:host:70000"],
    ["STUN_URLS", "stun:ho st"],
    ["STUN_URLS", "stun:-host-.example"],
    ["STUN_URLS", "stun:host?transport=udp"],
    ["STUN_URLS", "turn:turn.example.org"],
    ["TURN_URLS", "stun:stun.example.org"],
    ["TURN_URLS", "turn://turn.example.org"],
    ["TURN_URLS", "turn:turn.example.org?transport=sctp"],
    ["TURN_URLS", "turns:turn.example.org?transport=udp"],
    ["TURN_URLS", "turn:[zz::1]:3478"],
    ["TURN_URLS", "turn:user@turn.example.org"],
  ];
  for (const [variable, url] of bad) {
    await t.step(`${variable}=${url}`, () => {
      assertThrows(() => checkIceUrl(url, variable), IceConfigError, `${variable}: "${url}"`);
      const env: Record<string, string> = variable === "TURN_URLS"
        ? { TURN_URLS: url, TURN_SECRET: SECRET }
        : { STUN_URLS: url };
      assertThrows(() => parseIceConfig(envOf(env)), IceConfigError, variable);
    });
  }
});

Deno.test("TURN urls need credentials, and credentials need TURN urls", async (t) => {
  const turn = "turn:turn.example.org:3478";
  const cases: Array<[string, Record<string, string>, string]> = [
    ["urls without credentials", { TURN_URLS: turn }, "no credentials"],
    ["a secret without urls", { TURN_SECRET: SECRET }, "TURN_URLS is empty"],
    ["static credentials without urls", { TURN_USERNAME: "u", TURN_CREDENTIAL: "p" }, "TURN_URLS is empty"],
    ["a username without a credential", { TURN_URLS: turn, TURN_USERNAME: "u" }, "set together"],
    ["a credential without a username", { TURN_URLS: turn, TURN_CREDENTIAL: "p" }, "set together"],
    [
      "both a secret and static credentials",
      { TURN_URLS: turn, TURN_SECRET: SECRET, TURN_USERNAME: "u", TURN_CREDENTIAL: "p" },
      "choose one",
    ],
    ["a guessable secret", { TURN_URLS: turn, TURN_SECRET: "short" }, "TURN_SECRET: TURN secret must be at least 16"],
  ];
  for (const [name, env, message] of cases) {
    await t.step(name, () => {
      assertThrows(() => parseIceConfig(envOf(env)), IceConfigError, message);
    });
  }
});

Deno.test("TURN_TTL must be whole seconds between one minute and one day", async (t) => {
  for (const ttl of ["abc", "59", "86401", "1.5", "-5", "10m", "1e3"]) {
    await t.step(`TURN_TTL=${ttl} is refused`, () => {
      assertThrows(() => parseIceConfig(envOf({ TURN_TTL: ttl })), IceConfigError, `TURN_TTL: "${ttl}"`);
    });
  }
  await t.step("TURN_TTL=120 is taken", () => {
    assertEquals(parseIceConfig(envOf({ TURN_TTL: " 120 " })).ttlSeconds, 120);
  });
});

Deno.test("with TURN_SECRET each client gets its own short-lived credential", async () => {
  const config = parseIceConfig(envOf({
    STUN_URLS: "stun:stun.example.org",
    TURN_URLS: "turn:turn.example.org?transport=udp,turn:turn.example.org?transport=tcp",
    TURN_SECRET: SECRET,
    TURN_TTL: "300",
  }));
  const ice = new IceServers(config, { now: () => NOW });
  const answer = await ice.forClient("peer_1");
  assertEquals(answer.ttl, 300);
  assertEquals(answer.expiresAt, NOW + 300_000);
  assertEquals(answer.iceServers.length, 2);
  assertEquals(answer.iceServers[0], { urls: ["stun:stun.example.org"] });
  const turn = answer.iceServers[1];
  assertEquals(turn.urls, ["turn:turn.example.org?transport=udp", "turn:turn.example.org?transport=tcp"]);
  assertEquals(turn.username, `${NOW / 1000 + 300}:peer_1`);
  assertMatch(turn.credential!, /^[A-Za-z0-9+/]{27}=$/);
  const other = await ice.forClient();
  assert(other.iceServers[1].username !== turn.username, "two clients got the same TURN username");
});

Deno.test("static TURN credentials are handed out as configured", async () => {
  const config = parseIceConfig(
    envOf({ TURN_URLS: "turn:turn.example.org", TURN_USERNAME: "u", TURN_CREDENTIAL: "p" }),
  );
  assertEquals(config.turnAuth, { kind: "static", username: "u", credential: "p" });
  const answer = await new IceServers(config, { now: () => NOW }).forClient("peer");
  assertEquals(answer.iceServers, [{ urls: ["turn:turn.example.org"], username: "u", credential: "p" }]);
  assertStringIncludes(describeIceConfig(config), "discouraged");
});

Deno.test("the startup description never contains the secret", () => {
  const config = parseIceConfig(envOf({ TURN_URLS: "turn:turn.example.org", TURN_SECRET: SECRET }));
  const text = describeIceConfig(config);
  assertStringIncludes(text, "turn:turn.example.org");
  assert(!text.includes(SECRET), text);
});

Deno.test("GET /api/ice answers a live session with uncached credentials, never the secret; anyone else gets 401", async (t) => {
  const config = parseIceConfig(envOf({ TURN_URLS: "turn:turn.example.org", TURN_SECRET: SECRET }));
  const server = await startInProcess({ ice: new IceServers(config) });
  const [instance] = server.instances;
  const room = newRoomId();
  const alice = await TestClient.connect(instance.signalUrl(room));
  const ask = async (token: string | null, url = instance.iceUrl(room)) => {
    const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
    const response = await fetch(url, { headers });
    const text = await response.text();
    return { response, text, body: JSON.parse(text) };
  };
  const refused = (answer: { response: Response; text: string; body: Record<string, unknown> }) => {
    assertEquals(answer.response.status, 401);
    assertEquals((answer.body.error as Record<string, unknown>).code, "admission_refused");
    assert(!answer.text.includes("turn:"), `credentials in a refusal: ${answer.text}`);
    assertEquals(answer.response.headers.get("cache-control"), "no-store");
  };
  try {
    const welcome = await alice.hello();

    await t.step("a live session's token gets JSON with servers, ttl and expiry, labelled with its peer", async () => {
      const { response, text, body } = await ask(welcome.token);
      assertEquals(response.status, 200);
      assertStringIncludes(response.headers.get("content-type") ?? "", "application/json");
      assertEquals(response.headers.get("cache-control"), "no-store");
      const answer = body as IceAnswer;
      assertEquals(answer.ttl, DEFAULT_TURN_TTL_SECONDS);
      assert(answer.expiresAt > Date.now(), "already expired");
      assertEquals(answer.iceServers[0].username, `${answer.expiresAt / 1000}:${welcome.peer}`);
      assert(!text.includes(SECRET), "the TURN secret is in the body");
      for (const [name, value] of response.headers) assert(!value.includes(SECRET), `the secret is in header ${name}`);
    });

    await t.step("no token, a made-up token, another room or a malformed header: 401 and nothing else", async () => {
      refused(await ask(null));
      refused(await ask(welcome.peer + "x".repeat(43)));
      refused(await ask(welcome.token, instance.iceUrl(newRoomId())));
      refused(await ask(welcome.token, instance.iceUrl()));
      const basic = await fetch(instance.iceUrl(room), { headers: { authorization: `Basic ${welcome.token}` } });
      assertEquals(basic.status, 401);
      await basic.body?.cancel();
    });

    await t.step("a session that said bye is not live any more", async () => {
      alice.send({ type: "bye" });
      await alice.waitClosed();
      refused(await ask(welcome.token));
    });
  } finally {
    await alice.close();
    await server.stop();
  }
});

Deno.test("the app serves /api/ice and /metrics with GET and HEAD and refuses other methods", async (t) => {
  // The real route modules, under the default (empty) environment, behind the real core.
  const manifest: Manifest = {
    routes: { "./routes/api/ice.ts": iceRoute, "./routes/metrics.ts": metricsRoute },
    islands: {},
    baseUrl: new URL("../../fresh.gen.ts", import.meta.url).href,
  };
  const app = await createHandler(manifest);

  await t.step("GET /api/ice without a session token is 401 with no servers", async () => {
    const response = await app(new Request("http://localhost/api/ice"));
    assertEquals(response.status, 401);
    assertEquals(response.headers.get("cache-control"), "no-store");
    const body = await response.json();
    assertEquals(body.error.code, "admission_refused");
    assertEquals(body.iceServers, undefined);
  });

  await t.step("GET /metrics is Prometheus text", async () => {
    const response = await app(new Request("http://localhost/metrics"));
    assertEquals(response.status, 200);
    assertEquals(response.headers.get("content-type"), metricsRoute.PROMETHEUS_CONTENT_TYPE);
    assertStringIncludes(response.headers.get("content-type")!, "text/plain; version=0.0.4");
    assertStringIncludes(await response.text(), "# TYPE parley_turn_credentials_total counter");
  });

  for (const path of ["/api/ice", "/metrics"]) {
    await t.step(`HEAD ${path} answers without a body`, async () => {
      const response = await app(new Request(`http://localhost${path}`, { method: "HEAD" }));
      assertEquals(response.status, path === "/api/ice" ? 401 : 200);
      assertEquals(await response.text(), "");
    });
    for (const method of ["POST", "PUT", "DELETE"]) {
      await t.step(`${method} ${path} is 405 with Allow`, async () => {
        const response = await app(new Request(`http://localhost${path}`, { method }));
        assertEquals(response.status, 405);
        assertEquals(response.headers.get("allow"), "GET, HEAD");
        await response.body?.cancel();
      });
    }
  }
});
