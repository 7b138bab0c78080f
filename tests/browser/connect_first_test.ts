/**
 * Connected within a few round trips on a slow link: the room page's head
 * opens the signaling socket before the module graph has arrived; a first
 * visit moves at most 40 KiB of HTML, CSS and JavaScript before "Connected",
 * and asks nothing the HTML did not name; the rest (drawers, QR code,
 * linkifier, parts reassembly, other words) comes after; a return visit is answered by the
 * service worker without waiting for the server; and the key in the fragment
 * reaches no request, URL or frame. Loopback server, headless Chromium, a
 * fresh profile per test.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import type { BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import { createRoomLink } from "../../lib/client/room_link.ts";
import { type Intercept, type RunningApp, serveApp } from "../support/app.ts";
import { STRINGS } from "../../lib/ui/i18n.ts";
import { launchChromium } from "../support/chromium.ts";
import { byteTable, isPageCode, wireBytes, WireRecorder } from "./_wire.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";

const SLOW = { timeout: 30_000 };
/** Issue 11's goal for a first visit before "Connected": 40 KiB of HTML, CSS and JavaScript on the wire, headers included. */
const FIRST_VISIT_TARGET = 40 * 1024;
/**
 * What the test holds the first visit to, so any growth shows: 46,405 B measured in a clean-clone CI run on 2026-12-01
 * 12:15 UTC, with about 0.2 KB of room. The room's UI module and its client core are fetched side by side, so the UI hydrates and shows Connected before the
 * core has arrived (45,095 B as one module, which hydrated only once all of it had come, before the store changes
 * below). Since 2026-11-30 a first visit's room runs in memory until it has settled, and the IndexedDB code (a lazy
 * chunk) comes after Connected: 1,620 B less than the 47,436 B measured just before; the key share of a first visit's
 * tabs and its bye on leaving then added 571 B. On 2026-12-01 the resilient store's code came after Connected too
 * (`store_deferred.ts`, 1,053 B less) and the CSS was compacted (178 B less), to 45,156 B; the defences of a
 * hostile-member pass (allowances for verification, history answers and re-sends; names; the message list's window)
 * then added 719 B (45,875 B). The fixes of a third hostile pass (linkifying each body once, long ones in tasks
 * of their own) and the log copy of P2P messages added 396 B (46,271 B). Later that day a bootstrap session of another
 * key pair learned to say bye once welcomed, the room learned to say it is full, the header's controls became one
 * group, the event log lost its ring buffer, and history answers got an allowance: 134 B more. The goal above is
 * still missed by about 5.4 KB (56.0 KiB before the socket opened from the head); the test prints both.
 */
const FIRST_VISIT_CEILING = 45.5 * 1024;
/** How long the module route holds each module, standing in for a slow phone link. */
const MODULE_DELAY_MS = 1_500;

/**
 * Polls an async check in the page until it holds (Playwright's `waitForFunction` does not await a promise, so an
 * async predicate would pass at once). The limit only stops a stuck test.
 */
async function untilInPage(page: Page, check: (arg: string) => Promise<boolean>, arg: string, what: string) {
  for (const started = Date.now(); !await page.evaluate(check, arg);) {
    if (Date.now() - started > SLOW.timeout) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(50);
  }
}

/** Connected shows in the connection area. */
function connected(page: Page) {
  return page.locator('[data-connection="connected"]').waitFor(SLOW);
}

/** The service worker controls the page (it is set up after Connected). */
function workerControls(page: Page) {
  return page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, SLOW);
}

/**
 * A visit that settles and is kept: the page connects, the service worker takes control, and `kept` (run in the
 * page with the room id) finds what the worker must have cached.
 */
async function visitKept(
  page: Page,
  url: string,
  kept: (room: string) => Promise<boolean>,
  room: string,
  what: string,
) {
  await page.goto(url);
  await connected(page);
  await workerControls(page);
  await untilInPage(page, kept, room, what);
}

/** Another person: a page in a fresh profile of the same browser, connected to the room at `url`. */
async function otherPerson(context: BrowserContext, url: string): Promise<Page> {
  const page = await (await context.browser()!.newContext()).newPage();
  await page.goto(url);
  await connected(page);
  return page;
}

