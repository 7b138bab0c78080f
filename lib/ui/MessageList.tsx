import { Component, type ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { MessageView } from "../client/room_view.ts";
import { clockTime, dayLabel, displayName, fullDateTime, localDay } from "./format.ts";
import { format, type HeldWords, type Lang } from "./i18n.ts";
import { linkFinder, linkParts, loadLinkFinder, splitLinksLater } from "./links.ts";
import * as UI from "./styles.ts";
import { useSignalValue } from "./use_signal_value.ts";

/** Props of the message list. */
export interface MessageListProps {
  /** Messages in display order. */
  messages: readonly MessageView[];
  /** The UI strings. */
  t: HeldWords;
  /** The language, for times. */
  lang: Lang;
  /** Where the "new messages" marker stands: before this message id. */
  markerId?: string;
  /** Told whether the list is scrolled to its end (the reader sees the latest). */
  onAtBottom?(atBottom: boolean): void;
  /** The reader's clock, for "Today" and "Yesterday" (tests set it). */
  now?: () => number;
}

/** How close to the bottom (px) still counts as "reading the latest". */
const STICK_TO_BOTTOM_PX = 80;

/**
 * Messages the list renders at first, and how many more each "Show earlier messages" adds: the newest 300. The page
 * does the work of what it shows, not of the whole history, so a long room (or a member flooding it within the
 * relay's rate) never makes each new message cost a render of thousands of rows.
 */
export const MESSAGE_WINDOW = 300;

/** The conversation: a live `log` region, own messages on the right with their status. */
export function MessageList({ messages, t, lang, markerId, onAtBottom, now = Date.now }: MessageListProps) {
  const box = useRef<HTMLDivElement>(null);
  const wasAtBottom = useRef(true);
  const [shown, setShown] = useState(MESSAGE_WINDOW);
  const start = Math.max(0, messages.length - shown);
  const visible = start === 0 ? messages : messages.slice(start);
  useLayoutEffect(() => {
    const el = box.current;
    if (el && wasAtBottom.current) el.scrollTop = el.scrollHeight;
  }, [messages]);
  // The list also changes size without new messages (rows above it grow as their parts load, a drawer opens, the
  // message box grows with a paste, links come): a reader at the end stays at the end.
  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver !== "function") return;
    const observer = new ResizeObserver(() => {
      if (wasAtBottom.current) el.scrollTop = el.scrollHeight;
    });
    observer.observe(el);
    if (el.firstElementChild) observer.observe(el.firstElementChild);
    return () => observer.disconnect();
  }, [messages.length === 0]);
  useEffect(() => {
    if (messages.length > 0) void loadLinkFinder().catch(() => {});
  }, [messages.length > 0]);
  const today = now();
  return (
    <div
      ref={box}
      role="log"
      aria-label={t.messages}
      aria-live="polite"
      tabIndex={0}
      class={UI.log}
      onScroll={(event) => {
        const el = event.currentTarget;
        const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_TO_BOTTOM_PX;
        if (atBottom !== wasAtBottom.current) onAtBottom?.(atBottom);
        wasAtBottom.current = atBottom;
      }}
    >
      {messages.length === 0 ? <p class={UI.empty}>{t.noMessages}</p> : (
        <ol class={UI.list}>
          {start > 0 && (
            <li key="earlier" class={UI.earlierRow}>
              <button
                type="button"
                class={UI.earlier}
                onClick={() => earlier(box.current, setShown, start <= MESSAGE_WINDOW)}
              >
                {t.showEarlier ?? "…"}
              </button>
            </li>
          )}
          {visible.flatMap((message, i) => {
            const previous = i > 0 ? visible[i - 1] : undefined;
            const newDay = !previous || safeDay(previous.time) !== safeDay(message.time);
            const items = [];
            if (newDay) {
              items.push(
                <li key={`day-${message.id}`} class={UI.daySeparator} data-day>
                  <span>{dayLabel(message.time, today, lang)}</span>
                </li>,
              );
            }
            if (message.id === markerId) {
              items.push(
                <li key="new-messages" class={UI.newMarker} data-new-marker>
                  <span>{t.newMessages}</span>
                </li>,
              );
            }
            items.push(
              <Contained key={message.id} fallback={<Unreadable t={t} />}>
                <MessageItem
                  message={message}
                  showAuthor={!message.own && (newDay || previous?.author !== message.author)}
                  t={t}
                  lang={lang}
                />
              </Contained>,
            );
            return items;
          })}
        </ol>
      )}
    </div>
  );
}

/** Props of one message. */
interface MessageItemProps {
  /** The message. */
  message: MessageView;
  /** Whether to print the sender's name (first of a run by the same sender). */
  showAuthor: boolean;
  /** The UI strings. */
  t: HeldWords;
  /** The language, for the time. */
  lang: Lang;
}

