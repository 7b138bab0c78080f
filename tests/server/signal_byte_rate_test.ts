import { assert, assertEquals } from "@std/assert";
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

Deno.test("bytes per address are shared by its sockets: a new socket brings no new bytes", async () => {
  const server = await ServerProcess.start({
    env: {
      TRUSTED_PROXIES: "loopback",
      RATE_ADDR_BYTES: "0.001",
      RATE_ADDR_BYTES_BURST: "100000",
      MAX_FRAME_BYTES: "65536",
    },
  });
  const clients: TestClient[] = [];
  try {
    const room = newRoomId();
    const connect = async (address: string) => {
      const client = await TestClient.connect(server.signalUrl(room), { headers: { "x-forwarded-for": address } });
      clients.push(client);
      await client.hello();
      return client;
    };
    const data = "B".repeat(45_000);
    const first = await connect("198.51.100.4");
    first.send({ type: "chat", id: "a", data });
    assertEquals((await first.nextOf("accepted")).id, "a");
    const second = await connect("198.51.100.4");
    second.send({ type: "chat", id: "b", data });
    assertEquals((await second.nextOf("accepted")).id, "b");
    const third = await connect("198.51.100.4");
    third.send({ type: "chat", id: "c", data });
    assertEquals((await third.nextOf("error")).code, "rate_limited", "the address spent its bytes");
    const elsewhere = await connect("203.0.113.4");
    elsewhere.send({ type: "chat", id: "d", data });
    assertEquals((await elsewhere.nextOf("accepted")).id, "d");
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});

Deno.test("a socket that keeps sending several times its rate is closed with 1008, though some of its frames pass", async () => {
  const server = await ServerProcess.start({
    // About one frame of 1,000 characters a second passes; the sender offers a hundred.
    env: {
      RATE_CONN: "100000",
      RATE_CONN_BYTES: "1100",
      RATE_CONN_BYTES_BURST: "4096",
      RATE_STRIKES: "20",
      MAX_FRAME_BYTES: "4096",
    },
  });
  const clients: TestClient[] = [];
  try {
    const sender = await TestClient.connect(server.signalUrl(newRoomId()));
    clients.push(sender);
    await sender.hello();
    const data = "C".repeat(1_000);
    let closed = false;
    sender.closed.then(() => closed = true);
    // Spend the burst, then offer about ten frames for each one the rate lets through: some pass all along, so the
    // refusals never come 20 in a row, yet they outnumber the passes more and more.
    let sent = 0;
    while (!closed && sent < 200) {
      sender.send({ type: "chat", id: `m${sent++}`, data });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const code = (await sender.waitClosed()).code;
    assert(sent < 200, `still open after ${sent} frames`);
    // The server closes with 1008; a client still sending then may see the connection dropped instead.
    assert([1008, 1006, 0].includes(code), `closed with ${code}`);
    const accepted = sender.all.filter((f) => f.type === "accepted").length;
    assert(accepted >= 5, `${accepted} frames passed before the close`);
    assertEquals(sender.all.filter((f) => f.type === "error" && f.code === "rate_limited").length >= 1, true);
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});
