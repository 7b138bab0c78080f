/**
 * Notifications while the page is hidden, through the Notification API.
 * Permission is asked only from a user's click (never on load), the choice of
 * showing message text is a setting kept on this device, and a notification
 * always names the sender. On Android, Chrome only shows notifications from a
 * service worker, so that path is tried first.
 * @module
 */

/** What notifications show: nothing, the sender only, or the sender and the text. */
export type NotifyMode = "off" | "sender" | "text";

const STORAGE_KEY = "parley.notify";

/** The saved mode; "off" until the user turns notifications on. */
export function notifyMode(): NotifyMode {
  try {
    const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
    return saved === "sender" || saved === "text" ? saved : "off";
  } catch {
    return "off";
  }
}

/** Whether this browser can show notifications at all. */
export function canNotify(): boolean {
  return typeof Notification !== "undefined";
}

/**
 * Saves a mode; turning notifications on asks for permission, so call it from
 * a click. Returns the mode in force afterwards ("off" when permission is denied).
 */
export async function setNotifyMode(mode: NotifyMode): Promise<NotifyMode> {
  let next = mode;
  if (mode !== "off") {
    if (!canNotify()) next = "off";
    else if (Notification.permission !== "granted") {
      next = (await Notification.requestPermission()) === "granted" ? mode : "off";
    }
  }
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, next);
  } catch {
    // Storage full or blocked: the mode lasts for this page only.
  }
  return next;
}

/** What to show for one message. */
export interface NotifyOptions {
  /** The sender's display name. */
  sender: string;
  /** The message text (shown only in "text" mode). */
  body: string;
  /** The words shown instead of the text, e.g. "New message". */
  hiddenBody: string;
  /** A tag grouping one room's notifications, so a burst replaces itself. */
  tag: string;
}

/** Shows a notification for a message if the saved mode and the permission allow it. */
export async function notifyMessage(options: NotifyOptions): Promise<void> {
  const mode = notifyMode();
  if (mode === "off" || !canNotify() || Notification.permission !== "granted") return;
  const init: NotificationOptions = { body: mode === "text" ? options.body : options.hiddenBody, tag: options.tag };
  const registration = await globalThis.navigator?.serviceWorker?.getRegistration?.().catch(() => undefined);
  if (registration) {
    await registration.showNotification(options.sender, init);
    return;
  }
  new Notification(options.sender, init);
}
