/**
 * Firefox ESR and Chromium chat through the real server on loopback. WebRTC
 * is off in both browsers here (nothing may leave loopback), so every message
 * takes the relay; P2P between them is tests/netlab/app_firefox_test.ts.
 * @module
 */
import { launchFirefox } from "../support/firefox.ts";
import { puppeteerPage } from "./_chat_page.ts";
import { relayChatWithChromium } from "./_relay_with_chromium.ts";

Deno.test({
  name: "Firefox ESR and Chromium chat over the relay: each message once, in one order, Delivered",
  fn: (t) =>
    relayChatWithChromium(t, async () => {
      const firefox = await launchFirefox({ prefs: { "media.peerconnection.enabled": false } });
      const close = () => firefox[Symbol.asyncDispose]();
      try {
        return { page: puppeteerPage(await firefox.browser.newPage()), [Symbol.asyncDispose]: close };
      } catch (error) {
        await close();
        throw error;
      }
    }),
});
