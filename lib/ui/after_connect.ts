/**
 * Work that waits until the room has settled: the first time its connection
 * leaves "connecting" (connected, and also offline or reconnecting, so an
 * offline visit still gets it from the service worker's cache). Until then
 * the page's bytes and round trips go to joining the room; after it, the parts
 * most visits never open (drawers, QR code, diagnostics, the linkifier, the
 * other language, the reassembly of long messages) are fetched, and the service worker is set up, so they are
 * at hand later and offline.
 * @module
 */
export { whenSettled } from "../client/when_settled.ts";
import { loadLinkFinder } from "./links.ts";

/** Fetches the lazily loaded parts of the room UI into the module cache (and the service worker's). */
export function prefetchLazyParts(): Promise<unknown> {
  return Promise.allSettled([
    import("./drawers.ts"),
    import("./qr.ts"),
    loadLinkFinder(),
    import("../client/core.eager.ts").then((core) => core.prefetchRareParts()),
  ]);
}
