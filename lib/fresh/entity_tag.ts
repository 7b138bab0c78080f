/**
 * Entity tags for answers that change only when the app does: pages and
 * other responses marked `Cache-Control: no-cache` get a strong tag made from
 * their bytes, and a request that already holds them gets 304 Not Modified.
 * So a browser (or the service worker refreshing its cached room shell)
 * revalidates a page in one small round trip instead of downloading it again.
 * @module
 */
import { appendVary, codingOnTheFly, etagMatches, isCompressible } from "./compression.ts";

/** Characters of the body's SHA-256 kept in the tag: 132 bits, no collision in practice. */
const TAG_CHARS = 22;
/** Headers a 304 must repeat from the 200 it stands for (RFC 9110 §15.4.5). */
const KEPT_ON_304 = ["cache-control", "content-location", "date", "etag", "expires", "vary"];

/** Whether an answer asks to be revalidated on every use, and so is worth a tag. */
function wantsRevalidation(req: Request, res: Response): boolean {
  return (req.method === "GET" || req.method === "HEAD") && res.status === 200 && res.body !== null &&
    !res.headers.has("etag") && !res.headers.has("content-encoding") &&
    /\bno-cache\b/i.test(res.headers.get("cache-control") ?? "");
}

/**
 * Tags a `no-cache` answer with a strong entity tag of its bytes, and answers 304 when the request's
 * `If-None-Match` already names it (weak comparison: the tag of a compressed variant names the same page).
 * Anything else passes through untouched.
 */
export async function withEntityTag(req: Request, res: Response): Promise<Response> {
  if (!wantsRevalidation(req, res)) return res;
  const bytes = new Uint8Array(await res.arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const etag = `"${btoa(String.fromCharCode(...digest)).replace(/[+/=]/g, "").slice(0, TAG_CHARS)}"`;
  const headers = new Headers(res.headers);
  headers.set("etag", etag);
  if (etagMatches(req.headers.get("if-none-match"), etag)) {
    const kept = new Headers();
    for (const name of KEPT_ON_304) {
      const value = headers.get(name);
      if (value !== null) kept.set(name, value);
    }
    // The 200 would have varied by coding, and a coded one carries the weak tag (see compressResponse): so does this.
    if (isCompressible(headers.get("content-type"))) appendVary(kept, "Accept-Encoding");
    if (codingOnTheFly(req, headers, bytes.byteLength)) kept.set("etag", "W/" + etag);
    return new Response(null, { status: 304, headers: kept });
  }
  return new Response(bytes, { status: res.status, statusText: res.statusText, headers });
}
