/**
 * Whether the bootstrap's socket is in the room, for the island to show
 * before the client core has loaded: the page hydrates on a small module and
 * the core (courier, store, crypto) follows, so for a few round trips on a
 * slow link the relay already has this member while nothing has taken its
 * socket yet. "In the room" means what the signal socket means by
 * "connected": the server's `welcome` came and the socket is still open.
 *
 * It only reads the slot (`handoff.ts` takes it): the script calls the
 * slot's `o` hook after each frame and when its socket closes, and this
 * module re-reads the frames then. Frames are only looked at for their
 * `type` (a welcome carries the roster and ICE servers, so it is not short).
 * @module
 */
import { BOOTSTRAP_SLOT } from "./slot.ts";
import type { BootstrapScope } from "./handoff.ts";

/** The part of the slot this module reads (see `handoff.ts` for the whole). */
interface WatchedSlot {
  /** The room id the script started for. */
  r?: unknown;
  /** Text frames its socket received. */
  f?: unknown;
  /** Its WebSocket. */
  w?: unknown;
  /** Set once the island took the socket. */
  t?: unknown;
  /** Called by the script after each frame and when its socket closes. */
  o?: unknown;
}

function isWelcome(frame: unknown): boolean {
  if (typeof frame !== "string" || !frame.includes('"welcome"')) return false;
  try {
    return (JSON.parse(frame) as { type?: unknown })?.type === "welcome";
  } catch {
    return false;
  }
}

/** Whether the slot's socket for `room` is open and welcomed. */
function welcomed(slot: WatchedSlot | undefined, room: string): boolean {
  if (!slot || slot.r !== room || slot.t) return false;
  const ws = slot.w as { readyState?: unknown } | undefined;
  return ws?.readyState === 1 && Array.isArray(slot.f) && slot.f.some(isWelcome);
}

/**
 * Calls `onChange` with whether the bootstrap's socket for `room` is in the room: at once, then whenever that
 * changes, until the returned function is called or the island takes the socket (after which the client core's
 * own state is the one to show). Never throws; without a bootstrap it reports false once.
 */
export function watchEarlyWelcome(
  room: string,
  onChange: (inRoom: boolean) => void,
  scope: BootstrapScope = globalThis as BootstrapScope,
): () => void {
  const slot = scope[BOOTSTRAP_SLOT] as WatchedSlot | undefined;
  let last = welcomed(slot, room);
  onChange(last);
  if (!slot || typeof slot !== "object" || slot.r !== room) return () => {};
  const check = () => {
    const now = welcomed(slot, room);
    if (now !== last) onChange(last = now);
  };
  slot.o = check;
  return () => {
    if (slot.o === check) slot.o = undefined;
  };
}
