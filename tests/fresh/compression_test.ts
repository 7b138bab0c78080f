import { assert, assertEquals } from "@std/assert";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { etagMatches, pickEncoding, variantEtag } from "$fresh/compression.ts";
import { request } from "../support/app.ts";

const decoder = new TextDecoder();

function decode(bytes: Uint8Array, encoding: string | null): string {
  if (encoding === "br") return decoder.decode(brotliDecompressSync(bytes));
  if (encoding === "gzip") return decoder.decode(gunzipSync(bytes));
  return decoder.decode(bytes);
}

async function bundleUrl(): Promise<string> {
  const html = await (await request("/")).text();
  return html.match(/"(\/_fresh\/js\/NewChat-[^"]+\.js)"/)![1];
}

Deno.test("Accept-Encoding picks br before gzip and honours q-values", () => {
  assertEquals(pickEncoding(null), null);
  assertEquals(pickEncoding("identity"), null);
  assertEquals(pickEncoding("gzip, deflate, br, zstd"), "br");
  assertEquals(pickEncoding("gzip"), "gzip");
  assertEquals(pickEncoding("br;q=0.5, gzip;q=0.8"), "gzip");
  assertEquals(pickEncoding("br;q=0, gzip;q=0"), null);
  assertEquals(pickEncoding("*"), "br");
  assertEquals(pickEncoding("*;q=0, gzip"), "gzip");
  assertEquals(pickEncoding("x-gzip"), "gzip");
});

Deno.test("If-None-Match compares weakly, takes lists and *", () => {
  assert(etagMatches('"abc"', '"abc"'));
  assert(etagMatches('W/"abc"', '"abc"'));
  assert(etagMatches('"abc"', 'W/"abc"'));
  assert(etagMatches('"x", W/"abc" ,"y"', '"abc"'));
  assert(etagMatches("*", '"abc"'));
  assert(!etagMatches('"abcd"', '"abc"'));
  assert(!etagMatches(null, '"abc"'));
  assertEquals(variantEtag('"abc"', "br"), '"abc-br"');
  assertEquals(variantEtag('W/"abc"', "gzip"), 'W/"abc-gzip"');
  assertEquals(variantEtag('"abc"', null), '"abc"');
});

Deno.test("pages are compressed on the fly by Accept-Encoding, with Vary", async (t) => {
  for (const encoding of ["br", "gzip"]) {
    await t.step(encoding, async () => {
      const plain = await (await request("/AAAAAAAAAAAAAAAAAAAAAA")).text();
      const res = await request("/AAAAAAAAAAAAAAAAAAAAAA", { headers: { "accept-encoding": encoding } });
      assertEquals(res.status, 200);
      assertEquals(res.headers.get("content-encoding"), encoding);
      assert(/accept-encoding/i.test(res.headers.get("vary") ?? ""));
      const bytes = new Uint8Array(await res.arrayBuffer());
      assertEquals(Number(res.headers.get("content-length")), bytes.byteLength);
      assert(bytes.byteLength * 2 < plain.length, `${encoding}: ${bytes.byteLength} B of ${plain.length}`);
      // The page embeds per-request data (nonces, ids) only in ways that keep its structure: compare the shell.
      assertEquals(decode(bytes, encoding).slice(0, 200), plain.slice(0, 200));
    });
  }
  await t.step("no Accept-Encoding: identity, still Vary", async () => {
    const res = await request("/");
    assertEquals(res.headers.get("content-encoding"), null);
    assert(/accept-encoding/i.test(res.headers.get("vary") ?? ""));
    await res.body?.cancel();
  });
});

Deno.test("bundles and static files are served from the build's precompressed variants", async (t) => {
  for (const path of [await bundleUrl(), "/sw.js", "/manifest.webmanifest"]) {
    await t.step(path, async () => {
      const plainRes = await request(path);
      const plain = decoder.decode(await plainRes.arrayBuffer());
      for (const encoding of ["br", "gzip"]) {
        const res = await request(path, { headers: { "accept-encoding": `${encoding}, identity` } });
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (plain.length < 512) {
          assertEquals(res.headers.get("content-encoding"), null, "tiny files go as they are");
          continue;
        }
        assertEquals(res.headers.get("content-encoding"), encoding);
        assertEquals(decode(bytes, encoding), plain);
        assert(bytes.byteLength < plain.length);
        assertEquals(res.headers.get("etag"), variantEtag(plainRes.headers.get("etag")!, encoding as "br" | "gzip"));
        assert(/accept-encoding/i.test(res.headers.get("vary") ?? ""));
      }
    });
  }
});

Deno.test("304s are right for coded variants: weak tags, lists and *", async () => {
  const url = await bundleUrl();
  const first = await request(url, { headers: { "accept-encoding": "br" } });
  await first.body?.cancel();
  const etag = first.headers.get("etag")!;
  const ask = (inm: string, ae = "br") => request(url, { headers: { "accept-encoding": ae, "if-none-match": inm } });
  for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, "*"]) {
    const res = await ask(inm);
    assertEquals(res.status, 304, inm);
    assertEquals(res.headers.get("etag"), etag);
  }
  // The gzip variant is another representation: the br tag does not validate it.
  const other = await ask(etag, "gzip");
  assertEquals(other.status, 200);
  assertEquals(other.headers.get("content-encoding"), "gzip");
  await other.body?.cancel();
});
