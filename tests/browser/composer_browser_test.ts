/**
 * The composer in Chromium, on the UI harness (real components, fake room):
 * Enter from an input method never sends, and a body past MAX_BODY_CHARS is
 * refused before sending, with a counter near the limit, in English and Russian.
 * The same IME scenario runs in WebKit in webkit_composer_test.ts.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import type { Page } from "playwright-core";
import { COUNTER_FROM_CHARS, MAX_BODY_CHARS } from "../../lib/ui/Composer.tsx";
import { format, STRINGS } from "../../lib/ui/i18n.ts";
import { assertImeReport, imeScenario } from "./_composer_ime.ts";
import { withHarness } from "./_ui_harness_server.ts";

/** The bodies the fake room was asked to send, in order. */
function sent(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    (globalThis as unknown as { __room: { calls: string[] } }).__room.calls
      .filter((call) => call.startsWith("send:")).map((call) => call.slice(5))
  );
}

/** A counter or refusal text as the given language writes it (Intl's own grouping spaces, compared loosely). */
function expected(template: string, locale: string, count: number): string {
  const numbers = new Intl.NumberFormat(locale);
  return format(template, { count: numbers.format(count), max: numbers.format(MAX_BODY_CHARS) });
}

function loose(text: string | null): string {
  return (text ?? "").replace(/\s/g, " ");
}

Deno.test("Chromium: Enter that confirms an IME composition never sends (isComposing, keyCode 229)", async (t) => {
  await withHarness(async (harness, browser) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));

    await t.step("dispatched composition and key events", async () => {
      await page.goto(`${harness.origin}/?sample=0`);
      assertImeReport(await page.evaluate(imeScenario));
    });

    await t.step("a real composition through Chromium's IME interface", async () => {
      await page.goto(`${harness.origin}/?sample=0`);
      const box = page.getByRole("textbox", { name: "Message" });
      await box.focus();
      const cdp = await context.newCDPSession(page);
      await cdp.send("Input.imeSetComposition", { text: "にほん", selectionStart: 3, selectionEnd: 3 });
      // The Enter an IME turns into "confirm": keyCode 229 while the composition is open.
      await cdp.send("Input.dispatchKeyEvent", {
        type: "rawKeyDown",
        key: "Enter",
        code: "Enter",
        windowsVirtualKeyCode: 229,
        nativeVirtualKeyCode: 229,
      });
      await cdp.send("Input.insertText", { text: "日本" });
      assertEquals(await box.inputValue(), "日本");
      assertEquals(await sent(page), [], "confirming the composition sent nothing");
      await box.press("Enter");
      await page.getByRole("log").getByText("日本").waitFor();
      assertEquals(await sent(page), ["日本"]);
      assertEquals(await box.inputValue(), "");
    });

    assertEquals(errors, []);
  });
});

