/**
 * Turns a manifest and a config into a request handler: static files and
 * bundles first, then routes, then the 404 page.
 * @module
 */
import type { ComponentType } from "preact";
import { BUNDLE_URL_PREFIX, preloadClosure, readBuildMeta } from "./build_meta.ts";
import { CompressedBodies, compressResponse } from "./compression.ts";
import { withEntityTag } from "./entity_tag.ts";
import { islandNameFromFile } from "./files.ts";
import { COMPRESSED_STATIC_DIR, COMPRESSED_STATIC_RECORD } from "./precompress.ts";
import { type IslandAssets, registerIslands, renderPage } from "./render.ts";
import { buildRouteTable, matchRoute, type RouteTable } from "./router.ts";
import { StaticFiles } from "./static_files.ts";
import type {
  FreshConfig,
  FreshContext,
  Handler,
  Handlers,
  HttpMethod,
  Manifest,
  PageProps,
  RouteModule,
} from "./types.ts";

/** The handler `createHandler` returns, usable with `Deno.serve` and `deno serve`. */
export type AppHandler = (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response>;

const METHODS = new Set<string>(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const DEFAULT_OUT_DIR = "_fresh";
const UNKNOWN_ADDR: Deno.NetAddr = { transport: "tcp", hostname: "0.0.0.0", port: 0 };

/** The directory of the project the manifest belongs to. */
export function projectRoot(manifest: Manifest): string {
  return decodeURIComponent(new URL(".", manifest.baseUrl).pathname).replace(/\/$/, "");
}

/** Builds the app's request handler. Reads the build record and lists static files once. */
export async function createHandler(manifest: Manifest, config: FreshConfig = {}): Promise<AppHandler> {
  const root = projectRoot(manifest);
  const outDir = `${root}/${config.outDir ?? DEFAULT_OUT_DIR}`;
  const table = buildRouteTable(manifest);
  const plugins = config.plugins ?? [];

  const islands = Object.entries(manifest.islands).map(([file, module]) =>
    [islandNameFromFile(file.replace(/^\.\/islands\//, "")), module.default as ComponentType] as [
      string,
      ComponentType,
    ]
  );
  registerIslands(islands);

  const meta = await readBuildMeta(outDir);
  let assets: IslandAssets | null = null;
  if (meta) {
    const missing = islands.filter(([name]) => !meta.islands[name]).map(([name]) => name);
    if (missing.length) console.error(`Islands not in the last build (${missing.join(", ")}): run \`deno task build\``);
    assets = {
      islands: Object.fromEntries(Object.entries(meta.islands).map(([name, file]) => [name, BUNDLE_URL_PREFIX + file])),
      groups: meta.groups,
      preload: Object.fromEntries(
        Object.entries(meta.islands).map(([name, file]) => [
          name,
          preloadClosure(meta, [file]).map((dep) => BUNDLE_URL_PREFIX + dep),
        ]),
      ),
    };
  } else if (islands.length) {
    console.error("Islands are not built: run `deno task build` (pages with islands answer 500 until then)");
  }
  const files = await StaticFiles.load(
    `${root}/static`,
    meta ? `${outDir}/js` : null,
    meta?.files ?? [],
    meta ? await readPrecompressed(`${outDir}/${COMPRESSED_STATIC_DIR}`) : null,
  );

  const renderOptions = { app: table.app, plugins, assets };
  const codedPages = new CompressedBodies();

  function makeContext(
    url: URL,
    params: Record<string, string>,
    route: string,
    module: RouteModule | undefined,
    info: Deno.ServeHandlerInfo | undefined,
  ): FreshContext {
    const ctx: FreshContext = {
      url,
      params,
      route,
      remoteAddr: (info?.remoteAddr as Deno.NetAddr | undefined) ?? UNKNOWN_ADDR,
      state: {},
      render(data?: unknown, init?: ResponseInit) {
        const page = module?.default;
        if (!page) return ctx.renderNotFound();
        const props: PageProps = { url, params, route, data, state: ctx.state };
        return htmlResponse(renderPage(page, props, renderOptions), init);
      },
      renderNotFound() {
        return renderNotFound(url, info);
      },
    };
    return ctx;
  }

  function renderNotFound(url: URL, info: Deno.ServeHandlerInfo | undefined): Response {
    const page = table.notFound?.default;
    if (!page) return new Response("Not Found\n", { status: 404, headers: { "content-type": "text/plain" } });
    const ctx = makeContext(url, {}, "/_404", table.notFound, info);
    const props: PageProps = { url, params: {}, route: ctx.route, data: undefined, state: ctx.state };
    return htmlResponse(renderPage(page, props, renderOptions), { status: 404 });
  }

  async function handle(req: Request, info?: Deno.ServeHandlerInfo): Promise<Response> {
    if (!METHODS.has(req.method)) {
      return textError(501, `Method ${req.method} is not supported`);
    }
    const url = new URL(req.url);
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return textError(400, "Malformed percent-encoding in the path");
    }
    if (pathname.includes("\0") || pathname.includes("\\") || /(^|\/)\.\.?(\/|$)/.test(pathname)) {
      return textError(400, "The path may not contain dot segments, backslashes or NUL");
    }
    const file = await files.serve(req, pathname);
    if (file) return file;
    if (url.pathname.startsWith(BUNDLE_URL_PREFIX)) return renderNotFound(url, info);

    const match = matchRoute(table, url.pathname);
    if (!match) return renderNotFound(url, info);
    const { route, params } = match;
    const ctx = makeContext(url, params, route.pattern, route.module, info);
    const handler = pickHandler(route.module, req.method);
    if (handler === "method-not-allowed") {
      return new Response(`Method ${req.method} is not allowed here\n`, {
        status: 405,
        headers: { allow: allowedMethods(route.module).join(", "), "content-type": "text/plain" },
      });
    }
    const response = await handler(req, ctx);
    return req.method === "HEAD" ? new Response(null, response) : response;
  }

  return async (req, info) => {
    let response: Response;
    try {
      response = await handle(req, info);
    } catch (error) {
      console.error(`Unhandled error answering ${req.method} ${req.url}:`, error);
      response = renderError(table, req, error);
    }
    // Static files pick their own (precompressed) variant; pages and API answers are coded here. Answers to be
    // revalidated (pages) get an entity tag first, so a browser holding the page gets a 304.
    if (response.headers.has("content-encoding")) return response;
    response = await withEntityTag(req, response);
    return await compressResponse(req, response, codedPages);
  };
}

/** The record of precompressed `static/` variants, or null when the build left none. */
async function readPrecompressed(dir: string): Promise<{ staticDir: string; sources: Record<string, string> } | null> {
  try {
    return { staticDir: dir, sources: JSON.parse(await Deno.readTextFile(`${dir}/${COMPRESSED_STATIC_RECORD}`)) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function pickHandler(module: RouteModule, method: string): Handler | "method-not-allowed" {
  const handler = module.handler;
  if (typeof handler === "function") return handler;
  const handlers = (handler ?? {}) as Handlers;
  const own = handlers[method as HttpMethod] ?? (method === "HEAD" ? handlers.GET : undefined);
  if (own) return own;
  if (!handler && module.default && (method === "GET" || method === "HEAD")) {
    return (_req, ctx) => ctx.render();
  }
  return "method-not-allowed";
}

function allowedMethods(module: RouteModule): string[] {
  if (!module.handler) return module.default ? ["GET", "HEAD"] : [];
  const methods = Object.keys(module.handler);
  if (methods.includes("GET") && !methods.includes("HEAD")) methods.push("HEAD");
  return methods;
}

function htmlResponse(html: string, init?: ResponseInit): Response {
  const headers = new Headers(init?.headers);
  if (!headers.has("content-type")) headers.set("content-type", "text/html; charset=utf-8");
  // A page may be kept but is checked on every use (cheaply: it gets an entity tag, see withEntityTag).
  if ((init?.status ?? 200) === 200 && !headers.has("cache-control")) headers.set("cache-control", "no-cache");
  return new Response(html, { ...init, headers });
}

function textError(status: number, message: string): Response {
  return new Response(message + "\n", { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

function renderError(table: RouteTable, req: Request, error: unknown): Response {
  const page = table.error?.default;
  if (page) {
    try {
      const url = new URL(req.url);
      return htmlResponse(
        renderPage(page, { url, params: {}, route: "/_500", data: error, state: {} }, { plugins: [], assets: null }),
        { status: 500 },
      );
    } catch (renderFailure) {
      console.error("The _500 page failed too:", renderFailure);
    }
  }
  return textError(500, "Internal Server Error");
}
