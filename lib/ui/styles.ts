/**
 * The class of each part of the room screen: a short name per part, which
 * the twind plugin compiles on the server into the CSS of the part's utility
 * classes (listed in `styles_css.ts`, which the browser never loads). Twind
 * compiles only classes it finds in server-rendered markup, and most of the
 * room appears only in the browser (messages, peers, drawers), so the room
 * page renders every part's class once in a hidden element.
 *
 * Each part is an export of its own, imported as a namespace
 * (`import * as UI`), so the bundler puts the short strings in place of
 * `UI.screen` and the part names never reach the browser. A class is `_` and
 * a short name: no twind utility starts with `_`, so these never mean
 * anything but the part.
 * @module
 */

/** The class of the screen part. */
export const screen = "_0";
/** The class of the header part. */
export const header = "_1";
/** The class of the title part. */
export const title = "_2";
/** The class of the headerButton part. */
export const headerButton = "_3";
/** The class of the headerButtonActive part. */
export const headerButtonActive = "_4";
/** The class of the connectionRow part. */
export const connectionRow = "_5";
/** The class of the connection part. */
export const connection = "_6";
/** The class of the dot part. */
export const dot = "_7";
/** The class of the dotConnected part. */
export const dotConnected = "_8";
/** The class of the dotReconnecting part. */
export const dotReconnecting = "_9";
/** The class of the dotOffline part. */
export const dotOffline = "_a";
/** The class of the dotRefused part. */
export const dotRefused = "_b";
/** The class of the muted part. */
export const muted = "_c";
/** The class of the small part. */
export const small = "_d";
/** The class of the retry part. */
export const retry = "_e";
/** The class of the peers part. */
export const peers = "_f";
/** The class of the peer part. */
export const peer = "_g";
/** The class of the peerAway part. */
export const peerAway = "_h";
/** The class of the path part. */
export const path = "_i";
/** The class of the log part. */
export const log = "_j";
/** The class of the list part. */
export const list = "_k";
/** The class of the empty part. */
export const empty = "_l";
/** The class of the item part. */
export const item = "_m";
/** The class of the itemOwn part. */
export const itemOwn = "_n";
/** The class of the itemOther part. */
export const itemOther = "_o";
/** The class of the author part. */
export const author = "_p";
/** The class of the bubble part. */
export const bubble = "_q";
/** The class of the bubbleOwn part. */
export const bubbleOwn = "_r";
/** The class of the bubbleOther part. */
export const bubbleOther = "_s";
/** The class of the daySeparator part. */
export const daySeparator = "_t";
/** The class of the newMarker part. */
export const newMarker = "_u";
/** The class of the bodyLink part. */
export const bodyLink = "_v";
/** The class of the notifyLabel part. */
export const notifyLabel = "_w";
/** The class of the notifySelect part. */
export const notifySelect = "_x";
/** The class of the meta part. */
export const meta = "_y";
/** The class of the status part. */
export const status = "_z";
/** The class of the statusPending part. */
export const statusPending = "_10";
/** The class of the statusFailed part. */
export const statusFailed = "_11";
/** The class of the statusSent part. */
export const statusSent = "_12";
/** The class of the statusDelivered part. */
export const statusDelivered = "_13";
/** The class of the typing part. */
export const typing = "_14";
/** The class of the composer part. */
export const composer = "_15";
/** The class of the textarea part. */
export const textarea = "_16";
/** The class of the primary part. */
export const primary = "_17";
/** The class of the secondary part. */
export const secondary = "_18";
/** The class of the panel part. */
export const panel = "_19";
/** The class of the panelTitle part. */
export const panelTitle = "_1a";
/** The class of the row part. */
export const row = "_1b";
/** The class of the actions part. */
export const actions = "_1c";
/** The class of the hint part. */
export const hint = "_1d";
/** The class of the section part. */
export const section = "_1e";
/** The class of the field part. */
export const field = "_1f";
/** The class of the label part. */
export const label = "_1g";
/** The class of the qr part. */
export const qr = "_1h";
/** The class of the notice part. */
export const notice = "_1i";
/** The class of the error part. */
export const error = "_1j";
/** The class of the table part. */
export const table = "_1k";
/** The class of the cell part. */
export const cell = "_1l";
/** The class of the events part. */
export const events = "_1m";
/** The class of the counters part. */
export const counters = "_1n";
/** The class of the counter part. */
export const counter = "_1o";
/** The class of the counterValue part. */
export const counterValue = "_1p";
/** The class of the srOnly part. */
export const srOnly = "_1q";
/** The class of the center part. */
export const center = "_1r";
/** The class of the link part. */
export const link = "_1s";
/** The class of the storageNotice part. */
export const storageNotice = "_1t";
/** The class of the inviteRow part. */
export const inviteRow = "_1u";
/** The class of the inviteWords part. */
export const inviteWords = "_1v";
/** The class of the ownName part. */
export const ownName = "_1w";
/** The class of the earlierRow part. */
export const earlierRow = "_1x";
/** The class of the earlier part. */
export const earlier = "_1y";
/** The class of the connectionControls part. */
export const connectionControls = "_1z";
