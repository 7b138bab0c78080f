/**
 * The names the room page's bootstrap and the island share: the global slot
 * the bootstrap leaves its work in, and the `localStorage` note of a browser
 * that keeps rooms. A module of its own, so the island's bundle takes the
 * names without the script.
 * @module
 */

/** The global property the bootstrap leaves its work in, for the island to take once. */
export const BOOTSTRAP_SLOT = "__parley";

/**
 * The `localStorage` item the island sets once this browser keeps rooms (`markStored`). Without it the bootstrap
 * does not wait for IndexedDB (in a fresh profile its first open takes tens of ms), it only warms it up.
 */
export const BOOTSTRAP_STORED_FLAG = "parley:stored";
