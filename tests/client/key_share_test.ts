/**
 * The key share of a first visit's tabs, over a fake lock manager and a fake
 * broadcast bus shared by two "tabs": the later tab finds the key pair the
 * first one offers while it holds the lock, and nothing once the first tab's
 * store is durable (the lock is released), without waiting for a timeout.
 * @module
 */
// fake-indexeddb (dev-only): the one database of a browser's tabs, each with its own connection.
import "fake-indexeddb/auto";
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import {
  createKeyShare,
  type ShareChannel,
  type ShareLocks,
  storedKeyPair,
  withStoredFallback,
} from "../../lib/client/key_share.ts";
import { generateMemberKeys, identityFromKeys, isKeyPair, loadIdentity } from "../../lib/client/identity.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { openIdbStore } from "../../lib/client/store_idb.ts";
import { openResilientStore, type ResilientStore } from "../../lib/client/store_resilient.ts";

/** One origin's locks: a lock is held while its callback's promise is pending (no queueing needed here). */
function fakeLocks(): ShareLocks {
  const held = new Set<string>();
  return {
    async request(name, fn) {
      held.add(name);
      try {
        return await fn();
      } finally {
        held.delete(name);
      }
    },
    query: () => Promise.resolve({ held: [...held].map((name) => ({ name })) }),
  };
}

/** One origin's broadcast bus: a message reaches every other open channel of the same name. */
function fakeBus(): (name: string) => ShareChannel {
  const open = new Set<{ name: string; channel: ShareChannel }>();
  return (name) => {
    const entry = {
      name,
      channel: {
        onmessage: null,
        postMessage(data: unknown) {
          for (const other of open) {
            if (other !== entry && other.name === name) {
              queueMicrotask(() => other.channel.onmessage?.({ data } as MessageEvent));
            }
          }
        },
        close: () => void open.delete(entry),
      } as ShareChannel,
    };
    open.add(entry);
    return entry.channel;
  };
}

Deno.test("a later tab of a first visit takes the key pair the first tab offers, until that tab's store is durable", async () => {
  const locks = fakeLocks();
  const openChannel = fakeBus();
  let durable!: () => void;
  const until = new Promise<void>((resolve) => durable = resolve);
  const first = createKeyShare({ room: "r", until, locks, openChannel });
  const later = createKeyShare({ room: "r", until: new Promise(() => {}), locks, openChannel, answerMs: 60_000 });

  assertEquals(await later.find(), undefined, "nobody offers yet: no question asked, no wait");
  const keys = await generateMemberKeys();
  await first.offer(keys);
  const found = await later.find();
  assertStrictEquals(found, keys, "the offered key pair itself (a browser clones it)");

  durable();
  await until;
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(await later.find(), undefined, "once stored, the store is where tabs find it");
});

Deno.test("another room's offer is not found", async () => {
  const locks = fakeLocks();
  const openChannel = fakeBus();
  await createKeyShare({ room: "a", until: new Promise(() => {}), locks, openChannel }).offer(
    await generateMemberKeys(),
  );
  assertEquals(await createKeyShare({ room: "b", until: new Promise(() => {}), locks, openChannel }).find(), undefined);
});

/**
 * Two tabs of one browser: the first made its key pair and offers it, its write-back to the database still to come.
 * The later tab reads the database (nothing yet), and right then the first tab writes back and lets go of its share.
 * Returns whether the later tab joined as the first tab's member, with or without the database fallback.
 */
