/**
 * Unread messages: what arrived while the reader was not looking (the tab
 * hidden, or the list scrolled up). A pure reducer decides; a hook feeds it
 * the page's state and mirrors the count into the title and the app badge
 * (Badging API, where it exists).
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { MessageView } from "../client/room_view.ts";

/** What the reader has not seen yet. */
export interface UnreadState {
  /** Ids of every message the reader has been shown (or wrote). */
  seen: ReadonlySet<string>;
  /** Messages of others that arrived while the reader looked away. */
  unread: readonly MessageView[];
  /** Where the "new messages" marker stands: the first message of the last unread run. */
  markerId?: string;
}

/** The state before anything was shown: every message present at start counts as read. */
export function initialUnread(messages: readonly MessageView[]): UnreadState {
  return { seen: new Set(messages.map((m) => m.id)), unread: [] };
}

/**
 * The next state: new messages of others count as unread while the reader is
 * not attentive; once attentive, the count clears but the marker stays where
 * the unread run began, so the reader finds the place. Writing a message moves
 * the reader past the marker.
 */
export function nextUnread(state: UnreadState, messages: readonly MessageView[], attentive: boolean): UnreadState {
  const fresh = messages.filter((m) => !state.seen.has(m.id));
  if (fresh.length === 0 && (!attentive || state.unread.length === 0)) return state;
  const seen = new Set(state.seen);
  for (const m of fresh) seen.add(m.id);
  if (fresh.some((m) => m.own)) return { seen, unread: [] };
  if (attentive) return { seen, unread: [], markerId: state.markerId };
  const others = fresh.filter((m) => !m.own);
  if (others.length === 0) return { ...state, seen };
  const unread = [...state.unread, ...others];
  return { seen, unread, markerId: state.unread.length === 0 ? others[0].id : state.markerId };
}

/** The page title with an unread count in front, e.g. "(3) Parley". */
export function titleWithCount(base: string, count: number): string {
  return count > 0 ? `(${count}) ${base}` : base;
}

interface BadgeNavigator {
  setAppBadge?: (count?: number) => Promise<void>;
  clearAppBadge?: () => Promise<void>;
}

/** Shows the count on the installed app's icon, where the Badging API exists; errors are not the reader's problem. */
function setBadge(count: number): void {
  const nav = globalThis.navigator as BadgeNavigator | undefined;
  const done = count > 0 ? nav?.setAppBadge?.(count) : nav?.clearAppBadge?.();
  done?.catch(() => {});
}

/** Whether the page is hidden (a background tab, a locked phone). */
function pageHidden(): boolean {
  return typeof document !== "undefined" && document.visibilityState === "hidden";
}

/**
 * Tracks unread messages for a list that tells whether it is scrolled to the
 * bottom, keeps the title and badge in step, and calls `onUnread` for each
 * message that arrives unseen while the page is hidden (for notifications).
 */
export function useUnread(
  messages: readonly MessageView[],
  atBottom: boolean,
  onUnread?: (message: MessageView) => void,
): UnreadState {
  const [hidden, setHidden] = useState(pageHidden);
  const state = useRef<UnreadState | null>(null);
  const baseTitle = useRef<string | null>(null);
  useEffect(() => {
    const update = () => setHidden(pageHidden());
    document.addEventListener("visibilitychange", update);
    return () => document.removeEventListener("visibilitychange", update);
  }, []);
  const before = state.current ?? initialUnread(messages);
  const after = nextUnread(before, messages, !hidden && atBottom);
  state.current = after;
  const arrived = after.unread.length > before.unread.length ? after.unread.slice(before.unread.length) : [];
  const count = after.unread.length;
  useEffect(() => {
    if (typeof document === "undefined") return;
    baseTitle.current ??= document.title;
    document.title = titleWithCount(baseTitle.current, count);
    setBadge(count);
  }, [count]);
  useEffect(() => {
    if (hidden && onUnread) { for (const message of arrived) onUnread(message); }
  }, [arrived.map((m) => m.id).join(",")]);
  return after;
}
