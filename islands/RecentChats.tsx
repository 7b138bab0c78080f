import { useEffect, useState } from "preact/hooks";
import { forgetChat, listRecentChats, type RecentChat, renameChat } from "../lib/client/recent_chats.ts";
import { type IdbStore, openIdbStore } from "../lib/client/store_idb.ts";
import { keepForcedLang } from "../lib/ui/lang_link.ts";
import { shortRoomId } from "../lib/ui/format.ts";

/** The words of the list, localised by the page. */
export interface RecentChatsStrings {
  /** Heading of the list. */
  recentChats: string;
  /** A chat without a local name: "Chat {id}". */
  chatFallbackName: string;
  /** Shown for a chat without messages. */
  lastMessageNone: string;
  /** The preview of a last message this member wrote: "You: {text}". */
  lastMessageOwn: string;
  /** "{count} unread". */
  unreadCount: string;
  /** The rename button. */
  renameChat: string;
  /** Label of the name field. */
  chatNameLabel: string;
  /** The save button. */
  saveName: string;
  /** The forget button. */
  forgetChat: string;
  /** The question before forgetting. */
  forgetConfirm: string;
}

/** Props of the list of chats kept on this device. */
export interface RecentChatsProps {
  /** The words, in the page's language. */
  t: RecentChatsStrings;
}

/**
 * The list's utility classes, in one place: the list renders only in the browser (it comes from IndexedDB), so Twind
 * never sees them in the server's markup, and the landing page names them all for it (`RECENT_CHATS_CLASSES`).
 */
const C = {
  section: "mt-12",
  heading: "text-xl font-semibold",
  list: "mt-4 divide-y divide-slate-200 dark:divide-slate-700",
  item: "py-3",
  form: "flex gap-2 items-end",
  label: "flex-1 text-sm",
  input: "mt-1 block w-full rounded border border-slate-400 px-2 py-1 text-base text-slate-900",
  save: "px-3 py-1 rounded bg-emerald-700 text-white",
  row: "flex items-center gap-3",
  link: "flex-1 min-w-0 underline text-emerald-800 dark:text-emerald-300",
  name: "font-semibold",
  unread: "ml-2 rounded-full bg-emerald-700 text-white text-xs px-2 py-0.5",
  last: "block truncate text-sm text-slate-700 dark:text-slate-200",
  rename: "text-sm underline text-slate-800 dark:text-slate-100",
  forget: "text-sm underline text-red-800 dark:text-red-300",
} as const;

/** Every utility class of the list, for the landing page's Twind safelist. */
export const RECENT_CHATS_CLASSES: string = Object.values(C).join(" ");

/** The most characters of a last message the list shows: one line's preview (the rest is cut off with an ellipsis). */
const PREVIEW_CHARS = 200;

function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (all, key: string) => key in values ? String(values[key]) : all);
}

/** The chats kept in this browser's IndexedDB: open, rename locally, or forget (with their local history). */
export default function RecentChats({ t }: RecentChatsProps) {
  const [store, setStore] = useState<IdbStore | null>(null);
  const [chats, setChats] = useState<RecentChat[]>([]);
  const [editing, setEditing] = useState<string | null>(null);

  useEffect(() => {
    let opened: IdbStore | undefined;
    let gone = false;
    openIdbStore().then(async (db) => {
      if (gone) return db.close();
      opened = db;
      setStore(db);
      setChats(await listRecentChats(db));
    }).catch((error) => console.warn("Parley: the chats on this device cannot be read", error));
    return () => {
      gone = true;
      opened?.close();
    };
  }, []);

  if (!store || chats.length === 0) return null;
  const reload = async () => setChats(await listRecentChats(store));

  return (
    <section aria-labelledby="recent-chats" class={C.section}>
      <h2 id="recent-chats" class={C.heading}>{t.recentChats}</h2>
      <ul class={C.list}>
        {chats.map((chat) => {
          // A chat without a local name is called by the people in it, else by the start of its id.
          const name = chat.title ?? chat.people?.join(", ") ??
            fill(t.chatFallbackName, { id: shortRoomId(chat.room) });
          return (
            <li key={chat.room} class={C.item} data-room={chat.room}>
              {editing === chat.room
                ? (
                  <form
                    class={C.form}
                    onSubmit={async (event) => {
                      event.preventDefault();
                      const field = (event.currentTarget as HTMLFormElement).elements.namedItem("title");
                      await renameChat(store, chat.room, (field as HTMLInputElement).value);
                      setEditing(null);
                      await reload();
                    }}
                  >
                    <label class={C.label}>
                      {t.chatNameLabel}
                      <input
                        name="title"
                        maxLength={60}
                        defaultValue={chat.title ?? ""}
                        class={C.input}
                        autoFocus
                      />
                    </label>
                    <button type="submit" class={C.save}>{t.saveName}</button>
                  </form>
                )
                : (
                  <div class={C.row}>
                    <a href={keepForcedLang(chat.href, location.search)} class={C.link}>
                      <span class={C.name}>{name}</span>
                      {chat.unread > 0 && (
                        <span class={C.unread}>
                          {fill(t.unreadCount, { count: chat.unread })}
                        </span>
                      )}
                      <span class={C.last}>
                        {!chat.lastMessage
                          ? t.lastMessageNone
                          : chat.lastOwn
                          ? fill(t.lastMessageOwn, { text: chat.lastMessage.slice(0, PREVIEW_CHARS) })
                          : chat.lastMessage.slice(0, PREVIEW_CHARS)}
                      </span>
                    </a>
                    <button
                      type="button"
                      class={C.rename}
                      aria-label={`${t.renameChat}: ${name}`}
                      onClick={() => setEditing(chat.room)}
                    >
                      {t.renameChat}
                    </button>
                    <button
                      type="button"
                      class={C.forget}
                      aria-label={`${t.forgetChat}: ${name}`}
                      onClick={async () => {
                        if (!confirm(t.forgetConfirm)) return;
                        await forgetChat(store, chat.room);
                        await reload();
                      }}
                    >
                      {t.forgetChat}
                    </button>
                  </div>
                )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