async function laterTabAfterLetGo(fallback: boolean): Promise<{ sameMember: boolean; reads: number }> {
  // One database for both tabs (a durable MemoryStore stands in for IndexedDB).
  const database = new MemoryStore();
  const locks = fakeLocks();
  const openChannel = fakeBus();
  let stored!: () => void;
  const until = new Promise<void>((resolve) => stored = resolve);
  const firstKeys = await generateMemberKeys();
  await createKeyShare({ room: "r", until, locks, openChannel }).offer(firstKeys);

  let reads = 0;
  const readFirst = async (room: string) => {
    const state = await database.getState(room);
    if (++reads === 1) {
      await database.patchState(room, { identity: firstKeys });
      stored();
      await until;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return state;
  };
  // The later tab's own connection to that database: its first read is the one the first tab's write-back follows.
  const laterStore = new Proxy(database, {
    get: (target, key) => key === "getState" ? readFirst : Reflect.get(target, key).bind(target),
  });
  const share = createKeyShare({ room: "r", until: new Promise(() => {}), locks, openChannel });
  const identity = await loadIdentity({
    room: "r",
    store: laterStore,
    share: fallback
      ? withStoredFallback(share, async () => {
        const saved = (await database.getState("r")).identity;
        return isKeyPair(saved) ? saved : undefined;
      })
      : share,
  });
  return { sameMember: identity.member === (await identityFromKeys("r", firstKeys)).member, reads };
}

Deno.test("a tab whose store read came just before the first tab stored the key pair and let go still joins as that member", async () => {
  assertEquals(await laterTabAfterLetGo(true), { sameMember: true, reads: 1 }, "one member for the two tabs");
  assertEquals(
    await laterTabAfterLetGo(false),
    { sameMember: false, reads: 1 },
    "the share alone finds nothing once the first tab let go: a second member (what the fallback is for)",
  );
});

/**
 * The same interleaving with the page's own store (a return visit's: IndexedDB through the resilient store, which
 * reads a room into a copy once) and the page's own fallback: the later tab's store reads the room, the first tab's
 * write-back stores the key pair and it lets go of its share, then the later tab asks. `fallback` reads the key pair
 * again; returns whether the later tab joined as the first tab's member, and whether the database still holds the
 * first tab's key pair then.
 */
async function returnVisitAfterLetGo(
  fallback: (store: ResilientStore) => Promise<CryptoKeyPair | undefined>,
): Promise<{ sameMember: boolean; storedFirst: boolean }> {
  const name = `parley-share-${crypto.randomUUID()}`;
  const locks = fakeLocks();
  const openChannel = fakeBus();
  let stored!: () => void;
  const until = new Promise<void>((resolve) => stored = resolve);
  const firstKeys = await generateMemberKeys();
  await createKeyShare({ room: "r", until, locks, openChannel }).offer(firstKeys);

  const later = await openResilientStore({ name });
  let reads = 0;
  const readFirst = async (room: string) => {
    const state = await later.getState(room);
    if (++reads === 1) {
      // The first tab's write-back, on its own connection to the database, then it lets go.
      const first = await openIdbStore(name);
      await first.patchState(room, { identity: firstKeys });
      first.close();
      stored();
      await until;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return state;
  };
  const laterStore = new Proxy(later, {
    get: (target, key) => {
      if (key === "getState") return readFirst;
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  try {
    assert(later.durable(), "a return visit's store has the database open");
    const share = createKeyShare({ room: "r", until: new Promise(() => {}), locks, openChannel });
    const identity = await loadIdentity({
      room: "r",
      store: laterStore,
      share: withStoredFallback(share, () => fallback(later)),
    });
    await later.settled();
    const db = await openIdbStore(name);
    const saved = (await db.getState("r")).identity;
    db.close();
    const firstMember = (await identityFromKeys("r", firstKeys)).member;
    return {
      sameMember: identity.member === firstMember,
      storedFirst: isKeyPair(saved) && (await identityFromKeys("r", saved)).member === firstMember,
    };
  } finally {
    later.close();
  }
}

Deno.test("a return visit's tab whose store read the room before the first tab stored it finds the key pair in the database", async () => {
  assertEquals(
    await returnVisitAfterLetGo((store) => storedKeyPair(store, "r")),
    { sameMember: true, storedFirst: true },
    "one member for the two tabs",
  );
  const copy = await returnVisitAfterLetGo(async (store) => {
    // What the page read before: the store's copy of the room, taken before the first tab's write-back.
    await store.start();
    const saved = (await store.getState("r")).identity;
    return isKeyPair(saved) ? saved : undefined;
  });
  assertEquals(
    copy,
    { sameMember: false, storedFirst: false },
    "the copy has no key pair: a second member, whose key pair replaced the first tab's in the database",
  );
});
