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
