import { assertEquals } from "@std/assert";
import { newRoomId, randomId } from "../../lib/protocol/ids.ts";
import { ServerProcess } from "../support/server_process.ts";
import { TestClient } from "../support/signal_test_client.ts";

Deno.test("the first peer's proof sets the room's verifier; later peers need a matching proof", async (t) => {
  const server = await ServerProcess.start();
  const room = newRoomId();
  const proof = randomId(32);
  const clients: TestClient[] = [];
  const connect = async () => {
    const client = await TestClient.connect(server.signalUrl(room));
    clients.push(client);
    return client;
  };
  try {
    const alice = await connect();
    const a = await alice.hello({ proof });

    await t.step("a peer with the same proof is admitted", async () => {
      const bob = await connect();
      assertEquals((await bob.hello({ proof })).peers, [{ id: a.peer, presence: "online" }]);
    });

    await t.step("a wrong proof is refused with admission_refused and close 4403", async () => {
      const mallory = await connect();
      mallory.send({ type: "hello", v: 1, proof: randomId(32) });
      const error = await mallory.nextOf("error");
      assertEquals(error.code, "admission_refused");
      assertEquals(await mallory.waitClosed(), { code: 4403, reason: "admission_refused" });
    });

    await t.step("a missing proof is refused too", async () => {
      const mallory = await connect();
      mallory.send({ type: "hello", v: 1 });
      assertEquals((await mallory.nextOf("error")).code, "admission_refused");
      assertEquals((await mallory.waitClosed()).code, 4403);
    });

    await t.step("a session token resumes without the proof", async () => {
      await alice.close();
      const back = await connect();
      assertEquals((await back.hello({ token: a.token })).peer, a.peer);
    });

    await t.step("nobody in the room learnt of the refused peers", async () => {
      const bob = clients[1];
      await bob.until(() => bob.all.filter((f) => f.type === "presence").length >= 2);
      const bobFrames = clients[1].all.filter((f) => f.type === "presence").map((f) => f.state);
      assertEquals(bobFrames, ["away", "online"]);
    });
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});
