/**
 * The server entry.
 * - `deno serve main.ts` (and Deno Deploy) use the default export's `fetch`.
 * - `deno task start` serves it on `HOSTNAME:PORT` through `lib/fresh/listen.ts`.
 * @module
 */
import { createHandler } from "$fresh/server.ts";
import config from "./fresh.config.ts";
import manifest from "./fresh.gen.ts";

const handler = await createHandler(manifest, config);

/** The app, for `deno serve` and Deno Deploy. */
export default { fetch: handler } satisfies Deno.ServeDefaultExport;
