/**
 * Registers the app-shell service worker (static/sw.js) and hands it the
 * URLs this page already loaded (modules, words), since a first visit's
 * requests happen before the worker controls the page. The room registers it
 * once settled, so none of this competes with joining. The URLs never include
 * the fragment.
 * @module
 */

/** The worker's script, served from static/. */
export const SERVICE_WORKER_URL = "/sw.js";

/** The message the worker understands: cache these same-origin paths. */
export interface CacheShellMessage {
  /** Always "cache-shell". */
  type: "cache-shell";
  /** Paths (with query, without fragment) to fetch and keep. */
  urls: string[];
}

/** Registers the worker and asks it to keep this page and its modules for offline use. */
export function registerServiceWorker(): void {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register(SERVICE_WORKER_URL).then(
    () => navigator.serviceWorker.ready,
  ).then((registration) => {
    const urls = [location.pathname + location.search];
    for (const entry of performance.getEntriesByType("resource")) {
      const url = new URL(entry.name);
      const kept = url.pathname.startsWith("/_fresh/") || url.pathname.startsWith("/strings/");
      if (url.origin === location.origin && kept) urls.push(url.pathname);
    }
    const message: CacheShellMessage = { type: "cache-shell", urls };
    registration.active?.postMessage(message);
  }).catch((error) => console.warn("Parley: the offline cache is unavailable", error));
}
