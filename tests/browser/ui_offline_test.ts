/**
 * The room page opens offline from the service worker's cache: the shell,
 * the island bundles, and the history the client core keeps in IndexedDB.
 * Loopback server, one browser; offline is the browser's network switched off.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { serveApp } from "../support/app.ts";
import { launchChromium } from "../support/chromium.ts";

const SLOW = { timeout: 30_000 };

Deno.test({
  name: "a room opened once opens again offline, with its history, and queues what is typed",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const app = await serveApp();
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 360, height: 640 } });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      // What the page said, to tell why a worker did not take control if it does not.
      const said: string[] = [];
      page.on("console", (message) => said.push(`${message.type()}: ${message.text()}`));
      context.on("serviceworker", (worker) => said.push(`service worker started: ${worker.url()}`));
      let room = "";

      await t.step("online: create a room, write, and let the service worker take control", async () => {
        await page.goto(app.origin + "/");
        await page.getByRole("button", { name: "New chat" }).click();
        await page.waitForURL(/#/);
        room = page.url();
        await page.getByRole("log", { name: "Messages" }).waitFor(SLOW);
        const box = page.getByRole("textbox", { name: "Message" });
        await box.fill("kept for offline");
        await box.press("Enter");
        await page.getByRole("log").getByText("kept for offline").waitFor(SLOW);
        await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, SLOW).catch(
          async (failure) => {
            const state = await page.evaluate(async () => {
              const registration = await navigator.serviceWorker.getRegistration();
              return JSON.stringify({
                registered: Boolean(registration),
                installing: registration?.installing?.state ?? null,
                waiting: registration?.waiting?.state ?? null,
                active: registration?.active?.state ?? null,
                connection: document.querySelector("[data-connection]")?.getAttribute("data-connection"),
              });
            });
            throw new Error(`no service worker control: ${state}; the page said:\n${said.join("\n")}`, {
              cause: failure,
            });
          },
        );
        // The worker caches what the page loaded before it took control; give it the message round trip.
        // Polled with evaluate: waitForFunction does not await an async predicate (it would pass at once).
        const cached = () =>
          page.evaluate(async () =>
            (await caches.keys()).length > 0 &&
            (await (await caches.open((await caches.keys())[0])).keys()).some((r) =>
              r.url.includes("/_fresh/js/ChatRoom-")
            )
          );
        for (const started = Date.now(); !await cached();) {
          if (Date.now() - started > SLOW.timeout) throw new Error("timed out waiting for the offline cache");
          await page.waitForTimeout(50);
        }
      });

      await t.step("a hard reload starts uncontrolled, and the page asks the worker to control it", async () => {
        // Chromium's reload that ignores the cache (Ctrl+Shift+R) also bypasses the worker, as the spec says:
        // the same state as a page whose navigation began while the worker was installing.
        const cdp = await context.newCDPSession(page);
        const loaded = page.waitForEvent("load");
        await cdp.send("Page.reload", { ignoreCache: true });
        await loaded;
        await cdp.detach();
        assertEquals(await page.evaluate(() => navigator.serviceWorker.controller !== null), false, "uncontrolled");
        await page.getByRole("log").getByText("kept for offline").waitFor(SLOW);
        await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, SLOW);
      });

      await t.step("offline: reload shows the shell, the history and a non-connected state", async () => {
        await context.setOffline(true);
        await page.reload(SLOW);
        await page.getByRole("textbox", { name: "Message" }).waitFor(SLOW);
        await page.getByRole("log").getByText("kept for offline").waitFor(SLOW);
        const state = await page.locator("[data-connection]").getAttribute("data-connection");
        assert(state !== "connected", `not connected offline (${state})`);
        const box = page.getByRole("textbox", { name: "Message" });
        await box.fill("typed offline");
        await box.press("Enter");
        await page.getByRole("log").getByRole("listitem").last().getByText("Sending", { exact: true }).waitFor();
      });

      await t.step("back online, the queued message goes out", async () => {
        await context.setOffline(false);
        await page.getByRole("log").getByRole("listitem").last().getByText(/^(Sent|Delivered)$/).waitFor(SLOW);
      });
      assertEquals(new URL(room).hash.length, 44, "the room link carried its key");
      assertEquals(errors, []);
    } finally {
      await browser.close();
      await app.close();
    }
  },
});
