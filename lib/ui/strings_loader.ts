/**
 * The UI's words in a language the page did not ship: a room page carries its
 * own language's words as island data, and fetches another language from
 * `/strings/<lang>` (routes/strings/[lang].ts) when the reader switches.
 * @module
 */
import type { Lang, Strings } from "./i18n.ts";

/** Where a language's words are served as JSON. */
export function stringsUrl(lang: Lang): string {
  return `/strings/${lang}`;
}

const loads = new Map<Lang, Promise<Strings>>();

/** Fetches a language's words once; a failed fetch is forgotten, so a later call tries again. */
export function loadStrings(lang: Lang, fetcher: typeof fetch = fetch): Promise<Strings> {
  let load = loads.get(lang);
  if (!load) {
    load = fetcher(stringsUrl(lang)).then(async (res) => {
      if (!res.ok) throw new Error(`${stringsUrl(lang)} answered ${res.status}`);
      return await res.json() as Strings;
    });
    load.catch(() => loads.delete(lang));
    loads.set(lang, load);
  }
  return load;
}
