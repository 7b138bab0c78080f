/**
 * The client core's face: what islands import. `openRoom` wires the real
 * browser platform (WebSocket, RTCPeerConnection, IndexedDB, sessionStorage,
 * BroadcastChannel, Web Locks, fetch) into a room client; everything below it
 * also runs in Deno with fakes. It takes over what the page's inline bootstrap
 * started (the signaling socket and the derived keys), so the socket that
 * opened while the page loaded is the one that joins.
 * @module
 */
import { type Bootstrap, type BootstrapScope, keepsRooms, markStored, takeBootstrap } from "./bootstrap/handoff.ts";
import { parseRoomKey } from "./crypto.ts";
import { webLocks } from "./identity.ts";
import { browserEnvironment } from "./network_profile.ts";
import { loadParts } from "./courier/wire.ts";
import { createRoomClient, type RelayPolicy, type SessionStorageLike, webSessionSlot } from "./room/mod.ts";
import type { RoomView } from "./room_view.ts";
import { computed, effect, untracked } from "@preact/signals-core";
import { DeferredStore } from "./store_deferred.ts";
import { type PersistApi, persistOnce } from "./persist.ts";
import { whenSettled } from "./when_settled.ts";
import { browserKeyShare, storedKeyPair, withStoredFallback } from "./key_share.ts";

export type {
  CountersView,
  MessageView,
  PeerDiagnostics,
  PeerView,
  RoomNotice,
  RoomNoticeCode,
  RoomView,
  StorageMode,
} from "./room_view.ts";
export type { SocketState } from "./signal_socket.ts";
export type { PeerPath } from "./peer_link.ts";
export type { LogEvent } from "./event_log.ts";
export { createRoomLink } from "./room_link.ts";
export { MAX_NAME_LENGTH } from "./room/mod.ts";

/**
 * Loads the client code a room needs only now and then (reassembling a message that came in parts, writing back
 * what storage missed while it failed), so it is at hand later, and cached for offline use: the page calls it once
 * the room has settled.
 */
export function prefetchRareParts(): Promise<unknown> {
  return Promise.allSettled([loadParts(), import("./store_recovery.ts")]);
}

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
  /** How long an idle DataChannel stays open, in ms; default: the network profile's. */
  p2pIdleMs?: number;
  /** Where the page's bootstrap left its socket and keys (default: the global object). */
  bootstrapScope?: BootstrapScope;
}

/** Why a room could not be opened. */
export type OpenRoomError = "missing_key" | "bad_key";

/** Opens a room in the browser, or says why the link cannot work. */
export async function openRoom(
  options: OpenRoomOptions,
): Promise<{ ok: true; view: RoomView } | { ok: false; error: OpenRoomError }> {
  // Taken before anything can fail, so an unusable link also closes the socket the bootstrap opened.
  const boot = takeBootstrap(options.room, options.bootstrapScope);
  const key = parseRoomKey(options.fragment);
  if (!key.ok) {
    boot?.discard();
    return { ok: false, error: key.error === "missing" ? "missing_key" : "bad_key" };
  }
  try {
    return await open(options, key.bytes, boot);
  } catch (error) {
    boot?.discard();
    throw error;
  }
}

