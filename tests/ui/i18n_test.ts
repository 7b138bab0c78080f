import { assertEquals, assertNotEquals } from "@std/assert";
import { acceptedLanguages, chooseLang, format, preferredLang, STRINGS } from "../../lib/ui/i18n.ts";

Deno.test("?lang= forces the language whatever the browser prefers", () => {
  assertEquals(chooseLang(new URL("http://x/?lang=ru"), "en-US,en;q=0.9"), { lang: "ru", forced: true });
  assertEquals(chooseLang(new URL("http://x/?lang=en"), "ru-RU"), { lang: "en", forced: true });
});

Deno.test("Accept-Language picks the most wanted supported language, by weight", () => {
  const url = new URL("http://x/");
  assertEquals(chooseLang(url, "ru-RU,ru;q=0.9,en;q=0.8"), { lang: "ru", forced: false });
  assertEquals(chooseLang(url, "de-DE,en;q=0.5,ru;q=0.7"), { lang: "ru", forced: false });
  assertEquals(chooseLang(url, "fr"), { lang: "en", forced: false }, "unsupported falls back to English");
  assertEquals(chooseLang(url, null), { lang: "en", forced: false });
  assertEquals(
    chooseLang(new URL("http://x/?lang=xx"), "ru"),
    { lang: "ru", forced: false },
    "unknown ?lang= is ignored",
  );
  assertEquals(acceptedLanguages("en;q=0, ru"), ["ru"], "q=0 means not wanted");
});

Deno.test("navigator.languages style lists pick the first supported one", () => {
  assertEquals(preferredLang(["uk-UA", "ru-RU", "en"]), "ru");
  assertEquals(preferredLang(["EN-gb"]), "en");
  assertEquals(preferredLang([]), "en");
});

Deno.test("Russian has every string, translated", () => {
  const same = ["appName", "p2p", "colIce", "colRtt"];
  for (const [key, english] of Object.entries(STRINGS.en)) {
    const russian = STRINGS.ru[key as keyof typeof STRINGS.en];
    assertNotEquals(russian, "", key);
    if (!same.includes(key)) assertNotEquals(russian, english, `${key} is not translated`);
  }
});

Deno.test("the accessible names are the agreed English and Russian words", () => {
  const pick = (lang: "en" | "ru") => {
    const t = STRINGS[lang];
    return [t.send, t.message, t.sending, t.sent, t.delivered, t.connected, t.reconnecting, t.offline, t.retryNow];
  };
  assertEquals(pick("en"), [
    "Send",
    "Message",
    "Sending",
    "Sent",
    "Delivered",
    "Connected",
    "Reconnecting",
    "Offline",
    "Retry now",
  ]);
  assertEquals(pick("ru"), [
    "Отправить",
    "Сообщение",
    "Отправляется",
    "Отправлено",
    "Доставлено",
    "Подключено",
    "Переподключение",
    "Не в сети",
    "Повторить сейчас",
  ]);
  assertEquals([STRINGS.en.p2p, STRINGS.en.p2pTurn, STRINGS.en.relay], ["P2P", "P2P via TURN", "Relay"]);
});

Deno.test("format fills placeholders and leaves unknown ones visible", () => {
  assertEquals(format("{name} is typing…", { name: "Anna" }), "Anna is typing…");
  assertEquals(format("in {s} s {x}", { s: 3 }), "in 3 s {x}");
});
