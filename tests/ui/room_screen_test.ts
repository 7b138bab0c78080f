import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import type { Lang } from "../../lib/ui/i18n.ts";
import { RoomScreen, type RoomScreenProps } from "../../lib/ui/RoomScreen.tsx";
import { ConnectionBar } from "../../lib/ui/ConnectionBar.tsx";
import { firstWords, STRINGS } from "../../lib/ui/i18n.ts";
import { fakeRoomView, sampleRoom } from "./_fake_room_view.ts";

function render(props: Partial<RoomScreenProps> & { lang?: Lang } = {}): string {
  const lang = props.lang ?? "en";
  return renderToString(
    h(RoomScreen, {
      view: null,
      lang,
      t: STRINGS[lang],
      onLang: () => {},
      inviteLink: "",
      ...props,
    }),
  );
}

/** Text content of the element that has the given attribute, tags stripped. */
function textOf(html: string, attribute: string): string {
  const at = html.indexOf(attribute);
  assert(at !== -1, `no element with ${attribute}`);
  const start = html.indexOf(">", at) + 1;
  const tag = html.slice(html.lastIndexOf("<", at) + 1, at).trim().split(/\s/)[0];
  const end = html.indexOf(`</${tag}>`, start);
  return html.slice(start, end).replace(/<[^>]+>/g, "").replace(/&amp;/g, "&");
}

Deno.test("while the room opens, the shell already has its heading, labelled composer and status", () => {
  const html = render();
  assertMatch(html, /<h1[^>]*>Chat room<\/h1>/);
  assertMatch(html, /<label for="composer-message"[^>]*>Message<\/label>/);
  assertMatch(html, /<textarea id="composer-message"/);
  assertMatch(html, /<button type="submit"[^>]*disabled[^>]*>Send<\/button>/);
  assertMatch(html, /role="status" data-connection="connecting">Connecting</);
  assertStringIncludes(html, "Opening the chat…");
  assertEquals(html.includes('role="log"'), false, "no log until there is a room");
});

Deno.test("messages sit in a log region, own ones marked and carrying Sending, Sent or Delivered", () => {
  const html = render({ view: fakeRoomView(sampleRoom()) });
  assertMatch(html, /role="log" aria-label="Messages" aria-live="polite"/);
  assertEquals(html.match(/<li [^>]*data-own="true"/g)?.length, 3);
  assertEquals(html.match(/<li [^>]*data-own="false"/g)?.length, 2);
  assertMatch(html, /data-status="delivered"><span aria-hidden="true">✓✓<\/span><span>Delivered<\/span>/);
  assertMatch(html, /data-status="sent"><span aria-hidden="true">✓<\/span><span>Sent<\/span>/);
  assertMatch(html, /data-status="pending"><span aria-hidden="true">◷<\/span><span>Sending<\/span>/);
  assertStringIncludes(html, ">Anna</span>", "the sender's chosen name");
  assertStringIncludes(html, ">Guest peer</span>", "a name for a sender who set none");
  assertStringIncludes(html, "I am in too.\nSecond line.", "line breaks kept (pre-wrap)");
  assertMatch(html, /<time datetime="2026-11-24T09:21:00.000Z" title="[^"]*2026[^"]*">\d?\d:\d\d(\s[AP]M)?<\/time>/);
});

Deno.test("a tab refused a seat says the chat is full, in either language, once the later words are there", () => {
  for (const lang of ["en", "ru"] as const) {
    const view = fakeRoomView({ ...sampleRoom(), notice: { code: "room_full", at: 0 } });
    assertStringIncludes(render({ lang, view }), STRINGS[lang].roomFull);
    // Waiting with nothing yet: the notice in the middle, and neither "invite someone" nor "say hello".
    const waiting = render({ lang, view: fakeRoomView({ notice: { code: "room_full", at: 0 } }) });
    assertEquals(waiting.split(STRINGS[lang].roomFull).length - 1, 1, "said once");
    assertEquals(waiting.includes(STRINGS[lang].nobodyYet), false);
    assertEquals(waiting.includes(STRINGS[lang].noMessages), false);
    // The words come after Connected (the notice asks for them): until then the notice waits, not a blank line.
    assertEquals(render({ lang, view, t: firstWords(STRINGS[lang]) }).includes(STRINGS[lang].roomFull), false);
  }
});

Deno.test("a message that came long after its time, into what was shown, says when it arrived, in either language", () => {
  const room = sampleRoom();
  const arrived = Date.UTC(2026, 10, 24, 12, 5);
  room.messages![0] = { ...room.messages![0], arrived };
  for (const [lang, words] of [["en", /arrived (12:05|0?\d:05 PM)/], ["ru", /пришло в \d\d:05/]] as const) {
    const html = render({ view: fakeRoomView(room), lang });
    assertMatch(html, words);
    assertEquals(html.match(lang === "en" ? /arrived /g : /пришло в /g)?.length, 1, "only that message");
  }
});

Deno.test("an empty room says so instead of showing an empty list", () => {
  const html = render({ view: fakeRoomView() });
  assertStringIncludes(html, "No messages yet. Say hello.");
  assertStringIncludes(html, "Nobody else is here yet. Send them the invite link.");
});

