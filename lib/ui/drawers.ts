/**
 * The drawers under the room header, loaded when one is first opened so the
 * room's first load ships less JavaScript.
 * @module
 */
export { Diagnostics } from "./Diagnostics.tsx";
export { InvitePanel } from "./InvitePanel.tsx";
export { NameForm } from "./NameForm.tsx";
