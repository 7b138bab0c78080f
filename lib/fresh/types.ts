/**
 * The public types of the Fresh-compatible core: what route modules, the app
 * wrapper and plugins see. They follow Fresh 1.x names so routes read the same.
 * @module
 */
import type { ComponentType, VNode } from "preact";

/** The request context given to handlers and, as `PageProps`, to pages. */
export interface FreshContext<Data = unknown, State = Record<string, unknown>> {
  /** The URL of the request, parsed once. */
  url: URL;
  /** Values of the dynamic segments of the matched route, e.g. `{ room: "abc" }`. */
  params: Record<string, string>;
  /** The address of the connecting client, for limits keyed by address. */
  remoteAddr: Deno.NetAddr;
  /** Per-request state that handlers may share with the page. */
  state: State;
  /** The path pattern of the matched route, e.g. `/:room`. */
  route: string;
  /** Renders the route's page component with `data`; answers 404 for API-only routes. */
  render(data?: Data, init?: ResponseInit): Response | Promise<Response>;
  /** Renders the app's 404 page. */
  renderNotFound(): Response | Promise<Response>;
}

/** Kept for Fresh 1.x source compatibility: the handler context. */
export type HandlerContext<Data = unknown, State = Record<string, unknown>> = FreshContext<
  Data,
  State
>;

/** A function answering one HTTP method. */
export type Handler<Data = unknown, State = Record<string, unknown>> = (
  req: Request,
  ctx: FreshContext<Data, State>,
) => Response | Promise<Response>;

/** A route's `handler` export: one function for every method, or one per method. */
export type Handlers<Data = unknown, State = Record<string, unknown>> = {
  [Method in HttpMethod]?: Handler<Data, State>;
};

/** The methods a route may answer. */
export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";

/** Props of a page component. */
export interface PageProps<Data = unknown, State = Record<string, unknown>> {
  /** The URL of the request. */
  url: URL;
  /** Values of the dynamic segments of the matched route. */
  params: Record<string, string>;
  /** What the handler passed to `ctx.render`. */
  data: Data;
  /** Per-request state. */
  state: State;
  /** The path pattern of the matched route. */
  route: string;
}

/** Props of `_app.tsx`: the page to place inside the document. */
export interface AppProps<State = Record<string, unknown>> extends PageProps<unknown, State> {
  /** The matched page, already bound to its props. */
  Component: ComponentType<Record<string, never>>;
}

/** A route module as the manifest imports it; its data type is the module's own business. */
export interface RouteModule {
  /** Method handlers, or one function for all methods. */
  // deno-lint-ignore no-explicit-any
  handler?: Handler<any, any> | Handlers<any, any>;
  /** The page component (or the app wrapper for `_app.tsx`); absent for API routes. */
  // deno-lint-ignore no-explicit-any
  default?: ComponentType<any>;
}

/** An island module: its default export is hydrated in the browser. */
export interface IslandModule {
  /** The interactive component. */
  // deno-lint-ignore no-explicit-any
  default: ComponentType<any>;
}

/** The generated `fresh.gen.ts` manifest. */
export interface Manifest {
  /** Route modules keyed by their path relative to the project, e.g. `./routes/index.tsx`. */
  routes: Record<string, RouteModule>;
  /** Island modules keyed by their path relative to the project. */
  islands: Record<string, IslandModule>;
  /** `import.meta.url` of the manifest, locating the project root. */
  baseUrl: string;
}

/** A style sheet a plugin adds to a rendered page. */
export interface PluginStyle {
  /** The CSS text, inlined in a `<style>` tag. */
  cssText: string;
  /** The id of the `<style>` tag, so a client runtime could find it. */
  id?: string;
}

/** What a plugin learns about a page it may style. */
export interface RenderedPage {
  /** The page's whole document markup, as rendered on the server. */
  html: string;
  /** Names of the islands the page hydrates. */
  islands: string[];
}

/** What a plugin gives back for a rendered page. */
export interface PluginRenderResult {
  /** Replacement markup, when the plugin rewrites it (e.g. class names). */
  html?: string;
  /** Styles to inline at the end of `<head>`. */
  styles?: PluginStyle[];
}

/** A plugin hooking into page rendering. */
export interface Plugin {
  /** A name for logs and errors. */
  name: string;
  /** Called once per rendered page, after the markup exists and before it is sent. */
  render?(page: RenderedPage): PluginRenderResult;
}

/** Options of `fresh.config.ts`. */
export interface FreshConfig {
  /** Plugins, applied in order. */
  plugins?: Plugin[];
  /** Where `deno task build` writes island bundles, relative to the project root. */
  outDir?: string;
}

/** A page-level `<head>` child collected during rendering. */
export type HeadChild = VNode;
