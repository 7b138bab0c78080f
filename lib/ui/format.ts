/**
 * Small formatting helpers shared by the chat components: clock times and
 * names for peers who have not set one.
 * @module
 */
import type { Lang, Strings } from "./i18n.ts";

const timeFormats = new Map<Lang, Intl.DateTimeFormat>();

/** A message time as the reader's clock shows it, e.g. "14:05". */
export function clockTime(time: number, lang: Lang): string {
  let formatter = timeFormats.get(lang);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
    timeFormats.set(lang, formatter);
  }
  return formatter.format(time);
}

/** A display name, or "Guest" plus a short id so two guests can be told apart. */
export function displayName(name: string | undefined, id: string, t: Strings): string {
  const trimmed = name?.trim();
  return trimmed ? trimmed : `${t.guest} ${id.slice(0, 4)}`;
}
