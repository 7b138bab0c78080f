import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { request } from "../support/app.ts";

Deno.test("the landing page is server-rendered with inlined CSS and the New chat island", async () => {
  const res = await request("/");
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await res.text();
  assert(html.startsWith("<!DOCTYPE html><html"), "a full document");
  assertStringIncludes(html, "<h1");
  assertStringIncludes(html, ">New chat</button>");
  assertMatch(html, /<style id="__twind">[^<]*\.bg-emerald-700\{[^}]+\}/);
  assertMatch(html, /<island-root data-island="NewChat" data-index="0"/);
  assertMatch(html, /<script type="module">import\{boot as b0\}from"\/_fresh\/js\/NewChat-[0-9a-f]{12}\.js"/);
});

Deno.test("an unknown path answers the 404 page, styled and without scripts", async () => {
  const res = await request("/no/such/page");
  assertEquals(res.status, 404);
  const html = await res.text();
  assertStringIncludes(html, "Page not found");
  assertStringIncludes(html, "<title>Not found · Parley</title>");
  assertStringIncludes(html, '<style id="__twind">');
  assertEquals(html.includes("<script"), false);
});

Deno.test("a page without islands ships no script at all", async () => {
  const res = await request("/no/such/page");
  assertEquals(res.status, 404);
  const html = await res.text();
  assertStringIncludes(html, "<h1");
  assertEquals(html.includes("<script"), false, "no <script> element of any kind");
  assertEquals(html.includes("modulepreload"), false);
});

Deno.test("a malformed room id is a 404, not a room", async () => {
  for (const path of ["/short", "/AAAAAAAAAAAAAAAAAAAAA!", "/" + "A".repeat(65)]) {
    const res = await request(path);
    assertEquals(res.status, 404, path);
    await res.body?.cancel();
  }
});

Deno.test("/api/health answers JSON with the version", async () => {
  const res = await request("/api/health");
  assertEquals(res.status, 200);
  assertMatch(res.headers.get("content-type")!, /^application\/json/);
  assertEquals(res.headers.get("cache-control"), "no-store");
  const body = await res.json();
  assertEquals(body.ok, true);
  assertMatch(body.version, /^\d+\.\d+\.\d+/);
});

Deno.test("HEAD answers like GET without a body", async () => {
  const res = await request("/", { method: "HEAD" });
  assertEquals(res.status, 200);
  assertEquals(await res.text(), "");
});

Deno.test("a page with islands preloads its whole module graph in <head>, so slow links pay one round trip", async () => {
  const html = await (await request("/")).text();
  const head = html.slice(0, html.indexOf("</head>"));
  const preloads = [...head.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]);
  assertMatch(preloads.join(" "), /\/_fresh\/js\/NewChat-[0-9a-f]{12}\.js/);
  assertEquals(new Set(preloads).size, preloads.length, "each module once");
  for (const url of preloads) {
    const res = await request(url);
    assertEquals(res.status, 200, url);
    const code = await res.text();
    // Every static import of a preloaded module is preloaded too.
    for (const dep of code.matchAll(/(?:^|[;}\s])(?:import|export)\s*(?:[^"'()]*?from\s*)?"\.\/([^"]+\.js)"/g)) {
      assertEquals(preloads.includes(`/_fresh/js/${dep[1]}`), true, `${url} imports ${dep[1]}`);
    }
  }
});
