/**
 * The key share of a first visit's tabs, over a fake lock manager and a fake
 * broadcast bus shared by two "tabs": the later tab finds the key pair the
 * first one offers while it holds the lock, and nothing once the first tab's
 * store is durable (the lock is released), without waiting for a timeout.
 * @module
 */
import { assertEquals, assertStrictEquals } from "@std/assert";
import { createKeyShare, type ShareChannel, type ShareLocks, withStoredFallback } from "../../lib/client/key_share.ts";
import { generateMemberKeys, identityFromKeys, isKeyPair, loadIdentity } from "../../lib/client/identity.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";

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
