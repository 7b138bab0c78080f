/**
 * WebKitGTK (Safari's engine: WebCore and JavaScriptCore) and Chromium chat
 * through the real server on loopback. MiniBrowser has no RTCPeerConnection,
 * and Chromium's is removed here, so every message takes the relay: the path
 * Safari users get whenever P2P cannot connect.
 * @module
 */
import { launchWebKit } from "../support/webkit.ts";
import { seleniumPage } from "./_chat_page.ts";
import { relayChatWithChromium } from "./_relay_with_chromium.ts";

Deno.test({
  name: "WebKit and Chromium chat over the relay: each message once, in one order, Delivered",
  fn: (t) =>
    relayChatWithChromium(t, async () => {
      const webkit = await launchWebKit();
      return { page: seleniumPage(webkit.driver), [Symbol.asyncDispose]: () => webkit[Symbol.asyncDispose]() };
    }),
});
