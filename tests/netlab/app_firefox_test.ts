/**
 * Scenario: Firefox ESR and Chromium, each on its own phone of a LAN, chat through the real app and reach P2P
 * (a direct host-to-host DataChannel between the two engines), every message arriving once, in order, Delivered.
 * Firefox runs inside its phone's namespace (tests/support/firefox.ts), with real host candidates.
 * @module
 */
import { assertEquals } from "@std/assert";
import { launchFirefox } from "../support/firefox.ts";
import { chatBothWays, joinRoom, pathOf, playwrightPage, puppeteerPage, waitUntil } from "../browser/_chat_page.ts";
import { Lab } from "./lab.ts";
import { createRoom, diagnosticsReport, nameOf, openPhone, startApp, Timings, waitForPath } from "./app.ts";

/** Messages each way. */
const EACH_WAY = 10;

Deno.test({
  name: "on a LAN Firefox and Chromium reach P2P with each other and every message arrives once, Delivered",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const timings = new Timings("Firefox ↔ Chromium, LAN");
    await using lab = await Lab.create({ phones: 2, profile: "lan" });
    const app = await startApp(lab);
    // Declared after the lab, so it closes first.
    await using firefox = await launchFirefox({ netns: lab.phones[1].ns, secureHosts: [new URL(app.url).hostname] });
    const chromiumPage = nameOf(await openPhone(lab, 0, app.url), "Chromium");
    const a = playwrightPage(chromiumPage, "Chromium");
    const b = puppeteerPage(await firefox.browser.newPage(), "Firefox");

    await t.step("Chromium creates the room; Firefox joins through the invite link", async () => {
      const link = await timings.time("room created", () => createRoom(chromiumPage, app.url));
      await timings.time("Firefox joined", () => joinRoom(b, link));
      assertEquals(await b.evaluate(() => [isSecureContext, typeof RTCPeerConnection]), [true, "function"]);
    });

    await t.step("both see each other on P2P", async () => {
      timings.add("Chromium: P2P", await waitForPath(chromiumPage, "P2P"));
      await timings.time("Firefox: P2P", () => waitUntil(b, 'path "P2P"', () => pathOf(b), (path) => path === "P2P"));
    });

    await t.step("the link is a direct host-to-host pair, without TURN", async () => {
      const report = await diagnosticsReport(chromiumPage);
      assertEquals(report.peers.length, 1);
      const [peer] = report.peers;
      assertEquals([peer.path, peer.localType, peer.remoteType], ["p2p", "host", "host"]);
    });

    await t.step(`${EACH_WAY} messages each way arrive once, in one order, and turn Delivered`, async () => {
      await timings.time("chat both ways", () => chatBothWays(a, b, EACH_WAY));
      assertEquals(await pathOf(b), "P2P", "still P2P after the chat");
    });

    timings.print();
    assertEquals([...await a.errors(), ...await b.errors()], [], "no uncaught page errors");
  },
});
