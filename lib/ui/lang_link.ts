/**
 * Links from the landing page into a room keep a language the landing was
 * forced to with `?lang=`: the room page otherwise speaks the browser's
 * `Accept-Language`, so a chat opened from a Russian landing in an English
 * browser would switch to English.
 * @module
 */

/**
 * `href` (a room page's path, with its `#key`) with the `lang` parameter of `search` (the landing's query) put
 * before the fragment; `href` unchanged when `search` forces no language.
 */
export function keepForcedLang(href: string, search: string): string {
  const lang = new URLSearchParams(search).get("lang");
  if (!lang) return href;
  const hash = href.indexOf("#");
  const path = hash < 0 ? href : href.slice(0, hash);
  const fragment = hash < 0 ? "" : href.slice(hash);
  return `${path}?lang=${encodeURIComponent(lang)}${fragment}`;
}
