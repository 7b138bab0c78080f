import { assert, assertEquals, assertMatch } from "@std/assert";
import { request } from "../support/app.ts";

Deno.test("static files are served with their content types", async (t) => {
  const cases: [string, RegExp][] = [
    ["/favicon.svg", /^image\/svg\+xml$/],
    ["/robots.txt", /^text\/plain; charset=utf-8$/],
  ];
  for (const [path, type] of cases) {
    await t.step(path, async () => {
      const res = await request(path);
      assertEquals(res.status, 200);
      assertMatch(res.headers.get("content-type")!, type);
      assertEquals(res.headers.get("x-content-type-options"), "nosniff");
      assert((await res.arrayBuffer()).byteLength > 0);
    });
  }
});

Deno.test("a repeated request with the ETag gets 304", async () => {
  const first = await request("/favicon.svg");
  await first.body?.cancel();
  const etag = first.headers.get("etag");
  assert(etag);
  const second = await request("/favicon.svg", { headers: { "if-none-match": etag } });
  assertEquals(second.status, 304);
});

Deno.test("island bundles are JavaScript cached as immutable", async () => {
  const html = await (await request("/")).text();
  const script = html.slice(html.indexOf('<script type="module">'));
  const urls = [...script.matchAll(/"(\/_fresh\/js\/[^"]+\.js)"/g)].map((m) => m[1]);
  assertEquals(new Set(urls).size, 2, "the boot script imports the landing's bundle: its boot, and both its islands");
  for (const url of urls) {
    const res = await request(url);
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), "text/javascript; charset=utf-8");
    assertEquals(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
    await res.body?.cancel();
  }
  const missing = await request("/_fresh/js/nope-000000000000.js");
  assertEquals(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("path traversal is refused in every spelling", async (t) => {
  await t.step("encoded separators and dots that survive URL parsing are a 400", async () => {
    for (
      const path of [
        "/%2E%2E%2Fdeno.json",
        "/..%2fdeno.json",
        "/..%5cdeno.json",
        "/_fresh/js/..%2fmeta.json",
        "/a%2f%2e%2e%2f%2e%2e%2fmain.ts",
        "/favicon.svg%00.txt",
      ]
    ) {
      const res = await request(path);
      assertEquals(res.status, 400, path);
      await res.body?.cancel();
    }
  });
  await t.step("dot segments are resolved by URL parsing and never leave static/", async () => {
    for (
      const path of ["/../../deno.json", "/%2e%2e/deno.json", "/static/%2e%2e/main.ts", "/%2e%2e/%2e%2e/etc/passwd"]
    ) {
      const res = await request(path);
      assertEquals(res.status, 404, path);
      const body = await res.text();
      assertEquals(body.includes('"imports"') || body.includes("createHandler") || body.includes("root:"), false);
    }
  });
});

Deno.test("malformed percent-encoding is a 400, not a 500", async () => {
  for (const path of ["/%E0%A4%A", "/%", "/abc%zz"]) {
    const res = await request(path);
    assertEquals(res.status, 400, path);
    await res.body?.cancel();
  }
});

Deno.test("methods get clear 4xx/5xx answers, never a crash", async (t) => {
  await t.step("POST to a page is 405 with Allow", async () => {
    const res = await request("/", { method: "POST", body: "x" });
    assertEquals(res.status, 405);
    assertEquals(res.headers.get("allow"), "GET, HEAD");
    await res.body?.cancel();
  });
  await t.step("DELETE on a static file is 405", async () => {
    const res = await request("/favicon.svg", { method: "DELETE" });
    assertEquals(res.status, 405);
    await res.body?.cancel();
  });
  await t.step("an unknown method is 501", async () => {
    const res = await request("/", { method: "BREW" });
    assertEquals(res.status, 501);
    await res.body?.cancel();
  });
});
