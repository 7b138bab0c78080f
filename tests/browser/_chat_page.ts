/**
 * One face for a chat page whatever drives it: Playwright (Chromium),
 * puppeteer over WebDriver BiDi (Firefox) or selenium over classic WebDriver
 * (WebKitGTK). The cross-browser tests run the same steps on each, reading
 * the page through the roles and `data-*` attributes the UI renders, with
 * plain in-page functions every driver can evaluate.
 * @module
 */
import type { Page as PlaywrightPage } from "playwright-core";
import type { Page as PuppeteerPage } from "puppeteer-core";
// @ts-types="@types/selenium-webdriver"
import { By, Key, type WebDriver } from "selenium-webdriver";

/** Default wait: relay chat takes well under a second, but a loaded 2-core machine can stall for seconds. */
export const WAIT_MS = 30_000;
const POLL_MS = 50;
const ROOM_URL = /\/[A-Za-z0-9_-]{22}(\?[^#]*)?#[A-Za-z0-9_-]{43}$/;
const MESSAGE_BOX = "textarea[name=message]";

/** A page of the app in some browser. */
export interface ChatPage {
  /** "Chromium", "Firefox", "WebKit": for failure messages. */
  readonly name: string;
  /** Navigates and waits for the load event. */
  goto(url: string): Promise<void>;
  /** The page's URL now. */
  url(): Promise<string>;
  /** Runs `fn` in the page (it must be self-contained) and returns its JSON-able result. */
  evaluate<T>(fn: () => T): Promise<T>;
  /** Clicks the first button whose text is `label`. */
  clickButton(label: string): Promise<void>;
  /** Types `text` into the message box with real key events, then presses Enter. */
  send(text: string): Promise<void>;
  /** Uncaught errors seen so far (for WebKit: those after the page loaded; see {@link seleniumPage}). */
  errors(): Promise<string[]>;
}

/** A Playwright page (Chromium). */
export function playwrightPage(page: PlaywrightPage, name = "Chromium"): ChatPage {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  return {
    name,
    goto: async (url) => void await page.goto(url),
    url: () => Promise.resolve(page.url()),
    evaluate: (fn) => page.evaluate(fn),
    clickButton: (label) => page.getByRole("button", { name: label, exact: true }).click(),
    async send(text) {
      const box = page.getByRole("textbox", { name: "Message" });
      await box.pressSequentially(text);
      await box.press("Enter");
    },
    errors: () => Promise.resolve([...errors]),
  };
}

/** A puppeteer page (Firefox over WebDriver BiDi). */
export function puppeteerPage(page: PuppeteerPage, name = "Firefox"): ChatPage {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error instanceof Error ? error.message : String(error)));
  return {
    name,
    goto: async (url) => void await page.goto(url),
    url: () => Promise.resolve(page.url()),
    evaluate: (fn) => page.evaluate(fn) as Promise<Awaited<ReturnType<typeof fn>>>,
    clickButton: (label) => page.locator(`::-p-aria(${label}[role="button"])`).click(),
    async send(text) {
      await page.type(MESSAGE_BOX, text);
      await page.keyboard.press("Enter");
    },
    errors: () => Promise.resolve([...errors]),
  };
}

/**
 * A selenium session (WebKitGTK). Classic WebDriver has no error events, so every load installs a recorder of
 * uncaught errors and rejections; errors thrown while the page loaded are not seen.
 */
export function seleniumPage(driver: WebDriver, name = "WebKit"): ChatPage {
  const page: ChatPage = {
    name,
    async goto(url) {
      await driver.get(url);
      await driver.executeScript(recordErrors);
    },
    url: () => driver.getCurrentUrl(),
    evaluate: <T>(fn: () => T) => driver.executeScript<T>(fn),
    async clickButton(label) {
      const buttons = await driver.findElements(By.css("button"));
      for (const button of buttons) {
        if ((await button.getText()).trim() === label) return await button.click();
      }
      throw new Error(`${name}: no button "${label}"`);
    },
    async send(text) {
      await driver.findElement(By.css(MESSAGE_BOX)).sendKeys(text, Key.ENTER);
    },
    errors: () => driver.executeScript<string[]>(() => (globalThis as { __errors?: string[] }).__errors ?? []),
  };
  return page;
}

function recordErrors(): void {
  const g = globalThis as unknown as { __errors?: string[] };
  if (g.__errors) return;
  const errors: string[] = (g.__errors = []);
  addEventListener("error", (event) => errors.push(String((event as ErrorEvent).message)));
  addEventListener("unhandledrejection", (event) => errors.push(String((event as PromiseRejectionEvent).reason)));
}

