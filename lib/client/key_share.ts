/**
 * The {@link KeyShare} of a first visit in the browser: the tab that made the
 * room's key pair holds the Web Lock `parley-first-visit:<room>` until its
 * store is durable, and answers `ask` on the BroadcastChannel of that name
 * with the key pair (a CryptoKeyPair is structured-cloneable, its private key
 * staying non-extractable). A later tab of the same visit (two tabs opened
 * at once, before either has stored the room) finds the lock held, asks, and
 * takes that key pair, so the two tabs are one member, as they are once the
 * room is stored. So does a tab that comes after the first tab's database
 * opened but before its key pair was written there. Without a holder it asks
 * nothing: a lone tab waits for one lock query, not for a timeout, and a tab
 * whose store holds the room's key pair never asks.
 * @module
 */
import { isKeyPair, type KeyShare } from "./identity.ts";
import type { PageStore } from "./store_deferred.ts";

/** How long a later tab waits for the holder's answer, ms (a busy tab; the holder may also be closing). */
export const KEY_SHARE_ANSWER_MS = 2_000;

/** The slice of the Web Locks API used here. */
export interface ShareLocks {
  /** Requests a lock; `fn` runs once it is granted, and the lock is held until its promise settles. */
  request(name: string, fn: () => Promise<unknown>): Promise<unknown>;
  /** The locks held now (by any tab of the origin). */
  query(): Promise<{ held?: { name?: string }[] }>;
}

/** The slice of a BroadcastChannel used here. */
export interface ShareChannel {
  /** Sends to the other tabs. */
  postMessage(message: unknown): void;
  /** Told of each message from another tab. */
  onmessage: ((event: MessageEvent) => void) | null;
  /** Stops the channel. */
  close(): void;
}

/** Options of {@link createKeyShare}. */
export interface KeyShareOptions {
  /** The room whose key pair is shared. */
  room: string;
  /** Settles when this tab's store is durable (the key pair is then in the store) or the room is closed. */
  until: Promise<unknown>;
  /** The Web Locks API (`navigator.locks`). */
  locks: ShareLocks;
  /** Opens a BroadcastChannel by name. */
  openChannel(name: string): ShareChannel;
  /** How long to wait for the holder's answer, ms (default {@link KEY_SHARE_ANSWER_MS}). */
  answerMs?: number;
}

/** A key share over Web Locks and a BroadcastChannel; neither method ever rejects. */
export function createKeyShare(options: KeyShareOptions): KeyShare {
  const name = `parley-first-visit:${options.room}`;
  const answerMs = options.answerMs ?? KEY_SHARE_ANSWER_MS;
  return {
    async find() {
      try {
        const { held = [] } = await options.locks.query();
        if (!held.some((lock) => lock.name === name)) return undefined;
      } catch {
        return undefined;
      }
      const channel = options.openChannel(name);
      try {
        return await new Promise<CryptoKeyPair | undefined>((resolve) => {
          const timer = setTimeout(() => resolve(undefined), answerMs);
          channel.onmessage = (event) => {
            if (!isKeyPair(event.data)) return;
            clearTimeout(timer);
            resolve(event.data);
          };
          channel.postMessage("ask");
        });
      } finally {
        channel.close();
      }
    },
    offer(keys) {
      return new Promise<void>((granted) => {
        let channel: ShareChannel | undefined;
        options.locks.request(name, () => {
          channel = options.openChannel(name);
          channel.onmessage = (event) => {
            if (event.data === "ask") channel?.postMessage(keys);
          };
          granted();
          return options.until.catch(() => {});
        }).catch(() => granted()).finally(() => channel?.close());
      });
    },
  };
}

/** The browser's key share for `room`, or undefined where Web Locks or BroadcastChannel are missing. */
export function browserKeyShare(room: string, until: Promise<unknown>): KeyShare | undefined {
  const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
  if (!locks || typeof locks.query !== "function" || typeof BroadcastChannel !== "function") return undefined;
  return createKeyShare({
    room,
    until,
    locks: {
      request: (lock, fn) => locks.request(lock, fn),
      query: () => locks.query(),
    },
    openChannel: (channel) => new BroadcastChannel(channel),
  });
}

/**
 * A key share that, when no tab offers a key pair, also looks where a tab that already let go of its share put it:
 * `stored()` (the database). Without it, a second tab that read its store before the first had stored the room, and
 * asked after the first had let go, made a second member: a first visit's tab (its store is memory until it starts),
 * and also a return visit's tab whose read came just before the first tab's write-back (`tests/client/key_share_test.ts`
 * plays that interleaving). Without a key share (no Web Locks or BroadcastChannel) there is nothing to wrap.
 */
export function withStoredFallback(
  share: KeyShare | undefined,
  stored: () => Promise<CryptoKeyPair | undefined>,
): KeyShare | undefined {
  if (!share) return share;
  return {
    offer: (keys) => share.offer(keys),
    find: async () => await share.find() ?? await stored(),
  };
}

/**
 * The room's key pair as the database holds it now, for {@link withStoredFallback}: the page's store opened first (a
 * first visit's store is memory until then). Read from the database itself, not from the store's copy of the room:
 * that copy was read before the key share was asked, and the tab that let go of its share stored the key pair since.
 */
export async function storedKeyPair(store: PageStore, room: string): Promise<CryptoKeyPair | undefined> {
  await store.start();
  const saved = (await store.storedState(room))?.identity;
  return isKeyPair(saved) ? saved : undefined;
}
