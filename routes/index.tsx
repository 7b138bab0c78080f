import { Head } from "$fresh/runtime.ts";
import type { Handlers, PageProps } from "$fresh/server.ts";
import NewChat from "../islands/NewChat.tsx";
import RecentChats, { RECENT_CHATS_CLASSES } from "../islands/RecentChats.tsx";
import { LANG_NAMES, type LangData, langOfRequest, LANGS, STRINGS } from "../lib/ui/mod.ts";

/** The landing speaks the browser's language unless `?lang=` says otherwise. */
export const handler: Handlers<LangData> = {
  GET(req, ctx) {
    return ctx.render(langOfRequest(req, ctx.url));
  },
};

/** The landing page: what Parley is, and one action, "New chat". */
export default function Landing({ data }: PageProps<LangData>) {
  const t = STRINGS[data.lang];
  return (
    <main class="max-w-xl mx-auto px-6 py-16 sm:py-24">
      <Head>
        <meta name="description" content={t.tagline} />
      </Head>
      <nav aria-label={STRINGS[data.lang].language} class="flex justify-end gap-3 text-sm -mt-8 mb-8">
        {LANGS.filter((lang) => lang !== data.lang).map((lang) => (
          <a
            key={lang}
            href={`/?lang=${lang}`}
            lang={lang}
            hreflang={lang}
            class="underline text-emerald-800 dark:text-emerald-300"
          >
            {LANG_NAMES[lang]}
          </a>
        ))}
      </nav>
      <h1 class="text-4xl font-bold tracking-tight">Parley</h1>
      <p class="mt-4 text-lg text-slate-700 dark:text-slate-200">{t.tagline}</p>
      <p class="mt-3 text-slate-600 dark:text-slate-300">{t.landingLead}</p>
      <div class="mt-10">
        <NewChat label={t.newChat} />
      </div>
      <p class="mt-6 text-sm text-slate-600 dark:text-slate-300">{t.landingHowTo}</p>
      {/* The list of chats renders only in the browser: Twind compiles its classes from here; the plugin drops it. */}
      <div hidden data-twind-only="" class={RECENT_CHATS_CLASSES} />
      <RecentChats
        t={{
          recentChats: t.recentChats,
          chatFallbackName: t.chatFallbackName,
          lastMessageNone: t.lastMessageNone,
          lastMessageOwn: t.lastMessageOwn,
          unreadCount: t.unreadCount,
          renameChat: t.renameChat,
          chatNameLabel: t.chatNameLabel,
          saveName: t.saveName,
          forgetChat: t.forgetChat,
          forgetConfirm: t.forgetConfirm,
        }}
      />
    </main>
  );
}
