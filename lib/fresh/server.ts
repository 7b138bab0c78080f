/**
 * The server face of the Fresh-compatible core (`$fresh/server.ts`): what
 * routes, `main.ts` and `fresh.config.ts` import.
 * @module
 */
export type * from "./types.ts";
export { type AppHandler, createHandler } from "./handler.ts";
import type { FreshConfig } from "./types.ts";

/** Types a `fresh.config.ts` default export. */
export function defineConfig(config: FreshConfig): FreshConfig {
  return config;
}
