import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { ServerProcess } from "../support/server_process.ts";
import { TestClient } from "../support/signal_test_client.ts";

Deno.test("the room log and sessions survive a server killed with SIGKILL and restarted on the same KV", async (t) => {
  const room = newRoomId();
  let server = await ServerProcess.start();
  const kvPath = server.kvPath;
  const clients: TestClient[] = [];
  try {
    const alice = await TestClient.connect(server.signalUrl(room));
    clients.push(alice);
    const a = await alice.hello({ since: 0 });
    const acked: number[] = [];

    await t.step("alice's frames are accepted, then the server is killed", async () => {
      for (let i = 0; i < 20; i++) alice.send({ type: "chat", id: `m${i}`, data: `Ym9keQ${i}` });
      for (let i = 0; i < 20; i++) {
        acked.push((await alice.next((f) => f.type === "accepted" && f.id === `m${i}`)).seq as number);
      }
      const status = await server.stop("SIGKILL");
      assertEquals(status.signal, "SIGKILL");
      // No close frame comes from a killed process (Deno reports 1006 or 0).
      assert((await alice.waitClosed()).code !== 1012);
    });

    await t.step("after a restart a new peer receives every accepted frame", async () => {
      server = await ServerProcess.start({ kvPath });
      const bob = await TestClient.connect(server.signalUrl(room));
      clients.push(bob);
      await bob.hello({ since: 0 });
      await bob.nextOf("synced");
      const chats = bob.all.filter((f) => f.type === "chat");
      assertEquals(chats.map((c) => c.id), Array.from({ length: 20 }, (_, i) => `m${i}`));
      assertEquals(chats.map((c) => c.seq), acked);
    });

    await t.step("alice resumes with her token and keeps her id", async () => {
      const back = await TestClient.connect(server.signalUrl(room));
      clients.push(back);
      const w = await back.hello({ token: a.token, since: acked.at(-1) });
      assertEquals([w.resumed, w.peer], [true, a.peer]);
      assertEquals(await back.next(), { type: "synced", last: acked.at(-1)! });
    });
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});

Deno.test("SIGTERM closes sockets with 1012 after acknowledging and storing every accepted frame", async () => {
  const room = newRoomId();
  let server = await ServerProcess.start();
  const alice = await TestClient.connect(server.signalUrl(room));
  let bob: TestClient | null = null;
  try {
    await alice.hello();
    for (let i = 0; i < 200; i++) alice.send({ type: "chat", id: `m${i}`, data: `Ym9keQ${i}` });
    // Stop while frames are still arriving: whatever was accepted must be in the log.
    await alice.next((f) => f.type === "accepted");
    const status = await server.stop("SIGTERM");
    assertEquals(status.code, 0);
    const closed = await alice.waitClosed();
    assertEquals([closed.code, closed.reason], [1012, "server restart"]);
    const accepted = new Set(alice.all.filter((f) => f.type === "accepted").map((f) => f.id as string));
    assert(accepted.size >= 1);

    server = await ServerProcess.start({ kvPath: server.kvPath });
    bob = await TestClient.connect(server.signalUrl(room));
    await bob.hello({ since: 0 });
    await bob.nextOf("synced");
    const logged = new Set(bob.all.filter((f) => f.type === "chat").map((f) => f.id as string));
    for (const id of accepted) assert(logged.has(id), `accepted ${id} is missing after restart`);
  } finally {
    await alice.close();
    await bob?.close();
    await server.stop();
  }
});
