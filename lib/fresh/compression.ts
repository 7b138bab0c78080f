/**
 * HTTP content coding: which encoding a request accepts, compressing bytes
 * with it, and comparing entity tags the way `If-None-Match` must (RFC 9110
 * §8.8.3.2 weak comparison, lists and `*`). Static files are compressed ahead
 * of time by the build (see `precompress.ts`); pages are compressed on the fly.
 * @module
 */
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

/** A content coding this server produces. */
export type Encoding = "br" | "gzip";

/** File suffix of each coding's precompressed variant. */
export const ENCODING_SUFFIX: Readonly<Record<Encoding, string>> = { br: ".br", gzip: ".gz" };

/** Bodies below this many bytes go out as they are: the coding's framing would eat the gain (about one TCP segment's worth). */
export const MIN_COMPRESS_BYTES = 512;

/** Brotli quality for build-time compression: slowest and smallest, since it runs once per file. */
export const BUILD_BROTLI_QUALITY = 11;
/** Brotli quality for pages compressed per request: about gzip's speed at a smaller size (quality 4-5 is the usual pick). */
export const LIVE_BROTLI_QUALITY = 5;
/**
 * Brotli quality for page bodies compressed once and kept (see {@link CompressedBodies}): the best, as the build
 * uses. It takes tens of milliseconds for a room page (about 20 KB), paid once per page body and coding while the
 * process lives; it saves about a tenth of the page's bytes on every visit after.
 */
export const KEPT_BROTLI_QUALITY = 11;
/** Bodies larger than this are kept at {@link LIVE_BROTLI_QUALITY}: the best quality's time grows with the size. */
export const KEPT_BEST_MAX_BYTES = 64 * 1024;

const COMPRESSIBLE =
  /^(text\/|application\/(json|javascript|xml|manifest\+json|[\w.+-]+\+json|[\w.+-]+\+xml)|image\/svg\+xml)/i;

/** Whether a content type is text-like and worth compressing. */
export function isCompressible(contentType: string | null): boolean {
  return contentType !== null && COMPRESSIBLE.test(contentType) && !/^text\/event-stream/i.test(contentType);
}

/**
 * The best coding `Accept-Encoding` allows: `br` before `gzip` at equal
 * quality, none for a missing header, `identity` or `q=0` everywhere.
 */
export function pickEncoding(acceptEncoding: string | null): Encoding | null {
  if (!acceptEncoding) return null;
  const q = new Map<string, number>();
  for (const part of acceptEncoding.split(",")) {
    const [rawName, ...params] = part.trim().split(";");
    const name = rawName.trim().toLowerCase();
    if (!name) continue;
    let quality = 1;
    for (const param of params) {
      const [key, value] = param.trim().split("=");
      if (key?.trim().toLowerCase() === "q") {
        const parsed = Number(value);
        quality = Number.isFinite(parsed) ? Math.min(Math.max(parsed, 0), 1) : 0;
      }
    }
    q.set(name, quality);
  }
  const star = q.get("*");
  const score = (name: Encoding) => q.get(name) ?? (name === "gzip" ? q.get("x-gzip") : undefined) ?? star ?? 0;
  const br = score("br");
  const gzip = score("gzip");
  if (br <= 0 && gzip <= 0) return null;
  return br >= gzip ? "br" : "gzip";
}

/** Compresses bytes with a coding; `quality` is brotli's 0-11 (gzip uses its default level 6). */
export function compress(
  bytes: Uint8Array,
  encoding: Encoding,
  quality = LIVE_BROTLI_QUALITY,
): Uint8Array<ArrayBuffer> {
  const out = encoding === "br"
    ? brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: quality,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength,
      },
    })
    : gzipSync(bytes);
  return new Uint8Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength)) as Uint8Array<ArrayBuffer>;
}

/** The opaque part of an entity tag, without `W/`: weak comparison ignores the prefix. */
function opaque(tag: string): string {
  const trimmed = tag.trim();
  return trimmed.startsWith("W/") ? trimmed.slice(2) : trimmed;
}

