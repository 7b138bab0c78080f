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
import type { RoomView } from "../client/room_view.ts";
import { loadLinkFinder } from "./links.ts";

/** Schedules work for when the page is idle (after the render that shows the new state), where browsers can tell. */
type Later = (work: () => void) => void;

/** The browser's idle callback (with a bound on the wait), or the next task where there is none (Safari). */
const idle: Later = (work) => {
  if (typeof requestIdleCallback === "function") requestIdleCallback(work, { timeout: 1_000 });
  else setTimeout(work, 0);
};

/**
 * Calls `run` once, the first time the view's connection is anything but "connecting", when the page is next idle
 * (so after the render that shows it); returns a cancel function.
 */
export function whenSettled(view: Pick<RoomView, "connection">, run: () => void, later: Later = idle): () => void {
  let settled = false;
  let cancelled = false;
  const stop = view.connection.subscribe((state) => {
    if (settled || state.kind === "connecting") return;
    settled = true;
    // Not from inside the signal's notification, and not before the page has shown the new state.
    later(() => {
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
    import("../client/core.eager.ts").then((core) => core.prefetchRareParts()),
  ]);
}
