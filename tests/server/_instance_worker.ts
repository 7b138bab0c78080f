/**
 * One server instance in a Web Worker: the real app (`main.ts`) served on a
 * free loopback port, configured through the environment the test passes
 * (`BUS`, `KV_PATH`...). Several of them in one process share one
 * BroadcastChannel, as `deno serve --parallel` workers and Deploy isolates do.
 * Commands: `start` (answers `listening` with the port), `stop` (graceful
 * shutdown of the signaling server and the HTTP server, answers `stopped`).
 * @module
 */

/** What the test sends. */
export type InstanceCommand =
  | {
    cmd: "start";
    /** Environment variables to set before the server reads its config (process-wide: the same for every instance). */
    env: Record<string, string>;
    /** `app`: the whole app of `main.ts`; `signal`: only `/api/signal`, straight to `lib/server` (no routing). */
    serve?: "app" | "signal";
  }
  | { cmd: "stop" };

/** What the instance reports. */
export type InstanceEvent =
  | { event: "listening"; port: number }
  | { event: "stopped" }
  | { event: "error"; message: string };

const scope = self as unknown as Worker;
let server: Deno.HttpServer | null = null;

async function start(env: Record<string, string>, serve: "app" | "signal"): Promise<number> {
  for (const [name, value] of Object.entries(env)) Deno.env.set(name, value);
  let fetch: Deno.ServeHandler;
  if (serve === "app") {
    fetch = ((await import("../../main.ts")).default as Deno.ServeDefaultExport).fetch;
  } else {
    const { getServer } = await import("../../lib/server/mod.ts");
    const signal = await getServer();
    fetch = (req, info) => signal.handle(req, info.remoteAddr as Deno.NetAddr);
  }
  server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, fetch);
  return (server.addr as Deno.NetAddr).port;
}

async function stop(): Promise<void> {
  const { shutdown } = await import("../../lib/server/mod.ts");
  await shutdown("test over");
  await server?.shutdown();
}

scope.onmessage = async (event: MessageEvent<InstanceCommand>) => {
  try {
    if (event.data.cmd === "start") {
      scope.postMessage(
        { event: "listening", port: await start(event.data.env, event.data.serve ?? "app") } satisfies InstanceEvent,
      );
    } else {
      await stop();
      scope.postMessage({ event: "stopped" } satisfies InstanceEvent);
    }
  } catch (error) {
    scope.postMessage({
      event: "error",
      message: error instanceof Error ? error.stack ?? error.message : String(error),
    });
  }
};
