/**
 * File-system routing, Fresh 1.x style: `routes/index.tsx` is `/`,
 * `routes/[room].tsx` is `/:room`, `routes/[...path].tsx` catches the rest,
 * folders nest, and `(group)` folders do not appear in the URL.
 * @module
 */
import type { ComponentType } from "preact";
import type { AppProps, Manifest, RouteModule } from "./types.ts";

type Segment =
  | { kind: "static"; value: string }
  | { kind: "param"; name: string }
  | { kind: "rest"; name: string };

/** A route compiled from one file of the manifest. */
export interface Route {
  /** The manifest key, e.g. `./routes/[room].tsx`. */
  file: string;
  /** The path pattern in URLPattern syntax, e.g. `/:room`. */
  pattern: string;
  /** The route's module. */
  module: RouteModule;
  /** Compiled segments, matched in order. */
  segments: Segment[];
}

/** The routes of an app and its special pages. */
export interface RouteTable {
  /** Ordinary routes, most specific first. */
  routes: Route[];
  /** `_app.tsx`: the document around every page. */
  app?: ComponentType<AppProps>;
  /** `_404.tsx`: the page for unknown paths. */
  notFound?: RouteModule;
  /** `_500.tsx`: the page for unexpected errors. */
  error?: RouteModule;
}

/** A route that matched a path, with its parameters. */
export interface RouteMatch {
  /** The matched route. */
  route: Route;
  /** Decoded values of its dynamic segments. */
  params: Record<string, string>;
}

const ROUTE_FILE = /^\.\/routes\/(.+)\.(tsx|ts|jsx|js)$/;

/** Turns a manifest key into its segments, or `null` for a special file like `_app.tsx`. */
export function parseRouteFile(file: string): Segment[] | null {
  const found = ROUTE_FILE.exec(file);
  if (!found) throw new Error(`Not a route file: ${file}`);
  const parts = found[1].split("/");
  if (parts.some((part) => part.startsWith("_"))) return null;
  const segments: Segment[] = [];
  parts.forEach((part, index) => {
    if (/^\(.+\)$/.test(part)) return;
    if (part === "index" && index === parts.length - 1) return;
    const rest = /^\[\.\.\.(\w+)\]$/.exec(part);
    if (rest) return segments.push({ kind: "rest", name: rest[1] });
    const param = /^\[(\w+)\]$/.exec(part);
    if (param) return segments.push({ kind: "param", name: param[1] });
    if (part.includes("[")) throw new Error(`Unsupported route segment "${part}" in ${file}`);
    segments.push({ kind: "static", value: part });
  });
  return segments;
}

function toPattern(segments: Segment[]): string {
  const parts = segments.map((segment) =>
    segment.kind === "static" ? segment.value : segment.kind === "param" ? `:${segment.name}` : `:${segment.name}*`
  );
  return "/" + parts.join("/");
}

// Static segments outrank parameters, which outrank catch-alls, position by position.
function rank(segment: Segment | undefined): number {
  if (!segment) return -1;
  return segment.kind === "static" ? 0 : segment.kind === "param" ? 1 : 2;
}

function compareRoutes(a: Route, b: Route): number {
  const length = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const difference = rank(a.segments[i]) - rank(b.segments[i]);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Compiles the manifest's route files into a table. */
export function buildRouteTable(manifest: Manifest): RouteTable {
  const table: RouteTable = { routes: [] };
  const seen = new Map<string, string>();
  for (const [file, module] of Object.entries(manifest.routes)) {
    const segments = parseRouteFile(file);
    if (segments === null) {
      const name = file.replace(ROUTE_FILE, "$1");
      if (name === "_app") table.app = module.default as ComponentType<AppProps>;
      else if (name === "_404") table.notFound = module;
      else if (name === "_500") table.error = module;
      continue;
    }
    const pattern = toPattern(segments);
    const clash = seen.get(pattern);
    if (clash) throw new Error(`Routes ${clash} and ${file} both answer ${pattern}`);
    seen.set(pattern, file);
    table.routes.push({ file, pattern, module, segments });
  }
  table.routes.sort(compareRoutes);
  return table;
}

/**
 * Finds the route for a pathname. Segments are percent-decoded; a malformed
 * escape throws `URIError`, which the handler answers with 400.
 */
export function matchRoute(table: RouteTable, pathname: string): RouteMatch | null {
  const parts = pathname.split("/").filter((part) => part !== "");
  for (const route of table.routes) {
    const params = matchSegments(route.segments, parts);
    if (params) return { route, params };
  }
  return null;
}

function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment.kind === "rest") {
      params[segment.name] = parts.slice(i).map(decodeURIComponent).join("/");
      return params;
    }
    const part = parts[i];
    if (part === undefined) return null;
    if (segment.kind === "static") {
      if (part !== segment.value) return null;
    } else {
      params[segment.name] = decodeURIComponent(part);
    }
  }
  return parts.length === segments.length ? params : null;
}
