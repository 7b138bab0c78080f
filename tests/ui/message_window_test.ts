/**
 * The message list renders the newest {@link MESSAGE_WINDOW} messages and a "Show earlier messages" button above
 * them: its work per new message is bounded by what it shows, not by the history. A hostile-member pass found that a
 * member sending valid messages at the relay's rate (50 a second, for minutes) made each arrival re-render the whole
 * history, so the victim's page froze, and stayed frozen on every later load.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import type { MessageView } from "../../lib/client/room_view.ts";
import { STRINGS } from "../../lib/ui/i18n.ts";
import { MESSAGE_WINDOW, MessageList } from "../../lib/ui/MessageList.tsx";

function messages(count: number): MessageView[] {
  const start = Date.UTC(2026, 11, 1, 9);
  return Array.from({ length: count }, (_, i) => ({
    id: `m${i}`,
    author: i % 2 ? "peer-eve" : "self0001",
    own: i % 2 === 0,
    body: `message ${i}`,
    time: start + i * 1_000,
    status: i % 2 ? "received" : "delivered",
  }));
}

function render(list: MessageView[], lang: "en" | "ru" = "en"): string {
  return renderToString(
    h(MessageList, { messages: list, t: STRINGS[lang], lang, now: () => Date.UTC(2026, 11, 1, 12) }),
  );
}

Deno.test("a history of 6,000 messages renders its newest 300, below a button that shows earlier ones", () => {
  const html = render(messages(6_000));
  assertEquals(html.match(/<li [^>]*data-own=/g)?.length, MESSAGE_WINDOW);
  assertStringIncludes(html, ">message 5999<", "the newest is there");
  assertStringIncludes(html, ">message 5700<", "and the 300th newest");
  assertEquals(html.includes(">message 5699<"), false, "not the one before");
  assertStringIncludes(html, '<button type="button"', "a button above them");
  assertStringIncludes(html, ">Show earlier messages</button>");
  assertStringIncludes(render(messages(400), "ru"), ">Показать более ранние сообщения</button>");
});

Deno.test("a history within the window renders whole, with no button", () => {
  const html = render(messages(MESSAGE_WINDOW));
  assertEquals(html.match(/<li [^>]*data-own=/g)?.length, MESSAGE_WINDOW);
  assertEquals(html.includes("<button"), false);
});

Deno.test("the first message shown carries its day, whatever came before the window", () => {
  const html = render(messages(MESSAGE_WINDOW + 5));
  assertEquals(html.match(/data-day/g)?.length, 1, "one day separator, for the first row shown");
});
