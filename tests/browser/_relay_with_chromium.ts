/**
 * The cross-browser relay test body, shared by the Firefox and WebKit tests:
 * Chromium (WebRTC removed) and another browser without WebRTC chat through
 * the real server on loopback, so every message takes the relay.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { launchChromium } from "../support/chromium.ts";
import { startAppProcess } from "./_app_process.ts";
import {
  chatBothWays,
  type ChatPage,
  createRoom,
  joinRoom,
  messagesOf,
  pathOf,
  playwrightPage,
  waitForMessages,
  waitUntil,
} from "./_chat_page.ts";

/** The other browser of the pair, opened for one test: its page, closed on dispose. */
export interface OtherBrowser extends AsyncDisposable {
  /** Its chat page (the page must have no `RTCPeerConnection`). */
  page: ChatPage;
}

/**
 * Chromium creates a room and writes first; the other browser joins by the
 * invite link and sees it on the relay; messages both ways arrive once, in one
 * order, Delivered; the other browser reloads and keeps the history; no page errors.
 */
export async function relayChatWithChromium(t: Deno.TestContext, open: () => Promise<OtherBrowser>): Promise<void> {
  await using app = await startAppProcess();
  const chromium = await launchChromium();
  try {
    await using other = await open();
    const context = await chromium.newContext();
    // Relay only: without RTCPeerConnection the client never tries P2P.
    await context.addInitScript(() => delete (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection);
    const a = playwrightPage(await context.newPage());
    const b = other.page;
    let link = "";

    await t.step("Chromium creates the room and writes first", async () => {
      link = await createRoom(a, app.origin);
      await a.send("hello from Chromium");
    });

    await t.step(`${b.name} opens the invite link, connects and sees the first message`, async () => {
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

    await t.step(`at a phone's width (360 px) the message box and Send share one row in both browsers`, async () => {
      for (const page of [a, b]) {
        const rows = await page.evaluate(() => {
          document.documentElement.style.width = "360px";
          const box = document.getElementById("composer-message")!.getBoundingClientRect();
          const send = document.querySelector("form button[type=submit]")!.getBoundingClientRect();
          document.documentElement.style.width = "";
          return { box: [box.top, box.bottom], send: [send.top, send.bottom] };
        });
        const [boxTop, boxBottom] = rows.box;
        const [sendTop, sendBottom] = rows.send;
        assert(sendTop < boxBottom && sendBottom > boxTop, `${page.name}: Send on its own row ${JSON.stringify(rows)}`);
      }
    });

    await t.step(`${b.name} reloads and keeps the history`, async () => {
      const before = await messagesOf(b);
      await b.goto(link);
      await waitForMessages(b, before);
      assertEquals(await messagesOf(b), before);
    });

    assertEquals([...await a.errors(), ...await b.errors()], [], "no uncaught page errors");
  } finally {
    await chromium.close();
  }
}
