import { useLayoutEffect, useRef } from "preact/hooks";
import type { MessageView } from "../client/room_view.ts";
import { clockTime, displayName } from "./format.ts";
import type { Lang, Strings } from "./i18n.ts";
import { UI } from "./styles.ts";

/** Props of the message list. */
export interface MessageListProps {
  /** Messages in display order. */
  messages: readonly MessageView[];
  /** The UI strings. */
  t: Strings;
  /** The language, for times. */
  lang: Lang;
}

/** How close to the bottom (px) still counts as "reading the latest". */
const STICK_TO_BOTTOM_PX = 80;

/** The conversation: a live `log` region, own messages on the right with their status. */
export function MessageList({ messages, t, lang }: MessageListProps) {
  const box = useRef<HTMLDivElement>(null);
  const wasAtBottom = useRef(true);
  useLayoutEffect(() => {
    const el = box.current;
    if (el && wasAtBottom.current) el.scrollTop = el.scrollHeight;
  }, [messages]);
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
        wasAtBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_TO_BOTTOM_PX;
      }}
    >
      {messages.length === 0 ? <p class={UI.empty}>{t.noMessages}</p> : (
        <ol class={UI.list}>
          {messages.map((message, i) => (
            <MessageItem
              key={message.id}
              message={message}
              showAuthor={!message.own && messages[i - 1]?.author !== message.author}
              t={t}
              lang={lang}
            />
          ))}
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
  t: Strings;
  /** The language, for the time. */
  lang: Lang;
}

function MessageItem({ message, showAuthor, t, lang }: MessageItemProps) {
  const author = message.own ? t.you : displayName(message.authorName, message.author, t);
  return (
    <li class={`${UI.item} ${message.own ? UI.itemOwn : UI.itemOther}`} data-own={String(message.own)}>
      <span class={showAuthor ? UI.author : UI.srOnly}>{author}</span>
      <p class={`${UI.bubble} ${message.own ? UI.bubbleOwn : UI.bubbleOther}`}>{message.body}</p>
      <span class={UI.meta}>
        <time dateTime={new Date(message.time).toISOString()}>{clockTime(message.time, lang)}</time>
        {message.own && <MessageStatus status={message.status} t={t} />}
      </span>
    </li>
  );
}

/** Props of a message status. */
export interface MessageStatusProps {
  /** The message's delivery status. */
  status: MessageView["status"];
  /** The UI strings. */
  t: Strings;
}

/** "Sending", "Sent" or "Delivered" as words, with ticks that screen readers skip. */
export function MessageStatus({ status, t }: MessageStatusProps) {
  if (status === "received") return null;
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
