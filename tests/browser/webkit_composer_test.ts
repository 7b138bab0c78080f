/**
 * The composer's IME scenario in WebKitGTK, Safari's engine: Safari fires
 * compositionend before the Enter that confirms a composition, and that
 * keydown carries keyCode 229 with isComposing false; it must not send.
 * Same scenario as composer_browser_test.ts (Chromium).
 * @module
 */
import { assertEquals } from "@std/assert";
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
