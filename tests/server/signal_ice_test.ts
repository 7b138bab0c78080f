/**
 * ICE servers over the socket: only for admitted sessions, a few per session.
 * @module
 */
import { assertEquals, assertMatch } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { ICE_RATE } from "../../lib/server/ice_access.ts";
import { IceServers, parseIceConfig } from "../../lib/server/ice_servers.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { TestClient } from "../support/signal_test_client.ts";

const SECRET = "s3cret-that-must-never-leave-the-server";
/** A frozen clock: buckets never refill, so the count of requests alone decides. */
const NOW = 1_700_000_000_000;

function turnIce(): IceServers {
  const env: Record<string, string> = { TURN_URLS: "turn:turn.example.org?transport=udp", TURN_SECRET: SECRET };
  return new IceServers(parseIceConfig((name) => env[name]), { now: () => NOW });
}

Deno.test("an admitted peer gets ICE servers over its socket, a few times per session", async (t) => {
  const server = await startInProcess({ ice: turnIce(), now: () => NOW });
  const room = newRoomId();
  const clients: TestClient[] = [];
  const connect = async () => {
    const client = await TestClient.connect(server.signalUrl(room));
    clients.push(client);
    return client;
  };
  try {
    const alice = await connect();
    const welcome = await alice.hello();

    await t.step("the ice frame gets servers with a TURN credential minted for this peer, and the ttl", async () => {
      alice.send({ type: "ice" });
      const answer = await alice.nextOf("ice");
      assertEquals(answer.ttl, 600);
      const [turn] = answer.iceServers as { urls: string[]; username: string; credential: string }[];
      assertEquals(turn.urls, ["turn:turn.example.org?transport=udp"]);
      assertEquals(turn.username, `${NOW / 1000 + 600}:${welcome.peer}`);
      assertMatch(turn.credential, /^[A-Za-z0-9+/]{27}=$/);
    });

    await t.step(
      `after ${ICE_RATE.burst} requests the session is refused with rate_limited; the socket stays open`,
      async () => {
        for (let i = 1; i < ICE_RATE.burst; i++) alice.send({ type: "ice" });
        alice.send({ type: "ice" });
        // The refusal is immediate, the answers come as their credentials are signed: count, not order.
        const answers = () =>
          alice.all.filter((f) => f.type === "ice" || (f.type === "error" && f.code !== "verifier_required"));
        await alice.until(() => answers().length === ICE_RATE.burst + 1);
        const codes = answers().map((f) => f.type === "ice" ? "ice" : f.code as string).sort();
        assertEquals(codes, [...Array(ICE_RATE.burst).fill("ice"), "rate_limited"]);
        alice.send({ type: "ping", n: 1 });
        assertEquals((await alice.nextOf("pong")).n, 1, "the socket is still open and served");
      },
    );

    await t.step("resuming the session on a new socket does not refill its allowance", async () => {
      await alice.close();
      const back = await connect();
      await back.hello({ token: welcome.token });
      back.send({ type: "ice" });
      assertEquals((await back.next((f) => f.type === "ice" || f.type === "error")).code, "rate_limited");
    });

    await t.step("another session of the room has its own allowance", async () => {
      const bob = await connect();
      await bob.hello();
      bob.send({ type: "ice" });
      assertEquals((await bob.next((f) => f.type === "ice" || f.type === "error")).type, "ice");
    });

    await t.step("before the welcome, an ice frame is refused: hello_required, close 4400", async () => {
      const early = await connect();
      await early.challenge();
      early.send({ type: "ice" });
      assertEquals((await early.nextOf("error")).code, "hello_required");
      assertEquals((await early.waitClosed()).code, 4400);
    });
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});
