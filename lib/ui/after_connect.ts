/**
 * Work that waits until the room has settled: the first time its connection
 * leaves "connecting" (connected, and also offline or reconnecting, so an
 * offline visit still gets it from the service worker's cache). Until then
 * the page's bytes and round trips go to joining the room; after it, the parts
 * most visits never open (drawers, QR code, diagnostics, the linkifier, the
 * other language) are fetched, and the service worker is set up, so they are
 * at hand later and offline.
 * @module
 */
import type { RoomView } from "../client/room_view.ts";
import { loadLinkFinder } from "./links.ts";

/** Calls `run` once, the first time the view's connection is anything but "connecting"; returns a cancel function. */
export function whenSettled(view: Pick<RoomView, "connection">, run: () => void): () => void {
  let settled = false;
  let cancelled = false;
  const stop = view.connection.subscribe((state) => {
    if (settled || state.kind === "connecting") return;
    settled = true;
    // Not from inside the signal's notification: `run` may read and write other signals.
    queueMicrotask(() => {
      stop();
      if (!cancelled) run();
    });
  });
  return () => {
    cancelled = true;
    stop();
  };
}

/** Fetches the lazily loaded parts of the room UI into the module cache (and the service worker's). */
export function prefetchLazyParts(): Promise<unknown> {
  return Promise.allSettled([
    import("./drawers.ts"),
    import("./qr.ts"),
    loadLinkFinder(),
  ]);
}
