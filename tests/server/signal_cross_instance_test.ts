import { assertEquals } from "@std/assert";
import type { BusKind } from "../../lib/server/config.ts";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { ServerProcess, tempKvPath } from "../support/server_process.ts";
import { TestClient } from "../support/signal_test_client.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";

/** Something that serves /api/signal. */
interface Instance {
  signalUrl(room: string): string;
}

/** Starts a server instance in a Web Worker of this process. */
async function startWorker(kvPath: string, bus: BusKind): Promise<Instance & { stop(): Promise<void> }> {
  const worker = new Worker(new URL("../support/signal_worker.ts", import.meta.url), { type: "module" });
  const message = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => reject(new Error(`worker failed: ${event.message}`));
    });
  const ready = message();
  worker.postMessage({ kvPath, bus });
  const { port } = await ready as { port: number };
  return {
    signalUrl: (room) => `ws://127.0.0.1:${port}/api/signal?v=${PROTOCOL_VERSION}&room=${room}`,
    async stop() {
      const stopped = message();
      worker.postMessage("stop");
      await stopped;
      worker.terminate();
    },
  };
}

/** Two instances, a peer on each: presence, chat, signals, resume across them and takeover. */
async function crossInstanceScenario(t: Deno.TestContext, one: Instance, two: Instance): Promise<void> {
  const room = newRoomId();
  const clients: TestClient[] = [];
  const connect = async (instance: Instance) => {
    const client = await TestClient.connect(instance.signalUrl(room));
    clients.push(client);
    return client;
  };
  try {
    const alice = await connect(one);
    const a = await alice.hello({ since: 0 });
    const bob = await connect(two);
    const b = await bob.hello({ since: 0 });

    await t.step("the second instance's welcome lists the first one's peer, and the first hears the join", async () => {
      assertEquals(b.peers, [{ id: a.peer, presence: "online" }]);
      assertEquals(await alice.nextOf("presence"), { type: "presence", peer: b.peer, state: "joined" });
    });

    await t.step("chat and signals cross instances, stamped", async () => {
      alice.send({ type: "chat", id: "a1", data: "aGk" });
      const accepted = await alice.nextOf("accepted");
      const chat = await bob.nextOf("chat");
      assertEquals([chat.id, chat.from, chat.seq], ["a1", a.peer, accepted.seq]);
      bob.send({ type: "chat", id: "b1", to: a.peer, data: "aGkgYmFjaw" });
      assertEquals((await alice.nextOf("chat")).from, b.peer);
      bob.send({ type: "signal", to: a.peer, data: { sdp: "offer" } });
      assertEquals(await alice.nextOf("signal"), { type: "signal", to: a.peer, data: { sdp: "offer" }, from: b.peer });
    });

    await t.step("bob drops from instance two and resumes on instance one with his id and missed frames", async () => {
      const lastSeen = bob.all.filter((f) => f.type === "chat").at(-1)!.seq as number;
      await bob.close();
      assertEquals(await alice.nextOf("presence"), { type: "presence", peer: b.peer, state: "away" });
      alice.send({ type: "chat", id: "a2", data: "bWlzc2Vk" });
      await alice.next((f) => f.type === "accepted" && f.id === "a2");
      const back = await connect(one);
      const w = await back.hello({ token: b.token, since: lastSeen });
      assertEquals([w.resumed, w.peer], [true, b.peer]);
      const missed = await back.nextOf("chat");
      assertEquals(missed.id, "b1"); // his own frame, logged after what he had seen
      assertEquals((await back.nextOf("chat")).id, "a2");
      assertEquals(await alice.nextOf("presence"), { type: "presence", peer: b.peer, state: "online" });
    });

    await t.step("a peer resuming on the other instance replaces its live socket there", async () => {
      const alice2 = await connect(two);
      const w = await alice2.hello({ token: a.token });
      assertEquals([w.resumed, w.peer], [true, a.peer]);
      assertEquals((await alice.waitClosed()).code, 4000);
      alice2.send({ type: "chat", id: "a3", data: "bW92ZWQ" });
      const chat = await clients[2].nextOf("chat");
      assertEquals([chat.id, chat.from], ["a3", a.peer]);
    });
  } finally {
    for (const client of clients) await client.close();
  }
}

Deno.test("peers on two server processes sharing one KV (BUS=kv) see each other, chat and resume across them", async (t) => {
  const one = await ServerProcess.start({ env: { BUS: "kv" } });
  const two = await ServerProcess.start({ kvPath: one.kvPath, env: { BUS: "kv" } });
  try {
    await crossInstanceScenario(t, one, two);
  } finally {
    await one.stop();
    await two.stop();
  }
});

for (const bus of ["broadcast", "kv"] as const) {
  Deno.test(`peers on two Web Worker instances (BUS=${bus}) see each other, chat and resume across them`, async (t) => {
    const kvPath = await tempKvPath();
    const one = await startWorker(kvPath, bus);
    const two = await startWorker(kvPath, bus);
    try {
      await crossInstanceScenario(t, one, two);
    } finally {
      await one.stop();
      await two.stop();
    }
  });
}

Deno.test("peers of an instance that dies without a word are seen to leave once their leases run out", async () => {
  const one = await ServerProcess.start({ env: { BUS: "kv", RESUME_WINDOW: "2" } });
  const two = await ServerProcess.start({ kvPath: one.kvPath, env: { BUS: "kv", RESUME_WINDOW: "2" } });
  const room = newRoomId();
  const alice = await TestClient.connect(one.signalUrl(room));
  const bob = await TestClient.connect(two.signalUrl(room));
  try {
    await alice.hello();
    const b = await bob.hello();
    assertEquals(await alice.nextOf("presence"), { type: "presence", peer: b.peer, state: "joined" });
    await two.stop("SIGKILL");
    assertEquals(await alice.nextOf("presence"), { type: "presence", peer: b.peer, state: "left" });
  } finally {
    await alice.close();
    await bob.close();
    await one.stop();
    await two.stop();
  }
});
