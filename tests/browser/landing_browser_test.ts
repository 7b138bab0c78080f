import { assert, assertEquals, assertMatch, assertNotEquals } from "@std/assert";
import { serveApp } from "../support/app.ts";
import { launchChromium } from "../support/chromium.ts";

Deno.test("the New chat island hydrates and opens a room whose fragment holds a fresh key", async (t) => {
  const app = await serveApp();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));

    const keys: string[] = [];
    for (const attempt of [1, 2]) {
      await t.step(`click ${attempt}: lands on /<room>#<key>`, async () => {
        await page.goto(app.origin + "/");
        await page.waitForFunction(() => document.querySelector("island-root[data-island]") !== null);
        await page.getByRole("button", { name: "New chat" }).click();
        await page.waitForURL(/\/[A-Za-z0-9_-]{22}#/);
        const url = new URL(page.url());
        assertMatch(url.pathname, /^\/[A-Za-z0-9_-]{22}$/);
        assertMatch(url.hash, /^#[A-Za-z0-9_-]{43}$/, "256 random bits, base64url");
        await page.getByRole("heading", { name: "Chat room" }).waitFor();
        keys.push(url.hash);
      });
    }
    assertNotEquals(keys[0], keys[1], "every room gets its own key");
    assertEquals(errors, []);
    const sentFragments = app.requests.filter((r) => r.url.includes("#") || r.url.includes(keys[0].slice(1)));
    assertEquals(sentFragments, [], "the key never reaches the server");
    assert(
      app.requests.some((r) => r.url.includes("/_fresh/js/NewChat-")),
      "the island's bundle (with its boot) loaded",
    );
  } finally {
    await browser.close();
    await app.close();
  }
});

Deno.test("the button is inert until hydration, so a click before it does nothing wrong", async () => {
  const app = await serveApp();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.route("**/_fresh/js/**", (route) => route.abort());
    await page.goto(app.origin + "/");
    await page.getByRole("button", { name: "New chat" }).click();
    await page.waitForTimeout(200);
    assertEquals(new URL(page.url()).pathname, "/", "without its bundle the island cannot navigate");
  } finally {
    await browser.close();
    await app.close();
  }
});
