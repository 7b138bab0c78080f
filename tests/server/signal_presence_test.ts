import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { ServerProcess } from "../support/server_process.ts";
import { TestClient } from "../support/signal_test_client.ts";

Deno.test("presence goes joined, away during the resume window, then left; resume and bye", async (t) => {
  // A short window so "left" comes quickly; resume steps reconnect at once, well inside it.
  const server = await ServerProcess.start({ env: { RESUME_WINDOW: "2" } });
  const room = newRoomId();
  const alice = await TestClient.connect(server.signalUrl(room));
  const clients: TestClient[] = [alice];
  try {
    await alice.hello();

    await t.step("a peer that drops is away, then left when its window ends", async (t) => {
      const bob = await TestClient.connect(server.signalUrl(room));
      clients.push(bob);
      const b = await bob.hello();
      assertEquals(await alice.nextOf("presence"), { type: "presence", peer: b.peer, state: "joined" });
      await bob.close();
      assertEquals(await alice.nextOf("presence"), { type: "presence", peer: b.peer, state: "away" });
      assertEquals(await alice.nextOf("presence"), { type: "presence", peer: b.peer, state: "left" });
      await t.step("and its token no longer resumes: a new id is given", async () => {
        const again = await TestClient.connect(server.signalUrl(room));
        clients.push(again);
        const w = await again.hello({ token: b.token });
        assertEquals(w.resumed, false);
        assertNotEquals(w.peer, b.peer);
        assertEquals((await alice.nextOf("presence")).state, "joined");
        await again.close();
        assertEquals((await alice.nextOf("presence")).state, "away");
        assertEquals((await alice.nextOf("presence")).state, "left");
      });
    });

    await t.step("a peer that comes back within its window keeps its id and is online again", async (t) => {
      const carol = await TestClient.connect(server.signalUrl(room));
      clients.push(carol);
      const c = await carol.hello();
      assertEquals((await alice.nextOf("presence")).state, "joined");
      await carol.close();
      assertEquals(await alice.nextOf("presence"), { type: "presence", peer: c.peer, state: "away" });
      const back = await TestClient.connect(server.signalUrl(room));
      clients.push(back);
      const w = await back.hello({ token: c.token });
      assertEquals([w.resumed, w.peer, w.token], [true, c.peer, c.token]);
      assertEquals(await alice.nextOf("presence"), { type: "presence", peer: c.peer, state: "online" });
      assert(w.peers.some((p) => p.id === alice.welcome!.peer && p.presence === "online"));

      await t.step("a second socket with the same token replaces the first", async (t) => {
        const twin = await TestClient.connect(server.signalUrl(room));
        clients.push(twin);
        const tw = await twin.hello({ token: c.token });
        assertEquals([tw.resumed, tw.peer], [true, c.peer]);
        assertEquals((await back.nextOf("error")).code, "replaced");
        assertEquals((await back.waitClosed()).code, 4000);
        await t.step("bye leaves at once and ends the session", async () => {
          twin.send({ type: "bye" });
          assertEquals((await twin.waitClosed()).code, 1000);
          // The replaced socket caused no away; the next presence is the bye's left.
          assertEquals(await alice.nextOf("presence"), { type: "presence", peer: c.peer, state: "online" });
          assertEquals(await alice.nextOf("presence"), { type: "presence", peer: c.peer, state: "left" });
          const after = await TestClient.connect(server.signalUrl(room));
          clients.push(after);
          assertEquals((await after.hello({ token: c.token })).resumed, false);
        });
      });
    });
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});
