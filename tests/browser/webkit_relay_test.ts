/**
 * WebKitGTK (Safari's engine: WebCore and JavaScriptCore) and Chromium chat
 * through the real server on loopback. MiniBrowser has no RTCPeerConnection,
 * and Chromium's is removed here, so every message takes the relay: the path
 * Safari users get whenever P2P cannot connect.
 * @module
 */
import { assertEquals } from "@std/assert";
import { launchChromium } from "../support/chromium.ts";
import { launchWebKit } from "../support/webkit.ts";
import { startAppProcess } from "./_app_process.ts";
import {
  chatBothWays,
  createRoom,
  joinRoom,
  messagesOf,
  pathOf,
  playwrightPage,
  seleniumPage,
  waitForMessages,
  waitUntil,
} from "./_chat_page.ts";

Deno.test({
  name: "WebKit and Chromium chat over the relay: each message once, in one order, Delivered",
  async fn(t) {
    await using app = await startAppProcess();
    const chromium = await launchChromium();
    try {
      await using webkit = await launchWebKit();
      const context = await chromium.newContext();
      // Relay only: without RTCPeerConnection the client never tries P2P.
      await context.addInitScript(() => delete (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection);
      const a = playwrightPage(await context.newPage());
      const b = seleniumPage(webkit.driver);
      let link = "";

      await t.step("Chromium creates the room and writes first", async () => {
        link = await createRoom(a, app.origin);
        await a.send("hello from Chromium");
      });

      await t.step("WebKit opens the invite link, connects and sees the first message", async () => {
        await joinRoom(b, link);
        await waitForMessages(b, ["hello from Chromium"]);
        await waitUntil(b, 'path "Relay"', () => pathOf(b), (path) => path === "Relay");
      });

      await t.step("messages both ways arrive once, in order, and turn Delivered", async () => {
        const seen = await chatBothWays(a, b, 5);
        assertEquals(seen[0], "hello from Chromium");
      });

      await t.step("WebKit reloads and keeps the history", async () => {
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
