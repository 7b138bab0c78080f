/**
 * A stranger cannot make the server write Deno KV with early hellos to made-up rooms (it could, before this test).
 *
 * The protocol README ("Early hello") says a page nonce is used up "only once the hello's proof has verified, so
 * only a holder of the room key causes the write". But a room page (`GET /<any room id>`, routes/[room].tsx) hands
 * a fresh page nonce to anyone, and `Connection.#admitInTurn` (lib/server/signal_service.ts) consumes the page
 * nonce (`PageNonces.consume`: one KV atomic write, `[ns, "nonce", nonce]`) consumed it for every decision that was not a
 * refusal, `verifier_required` included. A room without a verifier answers `verifier_required` before any proof
 * is checked (there is nothing to check it against). So a stranger who fetches a page for a made-up room id and
 * sends an early hello with a made-up proof gets `verifier_required` and leaves one KV key behind; it then closes
 * the socket, which is no abuse strike. Per address group and instance that is the new-room pace (50 at once, then
 * one per 4 s), but none of it counts against the storage budget (`BUDGET_ADDR_ROOMS`, `STORAGE_MAX_ROOMS`), and
 * each instance paces on its own. `tests/server/hostile_stranger_test.ts` checks "a stranger leaves nothing in KV"
 * for hellos to made-up rooms, but only over a challenge, not an early hello.
 *
 * Now `#admitInTurn` uses the page nonce up only when a hello over it is admitted: for `verifier_required` the page
 * nonce stays the socket's nonce, unconsumed, and is used up when the hello with the verifier is admitted.
 * @module
 */
import { assertEquals } from "@std/assert";
import { encodeEarlyHello } from "../../lib/protocol/admission.ts";
import type { HelloFrame } from "../../lib/protocol/frames.ts";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { TestClient } from "../support/signal_test_client.ts";

async function keysOf(kv: Deno.Kv): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const entry of kv.list({ prefix: [] })) keys.add(JSON.stringify(entry.key));
  return keys;
}

Deno.test("an early hello to a made-up room leaves nothing in KV: the page nonce is used up only on admission", async () => {
  const server = await startInProcess();
  const service = server.instances[0].service;
  const clients: TestClient[] = [];
  try {
    // The deployment's page-nonce secret is made by the first page anyone asks for; that write is not the stranger's.
    await service.pageNonces.issue(newRoomId());
    const before = await keysOf(server.kv);
    for (let i = 0; i < 10; i++) {
      const room = newRoomId();
      // What `GET /<room>` puts in its Server-Timing header for any visitor.
      const nonce = await service.pageNonces.issue(room);
      // No room key: a made-up proof, no verifier (an early hello may not carry one).
      const hello: HelloFrame = { type: "hello", v: PROTOCOL_VERSION, since: 0, proof: "A".repeat(43) };
      const url = `${server.signalUrl(room)}&nonce=${nonce}&hello=${encodeEarlyHello(hello)}`;
      const client = await TestClient.connect(url);
      clients.push(client);
      assertEquals((await client.next()).code, "verifier_required");
      await client.close();
    }
    const written = [...await keysOf(server.kv)].filter((key) => !before.has(key));
    assertEquals(written, [], `a stranger without any room key left ${written.length} KV keys`);
  } finally {
    for (const client of clients) await client.close().catch(() => {});
    await server.stop();
  }
});
