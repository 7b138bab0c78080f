/**
 * The notifications choice in a room: asking for permission happens on the
 * user's choice, never on load, and a refusal puts the menu back to "No
 * notifications" (it used to keep showing the choice the browser refused).
 * Headless Chromium with the page's permission answer set by an init script.
 * @module
 */
import { assertEquals } from "@std/assert";
import { createRoomLink } from "../../lib/client/room_link.ts";
import { serveApp } from "../support/app.ts";
import { launchChromium } from "../support/chromium.ts";

const SLOW = { timeout: 30_000 };

for (const answer of ["denied", "granted"] as const) {
  Deno.test(`the notifications menu follows the browser's answer (${answer}), asked only when chosen`, async () => {
    const app = await serveApp();
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await page.addInitScript((reply: string) => {
        const w = globalThis as unknown as { __asked: number };
        w.__asked = 0;
        let permission = "default";
        Object.defineProperty(Notification, "permission", { get: () => permission });
        Notification.requestPermission = () => {
          w.__asked++;
          permission = reply;
          return Promise.resolve(reply as NotificationPermission);
        };
      }, answer);
      await page.goto(app.origin + createRoomLink().href);
      await page.locator('[data-connection="connected"]').waitFor(SLOW);
      const menu = page.getByRole("combobox", { name: "Notifications" });
      await menu.waitFor(SLOW);
      assertEquals(await page.evaluate(() => (globalThis as unknown as { __asked: number }).__asked), 0, "not on load");

      await menu.selectOption("sender");
      await page.waitForFunction(() => (globalThis as unknown as { __asked: number }).__asked === 1, undefined, SLOW);
      const kept = answer === "granted" ? "sender" : "off";
      // The menu shows what is kept as soon as it is kept, not whenever something else happens to redraw it.
      await page.waitForFunction((value) => localStorage.getItem("parley.notify") === value, kept, SLOW);
      await page.waitForTimeout(100);
      assertEquals(await menu.inputValue(), kept);
      assertEquals(errors, []);
    } finally {
      await browser.close();
      await app.close();
    }
  });
}
