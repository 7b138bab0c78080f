import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { configFromEnv } from "../../lib/server/config.ts";
import { Hub } from "../../lib/server/hub.ts";
import type { Peer, PeerSocket } from "../../lib/server/room.ts";
import type { LogBounds, ReadResult, RoomLog } from "../../lib/server/room_log.ts";
import { MemoryRoomLog } from "../../lib/server/room_log_memory.ts";
import { SessionStore } from "../../lib/server/session_store.ts";

/** A socket that records what the hub sends. */
class FakeSocket implements PeerSocket {
  sent: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | null = null;
  send(text: string): void {
    this.sent.push(JSON.parse(text));
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
}

/** A room log whose reads wait at a gate, so a test can append while a backlog is being read. */
class GatedLog implements RoomLog {
  #inner: RoomLog;
  gate: Promise<void> | null = null;
  reads = 0;
  constructor(inner: RoomLog) {
    this.#inner = inner;
  }
  append(room: string, data: string) {
    return this.#inner.append(room, data);
  }
  appendMany(room: string, datas: string[]) {
    return this.#inner.appendMany(room, datas);
  }
  async readAfter(room: string, after: number, limit: number, maxBytes?: number): Promise<ReadResult> {
    if (limit > 0) {
      this.reads++;
      if (this.gate) await this.gate;
    }
    return this.#inner.readAfter(room, after, limit, maxBytes);
  }
  bounds(room: string): Promise<LogBounds> {
    return this.#inner.bounds(room);
  }
  close() {
    this.#inner.close();
  }
}

Deno.test("the hub holds live frames back while a backlog streams, then sends each frame once, in order", async () => {
  const config = configFromEnv(() => undefined, { backlogPageSize: 3 });
  const kv = await Deno.openKv(":memory:");
  const log = new GatedLog(new MemoryRoomLog({ ttlMs: config.roomTtlMs, maxEntries: 1000, maxBytes: 1 << 20 }));
  const bus = new LocalBusNetwork().join();
  const hub = new Hub({ config, store: new SessionStore(kv, { ttlMs: config.roomTtlMs }), log, bus });
  const room = newRoomId();
  try {
    const aliceSocket = new FakeSocket();
    const joined = await hub.join(aliceSocket, "10.0.0.1", room, { type: "hello", v: 1 }, () => true);
    assert(joined.ok);
    const alice: Peer = joined.peer;
    const say = (id: string) => hub.onFrame(alice, JSON.stringify({ type: "chat", id, data: "ZGF0YQ" }));
    const accepted = async (count: number) => {
      while (aliceSocket.sent.filter((f) => f.type === "accepted").length < count) {
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    for (let i = 0; i < 7; i++) say(`old${i}`);
    await accepted(7);

    // Bob joins with since 0; his first backlog read waits at the gate.
    let open!: () => void;
    log.gate = new Promise((resolve) => open = resolve);
    const bobSocket = new FakeSocket();
    const bobJoin = hub.join(bobSocket, "10.0.0.2", room, { type: "hello", v: 1, since: 0 }, () => true);
    while (log.reads === 0) await new Promise((r) => setTimeout(r, 1));
    // Frames logged now land in the log after what the backlog will read *and* go live to bob.
    for (let i = 0; i < 4; i++) say(`new${i}`);
    await accepted(11);
    assertEquals(bobSocket.sent.filter((f) => f.type === "chat").length, 0, "nothing before the welcome");
    log.gate = null;
    open();
    const result = await bobJoin;
    assert(result.ok);
    say("live");
    await accepted(12);
    await new Promise((r) => setTimeout(r, 0));

    const types = bobSocket.sent.map((f) => f.type);
    assertEquals(types[0], "welcome");
    const chats = bobSocket.sent.filter((f) => f.type === "chat");
    assertEquals(chats.map((f) => f.id), [
      ...[0, 1, 2, 3, 4, 5, 6].map((i) => `old${i}`),
      ...[0, 1, 2, 3].map((i) => `new${i}`),
      "live",
    ]);
    assertEquals(chats.map((f) => f.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assertEquals(types.indexOf("synced"), types.lastIndexOf("chat") - 1, "synced comes before the live frame only");
    assertEquals(bobSocket.sent.find((f) => f.type === "synced"), { type: "synced", last: 11 });
  } finally {
    await hub.shutdown();
    log.close();
    await bus.close();
    kv.close();
  }
});
