// Parley's service worker: keeps the app shell (pages, island bundles, words, icons)
// so a room opens at once and offline; the room's history and outbox come from IndexedDB.
// A room page is answered from the cache when it is there (stale-while-revalidate): the
// page's head then opens the signaling socket without waiting for any HTTP round trip,
// and a fresh copy is fetched in the background for next time (a 304 when nothing
// changed: pages carry entity tags). Other navigations go to the network first, with a
// short timeout because a bad mobile network often hangs rather than fails. The key in a
// room link's fragment is never part of any request, so it never reaches this cache.
/// <reference lib="webworker" />

const CACHE = "parley-shell-v1";
/** Where the last room page seen is kept (with its query), to open any room from the cache. */
const ROOM_SHELL = "/__parley/room-shell";
/** How long a navigation waits for the network before a cached page answers. */
const NAVIGATION_TIMEOUT_MS = 4000;
const PRECACHE = ["/", "/manifest.webmanifest", "/favicon.svg", "/icons/icon-192.png", "/icons/icon-512.png"];
const ROOM_PATH = /^\/[A-Za-z0-9_-]{16,64}$/;
/** Module URLs a page names (its preloads and boot script). */
const MODULE_URL = /"(\/_fresh\/js\/[^"?#]+\.js)"/g;
/** Shell lookups ignore Vary: the cached page was fetched by this browser for this browser. */
const MATCH = { ignoreVary: true };

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

// The page tells the worker what it loaded before the worker controlled it; a page left
// uncontrolled asks to be claimed (its navigation began while this worker was installing, so
// the claim in activate came before the page existed); and a room page the server refused
// asks for its shell afresh, to find out whether it was a stale version.
self.addEventListener("message", (event) => {
  const data = event.data;
  if (data && data.type === "cache-shell" && Array.isArray(data.urls)) {
    event.waitUntil(Promise.all(data.urls.map((url) => remember(new Request(new URL(url, self.location.origin))))));
  } else if (data && data.type === "claim") {
    event.waitUntil(self.clients.claim());
  } else if (data && data.type === "refresh-shell" && typeof data.path === "string" && event.ports[0]) {
    const port = event.ports[0];
    event.waitUntil(
      freshModules(data.path).then(
        (modules) => port.postMessage({ ok: true, modules }),
        (error) => port.postMessage({ ok: false, error: String(error) }),
      ),
    );
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname === "/metrics") return;
  if (request.mode === "navigate") {
    event.respondWith(navigate(event, request, url));
  } else if (url.pathname.startsWith("/_fresh/js/")) {
    event.respondWith(caches.match(request, MATCH).then((hit) => hit ?? remember(request)));
  } else {
    event.respondWith(
      caches.match(request, MATCH).then((hit) => {
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
    const url = new URL(request.url);
    if (ROOM_PATH.test(url.pathname)) await cache.put(ROOM_SHELL + url.search, response.clone());
  }
  return response;
}

async function navigate(event, request, url) {
  if (ROOM_PATH.test(url.pathname)) {
    const cached = await caches.match(request, MATCH) ?? await caches.match(ROOM_SHELL + url.search, MATCH);
    if (cached) {
      event.waitUntil(
        refreshShell(request, cached).catch((error) => {
          console.warn("Parley offline: could not refresh", url.pathname, error);
        }),
      );
      return cached;
    }
  }
  const network = remember(request);
  const timeout = new Promise((resolve) => setTimeout(resolve, NAVIGATION_TIMEOUT_MS, null));
  try {
    const response = await Promise.race([network, timeout]);
    if (response) return response;
  } catch (error) {
    console.warn("Parley offline: answering from the cache", url.pathname, error);
  }
  const cached = await caches.match(request, { ignoreSearch: true, ignoreVary: true }) ??
    (ROOM_PATH.test(url.pathname) ? await anyRoomShell() : undefined);
  if (cached) return cached;
  // Nothing cached for this page: wait for the network after all.
  return network;
}

/** Fetches the room page again for next time; a new version also brings its modules into the cache. */
async function refreshShell(request, cached) {
  const response = await remember(request);
  if (!response.ok || response.headers.get("etag") === cached.headers.get("etag")) return;
  await keepModules(await response.clone().text());
}

/** The module URLs a page names, each fetched into the cache unless it is there; returns them. */
async function keepModules(html) {
  const cache = await caches.open(CACHE);
  const urls = [...new Set([...html.matchAll(MODULE_URL)].map((match) => match[1]))];
  await Promise.all(urls.map(async (path) => {
    if (!await cache.match(path)) await remember(new Request(new URL(path, self.location.origin)));
  }));
  return urls;
}

/** Fetches a room page from the network (keeping it and its modules) and lists the modules it names. */
async function freshModules(path) {
  const url = new URL(path, self.location.origin);
  if (!ROOM_PATH.test(url.pathname)) throw new Error("not a room page");
  const response = await remember(new Request(url));
  if (!response.ok) throw new Error(`the room page answered ${response.status}`);
  return await keepModules(await response.clone().text());
}

/** Any room shell kept, whatever its query: better than nothing offline. */
async function anyRoomShell() {
  const cache = await caches.open(CACHE);
  const keys = await cache.keys();
  const shell = keys.find((key) => new URL(key.url).pathname === ROOM_SHELL);
  return shell ? await cache.match(shell) : undefined;
}
