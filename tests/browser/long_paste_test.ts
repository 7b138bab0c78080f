/**
 * Long pastes on the real app and Chromium: a body of exactly
 * MAX_BODY_CHARS (65,536) UTF-16 code units, in several scripts (Cyrillic,
 * CJK, emoji as surrogate pairs, and a mix of quotes, backslashes and
 * newlines), pasted into the composer (filled at once, not typed) reaches the
 * other person exactly once and identical (length and a SHA-256 computed in
 * the page), and the sender's copy reaches Delivered; one unit more is refused
 * by the composer before anything is sent. Once over the relay (WebRTC
 * removed from both pages) and once over P2P (both peers on this host).
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import type { Browser, Page } from "playwright-core";
import { MAX_BODY_CHARS } from "../../lib/ui/Composer.tsx";
import { format, STRINGS } from "../../lib/ui/i18n.ts";
import { serveApp } from "../support/app.ts";
import { launchChromium } from "../support/chromium.ts";

/** Generous waits: a loaded 2-core machine can stall for seconds; nothing here asserts time. */
const SLOW = { timeout: 60_000 };

/** Repeats `units` (whole code points, never split) to exactly `length` UTF-16 units, ending on a non-space. */
function fillTo(length: number, units: readonly string[]): string {
  let text = "";
  for (let i = 0; text.length < length; i++) {
    const unit = units[i % units.length];
    if (text.length + unit.length > length) {
      text += "x".repeat(length - text.length);
      break;
    }
    text += unit;
  }
  // The composer trims what it sends: the body must neither start nor end with white space.
  return text.replace(/^\s/, "x").replace(/\s$/, "x");
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String.fromCodePoint(from + i));
}

/** The bodies pasted, each exactly MAX_BODY_CHARS units, keyed by a short name for failure messages. */
function bodies(): Record<string, string> {
  const mix = [
    "He said \"привет\" and '你好' — ",
    "C:\\path\\to\\file \\n is not a newline\n",
    "real\nnew\nlines\n\n",
    "😀👍🏽👨‍👩‍👧‍👦🇺🇦 ",
    '{"t":"msg","m":null} </script><b>&amp;</b> ',
    "\ttab\u2028sep\u2029para ",
    'https://example.invalid/?q="x"&y=\\ ',
  ];
  const all = {
    cyrillic: fillTo(MAX_BODY_CHARS, range(0x410, 0x44f)),
    cjk: fillTo(MAX_BODY_CHARS, range(0x4e00, 0x4fff)),
    emoji: fillTo(MAX_BODY_CHARS, range(0x1f600, 0x1f64f)),
    mix: fillTo(MAX_BODY_CHARS, mix),
  };
  for (const [name, body] of Object.entries(all)) {
    assertEquals(body.length, MAX_BODY_CHARS, name);
    assert(body.isWellFormed(), `${name} has no lone surrogate`);
  }
  assert(/[\uD800-\uDBFF]/.test(all.emoji), "emoji are surrogate pairs");
  return all;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Every readable message on the page with its length, the SHA-256 of its text (in the page) and whether it is own. */
function shown(page: Page): Promise<{ length: number; hash: string; own: boolean; status: string }[]> {
  return page.evaluate(async () => {
    const out = [];
    for (const li of document.querySelectorAll("[role=log] li[data-own]:not([data-unreadable])")) {
      const text = li.querySelector("p")?.textContent ?? "";
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
      out.push({
        length: text.length,
        hash: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""),
        own: li.getAttribute("data-own") === "true",
        status: li.querySelector("[data-status] span:last-child")?.textContent ?? "",
      });
    }
    return out;
  });
}

async function connected(page: Page): Promise<void> {
  await page.getByRole("status").filter({ hasText: "Connected" }).waitFor(SLOW);
}

/** Pastes `text` into the composer at once and presses Enter; waits until the composer has taken it. */
async function paste(page: Page, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  await page.waitForFunction(() => document.querySelector("textarea")?.value === "", undefined, SLOW);
}

async function sendShort(page: Page, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  await page.getByRole("log").getByText(text, { exact: true }).waitFor(SLOW);
}

/** The path "People here" shows for the one other peer, as its `data-path`. */
async function waitPath(page: Page, path: "p2p" | "relay"): Promise<void> {
  await page.getByRole("region", { name: "People here" }).locator(`[data-path="${path}"]`).waitFor(SLOW);
}

/** Counts of each expected hash among `seen`. */
function counts(seen: { hash: string }[], hashes: Record<string, string>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(hashes).map(([name, hash]) => [name, seen.filter((m) => m.hash === hash).length]),
  );
}

