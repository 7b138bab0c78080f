/**
 * Links in message bodies, found by linkifyjs (a maintained linkifier with the
 * full TLD list) rather than a hand-written pattern. Only `http:` and
 * `https:` links come out: a `javascript:` or `data:` text stays text. The
 * linkifier (about 10 KB gzipped) loads after the chat is on screen, so a
 * first visit does not wait for it; until then bodies show as plain text.
 * The signal is `@preact/signals-core`'s: components read it through
 * `useSignalValue`, so the room page need not ship the Preact integration.
 * @module
 */
import { signal } from "@preact/signals-core";

/** A run of a message body: plain text, or a link with the URL it opens. */
export interface TextPart {
  /** The text as written. */
  text: string;
  /** The absolute http(s) URL to open, for a link. */
  href?: string;
}

/** One link a finder reports: where it is in the text and what it opens. */
export interface FoundLink {
  /** Kind of match; only "url" becomes a link. */
  type: string;
  /** Offset of the first character. */
  start: number;
  /** Offset after the last character. */
  end: number;
  /** The URL, with a scheme added to bare domains. */
  href: string;
}

/** Finds the links in a text. */
export type LinkFinder = (text: string) => FoundLink[];

const SAFE_SCHEME = /^https?:\/\//i;

/** Splits a body into text and link runs; anything that is not an http(s) URL stays text. */
export function splitLinks(text: string, find: LinkFinder): TextPart[] {
  const parts: TextPart[] = [];
  let at = 0;
  for (const link of find(text)) {
    if (link.type !== "url" || !SAFE_SCHEME.test(link.href) || link.start < at) continue;
    let href: string;
    try {
      href = new URL(link.href).href;
    } catch {
      continue;
    }
    if (link.start > at) parts.push({ text: text.slice(at, link.start) });
    parts.push({ text: text.slice(link.start, link.end), href });
    at = link.end;
  }
  if (at < text.length || parts.length === 0) parts.push({ text: text.slice(at) });
  return parts;
}

/**
 * Bodies up to this many UTF-16 units are split as they render; longer ones (up to 65,536) in a task of their own
 * after the list has shown them as text, one body per task, so a room full of long link-like pastes (linkifyjs
 * spends about 20 ms on 64 K of `a.a.a.…` on a desktop, several times that on a phone) never holds the page for
 * more than one body at a time.
 */
export const SPLIT_AT_ONCE_CHARS = 2_048;
/** Split bodies kept (the least recently split dropped first): more than the message list's window of 300. */
export const SPLIT_CACHE_SIZE = 1_000;

const split = new Map<string, TextPart[]>();
let splitBy: LinkFinder | undefined;
let later: Promise<unknown> = Promise.resolve();

/** The split kept for `body` by this finder, if any (a new finder forgets the old one's). */
function kept(body: string, find: LinkFinder): TextPart[] | undefined {
  if (splitBy !== find) {
    split.clear();
    splitBy = find;
  }
  return split.get(body);
}

function keep(body: string, parts: TextPart[]): TextPart[] {
  if (split.size >= SPLIT_CACHE_SIZE) split.delete(split.keys().next().value!);
  split.set(body, parts);
  return parts;
}

/**
 * A body's runs, split once per body text and kept, so the list re-rendering for a new message does not run the
 * linkifier over every body again. Undefined for a long body not split yet: see {@link splitLinksLater}.
 */
export function linkParts(body: string, find: LinkFinder): TextPart[] | undefined {
  const parts = kept(body, find);
  if (parts || body.length > SPLIT_AT_ONCE_CHARS) return parts;
  return keep(body, splitLinks(body, find));
}

/** Splits a long body in a task of its own, after every body queued before it; resolves with its runs. */
export function splitLinksLater(body: string, find: LinkFinder): Promise<TextPart[]> {
  const parts = later.then(() => new Promise((resolve) => setTimeout(resolve, 0))).then(() =>
    kept(body, find) ?? keep(body, splitLinks(body, find))
  );
  later = parts.catch(() => {});
  return parts;
}

/** The loaded linkifier, or null until it arrives (bodies render as text meanwhile). */
export const linkFinder = signal<LinkFinder | null>(null);

let loading: Promise<LinkFinder> | undefined;

/** Loads linkifyjs once (a lazy chunk) and publishes it in {@link linkFinder}. */
export function loadLinkFinder(): Promise<LinkFinder> {
  loading ??= import("linkifyjs").then(({ find }) => {
    const finder: LinkFinder = (text) =>
      find(text).map((m) => ({ type: m.type, start: m.start, end: m.end, href: m.href }));
    linkFinder.value = finder;
    return finder;
  });
  return loading;
}
