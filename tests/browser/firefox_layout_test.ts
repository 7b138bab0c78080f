/**
 * The room's layout in Firefox ESR, where it once differed from Chromium: Firefox may break a URL after a slash, so a
 * link that fits a line was cut at the end of the one before. The UI harness (the real components, a fake room) at
 * a phone's width.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
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

Deno.test("in Firefox a word longer than the screen wraps inside its bubble", async () => {
  const harness = await serveUiHarness();
  const firefox = await launchFirefox();
  try {
    const page = await firefox.browser.newPage();
    await page.setViewport({ width: 360, height: 640 });
    await page.goto(harness.origin + "/");
    await page.waitForFunction(() => document.querySelector("[role=log]") !== null);
    await page.evaluate(() => {
      const room = (globalThis as unknown as { __room: { messages: { value: Record<string, unknown>[] } } }).__room;
      const last = room.messages.value.at(-1)!;
      room.messages.value = [
        ...room.messages.value,
        { ...last, id: "word-own", own: true, body: "x".repeat(80), time: (last.time as number) + 1 },
        { ...last, id: "word-other", own: false, body: `see ${"y".repeat(100)} here`, time: (last.time as number) + 2 },
      ];
    });
    await page.waitForFunction(() =>
      [...document.querySelectorAll("[role=log] li p")].some((p) => /y{100}/.test(p.textContent ?? ""))
    );
    const boxes = await page.evaluate(() =>
      [...document.querySelectorAll("[role=log] li p")].filter((p) => /x{80}|y{100}/.test(p.textContent ?? "")).map(
        (p) => {
          const box = p.getBoundingClientRect();
          return [Math.round(box.left), Math.round(box.right), p.scrollWidth - p.clientWidth];
        },
      )
    );
    assertEquals(boxes.length, 2);
    for (const [left, right, overflow] of boxes) {
      assert(left >= 0 && right <= 360 && overflow <= 0, `a bubble from ${left} to ${right} px, ${overflow} px over`);
    }
  } finally {
    await firefox.close();
    await harness.close();
  }
});
