/**
 * The composer's IME scenario in WebKitGTK, Safari's engine: Safari fires
 * compositionend before the Enter that confirms a composition, and that
 * keydown carries keyCode 229 with isComposing false; it must not send.
 * Same scenario as composer_browser_test.ts (Chromium).
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { launchWebKit } from "../support/webkit.ts";
import { assertImeReport, imeScenario, type ImeStep } from "./_composer_ime.ts";
import { serveUiHarness } from "./_ui_harness_server.ts";

Deno.test({
  name: "WebKit: Enter that confirms an IME composition never sends (isComposing, keyCode 229 after compositionend)",
  async fn() {
    const harness = await serveUiHarness();
    try {
      await using webkit = await launchWebKit();
      const { driver } = webkit;
      await driver.get(`${harness.origin}/?sample=0`);
      const engine = await driver.executeScript<string>(() => navigator.userAgent);
      assertEquals(/AppleWebKit/.test(engine) && !/Chrome/.test(engine), true, `WebKit, not ${engine}`);
      assertImeReport(await driver.executeScript<ImeStep[]>(imeScenario));
      const shown = await driver.executeScript<string[]>(() =>
        [...document.querySelectorAll("[role=log] li p")].map((p) => p.textContent ?? "")
      );
      assertEquals(shown, ["日本"], "the message list shows the one message sent");
    } finally {
      await harness.close();
    }
  },
});

Deno.test({
  name: "WebKit: after a long paste the composer shows its end, where the caret is",
  async fn() {
    const harness = await serveUiHarness();
    try {
      await using webkit = await launchWebKit();
      const { driver } = webkit;
      await driver.get(`${harness.origin}/?sample=0`);
      const seen = await driver.executeAsyncScript<{ top: number; client: number; height: number; caret: boolean }>(
        (done: (value: unknown) => void) => {
          const box = document.getElementById("composer-message") as HTMLTextAreaElement;
          box.focus();
          // A paste of 40 lines, as the editing command inserts it (caret after the text, one input event).
          document.execCommand("insertText", false, Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join("\n"));
          requestAnimationFrame(() =>
            requestAnimationFrame(() =>
              done({
                top: box.scrollTop,
                client: box.clientHeight,
                height: box.scrollHeight,
                caret: box.selectionEnd === box.value.length,
              })
            )
          );
        },
      );
      assert(seen.caret, "the caret is after the pasted text");
      assert(seen.height > seen.client, `the box scrolls (${seen.height} > ${seen.client})`);
      assert(
        seen.top + seen.client >= seen.height - 2,
        `the end is in view: scrolled ${seen.top} of ${seen.height - seen.client}`,
      );
    } finally {
      await harness.close();
    }
  },
});