/** What {@link inChromium} hands a test: a fresh profile's page on the app, and the page's uncaught errors. */
interface Visit {
  /** The app server. */
  app: RunningApp;
  /** The browser context (a fresh profile). */
  context: BrowserContext;
  /** Its page. */
  page: Page;
  /** Uncaught page errors so far. */
  errors: string[];
}

/**
 * Serves the app (through `intercept` when given), opens a page in a fresh
 * Chromium profile, runs `test`, then closes browser and server.
 */
async function inChromium(
  test: (visit: Visit) => Promise<void>,
  options: { intercept?: Intercept; context?: BrowserContextOptions } = {},
): Promise<void> {
  const app = await serveApp({ intercept: options.intercept });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext(options.context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await test({ app, context, page, errors });
  } finally {
    await browser.close();
    await app.close();
  }
}

Deno.test({
  name: "the socket opens from the head while the modules are still on their way, and that socket joins",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    inChromium(async ({ app, page, errors }) => {
      // When each WebSocket was made, on the page's own clock (module timings use the same one).
      await page.addInitScript(() => {
        const made: { url: string; at: number }[] = [];
        (globalThis as { __sockets?: unknown }).__sockets = made;
        const Native = WebSocket;
        globalThis.WebSocket = class extends Native {
          constructor(url: string | URL, protocols?: string | string[]) {
            super(url, protocols);
            made.push({ url: String(url), at: performance.now() });
          }
        };
      });
      await page.route("**/_fresh/js/**", async (route) => {
        await new Promise((resolve) => setTimeout(resolve, MODULE_DELAY_MS));
        await route.continue();
      });
      const link = createRoomLink();
      await page.goto(app.origin + link.href, { waitUntil: "commit" });
      await connected(page);

      const seen = await page.evaluate(() => ({
        sockets: (globalThis as unknown as { __sockets: { url: string; at: number }[] }).__sockets,
        modules: performance.getEntriesByType("resource")
          .filter((entry) => new URL(entry.name).pathname.startsWith("/_fresh/js/"))
          .map((entry) => ({
            path: new URL(entry.name).pathname,
            end: (entry as PerformanceResourceTiming).responseEnd,
          })),
      }));
      const lastModule = Math.max(...seen.modules.map((module) => module.end));
      console.log(
        `socket made at ${seen.sockets[0]?.at.toFixed(0)} ms; modules done at ` +
          seen.modules.map((m) => `${m.path.slice(11, 30)} ${m.end.toFixed(0)}`).join(", ") + " (ms since navigation)",
      );
      assertEquals(seen.sockets.length, 1, "one socket: the bootstrap's, adopted by the client (no second one)");
      assert(seen.modules.length > 0, "the page loaded its modules");
      assert(seen.sockets[0].at < lastModule, "the socket was made before the last module had arrived");
      assert(
        seen.modules.every((module) => seen.sockets[0].at < module.end),
        "in fact before any module had arrived",
      );
      const params = new URL(seen.sockets[0].url).searchParams;
      assertEquals([params.get("v"), params.get("room")], [String(PROTOCOL_VERSION), link.room]);
      // A first visit's page carries a page nonce: the socket's upgrade is its hello (see "Early hello").
      assert(params.has("nonce") && params.has("hello"), "an early hello in the upgrade");
      assertEquals(errors, []);
    }),
});

