import { assert, assertEquals, assertMatch } from "@std/assert";
import {
  compress,
  CompressedBodies,
  KEPT_BEST_MAX_BYTES,
  KEPT_BROTLI_QUALITY,
  LIVE_BROTLI_QUALITY,
} from "$fresh/compression.ts";
import { withEntityTag } from "$fresh/entity_tag.ts";
import { request } from "../support/app.ts";

const ROOM = "/AAAAAAAAAAAAAAAAAAAAAA";

Deno.test("a page is kept but revalidated: no-cache and a strong entity tag of its bytes", async () => {
  const res = await request(ROOM);
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("cache-control"), "no-cache");
  assertMatch(res.headers.get("etag")!, /^"[A-Za-z0-9]{22}"$/);
  await res.body?.cancel();
  const again = await request("/BBBBBBBBBBBBBBBBBBBBBB");
  assertEquals(again.headers.get("etag"), res.headers.get("etag"), "every room's page is the same shell");
  await again.body?.cancel();
  const russian = await request(ROOM, { headers: { "accept-language": "ru" } });
  assert(russian.headers.get("etag") !== res.headers.get("etag"), "another language is another page");
  assertMatch(russian.headers.get("vary") ?? "", /Accept-Language/);
  await russian.body?.cancel();
});

Deno.test("a browser that holds the page gets 304, for the identity and the compressed variants alike", async () => {
  for (const encoding of ["identity", "br", "gzip"]) {
    const first = await request(ROOM, { headers: { "accept-encoding": encoding } });
    await first.body?.cancel();
    const etag = first.headers.get("etag")!;
    const second = await request(ROOM, { headers: { "accept-encoding": encoding, "if-none-match": etag } });
    assertEquals(second.status, 304, encoding);
    assertEquals(second.headers.get("etag"), etag);
    assertEquals(second.headers.get("cache-control"), "no-cache");
    assertMatch(second.headers.get("vary") ?? "", /Accept-Encoding/);
    assertEquals(await second.text(), "");
  }
  const stale = await request(ROOM, { headers: { "if-none-match": '"not-this-page"' } });
  assertEquals(stale.status, 200);
  await stale.body?.cancel();
});

Deno.test("only answers asking for revalidation get a tag: not API answers, errors or streams", async () => {
  const get = new Request("http://x/");
  const plain = (init: ResponseInit) => new Response("body", init);
  for (
    const res of [
      plain({ headers: { "cache-control": "no-store" } }),
      plain({}),
      plain({ status: 404, headers: { "cache-control": "no-cache" } }),
      plain({ headers: { "cache-control": "no-cache", etag: '"own"' } }),
    ]
  ) {
    const out = await withEntityTag(get, res);
    assertEquals(out, res, "passed through untouched");
  }
  const post = await withEntityTag(
    new Request("http://x/", { method: "POST" }),
    plain({ headers: { "cache-control": "no-cache" } }),
  );
  assertEquals(post.headers.get("etag"), null);
  const health = await request("/api/health");
  assertEquals(health.headers.get("etag"), null);
  await health.body?.cancel();
});

Deno.test("a page's compressed bytes are made once per tag and coding", () => {
  const cache = new CompressedBodies(2);
  const body = new TextEncoder().encode("<p>same page</p>".repeat(100));
  const first = cache.get('"a"', "br", body);
  assertEquals(cache.get('"a"', "br", body), first, "the same bytes, not compressed again");
  const gzip = cache.get('"a"', "gzip", body);
  assert(gzip !== first);
  cache.get('"b"', "br", body);
  assert(cache.get('"a"', "br", body) !== first, "the least recently used went first");
});

Deno.test("a kept page body gets brotli's best quality, as the build's files do; a huge one the quick quality", () => {
  const cache = new CompressedBodies();
  const page = new TextEncoder().encode(
    Array.from({ length: 400 }, (_, i) => `<li class="item-${i % 37}">message ${i * 7919 % 1009}</li>`).join(""),
  );
  assertEquals(cache.get('"page"', "br", page), compress(page, "br", KEPT_BROTLI_QUALITY));
  assert(compress(page, "br", KEPT_BROTLI_QUALITY).byteLength < compress(page, "br", LIVE_BROTLI_QUALITY).byteLength);
  const huge = new Uint8Array(KEPT_BEST_MAX_BYTES + 1).fill(97);
  assertEquals(cache.get('"huge"', "br", huge), compress(huge, "br", LIVE_BROTLI_QUALITY));
});
