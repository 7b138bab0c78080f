/**
 * Serves `static/` and the built island bundles. Only files found at start-up
 * are served, so no request path can reach outside those folders.
 * @module
 */
import { BUNDLE_URL_PREFIX } from "./build_meta.ts";
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

interface StaticFile {
  path: string;
  contentType: string;
  cacheControl: string;
  etag?: string;
  body?: Uint8Array<ArrayBuffer>;
}

/** A lookup of every servable file by URL path. */
export class StaticFiles {
  #files = new Map<string, StaticFile>();

  /** Collects `staticDir`'s files and the bundles named by a build. */
  static async load(staticDir: string, bundleDir: string | null, bundles: string[]): Promise<StaticFiles> {
    const files = new StaticFiles();
    for (const path of await listSourceFiles(staticDir, /./)) {
      const urlPath = path.slice(staticDir.length);
      files.#files.set(urlPath, {
        path,
        contentType: contentTypeOf(path),
        // Static files keep their names across releases, so browsers revalidate.
        cacheControl: "public, max-age=0, must-revalidate",
      });
    }
    if (bundleDir) {
      for (const name of bundles) {
        files.#files.set(BUNDLE_URL_PREFIX + name, {
          path: `${bundleDir}/${name}`,
          contentType: contentTypeOf(name),
          // Bundle names carry a content hash: a new build means a new URL.
          cacheControl: "public, max-age=31536000, immutable",
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
      const digest = await crypto.subtle.digest("SHA-1", file.body);
      file.etag = `"${btoa(String.fromCharCode(...new Uint8Array(digest))).slice(0, 27)}"`;
    }
    const headers = new Headers({
      "content-type": file.contentType,
      "cache-control": file.cacheControl,
      etag: file.etag!,
      "x-content-type-options": "nosniff",
    });
    if (req.headers.get("if-none-match") === file.etag) return new Response(null, { status: 304, headers });
    headers.set("content-length", String(file.body.byteLength));
    return new Response(req.method === "HEAD" ? null : file.body, { headers });
  }
}
