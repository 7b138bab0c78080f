/**
 * Long bodies of link-like text must not freeze the readers' pages, on load or on every later message.
 *
 * The message list renders the newest 300 messages, each body through `MessageBody` (`lib/ui/MessageList.tsx`).
 * It used to run the linkifier over every body on every render, and the list re-renders on each change of the
 * room's messages: after a member posted 40 bodies of 65,536 characters of `a.a.a.…` (each is two frames, well
 * within the relay's limits), one 2-character message from anyone cost each reader 81 linkifier calls over 5.2 M
 * characters, 1.5 to 1.8 s of main thread on a desktop, again for every message. Now a body is split once and kept
 * (`linkParts` in `lib/ui/links.ts`), and a long one in a task of its own after the list has shown it as text.
 *
 * Counted, not timed: what the linkifier is asked to read, during the first render and for the next message. The
 * real `MessageList` renders with Preact's client `render` into a minimal DOM (below), as the page does.
 * @module
 */
import { assertEquals } from "@std/assert";
import { h, render } from "preact";
import type { MessageView } from "../../lib/client/room_view.ts";
import { STRINGS } from "../../lib/ui/i18n.ts";
import { linkFinder, loadLinkFinder } from "../../lib/ui/links.ts";
import { MessageList } from "../../lib/ui/MessageList.tsx";

Deno.test("long link-like bodies are split once each, after the first render, and not again for a new message", async () => {
  // The page's linkifier, loaded as the list loads it (so the list's own load does not replace the counting one).
  const real = await loadLinkFinder();
  let calls = 0;
  let chars = 0;
  linkFinder.value = (text) => {
    calls++;
    chars += text.length;
    return real(text);
  };
  // Eve's 40 long pastes (a body may hold 65,536 characters), then one short line from Ann.
  const t0 = Date.UTC(2026, 11, 1, 9);
  const heavy: MessageView[] = Array.from({ length: 40 }, (_, i) => ({
    id: `eve${i}`,
    author: "EEEEeeeeeeeeeeeeeeeeee",
    own: false,
    body: `${"a.".repeat(32_766)}a${String(i).padStart(3, "0")}`,
    time: t0 + i * 1_000,
    status: "received",
  }));
  const container = fakeContainer();
  const show = (messages: MessageView[]) =>
    render(h(MessageList, { messages, t: STRINGS.en, lang: "en", now: () => t0 }), container as never);
  show(heavy);
  assertEquals(calls, 0, "the first render shows the long bodies as text and leaves them for later");
  // Each long body is split once, in a task of its own.
  for (let waited = 0; calls < heavy.length && waited < 200; waited++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assertEquals(calls, heavy.length, "every long body split once, later");
  calls = chars = 0;
  // One short message arrives: the room view hands the list a new array (as `view.messages` does on each change).
  show([...heavy, {
    id: "ann1",
    author: "AAAAaaaaaaaaaaaaaaaaaa",
    own: false,
    body: "hi",
    time: t0 + 60_000,
    status: "received",
  }]);
  await new Promise((resolve) => setTimeout(resolve, 150));
  linkFinder.value = null;
  assertEquals([calls, chars], [1, 2], "only the new message's 2 characters went through the linkifier");
  const link = findLink(container);
  assertEquals(link, undefined, "no link in these bodies (a.a is no domain)");
});

Deno.test("a long body with a link in it becomes clickable once its task has run", async () => {
  linkFinder.value = await loadLinkFinder();
  const body = `${"word ".repeat(1_000)}see https://example.org/page and more`;
  const container = fakeContainer();
  render(
    h(MessageList, {
      messages: [{
        id: "m1",
        author: "A".repeat(22),
        own: false,
        body,
        time: Date.UTC(2026, 11, 1),
        status: "received",
      }],
      t: STRINGS.en,
      lang: "en",
      now: () => Date.UTC(2026, 11, 1),
    }),
    container as never,
  );
  assertEquals(findLink(container), undefined, "text at first");
  for (let waited = 0; !findLink(container) && waited < 100; waited++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  linkFinder.value = null;
  assertEquals(findLink(container)?.attributes.get("href"), "https://example.org/page");
  assertEquals(findLink(container)?.attributes.get("rel"), "noopener noreferrer");
});

/** The first link element under a node, depth first. */
function findLink(node: FakeNode): FakeElement | undefined {
  if (node instanceof FakeElement && node.localName === "a") return node;
  for (const child of node.childNodes) {
    const found = findLink(child);
    if (found) return found;
  }
  return undefined;
}

// ---- a minimal DOM: just enough for Preact's client `render` of the message list ----

class FakeNode {
  childNodes: FakeNode[] = [];
  parentNode: FakeNode | null = null;
  constructor(readonly nodeType: number, readonly localName: string) {}
  get firstChild(): FakeNode | null {
    return this.childNodes[0] ?? null;
  }
  get nextSibling(): FakeNode | null {
    const siblings = this.parentNode?.childNodes;
    return siblings ? siblings[siblings.indexOf(this) + 1] ?? null : null;
  }
  appendChild(child: FakeNode): FakeNode {
    return this.insertBefore(child, null);
  }
  insertBefore(child: FakeNode, before: FakeNode | null): FakeNode {
    child.parentNode?.removeChild(child);
    const at = before ? this.childNodes.indexOf(before) : -1;
    if (at < 0) this.childNodes.push(child);
    else this.childNodes.splice(at, 0, child);
    child.parentNode = this;
    return child;
  }
  removeChild(child: FakeNode): FakeNode {
    const at = this.childNodes.indexOf(child);
    if (at >= 0) this.childNodes.splice(at, 1);
    child.parentNode = null;
    return child;
  }
  remove(): void {
    this.parentNode?.removeChild(this);
  }
}

class FakeText extends FakeNode {
  constructor(public data: string) {
    super(3, "#text");
  }
}

class FakeElement extends FakeNode {
  attributes = new Map<string, string>();
  style = { setProperty() {} };
  listeners = new Map<string, unknown>();
  scrollTop = 0;
  scrollHeight = 0;
  clientHeight = 0;
  constructor(localName: string) {
    super(1, localName);
  }
  setAttribute(name: string, value: string): void {
    this.attributes.set(name, String(value));
  }
  removeAttribute(name: string): void {
    this.attributes.delete(name);
  }
  addEventListener(type: string, fn: unknown): void {
    this.listeners.set(type, fn);
  }
  removeEventListener(type: string): void {
    this.listeners.delete(type);
  }
}

/** Installs the fake `document` (once) and returns a fresh element to render into. */
function fakeContainer(): FakeElement {
  const g = globalThis as Record<string, unknown>;
  g.document ??= {
    createElement: (name: string) => new FakeElement(name),
    createElementNS: (_ns: string, name: string) => new FakeElement(name),
    createTextNode: (text: string) => new FakeText(text),
  };
  return new FakeElement("div");
}
