/**
 * The room's layout in Firefox ESR, where it once differed from Chromium: Firefox may break a URL after a slash, so a
 * link that fits a line was cut at the end of the one before. The UI harness (the real components, a fake room) at
 * a phone's width.
 * @module
 */
import { assertEquals } from "@std/assert";
import { launchFirefox } from "../support/firefox.ts";
import { serveUiHarness } from "./_ui_harness_server.ts";

Deno.test("in Firefox a link that fits on a line is moved to the next line whole, not cut after a slash", async () => {
  const harness = await serveUiHarness();
  const firefox = await launchFirefox();
  try {
    const page = await firefox.browser.newPage();
    await page.setViewport({ width: 360, height: 640 });
    await page.goto(harness.origin + "/");
    await page.waitForFunction(() => document.querySelector("[role=log]") !== null);
    // Words of growing length before the link put its start at every place of a line.
    await page.evaluate(() => {
      const room = (globalThis as unknown as { __room: { messages: { value: Record<string, unknown>[] } } }).__room;
      const last = room.messages.value.at(-1)!;
      room.messages.value = [
        ...room.messages.value,
        ...Array.from({ length: 24 }, (_, i) => ({
          ...last,
          id: `link-${i}`,
          body: `${"w".repeat(i + 1)} see https://example.com/some/page${i}`,
          time: (last.time as number) + 1 + i,
        })),
      ];
    });
    await page.waitForFunction(() =>
      document.querySelectorAll('a[href^="https://example.com/some/page"]').length === 24
    );
    const lines = await page.evaluate(() =>
      [...document.querySelectorAll('a[href^="https://example.com/some/page"]')].map((a) =>
        new Set([...a.getClientRects()].map((rect) => Math.round(rect.top))).size
      )
    );
    assertEquals(lines, lines.map(() => 1), `lines per link: ${lines.join(", ")}`);
  } finally {
    await firefox.close();
    await harness.close();
  }
});
