/**
 * The parts of the room UI a first load can do without: the drawers under the
 * header, the notification setting and the notifications themselves. Loaded
 * once the room has settled (or when a drawer is opened before that), so the
 * room's first load ships less JavaScript.
 * @module
 */
export { Diagnostics } from "./Diagnostics.tsx";
export { InvitePanel } from "./InvitePanel.tsx";
export { NameForm } from "./NameForm.tsx";
export { NotifySetting } from "./NotifySetting.tsx";
export { notifyMessage } from "./notify.ts";
