/**
 * The configuration: every variable's nonsense values stop the server with a
 * `ConfigError` naming that variable, sensible ones pass, and `METRICS_TOKEN`
 * guards `/metrics`.
 * @module
 */
import { assert, assertEquals, assertInstanceOf, assertMatch, assertThrows } from "@std/assert";
import { ConfigError, configFromEnv, DEFAULT_CONFIG } from "../../lib/server/config.ts";
import { createMetricsHandler, PROMETHEUS_CONTENT_TYPE } from "../../routes/metrics.ts";
import type { FreshContext } from "$fresh/server.ts";

/** The config from exactly these variables. */
function configOf(env: Record<string, string>) {
  return configFromEnv((name) => env[name]);
}

/** The error reading these variables throws. */
function refusal(env: Record<string, string>): ConfigError {
  const error = assertThrows(() => configOf(env));
  assertInstanceOf(error, ConfigError);
  return error;
}

/** Values that make no sense, per variable. */
const NONSENSE: Record<string, string[]> = {
  RESUME_WINDOW: ["0", "-5", "1.5", "2e3", "0x10", "soon", "99999999"],
  ROOM_TTL: ["0", "-1", "3600.5", "59"],
  ROOM_LOG_MAX_ENTRIES: ["0", "-1", "10.5"],
  ROOM_LOG_MAX_BYTES: ["0", "-1", "1024.5", "1000"],
  MAX_FRAME_BYTES: ["0", "-1", "65536.5", "100", "99999999"],
  WS_IDLE_TIMEOUT: ["0", "-20", "20.5"],
  HELLO_TIMEOUT: ["0", "-10", "0.5"],
  RATE_CONN: ["0", "-50", "Infinity", "NaN", "1/2"],
  RATE_CONN_BURST: ["0", "-1", "200.5"],
  RATE_ADDR: ["0", "-1000"],
  RATE_ADDR_BURST: ["0", "4000.5"],
  RATE_STRIKES: ["-1", "2.5"],
  MAX_PEERS_PER_ROOM: ["0", "1", "-3", "32.5"],
  MAX_ROOMS_PER_ADDRESS: ["0", "-1", "1.5"],
  BUS: ["carrier-pigeon", "BroadcastChannel"],
  TRUSTED_PROXIES: ["example.com", "10", "10.0.0.0/33", "10.0.0.0/8/8", "::1/129"],
  FORWARDED_HEADER: ["x-real-ip"],
  ALLOWED_ORIGINS: ["https://chat.example/", "chat.example", "https://chat.example/path"],
  METRICS_TOKEN: ["short", "has a space in it, twenty chars"],
  SEND_QUEUE_TOTAL_BYTES: ["0", "-1", "1048576.5", "8MiB", "1000"],
  HELLOS_IN_FLIGHT: ["0", "-1", "2.5", "many"],
  HELLOS_QUEUED_PER_ADDRESS: ["0", "-4", "64.5"],
  NEW_ROOM_RATE_ADDR: ["0", "-1", "fast"],
  NEW_ROOM_RATE_ADDR_BURST: ["0", "2.5"],
  JOIN_RATE_ADDR: ["0", "-1", "fast"],
  JOIN_RATE_ADDR_BURST: ["0", "2.5"],
  ROOM_LOG_COMMIT_RATE: ["0", "-20", "lots"],
  ROOM_LOG_COMMIT_BURST: ["0", "10.5"],
  MAX_SOCKETS_PER_ADDRESS: ["0", "-1", "2048.5"],
  MAX_PENDING_PER_ADDRESS: ["0", "1e3"],
  RATE_CONN_BYTES: ["0", "-1", "fast"],
  RATE_CONN_BYTES_BURST: ["0", "4096.5", "1000"],
  RATE_ADDR_BYTES: ["0", "-5"],
  RATE_ADDR_BYTES_BURST: ["0", "1.5", "1000"],
  ABUSE_STRIKES: ["0", "-1", "2.5"],
  ABUSE_COOLDOWN: ["0", "1.5", "86401"],
};

Deno.test("every variable refuses values that make no sense, and the error names it", async (t) => {
  for (const [variable, values] of Object.entries(NONSENSE)) {
    await t.step(variable, () => {
      for (const value of values) {
        const error = refusal({ [variable]: value });
        assertEquals(error.variable, variable, `${variable}=${value}`);
        assert(error.message.startsWith(`${variable} must be `), error.message);
      }
    });
  }
});

Deno.test("the message says what the variable must be and what it held", () => {
  assertEquals(
    refusal({ RESUME_WINDOW: "0" }).message,
    'RESUME_WINDOW must be a whole number of seconds from 1 to 2147423, got "0"',
  );
  assertEquals(
    refusal({ RATE_CONN: "-1" }).message,
    'RATE_CONN must be a number above 0 and at most 1000000000000, got "-1"',
  );
  assertMatch(refusal({ TRUSTED_PROXIES: "10.0.0.1, proxy.example" }).message, /"proxy\.example" is not an IP address/);
});

