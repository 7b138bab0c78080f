import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { parseClientFrame } from "../../lib/protocol/validate.ts";
import type { Peer } from "../../lib/server/room.ts";
import { KvRoomLog } from "../../lib/server/room_log_kv.ts";
import { type FakeSocket, join, openHubs } from "./_hub_harness.ts";

/** Waits until `socket` got `count` accepted frames (a guard, not a timing assertion). */
async function accepted(socket: FakeSocket, count: number): Promise<void> {
  for (let i = 0; socket.of("accepted").length < count; i++) {
    if (i > 10_000) throw new Error("the messages were never accepted");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("welcome carries the log's epoch; a hello whose since belongs to another epoch gets the log from its start", async (t) => {
  const kv = await Deno.openKv(":memory:");
  let epoch = 0;
  const log = new KvRoomLog(kv, {
    ttlMs: 3600_000,
    maxEntries: 100,
    maxBytes: 100_000,
    namespace: "log",
    newEpoch: () => `epoch${++epoch}`,
  });
  const harness = await openHubs({ kv, log });
  const hub = harness.hubs[0];
  const room = newRoomId();
  const say = async (peer: Peer, socket: FakeSocket, ids: string[]) => {
    const before = socket.of("accepted").length;
    for (const id of ids) hub.onFrame(peer, JSON.stringify({ type: "chat", id, data: "ZGF0YQ" }));
    await accepted(socket, before + ids.length);
  };
  /** Bob's hello with `since` and maybe `epoch`: his welcome's epoch, and the chat ids of the backlog. */
  const bob = async (since: number, epoch?: string) => {
    const { socket, result } = await join(hub, room, "10.0.0.2", epoch === undefined ? { since } : { since, epoch });
    assert(result.ok);
    hub.onFrame(result.peer, '{"type":"bye"}');
    const welcome = socket.of("welcome")[0] as { log: { epoch: string } };
    return { epoch: welcome.log.epoch, backlog: socket.of("chat").map((f) => f.id), synced: socket.of("synced")[0] };
  };
  try {
    const alice = await join(hub, room, "10.0.0.1");
    assert(alice.result.ok);
    assertEquals((alice.socket.of("welcome")[0].log as { epoch: string }).epoch, "epoch1", "a new room's log gets one");
    const alicePeer = alice.result.peer;
    await say(alicePeer, alice.socket, ["a", "b", "c"]);

    await t.step("the same epoch: since is trusted", async () => {
      assertEquals(await bob(2, "epoch1"), { epoch: "epoch1", backlog: ["c"], synced: { type: "synced", last: 3 } });
    });
    await t.step("another epoch: the whole log, as for since 0", async () => {
      assertEquals(await bob(2, "old"), {
        epoch: "epoch1",
        backlog: ["a", "b", "c"],
        synced: { type: "synced", last: 3 },
      });
    });
    await t.step("no epoch: since is trusted, as before", async () => {
      assertEquals((await bob(2)).backlog, ["c"]);
    });
    await t.step(
      "after the log was lost and began again, a client's old since cannot hide the new entries",
      async () => {
        hub.onFrame(alicePeer, '{"type":"bye"}'); // the room empties, as when its head expires after idle weeks
        for await (const entry of kv.list({ prefix: ["log"] })) await kv.delete(entry.key);
        const carol = await join(hub, room, "10.0.0.3");
        assert(carol.result.ok);
        await say(carol.result.peer, carol.socket, ["new1", "new2"]);
        assertEquals(await bob(3, "epoch1"), {
          epoch: "epoch2",
          backlog: ["new1", "new2"],
          synced: { type: "synced", last: 2 },
        });
      },
    );
  } finally {
    await harness.close();
    log.close();
    kv.close();
  }
});

Deno.test("hello.epoch is validated as a short base64url id", () => {
  assert(parseClientFrame('{"type":"hello","v":1,"since":3,"epoch":"Ab-_9"}').ok);
  for (const epoch of ['""', '"a b"', "7", '"' + "a".repeat(65) + '"']) {
    const result = parseClientFrame(`{"type":"hello","v":1,"since":3,"epoch":${epoch}}`);
    assertEquals(result.ok ? "ok" : result.code, "bad_frame", epoch);
  }
});