Deno.test({
  name: "a first visit moves little HTML, CSS and JS before Connected (aiming at 40 KiB), all named by the HTML",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    inChromium(async ({ app, context, page }) => {
      const wire = await WireRecorder.attach(context, page);
      const link = createRoomLink();
      await page.goto(app.origin + link.href);
      const connectedAt = await wire.connectedAt();
      // After Connected the page fetches the parts most visits never open and sets up the offline cache.
      await workerControls(page);

      const all = wire.entries();
      const before = all.filter((entry) => entry.sentAt <= connectedAt);
      const after = all.filter((entry) => entry.sentAt > connectedAt);
      const code = before.filter(isPageCode);
      console.log(`\nFirst visit, until Connected:\n${byteTable(before)}`);
      const left = FIRST_VISIT_TARGET - wireBytes(code);
      console.log(
        `HTML, CSS and JS: ${wireBytes(code)} B; goal ${FIRST_VISIT_TARGET} B (${
          left >= 0 ? `${left} B to spare` : `${-left} B over`
        }); ceiling ${FIRST_VISIT_CEILING} B`,
      );
      console.log(`\nFirst visit, after Connected (lazy parts, words, service worker):\n${byteTable(after)}`);

      assert(wireBytes(code) <= FIRST_VISIT_CEILING, `${wireBytes(code)} B of HTML, CSS and JS before Connected`);
      assertEquals(before.filter((entry) => entry.type === "Document").length, 1, "one page");
      // Two requests stand between the HTML and the first message: the socket, and the modules the HTML preloads,
      // side by side. Nothing before Connected is asked for by a script (no lazy import, no fetch).
      const chained = before.filter((entry) => entry.by === "page" && entry.initiator === "script");
      assertEquals(chained.map((entry) => entry.url), [], "nothing chained behind a script before Connected");
      assertEquals(before.filter((entry) => entry.by === "worker"), [], "the service worker waits for Connected");
      for (
        const lazy of [
          "/_fresh/js/drawers-",
          "/_fresh/js/qr-",
          "/_fresh/js/linkify-",
          "/_fresh/js/parts-",
          "/strings/",
          "/_fresh/js/store_idb-",
          "/_fresh/js/store_resilient-",
        ]
      ) {
        assert(!before.some((entry) => entry.url.includes(lazy)), `${lazy} waits for Connected`);
      }
      assertEquals(wire.sockets().length, 1, "one signaling socket");
      // A first visit's room ran in memory until it settled; then IndexedDB opened and took the room (its member
      // key pair, which the next visit's bootstrap proves), and the note for the next bootstrap is there.
      await untilInPage(
        page,
        async (room) => {
          if (localStorage.getItem("parley:stored") !== "1") return false;
          const db = await new Promise<IDBDatabase>((resolve, reject) => {
            const open = indexedDB.open("parley");
            open.onsuccess = () => resolve(open.result);
            open.onerror = () => reject(open.error);
          });
          try {
            if (!db.objectStoreNames.contains("state")) return false;
            const state = await new Promise<{ identity?: CryptoKeyPair } | undefined>((resolve, reject) => {
              const get = db.transaction("state").objectStore("state").get(room);
              get.onsuccess = () => resolve(get.result);
              get.onerror = () => reject(get.error);
            });
            return state?.identity?.privateKey instanceof CryptoKey;
          } finally {
            db.close();
          }
        },
        link.room,
        "the room's key pair in IndexedDB",
      );
    }),
});

Deno.test({
  name: "Connected shows while the client core is still on its way; a message sent then goes once it has come",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    inChromium(async ({ app, context, page, errors }) => {
      const link = createRoomLink();
      const reader = await otherPerson(context, app.origin + link.href);
      try {
        let release!: () => void;
        const held = new Promise<void>((resolve) => release = resolve);
        let heldCore = false;
        await page.route("**/_fresh/js/core.eager-*.js", async (route) => {
          heldCore = true;
          await held;
          await route.continue();
        });
        await page.goto(app.origin + link.href, { waitUntil: "commit" });
        await connected(page);
        assert(heldCore, "the page asked for the core with its first module");
        const coreDone = await page.evaluate(() =>
          performance.getEntriesByType("resource").some((entry) => entry.name.includes("/core.eager-"))
        );
        assertEquals(coreDone, false, "Connected while the core had not arrived");

        await page.locator("#composer-message").fill("sent before the core ran");
        await page.locator("#composer-message").press("Enter");
        release();
        await reader.locator("[role=log] li p", { hasText: "sent before the core ran" }).waitFor(SLOW);
        assertEquals(errors, []);
      } finally {
        await reader.context().close();
      }
    }),
});

