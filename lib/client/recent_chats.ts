/**
 * The chats kept on this device, as the landing page lists them: the local
 * name, the last message, the unread count; and the local actions on them
 * (rename, forget). Only rooms whose key is kept on the device can be reopened,
 * so only those are listed.
 * @module
 */
import type { Store } from "./store.ts";
import { validNames } from "./room/names.ts";
import { MAX_NAME_LENGTH } from "./text_limits.ts";

/** Newest messages read to count unread ones; more than this shows as this many. */
export const UNREAD_SCAN = 99;
/** Most characters of a chat's local name. */
export const MAX_TITLE_LENGTH = 60;
/** Most names of other people a chat without a local name is called by. */
export const MAX_PEOPLE_NAMED = 3;

/** What the list needs of a store. */
export type RecentChatsStore = Pick<Store, "getState" | "listMessages" | "patchState" | "clearRoom"> & {
  /** Ids of the rooms with a saved state. */
  listRooms(): Promise<string[]>;
};

/** One chat of the list. */
export interface RecentChat {
  /** Room id. */
  room: string;
  /** The link to reopen it (path and fragment, with the key). */
  href: string;
  /** The user's local name for it, if any. */
  title?: string;
  /** The names of the other people last seen in it, the most recently named first (at most {@link MAX_PEOPLE_NAMED}). */
  people?: string[];
  /** The newest message's text (empty for an unreadable one), if any. */
  lastMessage?: string;
  /** Whether this member wrote the last message (the list says "You: " before it). */
  lastOwn?: boolean;
  /** Time of the newest message, or of the last opening, for ordering. */
  lastAt: number;
  /** Messages from others after the last one seen here (at most {@link UNREAD_SCAN}). */
  unread: number;
}

/** The chats that can be reopened from this device, the most recently active first. */
export async function listRecentChats(store: RecentChatsStore): Promise<RecentChat[]> {
  const chats: RecentChat[] = [];
  for (const room of await store.listRooms()) {
    const state = await store.getState(room);
    if (typeof state.key !== "string" || !state.key) continue;
    const messages = await store.listMessages(room, { limit: UNREAD_SCAN });
    const last = messages.at(-1);
    const readAt = state.readId === undefined ? -1 : messages.findIndex((m) => m.id === state.readId);
    const unread = messages.slice(readAt + 1).filter((m) => m.status === "received").length;
    const chat: RecentChat = {
      room,
      href: `/${room}#${state.key}`,
      lastAt: Math.max(last?.time ?? 0, state.openedAt ?? 0),
      unread,
    };
    if (state.title) chat.title = state.title;
    // The remembered names are kept oldest first; what the store gave back may be anything.
    const people = Object.values(validNames(state.names, MAX_NAME_LENGTH)).slice(-MAX_PEOPLE_NAMED).reverse();
    if (people.length > 0) chat.people = people;
    if (last) chat.lastMessage = last.unreadable ? "" : last.body;
    // Others' messages are stored as "received"; every other status is one of this member's own.
    if (last && last.status !== "received") chat.lastOwn = true;
    chats.push(chat);
  }
  return chats.sort((a, b) => b.lastAt - a.lastAt);
}

/** Sets the chat's local name (empty: none). */
export async function renameChat(store: RecentChatsStore, room: string, title: string): Promise<void> {
  const clean = title.trim().slice(0, MAX_TITLE_LENGTH);
  await store.patchState(room, { title: clean || undefined });
}

/** Forgets a chat on this device: its history, outbox and state (with its key). */
export async function forgetChat(store: RecentChatsStore, room: string): Promise<void> {
  await store.clearRoom(room);
}
