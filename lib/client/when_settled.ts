/**
 * Work that waits until a room has settled: the first time its connection
 * leaves "connecting" (connected, and also offline or reconnecting), when the
 * page is next idle, so after the render that shows the new state. Until
 * then the page's bytes and round trips go to joining the room.
 * @module
 */
import type { RoomView } from "./room_view.ts";

/** Schedules work for when the page is idle (after the render that shows the new state), where browsers can tell. */
export type Later = (work: () => void) => void;

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