async function open(
  options: OpenRoomOptions,
  keyBytes: Uint8Array,
  boot: Bootstrap | undefined,
): Promise<{ ok: true; view: RoomView }> {
  // IndexedDB when it works; memory (with a notice, and reopening with backoff) when it does not. A browser that
  // keeps no room yet (a first visit) has nothing to read: its room starts in memory, and the resilient store and
  // the database (both lazy chunks) come once the room has settled, taking and writing back what came meanwhile
  // (`store_deferred.ts`), so the bytes and the time before "Connected" go to joining.
  const local = localStorageOrUndefined();
  const firstVisit = !keepsRooms(local);
  const storeOptions = {
    // The next room page's bootstrap reads IndexedDB before its hello once this browser keeps rooms in it. Noted
    // as soon as the database opens, before anything (the member key pair above all) is written into it: a page
    // left right after would otherwise leave a stored key pair the next page's bootstrap does not wait for, and
    // that page would join with a new one (two members for one device).
    onOpened: () => markStored(local),
    onFailure: (reason: string, error: unknown) =>
      console.warn(`Parley: storage failed (${reason}); the room goes on in memory`, error),
  };
  const [store, keys, relayPolicy] = await Promise.all([
    firstVisit
      ? new DeferredStore({
        load: () =>
          loadResilientStore().then(({ openResilientStore }) =>
            openResilientStore({ ...storeOptions, deferred: true })
          ),
        onFailure: (error) =>
          console.warn("Parley: the storage code failed to load; the room goes on in memory", error),
      })
      : loadResilientStore().then(({ openResilientStore }) => openResilientStore(storeOptions)),
    boot?.keys(),
    options.relayHold ? relayHold(options.relayHold) : undefined,
  ]);
  // A first visit's member key pair lives in memory until the database opens (below): the next page (a reload) would
  // join with another one and could not resume this session. So a page left before then says `bye`, from the moment
  // it took the bootstrap's socket, instead of leaving the session "away" for the others through the resume window.
  // A page kept for back and forward (`persisted`) may come back: it does not.
  const held: { view?: RoomView; socket?: WebSocket } = {};
  const onPageHide = (event: PageTransitionEvent) => {
    if (event.persisted || store.durable()) return;
    if (held.view) held.view.leave();
    else if (held.socket?.readyState === WebSocket.OPEN) held.socket.send(JSON.stringify({ type: "bye" }));
  };
  if (firstVisit) addEventListener("pagehide", onPageHide);
  // Two tabs that open a room this browser has no key pair for yet agree on one while neither has stored it (see
  // `key_share.ts`): two tabs of a first visit, and also a tab that comes after the first one's database opened
  // (and noted the browser as keeping rooms) but before its write-back stored the key pair. The share ends once
  // this tab's store is durable, or when the room closes; a tab whose store holds the key pair never asks.
  let roomClosed = () => {};
  const stored = new Promise<void>((resolve) => {
    roomClosed = resolve;
    const stop = store.state.subscribe((state) => {
      if (state.mode !== "durable") return;
      resolve();
      queueMicrotask(() => stop());
    });
  });
  const view = await createRoomClient({
    origin: options.origin,
    room: options.room,
    keyBytes,
    cipher: keys?.cipher,
    admission: keys?.admission,
    adoptSocket: boot
      ? () => {
        const adopted = boot.takeSocket();
        held.socket = adopted?.ws;
        return adopted;
      }
      : undefined,
    newMemberKeys: boot ? () => boot.memberKeys() : undefined,
    // No tab offers a key pair now, but one may have stored it and let go of its share since this page read its
    // store: a first visit's store is memory until it starts, and a return visit's read may have come just before
    // the other tab's write-back. A tab lets go only once its key pair is stored, so the database (not this page's
    // copy of the room, read before) has it.
    keyShare: withStoredFallback(
      browserKeyShare(options.room, stored),
      async () => keepsRooms(local) ? await storedKeyPair(store, options.room) : undefined,
    ),
    store,
    storage: computed(() => store.state.value.mode),
    createWebSocket: (url) => new WebSocket(url),
    createPeerConnection: typeof RTCPeerConnection === "function"
      ? (config) => new RTCPeerConnection(config)
      : undefined,
    lock: webLocks(),
    session: webSessionSlot(tabStorage(), options.room),
    openTabChannel: typeof BroadcastChannel === "function" ? (name) => new BroadcastChannel(name) : undefined,
    relayPolicy,
    env: browserEnvironment(),
    profileOverrides: options.p2pIdleMs ? { p2pIdleCloseMs: options.p2pIdleMs } : undefined,
    debug: options.debug,
  }).catch((error) => {
    removeEventListener("pagehide", onPageHide);
    roomClosed();
    throw error;
  });
  held.view = view;
  // The key stays on this device (never sent anywhere), so the landing page can reopen the chat.
  void store.patchState(options.room, { key: options.fragment.replace(/^#/, ""), openedAt: Date.now() })
    .catch((error) => console.warn("Parley: remembering the chat failed", error));
  const stopMarking = markRead(view, (readId) => store.patchState(options.room, { readId }));
  // After the first message sent, the user means to keep the chat: ask the browser once not to evict it. On a first
  // visit a message sent before the room settled opens the database at once: the outbox goes to disk.
  const send = view.send.bind(view);
  view.send = async (text) => {
    if (firstVisit) void store.start();
    await send(text);
    void askPersist();
  };
  const stopOpening = firstVisit ? whenSettled(view, () => void store.start()) : undefined;
  // The store's reopen timer stops with the room.
  const closeView = view.close.bind(view);
  view.close = () => {
    stopMarking();
    stopOpening?.();
    removeEventListener("pagehide", onPageHide);
    roomClosed();
    closeView();
    store.close();
  };
  return { ok: true, view };
}

/**
 * The resilient store's code: a lazy chunk. A first visit loads it once its room has settled (`store_deferred.ts`); a
 * return visit at once, from the service worker's cache.
 */
const loadResilientStore = () => import("./store_resilient.ts");

/** Asks for persistent storage once per page; `navigator.storage` is missing in some browsers and insecure pages. */
const askPersist = persistOnce(() => (globalThis.navigator as { storage?: PersistApi } | undefined)?.storage);

/** Remembers the newest message shown while the page is visible (the landing page counts unread after it). */
function markRead(view: RoomView, save: (readId: string) => Promise<unknown>): () => void {
  let saved: string | undefined;
  const mark = () => {
    if (typeof document !== "undefined" && document.visibilityState !== "visible") return;
    const last = view.messages.peek().at(-1);
    if (!last || last.id === saved) return;
    saved = last.id;
    save(last.id).catch((error) => console.warn("Parley: remembering what was read failed", error));
  };
  const stop = effect(() => {
    void view.messages.value;
    untracked(mark);
  });
  addEventListener("visibilitychange", mark);
  return () => {
    stop();
    removeEventListener("visibilitychange", mark);
  };
}

/** The origin's `localStorage`, or undefined where reading it is refused (sandboxed frames, some private modes). */
function localStorageOrUndefined(): Storage | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    // Access itself threw (SecurityError).
    return undefined;
  }
}

/** This tab's `sessionStorage`, or undefined where reading it is refused (sandboxed frames, some private modes). */
function tabStorage(): SessionStorageLike | undefined {
  try {
    return globalThis.sessionStorage;
  } catch {
    // Access itself threw (SecurityError): the session then lives in memory for this page.
    return undefined;
  }
}

/**
 * The seed's relay hold for the baseline benchmarks, loaded only when the server asks for it (a lazy chunk: the
 * timers it shares with the room come from the room's own module).
 */
async function relayHold(hold: number | "never"): Promise<RelayPolicy> {
  const { createRelayHold } = await import("./relay_hold.ts");
  return createRelayHold({ holdMs: hold === "never" ? Infinity : hold });
}
