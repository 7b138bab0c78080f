import { assertEquals } from "@std/assert";
import { serveApp } from "../support/app.ts";
import { launchChromium } from "../support/chromium.ts";
import { seriousViolations } from "./_axe.ts";

Deno.test("the landing has no serious accessibility violations, light and dark, English and Russian", async () => {
  const app = await serveApp();
  const browser = await launchChromium();
  try {
    for (const colorScheme of ["light", "dark"] as const) {
      for (const lang of ["en", "ru"]) {
        const context = await browser.newContext({ viewport: { width: 360, height: 640 }, colorScheme });
        const page = await context.newPage();
        await page.goto(`${app.origin}/?lang=${lang}`);
        assertEquals(await seriousViolations(page), [], `${colorScheme} ${lang}`);
        await context.close();
      }
    }
  } finally {
    await browser.close();
    await app.close();
  }
});

Deno.test("a Russian browser gets the Russian landing, and New chat keeps a forced language", async (t) => {
  const app = await serveApp();
  const browser = await launchChromium();
  try {
    await t.step("Accept-Language decides", async () => {
      const context = await browser.newContext({ locale: "ru-RU" });
      const page = await context.newPage();
      await page.goto(app.origin + "/");
      await page.getByRole("button", { name: "Новый чат" }).waitFor();
      assertEquals(await page.getAttribute("html", "lang"), "ru");
      await context.close();
    });
    await t.step("?lang=en wins over the browser, and the link to Russian switches", async () => {
      const context = await browser.newContext({ locale: "ru-RU" });
      const page = await context.newPage();
      await page.goto(app.origin + "/?lang=en");
      await page.getByRole("button", { name: "New chat" }).waitFor();
      await page.getByRole("link", { name: "Русский" }).click();
      await page.getByRole("button", { name: "Новый чат" }).click();
      await page.waitForURL(/\/[A-Za-z0-9_-]{22}\?lang=ru#[A-Za-z0-9_-]{43}$/);
      await context.close();
    });
  } finally {
    await browser.close();
    await app.close();
  }
});
