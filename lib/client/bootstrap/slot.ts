/**
 * The name of the global slot the room page's bootstrap leaves its work in.
 * A module of its own, so the island's bundle takes the name without the script.
 * @module
 */

/** The global property the bootstrap leaves its work in, for the island to take once. */
export const BOOTSTRAP_SLOT = "__parley";
