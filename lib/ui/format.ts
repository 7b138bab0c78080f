/**
 * Small formatting helpers shared by the chat components: clock times, day
 * separators and full dates in the reader's locale (`Intl`), and names for
 * peers who have not set one.
 * @module
 */
import type { FirstWords, Lang } from "./i18n.ts";
import { memberSuffix, sameNameKey, shortMemberId } from "../client/room/names.ts";

const timeFormats = new Map<Lang, Intl.DateTimeFormat>();

/** A message time as the reader's clock shows it, in the locale's short style: "14:05" in Russian, "2:05 PM" in English. */
export function clockTime(time: number, lang: Lang): string {
  let formatter = timeFormats.get(lang);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(lang, { timeStyle: "short" });
    timeFormats.set(lang, formatter);
  }
  return formatter.format(time);
}

/** A display name (with the start of the id when it has the form of a guest label), or "Guest" plus a short id. */
export function displayName(name: string | undefined, id: string, t: FirstWords): string {
  const trimmed = name?.trim();
  if (!trimmed) return `${t.guest} ${shortMemberId(id)}`;
  // A name of the form of a member's label without a name ("Guest abcd") would pass for that member: add its own id.
  const suffix = memberSuffix(id);
  const guestLike = sameNameKey(trimmed).startsWith(sameNameKey(t.guest) + " ");
  return guestLike && !trimmed.endsWith(suffix) ? trimmed + suffix : trimmed;
}

/** Characters of a room id that name a chat without a name: "Chat h95rvQ". */
const ROOM_NAME_CHARS = 6;

/** The start of a room id for a chat's fallback name, letters and digits only ("Chat h95rv-" read like a cut-off word). */
export function shortRoomId(room: string): string {
  return room.replace(/[-_]/g, "").slice(0, ROOM_NAME_CHARS);
}

const fullFormats = new Map<Lang, Intl.DateTimeFormat>();

/** The full date and time of a message, e.g. "Tuesday, 24 November 2026 at 09:30:12", for hover and long press. */
export function fullDateTime(time: number, lang: Lang): string {
  let formatter = fullFormats.get(lang);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "medium" });
    fullFormats.set(lang, formatter);
  }
  return formatter.format(time);
}

/** The reader's local calendar day of a time, as a comparable number (days since the epoch, local time). */
export function localDay(time: number): number {
  const date = new Date(time);
  return Math.floor(Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) / 86_400_000);
}

/**
 * A day separator's words: "Today", "Yesterday" (from `Intl.RelativeTimeFormat`,
 * so every locale says it its own way), or the date, with the year only when
 * it is not this year.
 */
export function dayLabel(time: number, now: number, lang: Lang): string {
  const days = localDay(time) - localDay(now);
  if (days === 0 || days === -1) {
    const word = new Intl.RelativeTimeFormat(lang, { numeric: "auto" }).format(days, "day");
    return word.charAt(0).toLocaleUpperCase(lang) + word.slice(1);
  }
  const sameYear = new Date(time).getFullYear() === new Date(now).getFullYear();
  return new Intl.DateTimeFormat(lang, {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: sameYear ? undefined : "numeric",
  }).format(time);
}
