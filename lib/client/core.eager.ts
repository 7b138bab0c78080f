/**
 * The client core as the room page loads it: an eager chunk (see
 * `lib/fresh/rechunk.ts`), fetched with the page in parallel with the island's
 * module but run only when the island imports it. So the island hydrates, and
 * shows the bootstrap's socket in the room (`bootstrap/early_status.ts`),
 * while the courier, the store and the crypto are still on their way.
 * @module
 */
export { openRoom, prefetchRareParts } from "./mod.ts";
