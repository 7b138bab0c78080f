/**
 * What people expect from a messenger, on the real app and Chromium, driven
 * through roles and labels: leaving a room, names remembered on the device,
 * and the chats kept on the device listed on the landing page.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import type { Browser, Page } from "playwright-core";
import { serveApp } from "../support/app.ts";
import { launchChromium } from "../support/chromium.ts";
import { seriousViolations } from "./_axe.ts";
import { shortRoomId } from "../../lib/ui/format.ts";

/** Far below the server's resume window (120 s), during which a dropped peer shows as "away". */
const UNDER_RESUME = { timeout: 30_000 };
/** Generous waits: nothing else here asserts time. */
const SLOW = { timeout: 30_000 };

async function connected(page: Page): Promise<void> {
  await page.getByRole("status").filter({ hasText: "Connected" }).waitFor(SLOW);
}

async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  await page.getByRole("log").getByText(text, { exact: true }).waitFor(SLOW);
}

async function setName(page: Page, name: string): Promise<void> {
  await page.getByRole("button", { name: "Your name" }).click();
  const box = page.getByRole("textbox", { name: "Your name" });
  await box.fill(name);
  await box.press("Enter");
}

/** A fresh room's link, from the landing page's "New chat". */
async function newChat(page: Page, origin: string): Promise<string> {
  await page.goto(origin + "/");
  await page.waitForFunction(() => document.querySelector("island-root[data-island]") !== null);
  await page.getByRole("button", { name: "New chat" }).click();
  await page.waitForURL(/\/[A-Za-z0-9_-]{22}#/);
  await connected(page);
  return page.url();
}

async function withBrowser(fn: (browser: Browser, origin: string, errors: string[]) => Promise<void>): Promise<void> {
  const app = await serveApp();
  const browser = await launchChromium({ args: [`--unsafely-treat-insecure-origin-as-secure=${app.origin}`] });
  const errors: string[] = [];
  try {
    await fn(browser, app.origin, errors);
    assertEquals(errors, []);
  } finally {
    await browser.close();
    await app.close();
  }
}

async function page(browser: Browser, errors: string[]): Promise<Page> {
  const opened = await (await browser.newContext()).newPage();
  opened.on("pageerror", (error) => errors.push(error.message));
  return opened;
}

/** Two people, each in a fresh profile: A opens a new chat and B joins it by its link; both are connected. */
async function twoInNewChat(browser: Browser, origin: string, errors: string[]): Promise<{ a: Page; b: Page }> {
  const a = await page(browser, errors);
  const b = await page(browser, errors);
  await b.goto(await newChat(a, origin));
  await connected(b);
  return { a, b };
}

Deno.test({
  name: "Leave says bye: the other person sees them gone at once, and the leaver is back on the landing page",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withBrowser(async (browser, origin, errors) => {
      const { a, b } = await twoInNewChat(browser, origin, errors);
      const people = b.getByRole("region", { name: "People here" });
      await people.getByRole("listitem").filter({ hasText: "online" }).waitFor(SLOW);

      await a.getByRole("button", { name: "Leave", exact: true }).click();
      await a.waitForURL(origin + "/", SLOW);
      await a.getByRole("button", { name: "New chat" }).waitFor();
      // Gone, not "away": well before the resume window would have ended an unannounced drop. And gone, not "not
      // come yet": the list says so.
      await people.getByText("Nobody else is here now.").waitFor(UNDER_RESUME);
      assertEquals(await people.getByRole("listitem").count(), 0);
      assert((await seriousViolations(b)).length === 0, (await seriousViolations(b)).join("\n"));
    });
  },
});

Deno.test({
  name: "names are remembered on the device: after a reload they show for a peer who is offline and on their messages",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withBrowser(async (browser, origin, errors) => {
      const { a, b } = await twoInNewChat(browser, origin, errors);
      await setName(b, "Boris");
      await send(b, "hello from Boris");
      const people = a.getByRole("region", { name: "People here" });
      await people.getByText("Boris").waitFor(SLOW);
      await a.getByRole("log").getByText("hello from Boris").waitFor(SLOW);

      await b.context().close();
      await people.getByText("away").waitFor(SLOW);
      await a.reload();
      await connected(a);
      // Boris is offline: nobody tells his name now, the device remembers it.
      await people.getByRole("listitem").filter({ hasText: "Boris" }).filter({ hasText: "away" }).waitFor(SLOW);
      await a.getByRole("log").getByRole("listitem").filter({ hasText: "hello from Boris" }).getByText("Boris", {
        exact: true,
      }).waitFor(SLOW);
    });
  },
});

