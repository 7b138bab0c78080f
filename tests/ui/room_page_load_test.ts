/**
 * What the room page carries and leaves for later: the bootstrap in its head,
 * one language's words, no safelist markup; other words from /strings/<lang>;
 * and the work that waits until the room has settled.
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { signal } from "@preact/signals-core";
import { BOOTSTRAP_SCRIPT } from "../../lib/client/bootstrap/mod.ts";
import type { SocketState } from "../../lib/client/signal_socket.ts";
import { whenSettled } from "../../lib/ui/after_connect.ts";
import { STRINGS } from "../../lib/ui/mod.ts";
import { loadStrings, stringsUrl } from "../../lib/ui/strings_loader.ts";
import { request } from "../support/app.ts";

Deno.test("the room page starts the bootstrap in its head, the same script for every room and language", async () => {
  const pages = await Promise.all([
    request("/AAAAAAAAAAAAAAAAAAAAAA").then((res) => res.text()),
    request("/BBBBBBBBBBBBBBBBBBBBBB?lang=ru").then((res) => res.text()),
  ]);
  for (const html of pages) {
    const head = html.slice(0, html.indexOf("</head>"));
    assertStringIncludes(head, `<script>${BOOTSTRAP_SCRIPT}</script>`);
    assert(head.indexOf("<script>") < head.indexOf("<style"), "before the style sheet");
    assert(head.indexOf("<script>") < head.indexOf("modulepreload"), "and before the module preloads");
    assert(!html.includes("data-twind-only"), "the safelist element is compiled, then dropped");
  }
});

Deno.test("the landing and 404 pages carry no bootstrap", async () => {
  for (const path of ["/", "/no/such/page"]) {
    const html = await (await request(path)).text();
    assert(!html.includes(BOOTSTRAP_SCRIPT), path);
  }
});

Deno.test("/strings/<lang> answers a language's words as JSON, revalidated on each use", async () => {
  const res = await request(stringsUrl("ru"));
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "application/json");
  assertEquals(res.headers.get("cache-control"), "no-cache");
  assert(res.headers.get("etag"));
  assertEquals(await res.json(), STRINGS.ru);
  const unknown = await request("/strings/de");
  assertEquals(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("loadStrings fetches a language once, and tries again after a failure", async () => {
  const asked: string[] = [];
  let fail = true;
  const fetcher = ((url: string) => {
    asked.push(url);
    if (fail) return Promise.resolve(new Response("no", { status: 503 }));
    return request(url);
  }) as typeof fetch;
  let failed = false;
  await loadStrings("ru", fetcher).catch(() => failed = true);
  assert(failed, "a 503 is a failure");
  fail = false;
  const words = await loadStrings("ru", fetcher);
  assertEquals(words.send, "Отправить");
  assertEquals(await loadStrings("ru", fetcher), words);
  assertEquals(asked, ["/strings/ru", "/strings/ru"]);
});

Deno.test("settled work runs once, after the connection first leaves connecting (offline counts too)", async (t) => {
  const later: (() => void)[] = [];
  const defer = (work: () => void) => void later.push(work);
  await t.step("connected", () => {
    const connection = signal<SocketState>({ kind: "connecting" });
    let runs = 0;
    whenSettled({ connection }, () => runs++, defer);
    assertEquals(later.length, 0, "nothing while connecting");
    connection.value = { kind: "connected" };
    connection.value = { kind: "reconnecting", nextAttemptAt: 1, attempt: 1 };
    assertEquals(later.length, 1, "scheduled once");
    later.shift()!();
    connection.value = { kind: "connected" };
    assertEquals([runs, later.length], [1, 0]);
  });
  await t.step("offline from the start", () => {
    const connection = signal<SocketState>({ kind: "offline" });
    let runs = 0;
    whenSettled({ connection }, () => runs++, defer);
    later.shift()!();
    assertEquals(runs, 1);
  });
  await t.step("cancelled before it ran", () => {
    const connection = signal<SocketState>({ kind: "connecting" });
    let runs = 0;
    const cancel = whenSettled({ connection }, () => runs++, defer);
    connection.value = { kind: "connected" };
    cancel();
    later.shift()!();
    assertEquals(runs, 0);
  });
});
