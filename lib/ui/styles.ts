/**
 * The class of each part of the room screen: a short name per part, which
 * the twind plugin compiles on the server into the CSS of the part's utility
 * classes (listed in `styles_css.ts`, which the browser never loads). Twind
 * compiles only classes it finds in server-rendered markup, and most of the
 * room appears only in the browser (messages, peers, drawers), so the room
 * page renders every part's class once in a hidden element.
 * @module
 */

/** The parts of the room screen, in a fixed order (each part's class is made from its place). */
const PARTS = [
  "screen",
  "header",
  "title",
  "headerButton",
  "headerButtonActive",
  "connectionRow",
  "connection",
  "dot",
  "dotConnected",
  "dotReconnecting",
  "dotOffline",
  "dotRefused",
  "muted",
  "small",
  "retry",
  "peers",
  "peer",
  "peerAway",
  "path",
  "log",
  "list",
  "empty",
  "item",
  "itemOwn",
  "itemOther",
  "author",
  "bubble",
  "bubbleOwn",
  "bubbleOther",
  "daySeparator",
  "newMarker",
  "bodyLink",
  "notifyLabel",
  "notifySelect",
  "meta",
  "status",
  "statusPending",
  "statusFailed",
  "statusSent",
  "statusDelivered",
  "typing",
  "composer",
  "textarea",
  "primary",
  "secondary",
  "panel",
  "panelTitle",
  "row",
  "actions",
  "hint",
  "section",
  "field",
  "label",
  "qr",
  "notice",
  "error",
  "table",
  "cell",
  "events",
  "counters",
  "counter",
  "counterValue",
  "srOnly",
  "center",
  "link",
  "storageNotice",
] as const;

/** A part of the room screen. */
export type Part = typeof PARTS[number];

/**
 * The class of each part: `_` and the part's place in base 36 (`_0`, `_1`, ... `_1v`). No twind utility starts with
 * `_`, so these never mean anything but the part.
 */
export const UI: Readonly<Record<Part, string>> = Object.fromEntries(
  PARTS.map((part, index) => [part, `_${index.toString(36)}`]),
) as Record<Part, string>;
