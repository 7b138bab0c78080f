import { assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { ServerProcess } from "../support/server_process.ts";
import { TestClient } from "../support/signal_test_client.ts";

Deno.test("bytes per connection are rate-limited like frames: past the byte burst, rate_limited and the frame is not stored", async () => {
  const server = await ServerProcess.start({
    // Practically no refill: the burst decides. 100,000 characters: two frames of 45,000 pass, the third does not.
    env: { RATE_CONN_BYTES: "0.001", RATE_CONN_BYTES_BURST: "100000", MAX_FRAME_BYTES: "65536" },
  });
  const clients: TestClient[] = [];
  try {
    const room = newRoomId();
    const sender = await TestClient.connect(server.signalUrl(room));
    clients.push(sender);
    await sender.hello();
    const data = "B".repeat(45_000);
    for (const id of ["a", "b", "c"]) sender.send({ type: "chat", id, data });
    sender.send({ type: "ping", n: 1 }); // small frames still pass
    assertEquals((await sender.nextOf("accepted")).id, "a");
    assertEquals((await sender.nextOf("accepted")).id, "b");
    assertEquals((await sender.nextOf("error")).code, "rate_limited");
    assertEquals((await sender.nextOf("pong")).n, 1);
    assertEquals(sender.all.filter((f) => f.type === "accepted").map((f) => f.id), ["a", "b"], "c was not stored");
    // Another connection has its own bytes.
    const other = await TestClient.connect(server.signalUrl(room));
    clients.push(other);
    await other.hello();
    other.send({ type: "chat", id: "d", data });
    assertEquals((await other.nextOf("accepted")).id, "d");
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});