Deno.test("settings that contradict each other are refused too", () => {
  const window = refusal({ RESUME_WINDOW: "7200", ROOM_TTL: "3600" });
  assertEquals(window.variable, "RESUME_WINDOW");
  assertMatch(window.message, /at most ROOM_TTL \(3600\)/);
  const log = refusal({ ROOM_LOG_MAX_BYTES: "32768" });
  assertEquals(log.variable, "ROOM_LOG_MAX_BYTES", "a log bound below the default 64 KiB frame");
  assertMatch(log.message, /at least MAX_FRAME_BYTES \(65536\)/);
  assertEquals(configOf({ ROOM_LOG_MAX_BYTES: "32768", MAX_FRAME_BYTES: "16384" }).logMaxBytes, 32_768);
  const burst = refusal({ RATE_CONN_BYTES_BURST: "32768" });
  assertEquals(burst.variable, "RATE_CONN_BYTES_BURST", "a byte burst below the largest frame");
  assertMatch(burst.message, /at least MAX_FRAME_BYTES \(65536\)/);
  const total = refusal({ SEND_QUEUE_TOTAL_BYTES: "524288" });
  assertEquals(total.variable, "SEND_QUEUE_TOTAL_BYTES", "all sockets together below one socket's bound");
  assertMatch(total.message, /at least SEND_QUEUE_BYTES \(1048576\)/);
  assertEquals(
    configOf({ SEND_QUEUE_TOTAL_BYTES: "524288", SEND_QUEUE_BYTES: "262144" }).sendQueueTotalBytes,
    524_288,
  );
});

Deno.test("sensible values pass, fractions where they mean something, blanks mean the default", () => {
  const config = configOf({
    RESUME_WINDOW: "30",
    ROOM_TTL: "60",
    RATE_CONN: "0.5",
    RATE_CONN_BURST: "1",
    RATE_ADDR: "2.25",
    RATE_STRIKES: "0",
    MAX_PEERS_PER_ROOM: "2",
    HELLO_TIMEOUT: " 3 ",
    WS_IDLE_TIMEOUT: "",
    BUS: "kv",
    TRUSTED_PROXIES: "loopback, 10.0.0.0/8, 2001:db8::1, ::ffff:192.0.2.0/120",
    FORWARDED_HEADER: "Forwarded",
    ALLOWED_ORIGINS: "https://a.example, http://localhost:8000",
    METRICS_TOKEN: "s3cret-s3cret-s3cret",
  });
  assertEquals(config.resumeWindowMs, 30_000);
  assertEquals(config.roomTtlMs, 60_000);
  assertEquals(config.rateConnection, { perSecond: 0.5, burst: 1 });
  assertEquals(config.rateAddress.perSecond, 2.25);
  assertEquals([config.rateStrikes, config.maxPeersPerRoom, config.helloTimeoutMs], [0, 2, 3_000]);
  assertEquals(config.idleTimeoutS, DEFAULT_CONFIG.idleTimeoutS);
  assertEquals(config.bus, "kv");
  assertEquals(config.trustedProxies, ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "2001:db8::1/128", "192.0.2.0/24"]);
  assertEquals(config.forwardedHeader, "forwarded");
  assertEquals(config.allowedOrigins, ["https://a.example", "http://localhost:8000"]);
  assertEquals(config.metricsToken, "s3cret-s3cret-s3cret");
});

Deno.test("with nothing set: BUS=auto, no trusted proxy, /metrics open", () => {
  const config = configOf({});
  assertEquals(config, { ...DEFAULT_CONFIG });
  assertEquals([config.bus, config.trustedProxies, config.metricsToken], ["auto", [], null]);
});

Deno.test("a refused METRICS_TOKEN is never echoed in the error", () => {
  const error = refusal({ METRICS_TOKEN: "tiny-secret" });
  assert(!error.message.includes("tiny-secret"), error.message);
});

Deno.test("METRICS_TOKEN guards /metrics with a bearer token", async (t) => {
  const ctx = {} as FreshContext;
  const get = (handlers: ReturnType<typeof createMetricsHandler>, headers: HeadersInit = {}) =>
    handlers.GET!(new Request("http://parley.test/metrics", { headers }), ctx) as Response;

  await t.step("unset: anyone gets the metrics", async () => {
    const response = get(createMetricsHandler(null));
    assertEquals([response.status, response.headers.get("content-type")], [200, PROMETHEUS_CONTENT_TYPE]);
    assertMatch(await response.text(), /# TYPE parley_\w+ /);
  });

  const token = "metrics-token-0123456789";
  const guarded = createMetricsHandler(token);
  for (
    const [what, headers] of [
      ["no Authorization", {}],
      ["a wrong token", { authorization: "Bearer metrics-token-0123456780" }],
      ["the token as Basic", { authorization: `Basic ${token}` }],
      ["a prefix of the token", { authorization: "Bearer metrics-token" }],
    ] as const
  ) {
    await t.step(`${what}: 401 with WWW-Authenticate and no metrics`, async () => {
      const response = get(guarded, headers);
      assertEquals(response.status, 401);
      assertEquals(response.headers.get("www-authenticate"), 'Bearer realm="metrics"');
      const body = await response.json();
      assertEquals(body.error.code, "admission_refused");
      assert(!JSON.stringify(body).includes("parley_"), "no metric leaks");
    });
  }

  await t.step("the right bearer token: 200 with the metrics", async () => {
    const response = get(guarded, { authorization: `Bearer ${token}` });
    assertEquals(response.status, 200);
    assertMatch(await response.text(), /# TYPE parley_\w+ /);
    assertEquals(get(guarded, { authorization: `bearer ${token}` }).status, 200, "the scheme is case-insensitive");
  });
});