/** Polls `read` (which runs in the test) until `done` holds; throws with `shown` of the last reading on timeout. */
export async function waitUntil<T>(
  page: ChatPage,
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = WAIT_MS,
): Promise<T> {
  const start = performance.now();
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (performance.now() - start > timeoutMs) {
      throw new Error(`${page.name}: no ${what} within ${timeoutMs} ms; the page shows ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The message bodies in the "Messages" log, in display order. */
export function messagesOf(page: ChatPage): Promise<string[]> {
  return page.evaluate(() => [...document.querySelectorAll("[role=log] li p")].map((p) => p.textContent ?? ""));
}

/** The page's own messages as `body=status` ("Sending", "Sent", "Delivered"), in display order. */
export function ownStatusesOf(page: ChatPage): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("[role=log] li[data-own=true]")].map((li) =>
      `${li.querySelector("p")?.textContent ?? ""}=${
        li.querySelector("[data-status] span:last-child")?.textContent ?? ""
      }`
    )
  );
}

/** The connection bar's state (`connected`, `reconnecting`, ...), or null before it renders. */
export function connectionOf(page: ChatPage): Promise<string | null> {
  return page.evaluate(() => document.querySelector("[data-connection]")?.getAttribute("data-connection") ?? null);
}

/** How the first other peer is reached, as "People here" shows it ("P2P", "Relay", ...), or null. */
export function pathOf(page: ChatPage): Promise<string | null> {
  return page.evaluate(() => document.querySelector("[data-path]")?.textContent ?? null);
}

/** Waits until the connection bar says "Connected". */
export async function waitConnected(page: ChatPage): Promise<void> {
  await waitUntil(page, '"Connected"', () => connectionOf(page), (state) => state === "connected");
}

/** Opens the landing page, presses "New chat" (again while the island is not hydrated), waits for "Connected"; returns the invite link. */
export async function createRoom(page: ChatPage, origin: string): Promise<string> {
  await page.goto(`${origin}/`);
  await waitUntil(
    page,
    "hydrated landing",
    () => page.evaluate(() => document.querySelector("island-root[data-island]") !== null),
    Boolean,
  );
  const link = await waitUntil(page, "room URL after New chat", async () => {
    if (!ROOM_URL.test(await page.url())) await page.clickButton("New chat").catch(() => {});
    return await page.url();
  }, (url) => ROOM_URL.test(url));
  await waitConnected(page);
  return link;
}

/** Opens an invite link and waits for "Connected". */
export async function joinRoom(page: ChatPage, link: string): Promise<void> {
  await page.goto(link);
  await waitConnected(page);
}

/** Waits until every body in `expected` shows on the page. */
export async function waitForMessages(page: ChatPage, expected: readonly string[]): Promise<void> {
  await waitUntil(
    page,
    `${expected.length} messages`,
    () => messagesOf(page),
    (seen) => expected.every((body) => seen.includes(body)),
  );
}

/** Waits until the page has own messages and every one reads "Delivered". */
export async function waitAllDelivered(page: ChatPage): Promise<void> {
  await waitUntil(
    page,
    "all own messages Delivered",
    () => ownStatusesOf(page),
    (own) => own.length > 0 && own.every((entry) => entry.endsWith("=Delivered")),
  );
}

/**
 * Sends `count` messages from each page (`<name><i>`), one side after the other, and checks the chat: each page
 * shows every message exactly once, both show one order, each sender's messages keep its order, and all are
 * Delivered. Returns the bodies in the order the first page shows them.
 */
export async function chatBothWays(a: ChatPage, b: ChatPage, count: number): Promise<string[]> {
  const fromA = Array.from({ length: count }, (_, i) => `${a.name} ${i + 1}`);
  const fromB = Array.from({ length: count }, (_, i) => `${b.name} ${i + 1} — привет`);
  for (const body of fromA) await a.send(body);
  for (const body of fromB) await b.send(body);
  await Promise.all([waitForMessages(a, [...fromA, ...fromB]), waitForMessages(b, [...fromA, ...fromB])]);
  await Promise.all([waitAllDelivered(a), waitAllDelivered(b)]);
  const [seenA, seenB] = [await messagesOf(a), await messagesOf(b)];
  const problems: string[] = [];
  for (const [page, seen] of [[a, seenA], [b, seenB]] as const) {
    for (const body of [...fromA, ...fromB]) {
      const times = seen.filter((s) => s === body).length;
      if (times !== 1) problems.push(`${page.name} shows ${JSON.stringify(body)} ${times} times`);
    }
    for (const mine of [fromA, fromB]) {
      const order = seen.filter((s) => mine.includes(s));
      if (JSON.stringify(order) !== JSON.stringify(mine)) problems.push(`${page.name}: order ${JSON.stringify(order)}`);
    }
  }
  if (JSON.stringify(seenA) !== JSON.stringify(seenB)) {
    problems.push(`different orders: ${JSON.stringify(seenA)} vs ${JSON.stringify(seenB)}`);
  }
  if (problems.length) throw new Error(`chat failed:\n  ${problems.join("\n  ")}`);
  return seenA;
}
