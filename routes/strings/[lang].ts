import type { Handlers } from "$fresh/server.ts";
import { asLang, STRINGS } from "../../lib/ui/mod.ts";

/**
 * `/strings/<lang>`: the UI's words in one language, as JSON. A room page
 * carries only its own language's words; the island fetches another one when
 * the reader switches (and once after connecting, for offline use). Revalidated
 * on every use (`no-cache`; the app adds an entity tag), so a deploy's new words
 * arrive without a stale copy.
 */
export const handler: Handlers = {
  GET(_req, ctx) {
    const lang = asLang(ctx.params.lang);
    if (!lang) return ctx.renderNotFound();
    return Response.json(STRINGS[lang], { headers: { "cache-control": "no-cache" } });
  },
};
