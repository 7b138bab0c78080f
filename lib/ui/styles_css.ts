/**
 * The utility classes of each part of the room screen, compiled by twind on
 * the server only: the browser gets a short class per part (the exports of
 * `styles.ts`), and the twind plugin gives that class the CSS of the part's
 * utilities (see `aliases` in `lib/fresh/plugins/twind.ts`). So the room's
 * bundle and markup carry one short name per part instead of its utility
 * list. Imported by the server (fresh.config.ts, the room route), never by
 * islands.
 * @module
 */
import * as UI from "./styles.ts";

/** A part of the room screen. */
export type Part = keyof typeof UI;

/** The utility classes of each part of the room screen. */
export const STYLES: Readonly<Record<Part, string>> = {
  screen: "flex flex-col h-[100dvh] max-w-3xl mx-auto bg-slate-50 dark:bg-slate-900",
  header:
    "flex flex-wrap items-center justify-end gap-1.5 px-2 py-2 border-b border-slate-200 dark:border-slate-700 bg-white dark:bg-slate-800",
  title: "sr-only sm:not-sr-only sm:text-lg sm:font-bold sm:mr-auto",
  headerButton:
    "px-2.5 py-1.5 rounded-lg text-sm font-medium text-slate-800 bg-slate-100 hover:bg-slate-200 dark:text-slate-100 dark:bg-slate-700 dark:hover:bg-slate-600 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-emerald-500",
  headerButtonActive: "outline outline-2 -outline-offset-2 outline-emerald-600",
  connectionRow:
    "flex flex-wrap items-center justify-between gap-x-2 gap-y-1 px-3 py-1 border-b border-slate-200 dark:border-slate-700",
  connection: "flex flex-wrap items-center gap-2 text-sm",
  // Notifications, language and Leave stay together: on a narrow phone they wrap as one group, not Leave alone.
  connectionControls: "flex flex-wrap items-center justify-end gap-2 ml-auto",
  dot: "inline-block w-2.5 h-2.5 rounded-full",
  dotConnected: "bg-emerald-600",
  dotReconnecting: "bg-amber-500",
  dotOffline: "bg-slate-500",
  dotRefused: "bg-red-600",
  muted: "text-slate-600 dark:text-slate-300",
  small: "text-xs",
  retry:
    "px-2 py-1 rounded-md text-sm font-medium bg-amber-100 text-amber-900 hover:bg-amber-200 dark:bg-amber-900 dark:text-amber-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-amber-500",
  peers: "flex gap-2 overflow-x-auto px-3 py-2 text-sm border-b border-slate-200 dark:border-slate-700",
  peer:
    "flex items-center gap-1 shrink-0 px-2 py-1 rounded-full bg-white border border-slate-200 dark:bg-slate-800 dark:border-slate-700",
  peerAway: "opacity-70",
  path: "px-1.5 rounded bg-slate-100 text-slate-800 dark:bg-slate-700 dark:text-slate-100 font-mono text-xs",
  // relative: the list's screen-reader-only labels (absolute) are placed in it, not in the page, which they would
  // otherwise stretch below the screen by the height of the whole history (the page then scrolled off into blank).
  log: "relative flex-1 min-h-0 overflow-y-auto px-3 py-3",
  list: "flex flex-col gap-2",
  empty: "text-center text-slate-600 dark:text-slate-300 py-8",
  item: "flex flex-col max-w-[85%]",
  itemOwn: "self-end items-end",
  itemOther: "self-start items-start",
  author: "text-xs font-semibold text-slate-700 dark:text-slate-200 px-1",
  bubble: "px-3 py-2 rounded-2xl whitespace-pre-wrap [overflow-wrap:anywhere]",
  bubbleOwn: "bg-emerald-700 text-white rounded-br-md dark:bg-emerald-800",
  bubbleOther:
    "bg-white text-slate-900 border border-slate-200 rounded-bl-md dark:bg-slate-800 dark:text-slate-100 dark:border-slate-700",
  daySeparator:
    "self-center my-1 px-2 py-0.5 rounded-full text-xs bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-100",
  earlierRow: "self-center",
  earlier:
    "px-3 py-1 rounded-lg text-xs font-medium bg-slate-100 text-slate-800 hover:bg-slate-200 focus-visible:outline focus-visible:outline-2 focus-visible:outline-emerald-500 dark:bg-slate-700 dark:text-slate-100",
  newMarker:
    "self-stretch text-center text-xs font-semibold text-rose-700 dark:text-rose-300 border-t border-rose-400 pt-1",
  bodyLink: "underline inline-block max-w-full [overflow-wrap:anywhere]",
  notifyLabel: "ml-auto flex items-center gap-1 text-xs text-slate-700 dark:text-slate-200",
  // At most 10rem: the longest choice ("Уведомлять: имя + текст") would push Leave onto a row of its own on a phone.
  notifySelect:
    "max-w-[10rem] rounded border border-slate-300 bg-white px-1 py-0.5 text-xs dark:border-slate-600 dark:bg-slate-800",
  meta: "flex items-center gap-1 mt-0.5 px-1 text-xs text-slate-600 dark:text-slate-300",
  status: "inline-flex items-center gap-0.5",
  statusPending: "text-slate-600 dark:text-slate-300",
  statusFailed: "text-rose-700 dark:text-rose-300 font-medium",
  statusSent: "text-slate-700 dark:text-slate-200",
  statusDelivered: "text-emerald-700 dark:text-emerald-400 font-medium",
  typing: "min-h-[1.25rem] px-3 text-xs italic text-slate-600 dark:text-slate-300",
  composer: "flex items-end gap-2 px-3 py-2 border-t border-slate-200 dark:border-slate-700 bg-white dark:bg-slate-800",
  // min-w-0: Firefox gives a textarea a wide intrinsic width (20 columns), which sent Send to a row of its own on a phone.
  textarea:
    "flex-1 min-w-0 resize-none rounded-xl border border-slate-300 bg-white text-slate-900 px-3 py-2 text-base dark:bg-slate-900 dark:text-slate-100 dark:border-slate-600 focus:outline focus:outline-2 focus:outline-emerald-500",
  primary:
    "px-4 py-2 rounded-xl bg-emerald-700 text-white font-semibold hover:bg-emerald-800 focus-visible:outline focus-visible:outline-4 focus-visible:outline-emerald-300 disabled:opacity-60",
  secondary:
    "px-3 py-2 rounded-lg border border-slate-300 text-slate-800 bg-white hover:bg-slate-100 dark:border-slate-600 dark:text-slate-100 dark:bg-slate-800 dark:hover:bg-slate-700 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-emerald-500",
  panel:
    "px-3 py-3 border-b border-slate-200 dark:border-slate-700 bg-white dark:bg-slate-800 max-h-[40dvh] overflow-y-auto",
  panelTitle: "text-base font-semibold mb-2",
  row: "flex flex-wrap items-center gap-2",
  actions: "flex flex-wrap items-center gap-2 mt-2",
  hint: "text-xs text-slate-600 dark:text-slate-300 mt-1",
  section: "mt-3",
  field:
    "flex-1 w-full rounded-lg border border-slate-300 bg-white text-slate-900 px-3 py-2 text-sm dark:bg-slate-900 dark:text-slate-100 dark:border-slate-600 focus:outline focus:outline-2 focus:outline-emerald-500",
  label: "block text-sm font-medium mb-1",
  qr: "shrink-0 w-32 h-32 sm:w-48 sm:h-48 mt-2 bg-white p-1.5 rounded-lg",
  inviteRow: "flex items-start gap-3",
  inviteWords: "min-w-0 flex-1",
  ownName: "inline-block max-w-[9rem] truncate align-bottom",
  notice: "text-sm text-emerald-800 dark:text-emerald-300",
  error: "text-sm text-red-700 dark:text-red-300",
  table: "w-full text-xs text-left border-collapse",
  cell: "border-b border-slate-200 dark:border-slate-700 py-1 pr-2 align-top",
  events: "font-mono text-xs max-h-64 overflow-y-auto bg-slate-100 dark:bg-slate-900 rounded p-2",
  counters: "grid grid-cols-3 sm:grid-cols-5 gap-2 text-sm",
  counter: "flex flex-col items-center rounded bg-slate-100 dark:bg-slate-900 py-1",
  counterValue: "text-lg font-bold",
  srOnly: "sr-only",
  center: "flex-1 flex flex-col items-center justify-center gap-4 px-6 text-center",
  link: "text-emerald-700 dark:text-emerald-400 underline",
  storageNotice:
    "px-3 py-2 text-sm border-b border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-100",
};

/** Each part's short class and the utilities it stands for, for the twind plugin. */
export function uiAliases(): Record<string, string> {
  return Object.fromEntries(Object.entries(STYLES).map(([part, utilities]) => [UI[part as Part], utilities]));
}

/** Every part's short class, for the room page's safelist element (the plugin compiles what they stand for). */
export function safelist(): string {
  return Object.values(UI).join(" ");
}
