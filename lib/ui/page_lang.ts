/**
 * What page handlers pass to `ctx.render` so `_app.tsx` can set the
 * document language: one shape for every page.
 * @module
 */
import { asLang, chooseLang, DEFAULT_LANG, type Lang, type LangChoice } from "./i18n.ts";

/** Page data carrying the language decision. */
export interface LangData {
  /** The language the page renders in. */
  lang: Lang;
  /** True when `?lang=` forced it. */
  forced: boolean;
}

/** The language decision for a request. */
export function langOfRequest(req: Request, url: URL): LangChoice {
  return chooseLang(url, req.headers.get("accept-language"));
}

/** The document language from page data, else `?lang=`, else the default (pages without handlers, 404). */
export function langOfPage(data: unknown, url: URL): Lang {
  const fromData = data && typeof data === "object" ? asLang((data as Partial<LangData>).lang) : undefined;
  return fromData ?? asLang(url.searchParams.get("lang")) ?? DEFAULT_LANG;
}
