/**
 * The room page's page nonce (see "Early hello" in lib/protocol/README.md):
 * a fresh one in every answer's `Server-Timing`, good for that room, while the
 * body stays the same bytes, so its entity tag and 304s are untouched.
 * @module
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "@std/assert";
import { PAGE_NONCE_PATTERN, PAGE_NONCE_TIMING } from "../../lib/protocol/admission.ts";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { getServer } from "../../lib/server/mod.ts";
import { request } from "../support/app.ts";

/** The page nonce in a `Server-Timing` value, or null. */
function nonceOf(header: string | null): string | null {
  const match = header?.match(new RegExp(`(?:^|,)\\s*${PAGE_NONCE_TIMING};desc="([^"]*)"`));
  return match ? match[1] : null;
}

Deno.test({
  name: "every room page carries a fresh page nonce for its room in Server-Timing; the body and its tag do not change",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await getServer();
    const room = newRoomId();
    const [first, second] = [await request(`/${room}`), await request(`/${room}`)];
    const [a, b] = [nonceOf(first.headers.get("server-timing")), nonceOf(second.headers.get("server-timing"))];
    assert(a && b, "both pages carry one");
    assertMatch(a, PAGE_NONCE_PATTERN);
    assertNotEquals(a, b, "a new one each time");
    assertEquals(await server.service.pageNonces.check(room, a), "ok");
    assertEquals(await server.service.pageNonces.check(newRoomId(), a), "forged", "for this room only");
    const etag = first.headers.get("etag");
    assert(etag);
    assertEquals(second.headers.get("etag"), etag, "the same page, the same tag");
    assertEquals(await first.text(), await second.text());
    const again = await request(`/${room}`, { headers: { "if-none-match": etag } });
    assertEquals(again.status, 304, "revalidation still answers 304");
    await again.body?.cancel();
    const landing = await request("/");
    assertEquals(nonceOf(landing.headers.get("server-timing")), null, "only room pages");
    await landing.body?.cancel();
  },
});
