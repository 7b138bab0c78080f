/**
 * Firefox ESR and Chromium chat through the real server on loopback. WebRTC
 * is off in both browsers here (nothing may leave loopback), so every message
 * takes the relay; P2P between them is tests/netlab/app_firefox_test.ts.
 * @module
 */
import { assertEquals } from "@std/assert";
import { launchChromium } from "../support/chromium.ts";
import { launchFirefox } from "../support/firefox.ts";
import { startAppProcess } from "./_app_process.ts";
import {
  chatBothWays,
  createRoom,
  joinRoom,
  messagesOf,
  pathOf,
  playwrightPage,
  puppeteerPage,
  waitForMessages,
  waitUntil,
} from "./_chat_page.ts";

Deno.test({
  name: "Firefox ESR and Chromium chat over the relay: each message once, in one order, Delivered",
  async fn(t) {
    await using app = await startAppProcess();
    const chromium = await launchChromium();
    try {
      await using firefox = await launchFirefox({ prefs: { "media.peerconnection.enabled": false } });
      const context = await chromium.newContext();
      // Relay only: without RTCPeerConnection the client never tries P2P.
      await context.addInitScript(() => delete (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection);
      const a = playwrightPage(await context.newPage());
      const b = puppeteerPage(await firefox.browser.newPage());
      let link = "";

      await t.step("Chromium creates the room and writes first", async () => {
        link = await createRoom(a, app.origin);
        await a.send("hello from Chromium");
      });

      await t.step("Firefox opens the invite link, connects and sees the first message", async () => {
        await joinRoom(b, link);
        await waitForMessages(b, ["hello from Chromium"]);
        assertEquals(await b.evaluate(() => typeof RTCPeerConnection), "undefined", "WebRTC is off");
        await waitUntil(b, 'path "Relay"', () => pathOf(b), (path) => path === "Relay");
      });

      await t.step("messages both ways arrive once, in order, and turn Delivered", async () => {
        const seen = await chatBothWays(a, b, 5);
        assertEquals(seen[0], "hello from Chromium");
        assertEquals(await messagesOf(b), seen);
      });

      await t.step("Firefox reloads and keeps the history", async () => {
        const before = await messagesOf(b);
        await b.goto(link);
        await waitForMessages(b, before);
        assertEquals(await messagesOf(b), before);
      });

      assertEquals([...await a.errors(), ...await b.errors()], [], "no uncaught page errors");
    } finally {
      await chromium.close();
    }
  },
});
