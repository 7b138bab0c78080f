/**
 * The room page's bootstrap: the inline script that opens the signaling
 * socket and derives the keys while the page still loads (`script.ts`, for
 * the server to inline), and the island's side that takes them over
 * (`handoff.ts`). Client code imports `handoff.ts` directly, so its bundle
 * does not carry the script's text.
 * @module
 */
export { BOOTSTRAP_SCRIPT } from "./script.ts";
export { BOOTSTRAP_SLOT, BOOTSTRAP_STORED_FLAG } from "./slot.ts";
export {
  type Bootstrap,
  type BootstrapKeys,
  type BootstrapScope,
  keepsRooms,
  markStored,
  takeBootstrap,
} from "./handoff.ts";
