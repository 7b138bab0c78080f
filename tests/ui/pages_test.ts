import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import * as UI from "../../lib/ui/styles.ts";
import { request } from "../support/app.ts";

const ROOM = "/AAAAAAAAAAAAAAAAAAAAAA";

function islandProps(html: string): { name: string; props: Record<string, unknown> }[] {
  const json = html.match(/<script id="__islands" type="application\/json">([^<]*)<\/script>/)?.[1];
  assert(json, "the page embeds its island data");
  return JSON.parse(json).islands;
}

Deno.test("the room page is a server-rendered shell with the ChatRoom island", async () => {
  const res = await request(ROOM, { headers: { "accept-language": "en-GB,en;q=0.9" } });
  assertEquals(res.status, 200);
  const html = await res.text();
  assertMatch(html, /<html lang="en">/);
  assertStringIncludes(html, "<title>Chat room · Parley</title>");
  assertMatch(html, /<island-root data-island="ChatRoom" data-index="0"/);
  assertMatch(html, /<h1[^>]*>Chat room<\/h1>/);
  assertMatch(html, /<label for="composer-message"[^>]*>Message<\/label>/);
  assertStringIncludes(html, "<noscript>");
  const [island, ...others] = islandProps(html);
  assertEquals(others, []);
  const { strings, ...props } = island.props as { strings: Record<string, Record<string, string>> };
  assertEquals(island.name, "ChatRoom");
  assertEquals(props, { lang: "en", forcedLang: false, debug: false, relayHold: 0 });
  assertEquals(strings.en.send, "Send", "the words travel as data");
  assertEquals(Object.keys(strings), ["en"], "only the page's language: another is fetched when the reader switches");
  assertEquals(strings.en.chatRoom, "Chat room");
  for (const later of ["copyLink", "countSent", "notifications", "inviteHint", "storageMemory", "errorBadKey"]) {
    assert(!(later in strings.en), `${later}: the drawers' and rare states' words come after Connected`);
  }
  for (const elsewhere of ["landingLead", "forgetConfirm", "notFoundText"]) {
    assert(!(elsewhere in strings.en), `${elsewhere}: words of other pages are not on the room page`);
  }
});

Deno.test("the room page's CSS covers classes only the browser renders (messages, drawers), by short part classes", async () => {
  const html = await (await request(ROOM)).text();
  const css = html.match(/<style id="__twind">([^<]*)<\/style>/)?.[1] ?? "";
  // Each part's short class gets the CSS of its utilities: a selector list naming it, with the utility's declarations.
  const styled = (part: string, declaration: string) =>
    new RegExp(`(^|[,}])[^{}]*\\.${UI[part as keyof typeof UI]}(?![\\w-])[^{}]*\\{[^}]*${declaration}`).test(css);
  for (
    const [part, declaration] of [
      ["itemOwn", "align-self:flex-end"],
      ["bubbleOwn", "border-bottom-right-radius:0.375rem"],
      ["bubble", "white-space:pre-wrap"],
      ["table", "border-collapse:collapse"],
      ["headerButton", "border-radius:0.5rem"],
    ]
  ) {
    assert(styled(part, declaration), `${part} (${UI[part as keyof typeof UI]}) has ${declaration}`);
  }
  assertMatch(css, /@media \(prefers-color-scheme:dark\)/, "dark mode follows the system");
  assertStringIncludes(css, "button,input,optgroup,select,textarea{font-family:inherit;", "the preflight's resets");
  for (const unused of ["sub,sup{", "abbr:where", "progress{", "summary{"]) {
    assert(!css.includes(unused), `${unused}: no rule for what no page has`);
  }
  assert(
    !/class="[^"]*\bpx-/.test(html.slice(html.indexOf("<island-root"))),
    "the room's markup names parts, not utilities",
  );
});

Deno.test("the room speaks Russian for a Russian browser, and ?lang= overrides the browser", async (t) => {
  await t.step("Accept-Language: ru", async () => {
    const html = await (await request(ROOM, { headers: { "accept-language": "ru-RU,ru;q=0.9,en;q=0.5" } })).text();
    assertMatch(html, /<html lang="ru">/);
    assertMatch(html, /<h1[^>]*>Чат<\/h1>/);
    assertStringIncludes(html, ">Отправить</button>");
    assertEquals(islandProps(html)[0].props.forcedLang, false);
  });
  await t.step("?lang=en on a Russian browser", async () => {
    const html = await (await request(ROOM + "?lang=en", { headers: { "accept-language": "ru" } })).text();
    assertMatch(html, /<html lang="en">/);
    assertStringIncludes(html, ">Send</button>");
    assertEquals(islandProps(html)[0].props.forcedLang, true);
  });
  await t.step("?debug=1 reaches the island", async () => {
    const html = await (await request(ROOM + "?debug=1")).text();
    assertEquals(islandProps(html)[0].props.debug, true);
  });
});

Deno.test("the landing explains Parley and offers New chat, in the browser's language", async (t) => {
  await t.step("English", async () => {
    const html = await (await request("/", { headers: { "accept-language": "en-US" } })).text();
    assertMatch(html, /<html lang="en">/);
    assertStringIncludes(html, ">New chat</button>");
    assertStringIncludes(html, "Private chat that keeps working on bad mobile networks.");
    assertMatch(html, /<a href="\/\?lang=ru" lang="ru" hreflang="ru"[^>]*>Русский<\/a>/);
  });
  await t.step("Russian", async () => {
    const html = await (await request("/?lang=ru")).text();
    assertMatch(html, /<html lang="ru">/);
    assertStringIncludes(html, ">Новый чат</button>");
    assertMatch(html, /<a href="\/\?lang=en"[^>]*>English<\/a>/);
  });
});

Deno.test("every page links the web manifest, icons and theme colours", async () => {
  for (const path of ["/", ROOM, "/no/such/page"]) {
    const html = await (await request(path)).text();
    assertStringIncludes(html, '<link rel="manifest" href="/manifest.webmanifest"/>', path);
    assertStringIncludes(html, '<meta name="theme-color" content="#047857" media="(prefers-color-scheme: light)"/>');
    assertStringIncludes(html, '<link rel="apple-touch-icon" href="/icons/icon-192.png"/>');
  }
});

Deno.test("the web manifest is installable: name, start URL, standalone, and icons that exist", async () => {
  const res = await request("/manifest.webmanifest");
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "application/manifest+json");
  const manifest = await res.json();
  assertEquals([manifest.name, manifest.start_url, manifest.display], ["Parley", "/", "standalone"]);
  const sizes = manifest.icons.map((icon: { sizes: string }) => icon.sizes);
  assert(sizes.includes("192x192") && sizes.includes("512x512"), "192 and 512 px icons");
  for (const icon of manifest.icons as { src: string; type: string; sizes: string }[]) {
    const file = await request(icon.src);
    assertEquals(file.status, 200, icon.src);
    assertEquals(file.headers.get("content-type")?.split(";")[0], icon.type, icon.src);
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (icon.type === "image/png") {
      const view = new DataView(bytes.buffer);
      const [width, height] = [view.getUint32(16), view.getUint32(20)];
      assertEquals(`${width}x${height}`, icon.sizes, `${icon.src} is as large as it says`);
    }
  }
});

Deno.test("the service worker is served as JavaScript from the root scope", async () => {
  const res = await request("/sw.js");
  assertEquals(res.status, 200);
  assertMatch(res.headers.get("content-type")!, /^text\/javascript/);
  const source = await res.text();
  assertStringIncludes(source, 'addEventListener("fetch"');
});
