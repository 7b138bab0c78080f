/**
 * The client core's face: what islands import. `openRoom` wires the real
 * browser platform (WebSocket, RTCPeerConnection, IndexedDB, fetch) into a
 * room client; everything below it also runs in Deno with fakes.
 * @module
 */
import { parseRoomKey } from "./crypto.ts";
import { fetchIceFromOrigin } from "./ice_config.ts";
import { browserEnvironment } from "./network_profile.ts";
import { createRoomClient } from "./room_client.ts";
import type { RoomView } from "./room_view.ts";
import { computed } from "@preact/signals-core";
import { openResilientStore } from "./store_resilient.ts";

export type { CountersView, MessageView, PeerDiagnostics, PeerView, RoomView, StorageMode } from "./room_view.ts";
export type { SocketState } from "./signal_socket.ts";
export type { PeerPath } from "./peer_link.ts";
export type { LogEvent } from "./event_log.ts";
export { createRoomLink } from "./room_link.ts";
export { MAX_NAME_LENGTH } from "./room_client.ts";

/** Options of `openRoom`. */
export interface OpenRoomOptions {
  /** The page's origin. */
  origin: string;
  /** The room id from the path. */
  room: string;
  /** The link's fragment, holding the room key (with or without `#`). */
  fragment: string;
  /** Print the event log to the console (`?debug=1`). */
  debug?: boolean;
  /** How long chat waits for P2P before the relay: 0 (default, relay first), ms (seed policy), "never" (P2P only). */
  relayHold?: number | "never";
}

/** Why a room could not be opened. */
export type OpenRoomError = "missing_key" | "bad_key";

/** Opens a room in the browser, or says why the link cannot work. */
export async function openRoom(
  options: OpenRoomOptions,
): Promise<{ ok: true; view: RoomView; persistent: boolean } | { ok: false; error: OpenRoomError }> {
  const key = parseRoomKey(options.fragment);
  if (!key.ok) return { ok: false, error: key.error === "missing" ? "missing_key" : "bad_key" };
  // IndexedDB when it works; memory (with a notice, and reopening with backoff) when it does not.
  const store = await openResilientStore({
    onFailure: (reason, error) => console.warn(`Parley: storage failed (${reason}); the room goes on in memory`, error),
  });
  const view = await createRoomClient({
    origin: options.origin,
    room: options.room,
    keyBytes: key.bytes,
    store,
    storage: computed(() => store.state.value.mode),
    createWebSocket: (url) => new WebSocket(url),
    createPeerConnection: typeof RTCPeerConnection === "function"
      ? (config) => new RTCPeerConnection(config)
      : undefined,
    fetchIce: (peer) => fetchIceFromOrigin(options.origin, peer),
    env: browserEnvironment(),
    debug: options.debug,
    profileOverrides: options.relayHold
      ? { relayHoldMs: options.relayHold === "never" ? Infinity : options.relayHold }
      : undefined,
  });
  // The store's reopen timer stops with the room.
  const closeView = view.close.bind(view);
  view.close = () => {
    closeView();
    store.close();
  };
  return { ok: true, view, persistent: store.durable() };
}
