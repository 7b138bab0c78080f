/**
 * The server entry.
 * - `deno serve main.ts` (and Deno Deploy) use the default export's `fetch`.
 * - `deno task start` serves it on `HOSTNAME:PORT` through `lib/fresh/listen.ts`.
 * @module
 */
import { createHandler } from "$fresh/server.ts";
import config from "./fresh.config.ts";
import manifest from "./fresh.gen.ts";
import { getServer, shutdownOnSignals } from "./lib/server/mod.ts";

// Open KV and check the configuration at start-up, so a bad setting stops the
// process instead of failing a user's socket. Pages do not wait for it.
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
