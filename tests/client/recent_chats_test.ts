import { assertEquals } from "@std/assert";
import { forgetChat, listRecentChats, renameChat } from "../../lib/client/recent_chats.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import type { StoredMessage } from "../../lib/client/store.ts";

function message(id: string, order: string, status: StoredMessage["status"], time: number): StoredMessage {
  return { id, author: "m", order, body: `body ${id}`, status, time };
}

Deno.test("recent chats: only rooms with a kept key, newest first, unread after the last seen, rename and forget", async () => {
  const store = new MemoryStore();
  await store.patchState("old", { key: "k1", openedAt: 10 });
  await store.patchState("new", { key: "k2", readId: "b" });
  await store.patchState("keyless", { name: "me" });
  for (const m of [message("a", "1", "received", 100), message("b", "2", "sent", 200)]) {
    await store.putMessage("new", m);
  }
  await store.putMessage("new", message("c", "3", "received", 300));
  await store.putMessage("new", message("d", "4", "received", 400));

  let chats = await listRecentChats(store);
  assertEquals(chats.map((c) => c.room), ["new", "old"]);
  assertEquals(chats[0], { room: "new", href: "/new#k2", lastAt: 400, unread: 2, lastMessage: "body d" });
  assertEquals(chats[1].unread, 0);
  // The last message is this member's own: the list says so.
  await store.putMessage("new", message("e", "5", "sent", 500));
  assertEquals((await listRecentChats(store))[0].lastOwn, true);

  // Without a local name, a chat is called by the people named in it, the most recently named first.
  await store.patchState("old", { names: { m1: "Anna", m2: "Boris", m3: "Vera", m4: "Gleb" } });
  assertEquals((await listRecentChats(store))[1].people, ["Gleb", "Vera", "Boris"]);

  await renameChat(store, "old", "  Lunch  ");
  chats = await listRecentChats(store);
  assertEquals(chats[1].title, "Lunch");

  await forgetChat(store, "new");
  assertEquals((await listRecentChats(store)).map((c) => c.room), ["old"]);
  assertEquals(await store.listMessages("new"), []);
  assertEquals(await store.listOutbox("new"), []);
});
