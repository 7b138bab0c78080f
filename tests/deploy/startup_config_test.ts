/**
 * Configuration as an operator meets it: `deno serve main.ts` refuses to start
 * on a setting that makes no sense and says which variable, and a running
 * instance with `METRICS_TOKEN` serves `/metrics` only with that token.
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { Instance } from "./_instances.ts";

Deno.test("a setting that makes no sense stops deno serve at start, naming the variable", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "parley_config_" });
  try {
    for (
      const [variable, value] of [
        ["RESUME_WINDOW", "0"],
        ["MAX_PEERS_PER_ROOM", "1.5"],
        ["RATE_CONN", "-50"],
        ["TRUSTED_PROXIES", "proxy.example"],
      ]
    ) {
      await t.step(`${variable}=${value}`, async () => {
        const error = await assertRejects(() =>
          Instance.start({ kvPath: `${dir}/kv.sqlite3`, env: { [variable]: value } })
        );
        const message = (error as Error).message;
        assertMatch(message, /deno serve exited \(1\)/);
        assertMatch(
          message,
          new RegExp(`Parley cannot start: ${variable} must be .*, got "${value.replace(".", "\\.")}"`),
        );
        assert(!/^\s+at /m.test(message), `a plain message, no stack trace:\n${message}`);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with METRICS_TOKEN, a running instance serves /metrics only to the bearer of the token", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley_config_" });
  const token = "scrape-me-0123456789abcdef";
  const instance = await Instance.start({ kvPath: `${dir}/kv.sqlite3`, env: { METRICS_TOKEN: token } });
  try {
    const anonymous = await fetch(`${instance.origin}/metrics`);
    assertEquals(anonymous.status, 401);
    assertEquals(anonymous.headers.get("www-authenticate"), 'Bearer realm="metrics"');
    await anonymous.body?.cancel();
    const scraper = await fetch(`${instance.origin}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assertEquals(scraper.status, 200);
    assertMatch(await scraper.text(), /^parley_connections 0$/m);
  } finally {
    await instance.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
