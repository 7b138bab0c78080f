/**
 * Test-only entry: serves `/api/signal` (and `/metrics`) on 127.0.0.1 with a
 * server built from the environment (PORT, KV_PATH, RESUME_WINDOW...), prints
 * `listening <port>` once ready, and shuts down gracefully on SIGINT/SIGTERM.
 * The lead's main.ts replaces it once it mounts routes/api/signal.ts.
 * @module
 */
import { getServer, metrics, shutdownOnSignals } from "../../lib/server/mod.ts";

const server = await getServer();
shutdownOnSignals();
const httpServer = Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? "0"),
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (req, info) => {
  const { pathname } = new URL(req.url);
  if (pathname === "/api/signal") return server.handle(req, info.remoteAddr);
  if (pathname === "/metrics") return new Response(metrics.render(), { headers: { "content-type": "text/plain" } });
  return Response.json({ error: { code: "not_found", message: "no such route" } }, { status: 404 });
});
await httpServer.finished;
