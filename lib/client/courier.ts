/**
 * The courier moved to `lib/client/courier/` (one module per job); this file
 * re-exports its face so imports of the old path keep working.
 * @module
 */
export * from "./courier/mod.ts";