Deno.test({
  name: "a first visit left before its database opened says bye: the others see it gone at once, not away",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    inChromium(async ({ app, context, page, errors }) => {
      const link = createRoomLink();
      const reader = await otherPerson(context, app.origin + link.href);
      try {
        // The IndexedDB code never comes: this page's new member key pair lives in memory only, so a reload could
        // not resume its session (it would join with another key pair).
        await page.route("**/_fresh/js/store_idb-*.js", () => {});
        await page.goto(app.origin + link.href);
        await connected(page);
        // The core runs (it shows a message), so the island holds the socket and the bootstrap no longer says bye.
        await reader.locator("#composer-message").fill("hello newcomer");
        await reader.locator("#composer-message").press("Enter");
        await page.locator("[role=log] li p", { hasText: "hello newcomer" }).waitFor(SLOW);
        const peers = reader.getByRole("region", { name: "People here" });
        await peers.getByText("online").waitFor(SLOW);
        assertEquals(await page.evaluate(() => localStorage.getItem("parley:stored")), null, "nothing stored yet");

        await page.goto("about:blank");
        // Without the bye it would show "away" for the resume window (120 s).
        await reader.getByText(STRINGS.en.nobodyNow).waitFor(SLOW);
        assertEquals(await peers.getByText("away").count(), 0);
        assertEquals(errors, []);
      } finally {
        await reader.context().close();
      }
    }),
});

/**
 * Holds what the server says on `page`'s first socket once its bootstrap has sent a hello (in the upgrade, or as a
 * frame after the challenge), until the page opens another socket (or a few seconds pass): the welcome is still on its
 * way when the page's client takes the bootstrap's socket, as on a loaded machine in CI. A second tab's bootstrap
 * proves a key pair of its own (it read none), and its client, which takes the first tab's, lets that session go:
 * with `bye` once welcomed, or the others would keep it "away" through the resume window, another member of this
 * browser.
 */
async function holdEarlyWelcome(page: Page): Promise<void> {
  let sockets = 0;
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  const limit = setTimeout(release, 5_000);
  await page.routeWebSocket(/\/api\/signal/, (ws) => {
    const server = ws.connectToServer();
    if (++sockets > 1) return release(), clearTimeout(limit);
    let holding = new URL(ws.url()).searchParams.has("hello");
    ws.onMessage((message) => {
      // The bootstrap's hello, not the client core's (which carries the verifier).
      holding ||= String(message).startsWith('{"type":"hello"') && !String(message).includes('"verifier"');
      server.send(message);
    });
    server.onMessage((message) => {
      if (holding) void released.then(() => ws.send(message)).catch(() => {});
      else ws.send(message);
    });
  });
}

/**
 * Opens a second tab of `page`'s room and another person, then checks that the two tabs are one member: each lists
 * only the other person, and what the second tab writes shows as its own in the first.
 */
async function secondTabIsSameMember({ app, context, page, errors }: Visit, href: string): Promise<void> {
  const second = await context.newPage();
  second.on("pageerror", (error) => errors.push(error.message));
  await holdEarlyWelcome(second);
  await second.goto(app.origin + href);
  await connected(second);
  const reader = await otherPerson(context, app.origin + href);
  try {
    // Tabs of one member never list each other: each lists only the other person.
    for (const tab of [page, second]) {
      await tab.locator('[aria-label="People here"] li').first().waitFor(SLOW);
      await tab.waitForTimeout(300);
      assertEquals(await tab.locator('[aria-label="People here"] li').count(), 1, "only the other person");
    }
    await second.locator("#composer-message").fill("from the second tab");
    await second.locator("#composer-message").press("Enter");
    await page.locator('[role=log] li[data-own="true"]', { hasText: "from the second tab" }).waitFor(SLOW);
    assertEquals(errors, []);
  } finally {
    await reader.context().close();
  }
}

Deno.test({
  name: "two tabs of one first visit, opened before either has stored the room, are one member",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    inChromium(async (visit) => {
      const { context, page } = visit;
      const link = createRoomLink();
      // Neither tab gets the IndexedDB code: both rooms stay in memory, so only the key share can make them one.
      await context.route("**/_fresh/js/store_idb-*.js", () => {});
      await page.goto(visit.app.origin + link.href);
      await connected(page);
      await page.locator("#composer-message:not([disabled])").waitFor(SLOW);
      await secondTabIsSameMember(visit, link.href);
      assertEquals(await page.evaluate(() => localStorage.getItem("parley:stored")), null, "nothing stored yet");
    }),
});

Deno.test({
  name:
    "a tab that comes after the first tab's database opened, but before its key pair was written there, is one member",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    inChromium(async (visit) => {
      const { context, page } = visit;
      const link = createRoomLink();
      // The write-back code never comes (to either tab; the second needs none): the first tab's database opens and
      // the browser is noted as keeping rooms, but the room's key pair stays in the first tab's memory.
      await context.route("**/_fresh/js/store_recovery-*.js", () => {});
      await page.goto(visit.app.origin + link.href);
      await connected(page);
      await page.waitForFunction(() => localStorage.getItem("parley:stored") === "1", undefined, SLOW);
      // So the second tab is not a first visit: its store opens the database at once, and finds no key pair there.
      await secondTabIsSameMember(visit, link.href);
    }),
});

