import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { ServerProcess } from "../support/server_process.ts";
import { type Received, TestClient } from "../support/signal_test_client.ts";

/** Sends `count` chat frames with ids `prefix0..` and waits until all are accepted. */
async function sendAll(client: TestClient, prefix: string, count: number, to?: string): Promise<Received[]> {
  for (let i = 0; i < count; i++) {
    client.send(
      to
        ? { type: "chat", id: `${prefix}${i}`, to, data: `ZGF0YQ${i}` }
        : { type: "chat", id: `${prefix}${i}`, data: `ZGF0YQ${i}` },
    );
  }
  const acks: Received[] = [];
  for (let i = 0; i < count; i++) {
    acks.push(await client.next((f) => f.type === "accepted" && f.id === `${prefix}${i}`));
  }
  return acks;
}

/** Chat frames received so far, taken from the inbox. */
function takeChats(client: TestClient): Received[] {
  const chats = client.inbox.filter((f) => f.type === "chat");
  client.inbox.splice(0, client.inbox.length, ...client.inbox.filter((f) => f.type !== "chat"));
  return chats;
}

function assertIncreasing(chats: Received[]): void {
  for (let i = 1; i < chats.length; i++) {
    assert((chats[i].seq as number) > (chats[i - 1].seq as number), `seq ${chats[i].seq} after ${chats[i - 1].seq}`);
  }
}

Deno.test("resume with the token keeps the id and delivers what was missed, in order, none twice", async (t) => {
  const server = await ServerProcess.start();
  const room = newRoomId();
  const alice = await TestClient.connect(server.signalUrl(room));
  let bob = await TestClient.connect(server.signalUrl(room));
  const clients = [alice, bob];
  try {
    await alice.hello({ since: 0 });
    const b = await bob.hello({ since: 0 });
    const bobChats: Received[] = [];

    await t.step("bob receives live frames and remembers the last seq", async () => {
      const acks = await sendAll(alice, "live", 3);
      for (let i = 0; i < 3; i++) bobChats.push(await bob.nextOf("chat"));
      assertEquals(bobChats.map((c) => c.id), ["live0", "live1", "live2"]);
      assertEquals(bobChats.map((c) => c.seq), acks.map((a) => a.seq));
    });

    await t.step("bob drops; alice keeps sending and everything is accepted", async () => {
      await bob.close();
      await sendAll(alice, "missed", 5);
    });

    await t.step("bob resumes with token and since while alice keeps sending: every frame once, in order", async () => {
      const since = bobChats.at(-1)!.seq as number;
      bob = await TestClient.connect(server.signalUrl(room));
      clients.push(bob);
      // Frames sent while the backlog streams exercise the backlog/live boundary.
      const during = sendAll(alice, "during", 50);
      const w = await bob.hello({ token: b.token, since });
      assertEquals([w.resumed, w.peer], [true, b.peer]);
      await during;
      await sendAll(alice, "after", 2);
      const expected = [
        ...Array.from({ length: 5 }, (_, i) => `missed${i}`),
        ...Array.from({ length: 50 }, (_, i) => `during${i}`),
        "after0",
        "after1",
      ];
      await bob.until(() => bob.inbox.some((f) => f.type === "chat" && f.id === "after1"));
      const chats = takeChats(bob);
      assertEquals(chats.map((c) => c.id), expected);
      assertIncreasing(chats);
      const synced = bob.all.find((f) => f.type === "synced")!;
      assert((synced.last as number) >= (chats[4].seq as number), "the backlog covered the missed frames");
      assertEquals(bob.all.filter((f) => f.type === "welcome").length, 1);
    });

    await t.step("a late joiner receives the room's earlier messages from the log, in order", async () => {
      alice.send({ type: "chat", id: "private", to: b.peer, data: "c2VjcmV0" });
      await alice.next((f) => f.type === "accepted" && f.id === "private");
      const carol = await TestClient.connect(server.signalUrl(room));
      clients.push(carol);
      await carol.hello({ since: 0 });
      const synced = await carol.nextOf("synced");
      const chats = takeChats(carol);
      assertEquals(chats.length, 3 + 5 + 50 + 2);
      assertEquals(chats[0].id, "live0");
      assertIncreasing(chats);
      assert(!chats.some((c) => c.id === "private"), "a frame for bob only is not replayed to carol");
      // The backlog covers the private frame too (the newest entry), though carol does not see it.
      assertEquals(synced.last, chats.at(-1)!.seq as number + 1);
      assert(chats.every((c) => c.from === alice.welcome!.peer));
    });

    await t.step("frames sent right after the welcome are handled while the backlog streams", async () => {
      const erin = await TestClient.connect(server.signalUrl(room));
      clients.push(erin);
      erin.send(await erin.helloFrame({ since: 0 }));
      await erin.nextOf("welcome");
      erin.send({ type: "chat", id: "early", data: "ZWFybHk" });
      erin.send({ type: "ping", n: 1 });
      assertEquals((await erin.nextOf("accepted")).id, "early");
      assertEquals((await erin.nextOf("pong")).n, 1);
      await erin.nextOf("synced");
      assert(!erin.all.some((f) => f.type === "error"), JSON.stringify(erin.all.filter((f) => f.type === "error")));
    });

    await t.step("a joiner without since gets no backlog", async () => {
      const dave = await TestClient.connect(server.signalUrl(room));
      clients.push(dave);
      const w = await dave.hello();
      assertEquals(w.log.last, 62);
      alice.send({ type: "chat", id: "fresh", data: "bmV3" });
      const chat = await dave.nextOf("chat");
      assertEquals([chat.id, chat.seq], ["fresh", 63]);
      assert(!dave.all.some((f) => f.type === "synced"));
    });
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});

Deno.test("a joiner is told about entries the log's bounds dropped", async () => {
  const server = await ServerProcess.start({ env: { ROOM_LOG_MAX_ENTRIES: "3" } });
  const room = newRoomId();
  const alice = await TestClient.connect(server.signalUrl(room));
  const bob = await TestClient.connect(server.signalUrl(room));
  try {
    await alice.hello();
    await sendAll(alice, "m", 5);
    const w = await bob.hello({ since: 0 });
    assertEquals([w.log.first, w.log.last], [3, 5]);
    assertEquals(await bob.next(), { type: "gap", from: 1, to: 2 });
    for (const seq of [3, 4, 5]) assertEquals((await bob.next()).seq, seq);
    assertEquals(await bob.next(), { type: "synced", last: 5 });
  } finally {
    await alice.close();
    await bob.close();
    await server.stop();
  }
});
