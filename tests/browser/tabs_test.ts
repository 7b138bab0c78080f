/**
 * Tabs: one person with two tabs of the same room in one browser, and
 * another person in another browser context, on the real app and Chromium.
 * The tabs are two sessions of one member (one key in IndexedDB, one token
 * per tab in sessionStorage): neither replaces the other, both show every
 * message, the other person gets each message once, a reload loses nothing,
 * and a duplicated tab (copied sessionStorage) is never a dead end.
 * Driven through roles and labels.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import type { BrowserContext, Page } from "playwright-core";
import { serveApp } from "../support/app.ts";
import { launchChromium } from "../support/chromium.ts";

/** Generous waits: nothing here asserts time. */
const SLOW = { timeout: 30_000 };
const ROUNDS = 4;

/** Notes every moment the connection area says "Not admitted", however short. */
function watchRefused(): void {
  const w = globalThis as unknown as { __refused: number };
  w.__refused = 0;
  new MutationObserver(() => {
    if (document.querySelector('[data-connection="refused"]')) w.__refused++;
  }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
}

async function sawRefused(page: Page): Promise<number> {
  return await page.evaluate(() => (globalThis as unknown as { __refused: number }).__refused);
}

function bodies(page: Page): Promise<string[]> {
  return page.getByRole("log", { name: "Messages" }).getByRole("listitem").locator("p").allInnerTexts();
}

async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  await page.getByRole("log").getByText(text, { exact: true }).waitFor(SLOW);
}

async function connected(page: Page): Promise<void> {
  await page.getByRole("status").filter({ hasText: "Connected" }).waitFor(SLOW);
}

/** Waits until the page shows exactly `expected` messages, then returns them. */
async function showsAll(page: Page, expected: number): Promise<string[]> {
  await page.waitForFunction((n) => document.querySelectorAll("[role=log] li[data-own]").length === n, expected, SLOW);
  return await bodies(page);
}

Deno.test({
  name: "two tabs of one room and another browser: every message in every tab, once, through a reload",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const app = await serveApp();
    const browser = await launchChromium({ args: [`--unsafely-treat-insecure-origin-as-secure=${app.origin}`] });
    try {
      const contextA: BrowserContext = await browser.newContext();
      const contextB: BrowserContext = await browser.newContext();
      for (const context of [contextA, contextB]) await context.addInitScript(watchRefused);
      const tab1 = await contextA.newPage();
      const errors: string[] = [];
      const watch = (page: Page) => page.on("pageerror", (error) => errors.push(error.message));
      watch(tab1);
      let link = "";
      let tab2: Page;
      let other: Page;
      const expected: string[] = [];

      await t.step("one person opens a room in a tab, then the same room in a second tab", async () => {
        await tab1.goto(app.origin + "/");
        await tab1.getByRole("button", { name: "New chat" }).click();
        await tab1.waitForURL(/#/);
        link = tab1.url();
        await connected(tab1);
        tab2 = await contextA.newPage();
        watch(tab2);
        await tab2.goto(link);
        await connected(tab2);
      });

      await t.step("another person joins; each tab lists only that person", async () => {
        other = await contextB.newPage();
        watch(other);
        await other.goto(link);
        await connected(other);
        for (const tab of [tab1, tab2]) {
          await tab.waitForFunction(
            () => document.querySelectorAll('[aria-label="People here"] li').length === 1,
            undefined,
            SLOW,
          );
        }
      });

      await t.step("what is typed in either tab and by the other person shows everywhere, once", async () => {
        for (let i = 1; i <= ROUNDS; i++) {
          for (const [page, who] of [[tab1, "tab one"], [tab2, "tab two"], [other, "other"]] as const) {
            const text = `${who} ${i}`;
            await send(page, text);
            expected.push(text);
          }
        }
        const seen = await Promise.all([tab1, tab2, other].map((page) => showsAll(page, expected.length)));
        assertEquals(new Set(seen[2]), new Set(expected), "the other person has every message, none twice");
        assertEquals(seen[0], seen[2], "tab one shows the same, in the same order");
        assertEquals(seen[1], seen[2], "tab two too");
      });

      await t.step("a tab reloads while the others write: nothing is lost", async () => {
        const reload = tab2.reload();
        for (
          const [page, text] of [[tab1, "during reload from tab one"], [other, "during reload from other"]] as const
        ) {
          await send(page, text);
          expected.push(text);
        }
        await reload;
        await connected(tab2);
        await send(tab2, "after reload from tab two");
        expected.push("after reload from tab two");
        const seen = await Promise.all([tab1, tab2, other].map((page) => showsAll(page, expected.length)));
        assertEquals(new Set(seen[2]), new Set(expected));
        assertEquals(seen[0], seen[2]);
        assertEquals(seen[1], seen[2]);
      });

      await t.step("the tabs' own messages reach Delivered on the other person's acks", async () => {
        await tab1.waitForFunction(
          () => {
            const own = [...document.querySelectorAll("[role=log] [data-status]")];
            return own.length > 0 && own.every((status) => status.textContent?.endsWith("Delivered"));
          },
          undefined,
          SLOW,
        ).catch(async (error) => {
          const statuses = await tab1.evaluate(() =>
            [...document.querySelectorAll("[role=log] li[data-own=true]")].map((li) =>
              `${li.querySelector("p")?.textContent}=${li.querySelector("[data-status]")?.textContent}`
            )
          );
          throw new Error(`${error}; tab one shows ${statuses.join(", ")}`);
        });
      });

      await t.step("a duplicated tab (its sessionStorage copied) takes the session; the original rejoins", async () => {
        const stored = await tab1.evaluate(() => JSON.stringify(Object.entries(sessionStorage)));
        const copy = await contextA.newPage();
        watch(copy);
        await copy.addInitScript((entries: string) => {
          for (const [key, value] of JSON.parse(entries) as [string, string][]) sessionStorage.setItem(key, value);
        }, stored);
        await copy.goto(link);
        await connected(copy);
        await connected(tab1);
        await send(tab1, "after the duplicate from tab one");
        await send(copy, "from the duplicate");
        expected.push("after the duplicate from tab one", "from the duplicate");
        const seen = await Promise.all([tab1, tab2, copy, other].map((page) => showsAll(page, expected.length)));
        assertEquals(new Set(seen[3]), new Set(expected));
        for (const tab of seen.slice(0, 3)) assertEquals(tab, seen[3]);
        assertEquals(await sawRefused(copy), 0);
      });

      await t.step("no tab ever showed Not admitted", async () => {
        for (const page of [tab1, tab2, other]) assertEquals(await sawRefused(page), 0);
        for (const page of [tab1, tab2, other]) {
          assertEquals(await page.getByText("Not admitted").count(), 0);
        }
      });
      assertEquals(errors, []);
      assert(link.includes("#"));
    } finally {
      await browser.close();
      await app.close();
    }
  },
});