/** Whether an `If-None-Match` value matches `etag` by weak comparison: any tag of the list, or `*`. */
export function etagMatches(ifNoneMatch: string | null, etag: string | undefined): boolean {
  if (ifNoneMatch === null || etag === undefined) return false;
  if (ifNoneMatch.trim() === "*") return true;
  const want = opaque(etag);
  // Entity tags are quoted and cannot contain a quote, so splitting on commas between quotes is safe.
  return (ifNoneMatch.match(/(?:W\/)?"[^"]*"/g) ?? []).some((tag) => opaque(tag) === want);
}

/** The entity tag of a coded variant: the identity tag with the coding appended inside the quotes. */
export function variantEtag(etag: string, encoding: Encoding | null): string {
  if (encoding === null) return etag;
  const weak = etag.startsWith("W/");
  const body = opaque(etag);
  return `${weak ? "W/" : ""}${body.slice(0, -1)}-${encoding}"`;
}

/**
 * The coding `compressResponse` gives an answer with these headers and a body of `size` bytes, or null when it
 * sends it as it is (not text, already coded, a range, `no-transform`, too small, or not accepted).
 */
export function codingOnTheFly(req: Request, headers: Headers, size: number): Encoding | null {
  if (!isCompressible(headers.get("content-type"))) return null;
  if (headers.has("content-encoding") || headers.has("content-range")) return null;
  if (/\bno-transform\b/i.test(headers.get("cache-control") ?? "")) return null;
  return size < MIN_COMPRESS_BYTES ? null : pickEncoding(req.headers.get("accept-encoding"));
}

/**
 * Compresses a response on the fly when the request accepts a coding and the
 * body is compressible text: sets `Content-Encoding`, adds `Vary:
 * Accept-Encoding`, and weakens an entity tag (the bytes differ per coding).
 * Responses that are streams of events, ranges, already coded, `no-transform`
 * or upgrades pass through untouched.
 */
export async function compressResponse(req: Request, res: Response, cache?: CompressedBodies): Promise<Response> {
  if (res.status === 101 || res.body === null || res.status === 204 || res.status === 304) return res;
  const headers = res.headers;
  if (!isCompressible(headers.get("content-type"))) return res;
  if (headers.has("content-encoding") || headers.has("content-range")) return res;
  if (/\bno-transform\b/i.test(headers.get("cache-control") ?? "")) return res;
  const out = new Headers(headers);
  appendVary(out, "Accept-Encoding");
  const encoding = pickEncoding(req.headers.get("accept-encoding"));
  if (encoding === null) {
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.byteLength < MIN_COMPRESS_BYTES) {
    return new Response(bytes, { status: res.status, statusText: res.statusText, headers: out });
  }
  const tag = out.get("etag");
  // Only strong tags name exact bytes (see entity_tag.ts), so only they may key the cache.
  const body = cache && tag && !tag.startsWith("W/") ? cache.get(tag, encoding, bytes) : compress(bytes, encoding);
  out.set("content-encoding", encoding);
  out.set("content-length", String(body.byteLength));
  const etag = out.get("etag");
  if (etag && !etag.startsWith("W/")) out.set("etag", "W/" + etag);
  return new Response(body, { status: res.status, statusText: res.statusText, headers: out });
}

/**
 * Coded bodies of answers with a strong entity tag (pages, see `entity_tag.ts`), by tag and coding: a page many
 * people load (the room shell is the same for every room) is compressed once, not on every request, and so can afford
 * brotli's best quality ({@link KEPT_BROTLI_QUALITY}). Which bodies exist is fixed by the deploy (a page per language,
 * `?lang=` and `?debug=`; the words per language), so the best quality's cost is paid a few times per process; least
 * recently used entries go first.
 */
export class CompressedBodies {
  #entries = new Map<string, Uint8Array<ArrayBuffer>>();
  #maxEntries: number;

  /** Keeps at most `maxEntries` coded bodies. */
  constructor(maxEntries = 64) {
    this.#maxEntries = maxEntries;
  }

  /** `body` (whose entity tag is `etag`) coded with `encoding`. */
  get(etag: string, encoding: Encoding, body: Uint8Array): Uint8Array<ArrayBuffer> {
    const key = `${etag} ${encoding}`;
    const quality = body.byteLength <= KEPT_BEST_MAX_BYTES ? KEPT_BROTLI_QUALITY : LIVE_BROTLI_QUALITY;
    const bytes = this.#entries.get(key) ?? compress(body, encoding, quality);
    this.#entries.delete(key);
    this.#entries.set(key, bytes);
    if (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    return bytes;
  }
}

/** Adds a field name to `Vary` unless it is already there (or `*`). */
export function appendVary(headers: Headers, field: string): void {
  const current = headers.get("vary");
  if (!current) {
    headers.set("vary", field);
    return;
  }
  const names = current.split(",").map((name) => name.trim().toLowerCase());
  if (names.includes("*") || names.includes(field.toLowerCase())) return;
  headers.set("vary", `${current}, ${field}`);
}
