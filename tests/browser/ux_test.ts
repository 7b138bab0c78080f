import { assert, assertEquals } from "@std/assert";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../support/chromium.ts";
import { serveUiHarness, type UiHarness } from "./_ui_harness_server.ts";

const PHONE = { width: 360, height: 640 };
const DAY = 86_400_000;

async function withPage(fn: (page: Page, browser: Browser, harness: UiHarness) => Promise<void>): Promise<void> {
  const harness = await serveUiHarness();
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ viewport: PHONE })).newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await fn(page, browser, harness);
    assertEquals(errors, []);
  } finally {
    await browser.close();
    await harness.close();
  }
}

/** Replaces the fake room's messages from the page's side. */
function setMessages(page: Page, messages: unknown[]): Promise<void> {
  return page.evaluate((list) => {
    // deno-lint-ignore no-explicit-any
    (globalThis as any).__room.messages.value = list;
  }, messages);
}

function received(id: string, body: string, time: number) {
  return { id, author: "peer-anna", authorName: "Anna", own: false, body, time, status: "received" };
}

Deno.test("links in messages open in a new tab without a referrer; javascript: and data: stay text", async () => {
  await withPage(async (page, _browser, harness) => {
    await page.goto(harness.origin + "/?sample=0");
    const now = await page.evaluate(() => Date.now());
    await setMessages(page, [
      received("l1", "see https://example.com/a?b=1 and parley.example.org too", now),
      received("l2", "javascript:alert(1) and data:text/html,<b>x</b>", now),
    ]);
    const log = page.getByRole("log", { name: "Messages" });
    const link = log.getByRole("link", { name: "https://example.com/a?b=1" });
    await link.waitFor();
    assertEquals(await link.getAttribute("href"), "https://example.com/a?b=1");
    assertEquals(await link.getAttribute("target"), "_blank");
    assertEquals(await link.getAttribute("rel"), "noopener noreferrer");
    const bare = log.getByRole("link", { name: "parley.example.org" });
    assertEquals(await bare.getAttribute("href"), "http://parley.example.org/");
    const hrefs = await log.getByRole("link").evaluateAll((links) => links.map((a) => a.getAttribute("href")));
    assertEquals(hrefs.length, 2, `only the two web links: ${hrefs.join(" ")}`);
    await log.getByText("javascript:alert(1) and data:text/html,<b>x</b>").waitFor();
  });
});

Deno.test("day separators say Today, Yesterday or the date, by the clock the test sets", async (t) => {
  await withPage(async (page, _browser, harness) => {
    const fixed = new Date(2026, 2, 12, 15, 0, 0).getTime(); // Thursday 12 March 2026, 15:00 local
    await page.clock.setFixedTime(fixed);
    for (
      const [lang, words] of [["en", ["Monday", "Yesterday", "Today"]], ["ru", [
        "понедельник",
        "Вчера",
        "Сегодня",
      ]]] as const
    ) {
      await t.step(lang, async () => {
        await page.goto(`${harness.origin}/?sample=0&lang=${lang}`);
        await setMessages(page, [
          received("d1", "three days ago", fixed - 3 * DAY),
          received("d2", "also then", fixed - 3 * DAY + 60_000),
          received("d3", "yesterday", fixed - DAY),
          received("d4", "today", fixed - 60_000),
        ]);
        const separators = page.locator("[data-day]");
        await separators.nth(2).waitFor();
        const texts = await separators.allInnerTexts();
        assertEquals(texts.length, 3);
        assertEquals(texts[1], words[1]);
        assertEquals(texts[2], words[2]);
        assert(texts[0].toLowerCase().includes(words[0].toLowerCase()) && texts[0].includes("9"), texts[0]);
        assert(!texts[0].includes("2026"), `no year for this year's dates: ${texts[0]}`);
        const title = await page.locator("time").first().getAttribute("title");
        assert(title && title.includes("2026"), `the full date on hover: ${title}`);
      });
    }
  });
});

/**
 * Headless Chromium keeps every page visible, so the test hides the page the
 * way a browser does for a background tab: `visibilityState` turns "hidden"
 * and `visibilitychange` fires.
 */
function setHidden(page: Page, hidden: boolean): Promise<void> {
  return page.evaluate((value) => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => value ? "hidden" : "visible" });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => value });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

Deno.test("while the page is hidden the title counts unread messages and a marker shows where they start", async () => {
  await withPage(async (page, _browser, harness) => {
    await page.goto(harness.origin + "/?sample=0");
    const title = await page.title();
    const now = await page.evaluate(() => Date.now());
    await setMessages(page, [received("u0", "read before", now)]);
    await setHidden(page, true);
    await setMessages(page, [
      received("u0", "read before", now),
      received("u1", "one", now + 1),
      received("u2", "two", now + 2),
    ]);
    await page.waitForFunction((t) => document.title === `(2) ${t}`, title);
    await page.locator("[data-new-marker]").waitFor();
    const markerNext = await page.locator("[data-new-marker] + li").innerText();
    assert(markerNext.includes("one"), markerNext);
    await setHidden(page, false);
    await page.waitForFunction((t) => document.title === t, title);
    assert(await page.locator("[data-new-marker]").isVisible(), "the marker stays where the unread run began");
  });
});

Deno.test("a list scrolled up counts what arrives below as unread", async () => {
  await withPage(async (page, _browser, harness) => {
    await page.goto(harness.origin + "/?sample=0");
    const title = await page.title();
    const now = await page.evaluate(() => Date.now());
    const many = Array.from({ length: 40 }, (_, i) => received(`s${i}`, `line ${i}`, now + i));
    await setMessages(page, many);
    const log = page.getByRole("log", { name: "Messages" });
    await log.getByText("line 39").waitFor();
    await log.evaluate((el) => {
      el.scrollTop = 0;
      el.dispatchEvent(new Event("scroll"));
    });
    await setMessages(page, [...many, received("s40", "below the fold", now + 40)]);
    await page.waitForFunction((t) => document.title === `(1) ${t}`, title);
    await log.evaluate((el) => {
      el.scrollTop = el.scrollHeight;
      el.dispatchEvent(new Event("scroll"));
    });
    await page.waitForFunction((t) => document.title === t, title);
  });
});
