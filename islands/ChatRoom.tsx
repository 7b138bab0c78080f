import { useEffect, useState } from "preact/hooks";
import { openRoom, type RoomView } from "../lib/client/mod.ts";
import {
  type Lang,
  type OpenError,
  preferredLang,
  registerServiceWorker,
  RoomScreen,
  type Strings,
} from "../lib/ui/mod.ts";

/** Props of the chat island, decided by the server. */
export interface ChatRoomProps {
  /** The room id from the path (the browser re-reads it, as an offline shell may be another room's). */
  room: string;
  /** The language the server rendered. */
  lang: Lang;
  /** True when `?lang=` chose the language, so the browser's preference must not override it. */
  forcedLang: boolean;
  /** `?debug=1`: the client core also prints its events to the console. */
  debug: boolean;
  /** How long chat waits for P2P before the relay: 0 (relay first), ms (seed policy) or "never" (P2P only). */
  relayHold?: number | "never";
  /** The UI strings of every language, as page data: words are data, so the bundle stays small. */
  strings: Record<Lang, Strings>;
}

function applyLang(lang: Lang, rememberInUrl: boolean): void {
  document.documentElement.lang = lang;
  if (!rememberInUrl) return;
  const url = new URL(location.href);
  url.searchParams.set("lang", lang);
  history.replaceState(history.state, "", url.href);
}

/** The chat: opens the room from the link's fragment and shows it; all transport lives in `lib/client`. */
export default function ChatRoom({ room, lang: serverLang, forcedLang, debug, relayHold, strings }: ChatRoomProps) {
  const [view, setView] = useState<RoomView | null>(null);
  const [error, setError] = useState<OpenError>();
  const [lang, setLang] = useState(serverLang);
  const [inviteLink, setInviteLink] = useState("");

  useEffect(() => {
    if (!forcedLang) {
      const preferred = preferredLang(navigator.languages?.length ? navigator.languages : [navigator.language]);
      if (preferred !== serverLang) {
        applyLang(preferred, false);
        setLang(preferred);
      }
    }
    const roomId = location.pathname.slice(1) || room;
    setInviteLink(location.origin + location.pathname + location.hash);
    registerServiceWorker();

    let closed = false;
    let opened: RoomView | undefined;
    openRoom({ origin: location.origin, room: roomId, fragment: location.hash.slice(1), debug, relayHold }).then(
      (result) => {
        if (!result.ok) return setError(result.error);
        if (closed) return result.view.close();
        opened = result.view;
        setView(result.view);
      },
      (failure: unknown) => {
        console.error("Parley: opening the room failed", failure);
        setError(failure instanceof Error ? failure.message : String(failure));
      },
    );
    // Another fragment is another key: start over rather than mix rooms.
    const onHashChange = () => location.reload();
    addEventListener("hashchange", onHashChange);
    return () => {
      closed = true;
      opened?.close();
      removeEventListener("hashchange", onHashChange);
    };
  }, []);

  return (
    <RoomScreen
      view={view}
      error={error}
      lang={lang}
      t={strings[lang]}
      onLang={(next) => {
        applyLang(next, true);
        setLang(next);
      }}
      inviteLink={inviteLink}
      onLeave={() => location.assign(forcedLang ? `/?lang=${lang}` : "/")}
    />
  );
}
