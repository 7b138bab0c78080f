import { useEffect, useRef, useState } from "preact/hooks";
import type { RoomView } from "../lib/client/mod.ts";
import { watchEarlyWelcome } from "../lib/client/bootstrap/early_status.ts";
import { prefetchLazyParts, whenSettled } from "../lib/ui/after_connect.ts";
import {
  hasLaterWords,
  type HeldWords,
  type Lang,
  LANGS,
  type OpenError,
  preferredLang,
  RoomScreen,
} from "../lib/ui/mod.ts";
import { loadStrings } from "../lib/ui/strings_loader.ts";

/** Props of the chat island, decided by the server. */
export interface ChatRoomProps {
  /** The language the server rendered. */
  lang: Lang;
  /** True when `?lang=` chose the language, so the browser's preference must not override it. */
  forcedLang: boolean;
  /** `?debug=1`: the client core also prints its events to the console. */
  debug: boolean;
  /** How long chat waits for P2P before the relay: 0 (relay first), ms (seed policy) or "never" (P2P only). */
  relayHold?: number | "never";
  /** How long an idle DataChannel stays open, in ms (`CLIENT_P2P_IDLE_MS`); absent: the network profile's. */
  p2pIdleMs?: number;
  /**
   * The UI strings of the rendered language, as page data: words are data, so the bundle stays small. The page
   * carries the words the room shows before its drawers, in its usual states (`FirstWords`); all words of every
   * language are fetched once the room has settled (for the drawers, rare states, a switch of language, and offline
   * use), or when the reader switches, opens a drawer first, or the room fails to open.
   */
  strings: Partial<Record<Lang, HeldWords>>;
}

function applyLang(lang: Lang, rememberInUrl: boolean): void {
  document.documentElement.lang = lang;
  if (!rememberInUrl) return;
  const url = new URL(location.href);
  url.searchParams.set("lang", lang);
  history.replaceState(history.state, "", url.href);
}

/**
 * The chat: opens the room from the link's fragment and shows it; all transport lives in `lib/client`. The room id
 * comes from the path (an offline shell may be another room's page), the key from the fragment. The client core is
 * an eager chunk: it arrives with the page but the island hydrates without it, showing the bootstrap's socket as
 * connected once the server welcomed it; a message sent before the core has run waits for it.
 */
export default function ChatRoom(
  { lang: serverLang, forcedLang, debug, relayHold, p2pIdleMs, strings }: ChatRoomProps,
) {
  const [view, setView] = useState<RoomView | null>(null);
  const [early, setEarly] = useState(false);
  const opening = useRef<Promise<RoomView>>();
  const [error, setError] = useState<OpenError>();
  const [lang, setLang] = useState(serverLang);
  const [words, setWords] = useState(strings);
  const [inviteLink, setInviteLink] = useState("");
  const known = useRef(strings);

  /** Fetches all of a language's words (once), and keeps them. */
  const complete = (next: Lang) =>
    loadStrings(next).then((loaded) => {
      known.current = { ...known.current, [next]: loaded };
      setWords(known.current);
    });

  /** Switches to `next`, fetching its words first when the page did not carry them. */
  const choose = (next: Lang, rememberInUrl: boolean) => {
    const show = () => {
      applyLang(next, rememberInUrl);
      setLang(next);
    };
    if (known.current[next]) return show();
    complete(next).then(
      show,
      (failure: unknown) => console.warn(`Parley: the ${next} words could not be loaded`, failure),
    );
  };

  /** Fetches the later words of the languages held without them (and every language not held at all). */
  const completeAll = () =>
    Promise.allSettled(LANGS.filter((l) => !known.current[l] || !hasLaterWords(known.current[l]!)).map(complete));

  useEffect(() => {
    if (!forcedLang) {
      const preferred = preferredLang(navigator.languages?.length ? navigator.languages : [navigator.language]);
      if (preferred !== serverLang) choose(preferred, false);
    }
    setInviteLink(location.origin + location.pathname + location.hash);

    let closed = false;
    let opened: RoomView | undefined;
    const room = location.pathname.slice(1);
    const unwatch = watchEarlyWelcome(room, setEarly);
    opening.current = import("../lib/client/core.eager.ts").then((core) =>
      core.openRoom({ origin: location.origin, room, fragment: location.hash.slice(1), debug, relayHold, p2pIdleMs })
    ).then((result) => {
      unwatch();
      if (!result.ok) throw result.error;
      if (closed) result.view.close();
      else setView(opened = result.view);
      return result.view;
    });
    opening.current.catch((failure: unknown) => {
      unwatch();
      if (typeof failure === "string") return setError(failure);
      console.error("Parley: opening the room failed", failure);
      setError(failure instanceof Error ? failure.message : String(failure));
    });
    // Another fragment is another key: start over rather than mix rooms.
    const onHashChange = () => location.reload();
    addEventListener("hashchange", onHashChange);
    return () => {
      closed = true;
      unwatch();
      opened?.close();
      removeEventListener("hashchange", onHashChange);
    };
  }, []);

  // Joining comes first; what most visits never open, and the offline cache, come once the room has settled.
  useEffect(() => {
    if (!view) return;
    return whenSettled(view, () => {
      void Promise.allSettled([prefetchLazyParts(), completeAll()]).then(() => import("../lib/ui/service_worker.ts"))
        .then(({ registerServiceWorker }) => registerServiceWorker())
        // Offline the module may not be cached yet; the worker registered on an earlier visit goes on serving.
        .catch((failure: unknown) => console.warn("Parley: the offline cache could not be set up now", failure));
    });
  }, [view]);

  // Refused: the page may be a cached version the server no longer speaks with. If a newer one exists, run it.
  useEffect(() => {
    if (!view) return;
    let asked = false;
    return view.connection.subscribe((state) => {
      if (asked || state.kind !== "refused") return;
      asked = true;
      import("../lib/ui/service_worker.ts").then((worker) => worker.newerPageThanThis()).then((newer) => {
        if (newer) location.reload();
      }, (failure: unknown) => console.warn("Parley: could not look for a newer page", failure));
    });
  }, [view]);

  return (
    <RoomScreen
      view={view}
      early={early}
      whenOpen={() => opening.current ?? Promise.reject(new Error("the room is not opening"))}
      error={error}
      lang={lang}
      t={words[lang] ?? words[serverLang]!}
      onLang={(next) => choose(next, true)}
      onNeedWords={() => void completeAll()}
      inviteLink={inviteLink}
      onLeave={() => location.assign(forcedLang ? `/?lang=${lang}` : "/")}
    />
  );
}
