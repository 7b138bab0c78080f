import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { MAX_NAME_LENGTH } from "../client/text_limits.ts";
import type { RoomView } from "../client/room_view.ts";
import type { SocketState } from "../client/signal_socket.ts";
import { Composer } from "./Composer.tsx";
import { ConnectionBar } from "./ConnectionBar.tsx";
import { format, hasLaterWords, type HeldWords, type Lang, LANG_NAMES, LANGS } from "./i18n.ts";
import { displayName } from "./format.ts";
import { MessageList } from "./MessageList.tsx";
import { PeerList, TypingIndicator } from "./PeerList.tsx";
import { StorageNotice } from "./StorageNotice.tsx";
import * as UI from "./styles.ts";
import { useUnread } from "./unread.ts";
import { useLazy } from "./use_lazy.ts";
import { useSignalValue } from "./use_signal_value.ts";

const NONE: never[] = [];
/** What the screen shows while the room opens on a socket the server already welcomed. */
const EARLY_CONNECTED: SocketState = { kind: "connected" };

/** Why a room could not be opened, as `openRoom` reports it. */
export type OpenError = "missing_key" | "bad_key" | "storage" | string;

/** Props of the room screen. */
export interface RoomScreenProps {
  /** The open room; null while it opens (and in the server render). */
  view: RoomView | null;
  /**
   * While `view` is null: true when the page's bootstrap socket is already in the room (welcomed), so the screen shows
   * "Connected" and takes a message before the client core has run.
   */
  early?: boolean;
  /** The room once open, for a message sent while `view` is still null (see `early`). */
  whenOpen?: () => Promise<RoomView>;
  /** Set when the room could not be opened. */
  error?: OpenError;
  /** The UI language. */
  lang: Lang;
  /**
   * The UI strings in that language (passed in, so the bundle need not carry every language): those the page carried,
   * and the later ones once fetched. The drawers show once their words are there.
   */
  t: HeldWords;
  /**
   * Asked when a drawer opens, or the room fails to open, before the later words are there (otherwise they come once
   * the room has settled).
   */
  onNeedWords?: () => void;
  /** Switches the UI language. */
  onLang(lang: Lang): void;
  /** The full invite link (with the key); empty until known in the browser. */
  inviteLink: string;
  /** The reader's clock, for day separators (tests set it). */
  now?: () => number;
  /** Called after the user left the room (the island goes back to the landing page). */
  onLeave?: () => void;
}

/** The drawer shown under the header, if any. */
type Panel = "invite" | "name" | "diagnostics" | null;

