/**
 * A signaling server instance inside a Web Worker, for cross-instance tests:
 * workers of one process share BroadcastChannel, as Deno Deploy isolates and
 * `deno serve --parallel` workers do. Protocol with the parent:
 * parent → `{ kvPath, bus, env? }`; worker → `{ port }`; parent → `"stop"`; worker → `"stopped"`.
 * @module
 */
/// <reference lib="deno.worker" />
import { configFromEnv, createSignalServer } from "../../lib/server/mod.ts";
import type { BusKind } from "../../lib/server/config.ts";

self.onmessage = async (event: MessageEvent<{ kvPath: string; bus: BusKind; env?: Record<string, string> }>) => {
  const { kvPath, bus, env = {} } = event.data;
  const config = configFromEnv((name) => env[name], { kvPath, bus });
  const server = await createSignalServer({ config });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req, info) => {
    if (new URL(req.url).pathname === "/api/signal") return server.handle(req, info.remoteAddr);
    return new Response("not found", { status: 404 });
  });
  self.onmessage = async () => {
    await server.shutdown("test over");
    await http.shutdown();
    self.postMessage("stopped");
  };
  self.postMessage({ port: http.addr.port });
};
