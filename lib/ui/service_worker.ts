/**
 * Registers the app-shell service worker (static/sw.js) and hands it the
 * URLs this page already loaded (modules, words), since a first visit's
 * requests happen before the worker controls the page. The room registers it
 * once settled, so none of this competes with joining. The URLs never include
 * the fragment. A page the worker does not control though it is active (the
 * page's navigation began while the worker was installing, or it was a hard
 * reload) asks to be claimed, so it works offline without another reload.
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

/** The message asking the active worker to take control of the pages it does not yet control. */
export interface ClaimMessage {
  /** Always "claim". */
  type: "claim";
}

/** Registers the worker, asks it to keep this page and its modules for offline use, and to control this page. */
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
    if (!navigator.serviceWorker.controller) registration.active?.postMessage({ type: "claim" } satisfies ClaimMessage);
  }).catch((error) => console.warn("Parley: the offline cache is unavailable", error));
}

/** The worker's answer to `refresh-shell`: the module URLs the freshly fetched room page names. */
interface RefreshShellReply {
  /** False when the page could not be fetched. */
  ok: boolean;
  /** The module URLs of the fresh page. */
  modules?: string[];
}

/**
 * Whether a newer version of this room page exists than the one running: asked when the server refuses the room,
 * since a page answered from the worker's cache may be a version the server no longer speaks with. The worker fetches
 * the page afresh (keeping it and its modules); a page naming other modules is another version, and a reload runs it.
 * False without a controlling worker, or when the page cannot be fetched.
 */
export async function newerPageThanThis(): Promise<boolean> {
  const worker = "serviceWorker" in navigator ? navigator.serviceWorker.controller : null;
  if (!worker) return false;
  const channel = new MessageChannel();
  const reply = new Promise<RefreshShellReply>((resolve) => channel.port1.onmessage = (event) => resolve(event.data));
  worker.postMessage({ type: "refresh-shell", path: location.pathname + location.search }, [channel.port2]);
  const answer = await reply;
  channel.port1.close();
  if (!answer.ok || !answer.modules) return false;
  const running = new Set(
    Array.from(
      document.querySelectorAll<HTMLLinkElement>('link[rel="modulepreload"]'),
      (link) => new URL(link.href).pathname,
    ),
  );
  return answer.modules.some((module) => !running.has(module));
}
