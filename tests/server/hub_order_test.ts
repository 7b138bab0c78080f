import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import type { Bus, BusEnvelope } from "../../lib/server/bus.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { configFromEnv } from "../../lib/server/config.ts";
import { Hub } from "../../lib/server/hub.ts";
import type { Peer, PeerSocket } from "../../lib/server/room.ts";
import { KvRoomLog } from "../../lib/server/room_log_kv.ts";
import { SessionStore } from "../../lib/server/session_store.ts";
import { until } from "../support/until.ts";

/** A socket that records what the hub sends. */
class FakeSocket implements PeerSocket {
  sent: Record<string, unknown>[] = [];
  send(text: string): void {
    this.sent.push(JSON.parse(text));
  }
  close(): void {}
  chats(): Record<string, unknown>[] {
    return this.sent.filter((f) => f.type === "chat");
  }
}

/** A bus whose outgoing messages can be held back, to make another instance's frame arrive late. */
class DelayableBus implements Bus {
  #inner: Bus;
  held: [string, unknown][] | null = null;
  constructor(inner: Bus) {
    this.#inner = inner;
  }
  get instanceId() {
    return this.#inner.instanceId;
  }
  publish(room: string, body: unknown): void {
    if (this.held) this.held.push([room, body]);
    else this.#inner.publish(room, body);
  }
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const [room, body] of held) this.#inner.publish(room, body);
  }
  subscribe(handler: (envelope: BusEnvelope) => void) {
    return this.#inner.subscribe(handler);
  }
  close() {
    return this.#inner.close();
  }
}

Deno.test("frames logged on another instance are delivered in log order, once, even when the bus is late", async () => {
  const config = configFromEnv(() => undefined);
  const kv = await Deno.openKv(":memory:");
  const log = new KvRoomLog(kv, { ttlMs: config.roomTtlMs, maxEntries: 1000, maxBytes: 1 << 20 });
  const network = new LocalBusNetwork();
  const busA = new DelayableBus(network.join("A"));
  const busB = new DelayableBus(network.join("B"));
  const store = new SessionStore(kv, { ttlMs: config.roomTtlMs });
  const hubA = new Hub({ config, store, log, bus: busA });
  const hubB = new Hub({ config, store, log, bus: busB });
  const room = newRoomId();
  const join = async (hub: Hub, socket: FakeSocket) => {
    const result = await hub.join(socket, "10.0.0.1", room, { type: "hello", v: 1 }, () => true);
    assert(result.ok);
    return result.peer;
  };
  try {
    const aliceSocket = new FakeSocket();
    const carolSocket = new FakeSocket();
    const bobSocket = new FakeSocket();
    const alice: Peer = await join(hubA, aliceSocket);
    await join(hubA, carolSocket);
    const bob: Peer = await join(hubB, bobSocket);
    await until(() => aliceSocket.sent.some((f) => f.type === "presence" && f.peer === bob.id), {
      intervalMs: 1,
      timeoutMs: 5_000,
    });

    // Bob's frame is logged first, but instance B's bus message is held back.
    busB.held = [];
    hubB.onFrame(bob, '{"type":"chat","id":"b1","data":"Ymlt"}');
    await until(() => bobSocket.sent.some((f) => f.type === "accepted"), { intervalMs: 1, timeoutMs: 5_000 });
    hubA.onFrame(alice, '{"type":"chat","id":"a1","data":"YWxp"}');
    await until(() => carolSocket.chats().length === 2, { intervalMs: 1, timeoutMs: 5_000 });
    assertEquals(carolSocket.chats().map((f) => [f.id, f.seq]), [["b1", 1], ["a1", 2]]);

    // The late bus message changes nothing: no frame twice.
    busB.release();
    hubA.onFrame(alice, '{"type":"chat","id":"a2","data":"YWxp"}');
    await until(() => carolSocket.chats().length >= 3, { intervalMs: 1, timeoutMs: 5_000 });
    await until(() => bobSocket.chats().length >= 2, { intervalMs: 1, timeoutMs: 5_000 });
    assertEquals(carolSocket.chats().map((f) => f.id), ["b1", "a1", "a2"]);
    assertEquals(aliceSocket.chats().map((f) => f.id), ["b1"]);
    assertEquals(bobSocket.chats().map((f) => f.id), ["a1", "a2"]);
  } finally {
    await hubA.shutdown();
    await hubB.shutdown();
    log.close();
    await busA.close();
    await busB.close();
    kv.close();
  }
});