function MessageItem({ message, showAuthor, t, lang }: MessageItemProps) {
  const author = message.own ? t.you : displayName(message.authorName, message.author, t);
  const [full, setFull] = useState(false);
  if (message.unreadable || typeof message.body !== "string" || !isShowableTime(message.time)) {
    return <Unreadable t={t} own={message.own} />;
  }
  const when = fullDateTime(message.time, lang);
  return (
    <li class={`${UI.item} ${message.own ? UI.itemOwn : UI.itemOther}`} data-own={String(message.own)}>
      <span class={showAuthor ? UI.author : UI.srOnly}>{author}</span>
      <p class={`${UI.bubble} ${message.own ? UI.bubbleOwn : UI.bubbleOther}`}>
        <MessageBody body={message.body} />
      </p>
      <span class={UI.meta}>
        {/* Hover shows the full date; a tap (or long press) on a phone spells it out. */}
        <time
          dateTime={new Date(message.time).toISOString()}
          title={when}
          onClick={() => setFull((shown) => !shown)}
        >
          {full ? when : clockTime(message.time, lang)}
        </time>
        {message.arrived !== undefined && isShowableTime(message.arrived) && (
          // It was not there before the messages around it: it came long after its time (offline, or backdated).
          <span title={fullDateTime(message.arrived, lang)}>
            {format(t.arrivedAt, { time: clockTime(message.arrived, lang) })}
          </span>
        )}
        {message.own && <MessageStatus status={message.status} failure={message.failure} t={t} />}
      </span>
    </li>
  );
}

/** Dates a browser can print: `Date` ends at ±8.64e15 ms, and past it `toISOString` throws. */
function isShowableTime(time: unknown): time is number {
  return typeof time === "number" && Number.isFinite(time) && Math.abs(time) <= 8.64e15;
}

/** The local day of a time, or NaN when it cannot be shown (so it never equals another). */
function safeDay(time: number): number {
  return isShowableTime(time) ? localDay(time) : NaN;
}

/** Props of an unreadable message. */
interface UnreadableProps {
  /** The UI strings. */
  t: HeldWords;
  /** Whether it was this device's own. */
  own?: boolean;
}

/** A record that cannot be shown (damaged, or from a hostile peer): a placeholder, and the rest of the list stays. */
function Unreadable({ t, own = false }: UnreadableProps) {
  return (
    <li class={`${UI.item} ${own ? UI.itemOwn : UI.itemOther}`} data-own={String(own)} data-unreadable>
      <p class={`${UI.bubble} ${UI.bubbleOther} italic`}>{t.unreadable}</p>
    </li>
  );
}

/** Props of a containment boundary. */
interface ContainedProps {
  /** What to render when the children throw. */
  fallback: ComponentChildren;
  /** The content. */
  children: ComponentChildren;
}

/** Catches a render error of one message, so one bad record never breaks the page. */
class Contained extends Component<ContainedProps, { failed: boolean }> {
  override state = { failed: false };
  static override getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }
  override componentDidCatch(error: unknown): void {
    console.warn("Parley: a message could not be shown", error);
  }
  override render() {
    return this.state.failed ? this.props.fallback : this.props.children;
  }
}

/** Props of a message body. */
interface MessageBodyProps {
  /** The text as written. */
  body: string;
}

/** A body with its http(s) links clickable (once the linkifier has loaded), opened in a new tab without a referrer. */
function MessageBody({ body }: MessageBodyProps) {
  const find = useSignalValue(linkFinder, null);
  const parts = find ? linkParts(body, find) : undefined;
  // A long body shows as text until its task has split it (see SPLIT_AT_ONCE_CHARS).
  const [, splitDone] = useState(0);
  useEffect(() => {
    if (!find || parts) return;
    let shown = true;
    void splitLinksLater(body, find).then(() => shown && splitDone((n) => n + 1));
    return () => void (shown = false);
  }, [find, body, parts === undefined]);
  if (!parts) return <>{body}</>;
  return (
    <>
      {parts.map((part, i) =>
        part.href
          ? (
            <a key={i} href={part.href} target="_blank" rel="noopener noreferrer" class={UI.bodyLink}>
              {part.text}
            </a>
          )
          : part.text
      )}
    </>
  );
}

/** Props of a message status. */
export interface MessageStatusProps {
  /** The message's delivery status. */
  status: MessageView["status"];
  /** Why it failed, for "failed". */
  failure?: MessageView["failure"];
  /** The UI strings. */
  t: HeldWords;
}

/** "Sending", "Sent", "Delivered" or "Not sent" (with why) as words, with ticks that screen readers skip. */
export function MessageStatus({ status, failure, t }: MessageStatusProps) {
  if (status === "received") return null;
  if (status === "failed") {
    return (
      <span class={`${UI.status} ${UI.statusFailed}`} data-status={status} data-failure={failure}>
        <span aria-hidden="true">⚠</span>
        <span>{failure === "too_big" ? t.failedTooBig : t.failed}</span>
      </span>
    );
  }
  const [ticks, word, tone] = status === "pending"
    ? ["◷", t.sending, UI.statusPending]
    : status === "sent"
    ? ["✓", t.sent, UI.statusSent]
    : ["✓✓", t.delivered, UI.statusDelivered];
  return (
    <span class={`${UI.status} ${tone}`} data-status={status}>
      <span aria-hidden="true">{ticks}</span>
      <span>{word}</span>
    </span>
  );
}

/** Shows {@link MESSAGE_WINDOW} more messages above, keeping the ones the reader sees where they are. */
function earlier(
  el: HTMLDivElement | null,
  setShown: (update: (shown: number) => number) => void,
  last: boolean,
): void {
  const fromBottom = el ? el.scrollHeight - el.scrollTop : 0;
  setShown((shown) => shown + MESSAGE_WINDOW);
  if (!el) return;
  requestAnimationFrame(() => {
    el.scrollTop = el.scrollHeight - fromBottom;
    // The button is gone with the last earlier messages: focus stays in the list, not on the page's body.
    if (last) el.focus({ preventScroll: true });
  });
}
