/**
 * Reads a signal in a component and re-renders on change, without the
 * `@preact/signals` integration (about 1.2 KB gzip the room page need not
 * ship): the RoomView's signals come from `@preact/signals-core`.
 * @module
 */
import type { ReadonlySignal } from "@preact/signals-core";
import { useEffect, useState } from "preact/hooks";

/** The signal's current value (or `fallback` without one); the component re-renders when it changes. */
export function useSignalValue<T>(source: ReadonlySignal<T> | undefined, fallback: T): T {
  const [, setVersion] = useState(0);
  useEffect(() => source?.subscribe(() => setVersion((version) => version + 1)), [source]);
  return source ? source.peek() : fallback;
}