Deno.test("Chromium: past MAX_BODY_CHARS the composer shows why and refuses to send, in English and Russian", async (t) => {
  await withHarness(async (harness, browser) => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${harness.origin}/?sample=0`);
    const box = page.getByRole("textbox", { name: "Message" });
    const sendButton = page.getByRole("button", { name: "Send" });
    const counter = page.locator("#composer-count");

    await t.step("short of the counter threshold nothing is shown", async () => {
      await box.fill("a".repeat(COUNTER_FROM_CHARS - 1));
      assertEquals(await counter.count(), 0);
      assert(await sendButton.isEnabled());
    });

    await t.step("near the limit a counter tells how much is used, tied to the box", async () => {
      await box.fill("a".repeat(COUNTER_FROM_CHARS));
      assertEquals(loose(await counter.textContent()), loose(expected(STRINGS.en.charCount, "en", COUNTER_FROM_CHARS)));
      assertEquals(await box.getAttribute("aria-describedby"), "composer-count");
      assertEquals(await page.getByRole("alert").count(), 0);
      assert(await sendButton.isEnabled());
    });

    await t.step("exactly MAX_BODY_CHARS is sent", async () => {
      await box.fill("b".repeat(MAX_BODY_CHARS));
      assertEquals(loose(await counter.textContent()), loose(expected(STRINGS.en.charCount, "en", MAX_BODY_CHARS)));
      await box.press("Enter");
      await page.waitForFunction(() => document.querySelector("textarea")?.value === "");
      assertEquals((await sent(page)).map((body) => body.length), [MAX_BODY_CHARS]);
    });

    await t.step("one more is refused: an alert says why, Send is disabled, Enter sends nothing", async () => {
      await box.fill("c".repeat(MAX_BODY_CHARS + 1));
      const alert = page.getByRole("alert");
      assertEquals(
        loose(await alert.textContent()),
        loose(expected(STRINGS.en.messageTooLong, "en", MAX_BODY_CHARS + 1)),
      );
      assert(await sendButton.isDisabled(), "Send is disabled");
      assertEquals(await box.getAttribute("aria-invalid"), "true");
      await box.press("Enter");
      await page.evaluate(() => document.querySelector("form")!.requestSubmit());
      assertEquals(await sent(page).then((bodies) => bodies.length), 1, "nothing more was sent");
      assertEquals((await box.inputValue()).length, MAX_BODY_CHARS + 1, "the text stays to be shortened");
    });

    await t.step("the limit counts UTF-16 code units: an emoji is two", async () => {
      const emoji = "😀".repeat(MAX_BODY_CHARS / 2 + 1);
      await box.fill(emoji);
      assertEquals(
        loose(await page.getByRole("alert").textContent()),
        loose(expected(STRINGS.en.messageTooLong, "en", MAX_BODY_CHARS + 2)),
      );
      assert(await sendButton.isDisabled());
    });

    await t.step("spaces around the text do not count, as they are never sent", async () => {
      await box.fill(`  ${"d".repeat(MAX_BODY_CHARS)}\n\n `);
      assertEquals(await page.getByRole("alert").count(), 0);
      assert(await sendButton.isEnabled());
      await sendButton.click();
      await page.waitForFunction(() => document.querySelector("textarea")?.value === "");
      assertEquals((await sent(page)).at(-1), "d".repeat(MAX_BODY_CHARS));
    });

    await t.step("in Russian the counter and the refusal speak Russian", async () => {
      await page.goto(`${harness.origin}/?sample=0&lang=ru`);
      const ruBox = page.getByRole("textbox", { name: "Сообщение" });
      await ruBox.fill("е".repeat(COUNTER_FROM_CHARS + 1));
      assertEquals(
        loose(await counter.textContent()),
        loose(expected(STRINGS.ru.charCount, "ru", COUNTER_FROM_CHARS + 1)),
      );
      await ruBox.fill("ё".repeat(MAX_BODY_CHARS + 10));
      assertEquals(
        loose(await page.getByRole("alert").textContent()),
        loose(expected(STRINGS.ru.messageTooLong, "ru", MAX_BODY_CHARS + 10)),
      );
      assert(await page.getByRole("button", { name: "Отправить" }).isDisabled());
    });

    assertEquals(errors, []);
  });
});

Deno.test("Chromium: a long line grows the box on a phone, up to five lines, then it scrolls; sent, it is one line again", async (t) => {
  await withHarness(async (harness, browser) => {
    const page = await browser.newPage({ viewport: { width: 360, height: 640 } });
    await page.goto(`${harness.origin}/?sample=0`);
    const box = page.getByRole("textbox", { name: "Message" });
    /** The box's height and line height in px, and whether its text scrolls inside it. */
    const measure = () =>
      box.evaluate((element: HTMLTextAreaElement) => ({
        height: element.offsetHeight,
        line: parseFloat(getComputedStyle(element).lineHeight),
        scrolls: element.scrollHeight > element.clientHeight,
      }));
    const empty = await measure();

    await t.step("a line that wraps grows the box, all of it showing", async () => {
      await box.fill("word ".repeat(18)); // 90 characters: three or four lines in a phone's box
      const grown = await measure();
      assert(grown.height >= empty.height + 2 * empty.line, `${JSON.stringify(grown)} vs empty ${empty.height}`);
      assert(!grown.scrolls, "all of it shows");
    });

    await t.step("a long paste stops at five lines and scrolls inside the box", async () => {
      await box.fill("word ".repeat(1_000));
      const capped = await measure();
      assertEquals(capped.height, empty.height + 4 * empty.line, JSON.stringify(capped));
      assert(capped.scrolls);
    });

    await t.step("sending empties it back to one line", async () => {
      await box.press("Enter");
      await page.waitForFunction(() => document.querySelector("textarea")?.value === "");
      assertEquals((await measure()).height, empty.height);
    });
  });
});
