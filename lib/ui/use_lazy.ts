/**
 * Loads a module the first time a component needs it, for parts of the UI
 * that most visits never open.
 * @module
 */
import { useEffect, useState } from "preact/hooks";

/** The module once loaded (after `needed` first turns true), else undefined. */
export function useLazy<T>(load: () => Promise<T>, needed: boolean): T | undefined {
  const [loaded, setLoaded] = useState<{ module: T }>();
  useEffect(() => {
    if (!needed || loaded) return;
    load().then((module) => setLoaded({ module }), (error) => {
      console.error("Parley: a part of the page failed to load", error);
    });
  }, [needed]);
  return loaded?.module;
}
