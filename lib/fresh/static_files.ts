/**
 * Serves `static/` and the built island bundles. Only files found at start-up
 * are served, so no request path can reach outside those folders.
 * @module
 */
import { BUNDLE_URL_PREFIX } from "./build_meta.ts";
import {
  appendVary,
  BUILD_BROTLI_QUALITY,
  compress,
  type Encoding,
  ENCODING_SUFFIX,
  etagMatches,
  isCompressible,
  MIN_COMPRESS_BYTES,
  pickEncoding,
  variantEtag,
} from "./compression.ts";
import { listSourceFiles } from "./files.ts";

const CONTENT_TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  gif: "image/gif",
  html: "text/html; charset=utf-8",
  ico: "image/x-icon",
  jpeg: "image/jpeg",
  jpg: "image/jpeg",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  map: "application/json",
  mjs: "text/javascript; charset=utf-8",
  png: "image/png",
  svg: "image/svg+xml",
  txt: "text/plain; charset=utf-8",
  wasm: "application/wasm",
  webmanifest: "application/manifest+json",
  webp: "image/webp",
  woff2: "font/woff2",
  xml: "application/xml",
};

/** The content type of a file name, by extension. */
export function contentTypeOf(name: string): string {
  const extension = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  return CONTENT_TYPES[extension] ?? "application/octet-stream";
}

/** The strong entity tag of a file's bytes: 27 base64 characters of its SHA-1. */
export async function etagOf(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", bytes as Uint8Array<ArrayBuffer>);
  return `"${btoa(String.fromCharCode(...new Uint8Array(digest))).slice(0, 27)}"`;
}

interface StaticFile {
  path: string;
  contentType: string;
  cacheControl: string;
  /** Whether the type is text-like: then responses vary by `Accept-Encoding`. */
  compressible: boolean;
  etag?: string;
  body?: Uint8Array<ArrayBuffer>;
  /** Where the build left a precompressed variant, and the tag of the source it was made from (when known). */
  prebuilt?: { base: string; sourceEtag?: string };
  /** Coded variants, read or made on first use. */
  variants: Partial<Record<Encoding, Uint8Array<ArrayBuffer>>>;
}

/** Where `deno task build` left precompressed variants (see `precompress.ts`). */
export interface PrecompressedDirs {
  /** The folder mirroring `static/` with `.br`/`.gz` files. */
  staticDir: string;
  /** URL path → entity tag of the source each static variant was made from. */
  sources: Record<string, string>;
}

/** A lookup of every servable file by URL path. */
export class StaticFiles {
  #files = new Map<string, StaticFile>();

  /** Collects `staticDir`'s files and the bundles named by a build. */
  static async load(
    staticDir: string,
    bundleDir: string | null,
    bundles: string[],
    precompressed: PrecompressedDirs | null = null,
  ): Promise<StaticFiles> {
    const files = new StaticFiles();
    for (const path of await listSourceFiles(staticDir, /./)) {
      const urlPath = path.slice(staticDir.length);
      const contentType = contentTypeOf(path);
      const sourceEtag = precompressed?.sources[urlPath];
      files.#files.set(urlPath, {
        path,
        contentType,
        // Static files keep their names across releases, so browsers revalidate.
        cacheControl: "public, max-age=0, must-revalidate",
        compressible: isCompressible(contentType),
        prebuilt: sourceEtag ? { base: `${precompressed!.staticDir}${urlPath}`, sourceEtag } : undefined,
        variants: {},
      });
    }
    if (bundleDir) {
      for (const name of bundles) {
        const contentType = contentTypeOf(name);
        files.#files.set(BUNDLE_URL_PREFIX + name, {
          path: `${bundleDir}/${name}`,
          contentType,
          // Bundle names carry a content hash: a new build means a new URL.
          cacheControl: "public, max-age=31536000, immutable",
          compressible: isCompressible(contentType),
          // The build writes variants beside each bundle; a bundle never changes under its name.
          prebuilt: { base: `${bundleDir}/${name}` },
          variants: {},
        });
      }
    }
    return files;
  }

  /** Answers a GET or HEAD for a known file, or returns `null` when the path is not one. */
  async serve(req: Request, pathname: string): Promise<Response | null> {
    const file = this.#files.get(pathname);
    if (!file) return null;
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (!file.body) {
      file.body = await Deno.readFile(file.path);
      file.etag = await etagOf(file.body);
    }
    const encoding = file.compressible && file.body.byteLength >= MIN_COMPRESS_BYTES
      ? pickEncoding(req.headers.get("accept-encoding"))
      : null;
    const etag = variantEtag(file.etag!, encoding);
    const headers = new Headers({
      "content-type": file.contentType,
      "cache-control": file.cacheControl,
      etag,
      "x-content-type-options": "nosniff",
    });
    if (file.compressible) appendVary(headers, "Accept-Encoding");
    if (etagMatches(req.headers.get("if-none-match"), etag)) return new Response(null, { status: 304, headers });
    const body = encoding ? await variant(file, encoding) : file.body;
    if (encoding) headers.set("content-encoding", encoding);
    headers.set("content-length", String(body.byteLength));
    return new Response(req.method === "HEAD" ? null : body, { headers });
  }
}

/**
 * A file's coded bytes: the build's variant when it was made from these very
 * bytes, else compressed here once and kept (a dev server without a build).
 */
async function variant(file: StaticFile, encoding: Encoding): Promise<Uint8Array<ArrayBuffer>> {
  const known = file.variants[encoding];
  if (known) return known;
  let bytes: Uint8Array<ArrayBuffer> | undefined;
  const prebuilt = file.prebuilt;
  if (prebuilt && (prebuilt.sourceEtag === undefined || prebuilt.sourceEtag === file.etag)) {
    bytes = await Deno.readFile(prebuilt.base + ENCODING_SUFFIX[encoding]).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    });
  }
  bytes ??= compress(file.body!, encoding, BUILD_BROTLI_QUALITY);
  file.variants[encoding] = bytes;
  return bytes;
}
