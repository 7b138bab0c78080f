// Parley's service worker: keeps the app shell (pages, island bundles, icons)
// so a room opens offline; the room's history and outbox come from IndexedDB.
// Navigations go to the network first, with a short timeout because a bad
// mobile network often hangs rather than fails. The key in a room link's
// fragment is never part of any request, so it never reaches this cache.
/// <reference lib="webworker" />

const CACHE = "parley-shell-v1";
/** Where the last room page seen is kept, to open any room offline. */
const ROOM_SHELL = "/__parley/room-shell";
/** How long a navigation waits for the network before the cached shell answers. */
const NAVIGATION_TIMEOUT_MS = 4000;
const PRECACHE = ["/", "/manifest.webmanifest", "/favicon.svg", "/icons/icon-192.png", "/icons/icon-512.png"];
const ROOM_PATH = /^\/[A-Za-z0-9_-]{16,64}$/;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

// The page tells the worker what it loaded before the worker controlled it.
self.addEventListener("message", (event) => {
  const data = event.data;
  if (!data || data.type !== "cache-shell" || !Array.isArray(data.urls)) return;
  event.waitUntil(Promise.all(data.urls.map((url) => remember(new Request(new URL(url, self.location.origin))))));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname === "/metrics") return;
  if (request.mode === "navigate") {
    event.respondWith(navigate(request, url));
  } else if (url.pathname.startsWith("/_fresh/js/")) {
    event.respondWith(caches.match(request).then((hit) => hit ?? remember(request)));
  } else {
    event.respondWith(
      caches.match(request).then((hit) => {
        const fresh = remember(request);
        if (!hit) return fresh;
        fresh.catch((error) => console.warn("Parley offline: could not refresh", url.pathname, error));
        return hit;
      }),
    );
  }
});

/** Fetches and keeps a successful answer; room pages also become the room shell. */
async function remember(request) {
  const response = await fetch(request);
  if (response.ok && response.type === "basic") {
    const cache = await caches.open(CACHE);
    await cache.put(request, response.clone());
    if (ROOM_PATH.test(new URL(request.url).pathname)) await cache.put(ROOM_SHELL, response.clone());
  }
  return response;
}

async function navigate(request, url) {
  const network = remember(request);
  const timeout = new Promise((resolve) => setTimeout(resolve, NAVIGATION_TIMEOUT_MS, null));
  try {
    const response = await Promise.race([network, timeout]);
    if (response) return response;
  } catch (error) {
    console.warn("Parley offline: answering from the cache", url.pathname, error);
  }
  const cached = await caches.match(request, { ignoreSearch: true }) ??
    (ROOM_PATH.test(url.pathname) ? await caches.match(ROOM_SHELL) : undefined);
  if (cached) return cached;
  // Nothing cached for this page: wait for the network after all.
  return network;
}