async function run(t: Deno.TestContext, browser: Browser, origin: string, path: "p2p" | "relay"): Promise<void> {
  const texts = bodies();
  const hashes: Record<string, string> = {};
  for (const [name, text] of Object.entries(texts)) hashes[name] = await sha256(text);
  const errors: string[] = [];
  const [contextA, contextB] = [await browser.newContext(), await browser.newContext()];
  if (path === "relay") {
    for (const context of [contextA, contextB]) {
      // Relay only: without RTCPeerConnection the client never tries P2P.
      await context.addInitScript(() => delete (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection);
    }
  }
  const [a, b] = [await contextA.newPage(), await contextB.newPage()];
  for (const page of [a, b]) page.on("pageerror", (error) => errors.push(error.message));
  try {
    await t.step(`A creates a room, B joins, both see each other on ${path}`, async () => {
      await a.goto(origin + "/");
      await a.getByRole("button", { name: "New chat" }).click();
      await a.waitForURL(/#/);
      await connected(a);
      await b.goto(a.url());
      await connected(b);
      await Promise.all([waitPath(a, path), waitPath(b, path)]);
    });

    await t.step("each 65,536-unit paste reaches B once, identical, and turns Delivered for A", async () => {
      for (const text of Object.values(texts)) await paste(a, text);
      await sendShort(a, "after the long ones");
      await b.getByRole("log").getByText("after the long ones", { exact: true }).waitFor(SLOW);
      const all = Object.fromEntries(Object.keys(texts).map((name) => [name, 1]));
      await b.waitForFunction(
        (max) =>
          [...document.querySelectorAll("[role=log] li p")].filter((p) => p.textContent?.length === max).length >= 4,
        MAX_BODY_CHARS,
        { ...SLOW, polling: 100 },
      );
      const seenB = await shown(b);
      assertEquals(counts(seenB, hashes), all, "B shows each long message exactly once, identical by SHA-256");
      for (const m of seenB.filter((m) => Object.values(hashes).includes(m.hash))) {
        assertEquals(m.length, MAX_BODY_CHARS);
        assertEquals(m.own, false);
      }
      await a.waitForFunction(
        () => {
          const own = [...document.querySelectorAll("[role=log] li[data-own=true] [data-status]")];
          return own.length === 5 && own.every((status) => status.textContent?.endsWith("Delivered"));
        },
        undefined,
        SLOW,
      );
      const seenA = await shown(a);
      assertEquals(counts(seenA, hashes), all, "A's own copies are the texts pasted");
      assert(seenA.every((m) => m.own && m.status === "Delivered"), JSON.stringify(seenA));
    });

    await t.step("B pastes back the mixed text: A gets it once, identical, B's copy Delivered", async () => {
      await paste(b, texts.mix);
      await a.waitForFunction(() => document.querySelectorAll("[role=log] li[data-own=false]").length === 1, {
        ...SLOW,
        polling: 100,
      });
      const fromB = (await shown(a)).filter((m) => !m.own);
      assertEquals(fromB.map((m) => [m.length, m.hash]), [[MAX_BODY_CHARS, hashes.mix]]);
      await b.waitForFunction(
        () => document.querySelector("[role=log] li[data-own=true] [data-status]")?.textContent?.endsWith("Delivered"),
        undefined,
        SLOW,
      );
    });

    await t.step("a 65,537-unit paste is refused by the composer: an alert, Send disabled, nothing sent", async () => {
      const box = a.getByRole("textbox", { name: "Message" });
      const tooLong = texts.cyrillic + "!";
      await box.fill(tooLong);
      const alert = a.getByRole("alert");
      const numbers = new Intl.NumberFormat("en");
      assertEquals(
        (await alert.textContent())?.replace(/\s/g, " "),
        format(STRINGS.en.messageTooLong, {
          count: numbers.format(MAX_BODY_CHARS + 1),
          max: numbers.format(MAX_BODY_CHARS),
        }).replace(/\s/g, " "),
      );
      assert(await a.getByRole("button", { name: "Send" }).isDisabled(), "Send is disabled");
      await box.press("Enter");
      assertEquals((await box.inputValue()).length, MAX_BODY_CHARS + 1, "the text stays to be shortened");
      // What A sends next arrives after anything the refused paste could have sent.
      await box.fill("");
      await sendShort(a, "after the refused one");
      await b.getByRole("log").getByText("after the refused one", { exact: true }).waitFor(SLOW);
      const lengths = (await shown(b)).map((m) => m.length);
      assert(lengths.every((length) => length <= MAX_BODY_CHARS), `B shows ${lengths}`);
      assertEquals((await shown(a)).filter((m) => m.own).length, 6, "A shows no seventh own message");
      assertEquals((await shown(b)).filter((m) => !m.own).length, 6, "B got nothing from the refused paste");
    });

    await t.step(`the path stayed ${path} and no page had an error`, async () => {
      await Promise.all([waitPath(a, path), waitPath(b, path)]);
      assertEquals(errors, []);
    });
  } finally {
    await contextA.close();
    await contextB.close();
  }
}

for (const [path, over] of [["relay", "the relay"], ["p2p", "P2P"]] as const) {
  Deno.test({
    name: `long paste over ${over}: 65,536 units in four scripts arrive once and identical; 65,537 are refused`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const app = await serveApp();
      const browser = await launchChromium();
      try {
        await run(t, browser, app.origin, path);
      } finally {
        await browser.close();
        await app.close();
      }
    },
  });
}