/** Counts the page's calls of `navigator.storage.persist()`. */
function countPersistRequests(): void {
  const w = globalThis as unknown as { __persist: number };
  w.__persist = 0;
  const storage = navigator.storage;
  const persist = storage.persist.bind(storage);
  storage.persist = () => {
    w.__persist++;
    return persist();
  };
}

/** How many messages this browser keeps for `room` in IndexedDB. */
function storedMessages(page: Page, room: string): Promise<number> {
  return page.evaluate((id) =>
    new Promise<number>((resolve, reject) => {
      const open = indexedDB.open("parley");
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const count = db.transaction("messages").objectStore("messages").count(IDBKeyRange.bound([id], [id, []]));
        count.onsuccess = () => {
          db.close();
          resolve(count.result);
        };
        count.onerror = () => reject(count.error);
      };
    }), room);
}

Deno.test({
  name: "the landing page lists the chats kept on this device: open, rename locally, forget with its history",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withBrowser(async (browser, origin, errors) => {
      const a = await page(browser, errors);
      await a.addInitScript(countPersistRequests);
      const link = await newChat(a, origin);
      const room = new URL(link).pathname.slice(1);
      assertEquals(await a.evaluate(() => (globalThis as unknown as { __persist: number }).__persist), 0);
      await send(a, "see you at noon");
      // The first message sent asks the browser to keep the site's storage.
      await a.waitForFunction(() => (globalThis as unknown as { __persist: number }).__persist === 1, undefined, SLOW);
      // The last message is a long paste: the list previews it on one line under the chat's name.
      await send(a, "bring the maps " + "and the long list of places to see ".repeat(150));
      // As a user leaves: once the tick says Sent (a page left the instant Enter was pressed may not have written the
      // message to its database yet; one CI run on a loaded machine saw the list without it).
      await a.getByRole("log").getByRole("listitem").last().getByText("Sent", { exact: true }).waitFor(SLOW);

      await a.goto(origin + "/");
      const list = a.getByRole("region", { name: "Chats on this device" });
      const chat = list.getByRole("listitem").filter({ hasText: "bring the maps" });
      await chat.waitFor(SLOW);
      assertEquals(await list.getByRole("listitem").count(), 1);
      // Unnamed and with nobody else in it, the chat is called by the start of its id: letters and digits only.
      const fallback = `Chat ${shortRoomId(room)}`;
      const name = (await chat.getByText(fallback, { exact: true }).boundingBox())!;
      // Own last message: "You: " before it.
      const preview = (await chat.getByText(/^You: bring the maps/).boundingBox())!;
      assert(
        preview.y >= name.y + name.height - 1,
        `the preview starts under the name: ${JSON.stringify({ name, preview })}`,
      );
      assert(preview.height < 2 * name.height, `the preview is one line, ${preview.height} px`);
      assert((await chat.boundingBox())!.height < 120, "the whole entry stays a few lines tall");
      const violations = await seriousViolations(a);
      assertEquals(violations, [], violations.join("\n"));

      await chat.getByRole("button", { name: /^Rename/ }).click();
      await list.getByRole("textbox", { name: "Name of this chat (only on this device)" }).fill("Lunch");
      await list.getByRole("button", { name: "Save" }).click();
      await list.getByRole("link", { name: /Lunch/ }).click();
      await a.waitForURL(link, SLOW);
      await connected(a);

      // From a landing forced to Russian, the chat opens in Russian too (the browser says English).
      await a.goto(origin + "/?lang=ru");
      await a.getByRole("link", { name: /Lunch/ }).click();
      await a.waitForURL(link.replace("#", "?lang=ru#"), SLOW);
      await a.locator("[data-connection=connected]").waitFor(SLOW); // "Подключено"
      assertEquals(await a.getAttribute("html", "lang"), "ru");

      await a.goto(origin + "/");
      await list.getByRole("link", { name: /Lunch/ }).waitFor(SLOW);
      let asked = "";
      a.once("dialog", (dialog) => {
        asked = dialog.message();
        void dialog.accept();
      });
      await list.getByRole("button", { name: /^Forget/ }).click();
      await list.waitFor({ state: "detached", ...SLOW });
      assert(asked.includes("deleted from this device") && asked.includes("as a new person"), asked);
      assertEquals(await storedMessages(a, room), 0);
      await a.reload();
      await a.getByRole("button", { name: "New chat" }).waitFor();
      assertEquals(await a.getByRole("region", { name: "Chats on this device" }).count(), 0);
    });
  },
});
