/**
 * The server entry.
 * - `deno serve main.ts` (and Deno Deploy) use the default export's `fetch`.
 * - `deno task start` serves it on `HOSTNAME:PORT` through `lib/fresh/listen.ts`.
 * @module
 */
import { createHandler } from "$fresh/server.ts";
import config from "./fresh.config.ts";
import manifest from "./fresh.gen.ts";
import { ConfigError, getServer, serverConfig, shutdownOnSignals } from "./lib/server/mod.ts";

// Check the configuration before anything listens: a setting that makes no
// sense stops the process here, naming the variable.
try {
  serverConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`Parley cannot start: ${error.message}. See "Configuration" in README.md.`);
  Deno.exit(1);
}
// Open KV and the bus at start-up, so a broken KV stops the process instead of
// failing a user's socket. Pages do not wait for it.
getServer().catch((error) => {
  console.error("The signaling server could not start:", error);
  Deno.exit(1);
});
// Deploy sends SIGINT before eviction: tell clients to reconnect (1012) after
// flushing the room log, so nothing accepted is lost.
shutdownOnSignals();

const handler = await createHandler(manifest, config);

/** The app, for `deno serve` and Deno Deploy. */
export default { fetch: handler } satisfies Deno.ServeDefaultExport;