/** The whole chat: header, connection, peers, an optional drawer, messages and the composer. */
export function RoomScreen(
  { view, early, whenOpen, error, lang, t, onLang, inviteLink, now, onLeave, onNeedWords }: RoomScreenProps,
) {
  const [panel, setPanel] = useState<Panel>(null);
  const [atBottom, setAtBottom] = useState(true);
  const messages = useSignalValue(view?.messages, NONE);
  const peers = useSignalValue(view?.peers, NONE);
  const self = useSignalValue(view?.self, undefined);
  const opened = useSignalValue(view?.connection, null);
  const connection = opened ?? (early ? EARLY_CONNECTED : null);
  // The drawers and the notifications load once the room has settled (or a drawer is opened before): joining first.
  const settled = opened !== null && opened.kind !== "connecting";
  const drawers = useLazy(() => import("./drawers.ts"), panel !== null || settled);
  const words = hasLaterWords(t) ? t : undefined;
  const notice = useSignalValue(view?.notice, null);
  // Refused a seat: the room is full (its words come with the later ones).
  const full = notice?.code === "room_full" && !!t.roomFull;
  useEffect(() => {
    if ((panel !== null || error || notice) && !words) onNeedWords?.();
  }, [panel, words, error, notice]);
  const unread = useUnread(messages, atBottom, (message) => {
    void drawers?.notifyMessage({
      sender: displayName(message.authorName, message.author, t),
      body: message.body,
      hiddenBody: t.newMessage,
      tag: view?.room ?? "parley",
    }).catch(() => {});
  });
  // Once someone else has been here (present, or their messages), an empty list means they left, not "not yet".
  const othersWereHere = useRef(false);
  othersWereHere.current ||= peers.length > 0 || messages.some((message) => !message.own);
  const storage = useSignalValue(view?.storage, "durable");
  const other = LANGS.find((l) => l !== lang) ?? lang;
  const toggle = (which: Exclude<Panel, null>) => setPanel((open) => open === which ? null : which);
  // The open drawer as of the last render, for the key listener below (which lives as long as the screen).
  const shown = useRef(panel);
  shown.current = panel;
  // Closing a drawer from inside it returns focus to the button that opened it.
  const close = () => {
    if (shown.current) document.getElementById(`open-${shown.current}`)?.focus();
    setPanel(null);
  };
  // Escape closes the open drawer wherever the focus is: from inside the drawer focus returns to its button; from
  // elsewhere (the composer) it stays where it is. The listener is there before any drawer opens: one added in an
  // effect after the drawer's render would miss an Escape pressed in the frame before that effect ran.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape" || event.defaultPrevented || shown.current === null) return;
      if (document.getElementById("room-panel")?.contains(document.activeElement)) close();
      else setPanel(null);
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  return (
    <div class={UI.screen}>
      <header class={UI.header}>
        <h1 class={UI.title}>{t.chatRoom}</h1>
        <PanelButton panel="invite" open={panel} onToggle={toggle} disabled={!inviteLink || !!error}>
          {t.invite}
        </PanelButton>
        {/* Once named, the button shows the name it sets (its accessible name still says what it is). */}
        <PanelButton
          panel="name"
          open={panel}
          onToggle={toggle}
          disabled={!view}
          label={self?.name ? `${t.yourName}: ${self.name}` : undefined}
        >
          {self?.name ? <span class={UI.ownName}>{self.name}</span> : t.yourName}
        </PanelButton>
        <PanelButton panel="diagnostics" open={panel} onToggle={toggle} disabled={!view}>
          {t.diagnostics}
        </PanelButton>
      </header>
      <div class={UI.connectionRow}>
        {error ? <span /> : <ConnectionBar state={connection} onRetry={() => view?.retryNow()} t={t} />}
        <div class={UI.connectionControls}>
          {drawers && words && <drawers.NotifySetting t={words} />}
          <button type="button" class={UI.headerButton} lang={other} onClick={() => onLang(other)}>
            {LANG_NAMES[other]}
          </button>
          {view && (
            <button
              type="button"
              class={UI.headerButton}
              onClick={() => {
                view.leave();
                onLeave?.();
              }}
            >
              {t.leave}
            </button>
          )}
        </div>
      </div>
      {!error && <StorageNotice mode={storage} t={t} />}
      {!error && notice?.code === "session_replaced" && t.sessionReplaced && (
        <p class={UI.storageNotice}>{t.sessionReplaced}</p>
      )}
      {!error && full && messages.length > 0 && <p class={UI.storageNotice}>{t.roomFull}</p>}
      {!error && !full && (
        <PeerList
          peers={peers}
          t={t}
          empty={othersWereHere.current ? words?.nobodyNow : undefined}
        />
      )}
      <div id="room-panel">
        {drawers && words && panel === "invite" && inviteLink && <drawers.InvitePanel link={inviteLink} t={words} />}
        {drawers && words && panel === "name" && view && (
          <drawers.NameForm
            name={self?.name ?? ""}
            maxLength={MAX_NAME_LENGTH}
            onSave={(name) => {
              view.setName(name);
              close();
            }}
            t={words}
          />
        )}
        {drawers && words && panel === "diagnostics" && view && <drawers.Diagnostics view={view} t={words} />}
      </div>
      {error ? <OpenFailure error={error} t={t} /> : full && messages.length === 0
        // Waiting for a place, with nothing to show yet: not "invite someone", not "say hello".
        ? <p class={UI.center} role="status">{t.roomFull}</p>
        : view
        ? (
          <MessageList
            messages={messages}
            t={t}
            lang={lang}
            markerId={unread.markerId}
            onAtBottom={setAtBottom}
            now={now}
          />
        )
        : <p class={UI.center} role="status">{t.opening}</p>}
      <TypingIndicator peers={peers} t={t} />
      {!error && (
        <Composer
          onSend={(text) =>
            view
              ? view.send(text)
              : whenOpen
              ? whenOpen().then((opened) => opened.send(text))
              : Promise.reject(new Error("the room is not open yet"))}
          onTyping={() => view?.typing()}
          disabled={!view && !(early && whenOpen)}
          t={t}
        />
      )}
    </div>
  );
}

/** Props of a header button that opens a drawer. */
interface PanelButtonProps {
  /** The drawer it opens. */
  panel: Exclude<Panel, null>;
  /** The drawer open now. */
  open: Panel;
  /** Opens or closes the drawer. */
  onToggle(panel: Exclude<Panel, null>): void;
  /** True while the drawer has nothing to show. */
  disabled?: boolean;
  /** Its accessible name, when its words alone do not say what it opens. */
  label?: string;
  /** The button's words. */
  children: ComponentChildren;
}

function PanelButton({ panel, open, onToggle, disabled, label, children }: PanelButtonProps) {
  const expanded = open === panel;
  return (
    <button
      type="button"
      id={`open-${panel}`}
      class={`${UI.headerButton} ${expanded ? UI.headerButtonActive : ""}`}
      aria-expanded={expanded}
      aria-controls="room-panel"
      aria-label={label}
      disabled={disabled}
      onClick={() => onToggle(panel)}
    >
      {children}
    </button>
  );
}

/** Props of the failure view. */
interface OpenFailureProps {
  /** The error code from `openRoom`. */
  error: OpenError;
  /** The UI strings (without the later ones, the failure shows once they have come). */
  t: HeldWords;
}

function OpenFailure({ error, t }: OpenFailureProps) {
  const text = error === "missing_key"
    ? t.errorMissingKey
    : error === "bad_key"
    ? t.errorBadKey
    : error === "storage"
    ? t.errorStorage
    : t.errorOther && format(t.errorOther, { error });
  return (
    <div class={UI.center}>
      <p role="alert" class={UI.error}>{text}</p>
      <a class={UI.link} href="/">{t.newChatInstead}</a>
    </div>
  );
}
