import { assertEquals, assertThrows } from "@std/assert";
import { buildRouteTable, matchRoute, parseRouteFile } from "$fresh/router.ts";
import type { Manifest, RouteModule } from "$fresh/server.ts";

function manifestOf(files: string[]): Manifest {
  const routes: Record<string, RouteModule> = {};
  for (const file of files) routes[file] = { handler: () => new Response(file) };
  return { routes, islands: {}, baseUrl: "file:///app/fresh.gen.ts" };
}

Deno.test("route files map to Fresh 1.x paths", () => {
  const pattern = (file: string) => {
    const segments = parseRouteFile(file);
    return segments && buildRouteTable(manifestOf([file])).routes[0].pattern;
  };
  assertEquals(pattern("./routes/index.tsx"), "/");
  assertEquals(pattern("./routes/about.tsx"), "/about");
  assertEquals(pattern("./routes/[room].tsx"), "/:room");
  assertEquals(pattern("./routes/api/health.ts"), "/api/health");
  assertEquals(pattern("./routes/blog/index.tsx"), "/blog");
  assertEquals(pattern("./routes/(marketing)/pricing.tsx"), "/pricing");
  assertEquals(pattern("./routes/files/[...path].ts"), "/files/:path*");
  assertEquals(parseRouteFile("./routes/_app.tsx"), null);
  assertThrows(() => parseRouteFile("./routes/a[b].tsx"), Error, "Unsupported route segment");
});

Deno.test("static segments win over parameters, which win over catch-alls", () => {
  const table = buildRouteTable(manifestOf([
    "./routes/[...rest].ts",
    "./routes/[room].tsx",
    "./routes/new.tsx",
    "./routes/api/[name].ts",
    "./routes/api/health.ts",
  ]));
  const match = (path: string) => {
    const found = matchRoute(table, path);
    return found && [found.route.pattern, found.params];
  };
  assertEquals(match("/new"), ["/new", {}]);
  assertEquals(match("/abc"), ["/:room", { room: "abc" }]);
  assertEquals(match("/api/health"), ["/api/health", {}]);
  assertEquals(match("/api/other"), ["/api/:name", { name: "other" }]);
  assertEquals(match("/a/b/c"), ["/:rest*", { rest: "a/b/c" }]);
  assertEquals(match("/caf%C3%A9"), ["/:room", { room: "café" }]);
});

Deno.test("two files answering one path are refused at start-up", () => {
  assertThrows(
    () => buildRouteTable(manifestOf(["./routes/about.tsx", "./routes/(x)/about.tsx"])),
    Error,
    "both answer /about",
  );
});

Deno.test("a path with no route matches nothing", () => {
  const table = buildRouteTable(manifestOf(["./routes/index.tsx", "./routes/[room].tsx"]));
  assertEquals(matchRoute(table, "/a/b"), null);
  assertEquals(matchRoute(table, "/")?.route.pattern, "/");
});