Deno.test("peers show presence and, while online, the path as P2P, P2P via TURN or Relay", () => {
  const html = render({ view: fakeRoomView(sampleRoom()) });
  assertMatch(html, /<section aria-label="People here">/);
  assertEquals(textOf(html, 'data-path="p2p"'), "P2P");
  assertEquals(textOf(html, 'data-path="p2p-turn"'), "P2P via TURN");
  assertEquals(textOf(html, 'data-peer="peer-vera"'), "Veraaway", "an away peer shows no path: it has none now");
  const back = sampleRoom();
  back.peers = back.peers!.map((peer) => peer.id === "peer-vera" ? { ...peer, presence: "online" as const } : peer);
  assertEquals(textOf(render({ view: fakeRoomView(back) }), 'data-path="relay"'), "Relay");
  assertEquals(textOf(html, 'data-peer="peer-anna"'), "AnnaonlineP2P");
  assertMatch(html, /aria-live="polite">Anna is typing…<\/p>/);
});

Deno.test("the connection area says Connected, Reconnecting with a countdown and Retry now, or Offline", async (t) => {
  const t0 = 1_000_000;
  const bar = (state: Parameters<typeof ConnectionBar>[0]["state"]) =>
    renderToString(h(ConnectionBar, { state, onRetry: () => {}, t: STRINGS.en, now: () => t0 }));
  await t.step("connected", () => {
    const html = bar({ kind: "connected" });
    assertMatch(html, /role="status" data-connection="connected">Connected</);
    assertEquals(html.includes("Retry now"), false);
  });
  await t.step("reconnecting", () => {
    const html = bar({ kind: "reconnecting", nextAttemptAt: t0 + 4_200, attempt: 3 });
    assertMatch(html, /role="status" data-connection="reconnecting">Reconnecting</);
    assertStringIncludes(html, "next try in 5 s");
    assertMatch(html, /<button type="button"[^>]*>Retry now<\/button>/);
    assertStringIncludes(html, "messages are sent when the connection returns");
  });
  await t.step("offline", () => {
    const html = bar({ kind: "offline" });
    assertMatch(html, /data-connection="offline">Offline</);
    assertStringIncludes(html, ">Retry now</button>");
  });
});

Deno.test("in Russian every control and status has its Russian name", () => {
  const view = fakeRoomView(sampleRoom());
  view.connection.value = { kind: "reconnecting", nextAttemptAt: Date.now() + 3000, attempt: 1 };
  const html = render({ view, lang: "ru" });
  assertMatch(html, /<h1[^>]*>Чат<\/h1>/);
  assertMatch(html, /<label for="composer-message"[^>]*>Сообщение<\/label>/);
  assertStringIncludes(html, ">Отправить</button>");
  assertStringIncludes(html, "<span>Отправляется</span>");
  assertStringIncludes(html, "<span>Отправлено</span>");
  assertStringIncludes(html, "<span>Доставлено</span>");
  assertStringIncludes(html, ">Переподключение<");
  assertStringIncludes(html, ">Повторить сейчас</button>");
  assertStringIncludes(html, "P2P через TURN");
  assertStringIncludes(html, 'lang="en">English</button>', "the switcher names the other language in itself");
  assertStringIncludes(html, 'aria-label="Сообщения"');
});

Deno.test("a link without its key explains what to ask for and hides the composer", () => {
  const html = render({ error: "missing_key" });
  assertMatch(html, /role="alert"[^>]*>This link has no key after #/);
  assertStringIncludes(html, 'href="/"');
  assertEquals(html.includes("composer-message"), false);
});

Deno.test("header buttons say which drawer they control and start closed", () => {
  const html = render({ view: fakeRoomView(), inviteLink: "http://x/AAAAAAAAAAAAAAAAAAAAAA#key" });
  for (const name of ["Invite", "Your name", "Diagnostics"]) {
    assertMatch(html, new RegExp(`aria-expanded="false" aria-controls="room-panel"[^>]*>${name}</button>`));
  }
});

Deno.test("a room that failed to open shows no connection, peers or invite", () => {
  const html = render({ error: "bad_key", inviteLink: "http://x/AAAAAAAAAAAAAAAAAAAAAA#bad" });
  assertStringIncludes(html, "The key in this link is damaged.");
  assertEquals(html.includes("data-connection"), false);
  assertEquals(html.includes('aria-label="People here"'), false);
  assertMatch(html, /disabled>Invite<\/button>/);
});

Deno.test("with only the words the page carries, the usual room shows whole, and rare states wait for theirs", () => {
  const first = firstWords(STRINGS.en);
  const usual = render({ view: fakeRoomView(sampleRoom()), t: first });
  assertEquals(usual, render({ view: fakeRoomView(sampleRoom()) }), "the usual room needs no later word");
  const failed = render({ error: "missing_key", t: first });
  assertMatch(failed, /role="alert"[^>]*><\/p>/, "the alert is there, its words come later");
  assertEquals(failed.includes("composer-message"), false);
});