Deno.test({
  name: "a return visit is answered from the service worker's cache: Connected while the server still holds the page",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const link = createRoomLink();
    let pageMode: "serve" | "hold" | "fail" = "serve";
    let release!: () => void;
    const released = new Promise<void>((resolve) => release = resolve);
    const held: string[] = [];
    const intercept: Intercept = async (req) => {
      if (new URL(req.url).pathname !== `/${link.room}`) return undefined;
      if (pageMode === "fail") {
        return new Response("overloaded", { status: 503, headers: { "content-type": "text/plain" } });
      }
      if (pageMode === "hold") {
        held.push(req.url);
        await released;
      }
      return undefined;
    };
    await inChromium(async ({ app, context, page, errors }) => {
      try {
        await t.step("first visit: the room settles and the service worker keeps its shell", async () => {
          await visitKept(
            page,
            app.origin + link.href,
            async (room) => {
              const cache = await caches.open((await caches.keys())[0] ?? "none");
              const keys = (await cache.keys()).map((request) => new URL(request.url).pathname);
              return keys.includes(`/${room}`) && keys.some((path) => path.startsWith("/_fresh/js/ChatRoom-"));
            },
            link.room,
            "the room page and its module in the cache",
          );
        });

        await t.step("return visit: the server holds the page, and the room connects anyway", async () => {
          pageMode = "hold";
          const wire = await WireRecorder.attach(context, page);
          const document = page.waitForResponse((response) => new URL(response.url()).pathname === `/${link.room}`);
          await page.reload({ waitUntil: "commit" });
          assertEquals((await document).fromServiceWorker(), true, "the navigation came from the service worker");
          await connected(page);
          assertEquals(held.length, 1, "the worker's background refresh is still waiting on the server");
          const fetched = wire.entries().filter((entry) => entry.by === "page" && !entry.cached);
          assertEquals(fetched.map((entry) => entry.url), [], "the page itself fetched nothing over the network");
          release();
          await wire.detach();
        });

        await t.step("the cached room page wins even over a quick answer from the server", async () => {
          pageMode = "fail";
          const document = page.waitForResponse((response) => new URL(response.url()).pathname === `/${link.room}`);
          await page.reload();
          assertEquals((await document).status(), 200, "the cached page, not the server's 503");
          await connected(page);
        });
        assertEquals(errors, []);
      } finally {
        release();
      }
    }, { intercept });
  },
});

Deno.test({
  name: "the key in the fragment reaches no request, URL, header or socket frame, first visit or return",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Every request the server receives, with its headers copied while they can still be read.
    const received: { url: string; headers: [string, string][] }[] = [];
    const intercept: Intercept = (req) => void received.push({ url: req.url, headers: [...req.headers] });
    await inChromium(async ({ app, context, page }) => {
      const wire = await WireRecorder.attach(context, page);
      const link = createRoomLink();
      const urls: string[] = [];
      context.on("request", (request) => urls.push(request.url()));
      await page.goto(app.origin + link.href);
      await connected(page);
      const box = page.getByRole("textbox", { name: "Message" });
      await box.fill("hello");
      await box.press("Enter");
      await page.getByRole("log").getByText(/^(Sent|Delivered)$/).waitFor(SLOW);
      await workerControls(page);
      await page.reload();
      await connected(page);

      const key = link.key;
      const standard = key.replaceAll("-", "+").replaceAll("_", "/");
      const leaks = (text: string) => text.includes(key) || text.includes(standard) || text.includes(key.slice(0, 20));
      const frames = wire.sockets().flatMap((socket) => socket.sent);
      assert(frames.some((frame) => frame.includes('"hello"')), "the socket frames were recorded");
      assertEquals(urls.filter(leaks), [], "browser requests (page and service worker)");
      assertEquals(wire.sockets().map((socket) => socket.url).filter(leaks), [], "socket URLs");
      assertEquals(frames.filter(leaks), [], "frames sent");
      const seen = received.filter((r) => leaks(r.url) || r.headers.some(([, value]) => leaks(value)));
      assertEquals(seen, [], "what the server received");
      assert(received.some((r) => r.url.includes("/api/signal")), "the server saw the socket");
    }, { intercept });
  },
});

Deno.test({
  name: "a link without its key says why, with words the page did not carry (fetched when the room cannot open)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const app = await serveApp();
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext()).newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      const link = createRoomLink();
      const html = await (await fetch(app.origin + `/${link.room}`)).text();
      assert(!html.includes(STRINGS.en.errorMissingKey), "the page does not carry the words of a broken link");
      await page.goto(app.origin + `/${link.room}`);
      await page.getByRole("alert").getByText(STRINGS.en.errorMissingKey).waitFor(SLOW);
      await page.getByRole("link", { name: STRINGS.en.newChatInstead }).waitFor(SLOW);
      assertEquals(errors, []);
    } finally {
      await browser.close();
      await app.close();
    }
  },
});

Deno.test({
  name: "words of another language are fetched when needed: the browser's preference, and the switch button",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    inChromium(async ({ app, page, errors }) => {
      const link = createRoomLink();
      await page.goto(app.origin + link.href);
      await page.getByRole("button", { name: "Отправить" }).waitFor(SLOW);
      assertEquals(await page.evaluate(() => document.documentElement.lang), "ru");
      await page.getByRole("button", { name: "English" }).click();
      await page.getByRole("button", { name: "Send" }).waitFor(SLOW);
      await page.getByRole("button", { name: "Русский" }).click();
      await page.getByRole("button", { name: "Отправить" }).waitFor(SLOW);
      assertEquals(new URL(page.url()).searchParams.get("lang"), "ru", "a chosen language is kept in the address");
      assertEquals(errors, []);
    }, {
      // The server hears English, the browser prefers Russian (a proxy rewrote the header, say).
      context: { locale: "ru-RU", extraHTTPHeaders: { "accept-language": "en" } },
    }),
});

Deno.test({
  name: "a cached page the server refuses after a deploy finds the new version and runs it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const link = createRoomLink();
    const NEXT_MODULE = "/_fresh/js/next-build-000000000000.js";
    let deployed = false;
    let refused = 0;
    const intercept: Intercept = async (req, info, app) => {
      const url = new URL(req.url);
      if (!deployed) return undefined;
      if (url.pathname === NEXT_MODULE) {
        return new Response("export {};\n", { headers: { "content-type": "text/javascript; charset=utf-8" } });
      }
      if (url.pathname === "/api/signal" && !url.searchParams.has("next")) {
        // The new server does not speak with the old page (only the new page's socket says `next`): it refuses it.
        refused++;
        const { socket, response } = Deno.upgradeWebSocket(req);
        socket.onopen = () => socket.close(4403, "admission_refused");
        return response;
      }
      if (url.pathname === `/${link.room}`) {
        // The new version of the page: it names a module the old one did not, and its socket speaks the new way.
        const plain = await app(new Request(req.url, { headers: { "accept-language": "en" } }), info);
        const html = (await plain.text())
          .replace("</head>", `<link rel="modulepreload" href="${NEXT_MODULE}"></head>`)
          .replace(`"/api/signal?v=${PROTOCOL_VERSION}&room="`, `"/api/signal?v=${PROTOCOL_VERSION}&next&room="`);
        return new Response(html, {
          headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache", etag: '"next"' },
        });
      }
      return undefined;
    };
    await inChromium(async ({ app, page, errors }) => {
      const next = page.locator(`link[rel="modulepreload"][href="${NEXT_MODULE}"]`);

      await t.step("first visit: the old version settles and is kept", async () => {
        await visitKept(
          page,
          app.origin + link.href,
          async (room) => (await caches.match(`/${room}`, { ignoreVary: true })) !== undefined,
          link.room,
          "the room page in the cache",
        );
      });

      await t.step("after the deploy: the cached old page is refused, then the new one runs and connects", async () => {
        deployed = true;
        await page.reload();
        await next.waitFor({ state: "attached", ...SLOW });
        await connected(page);
        assert(refused > 0, "the old page was refused first");
        assertEquals(await next.count(), 1, "the page running now is the new version");
      });
      assertEquals(errors, []);
    }, { intercept });
  },
});
