/**
 * ATTACK: a member churns sessions (hello, bye, again) and every cycle writes Deno KV; nothing counts those writes.
 *
 * The protocol README says Deno KV use is bounded globally and per address (`storage_full`, `budget_exceeded`), and
 * a member "cannot stop the room". The storage budget (lib/server/kv_budget.ts) counts only room registrations and
 * log bytes. A join of an existing room by a member (lib/server/hub.ts `join`) costs a seat read (a KV list), a
 * seat claim (one atomic: the room's seat counter and the presence record), the log bounds (a read) and, on `bye`,
 * a presence delete; each cycle also sends `joined` and `left` to every other member of the room. None of it is
 * budgeted or paced per member or per address: the only bound is the address group's frame bucket (1,000 frames/s,
 * burst 4,000; a cycle is 2 frames) and the instance's 4 hellos in work. So one member at one address can keep a
 * deployment's KV writing at hundreds of atomics a second (Deno Deploy bills KV writes; every instance shares the
 * KV's write throughput with every other room) and make every honest member of the room receive 2 presence frames
 * per cycle, forever, with no strike and no refusal.
 *
 * Expected safe behaviour: new sessions per address group (or per member) and room are paced, e.g. a join bucket
 * like the new-room pace, or join/leave counted against the storage budget's per-address window; churn past it is
 * refused (`rate_limited`/`busy`) before any KV work. Here: 150 hello/bye cycles from one address within a moment
 * may cost at most 60 KV mutations, or some of them must be refused. Now joins are paced per address group
 * (`JOIN_RATE_ADDR`, lib/server/group_pace.ts): 60 at once, then 5 a second, the rest `busy` (close 1013).
 */
import { assert } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { startInProcess } from "../support/signal_in_process.ts";
import { TestClient } from "../support/signal_test_client.ts";

const CYCLES = 150;

/** Counts the KV operations made through `kv` from now on (patches the instance, which everything shares). */
function countKv(kv: Deno.Kv) {
  const counts = { atomics: 0, mutations: 0, reads: 0 };
  const target = kv as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ["get", "getMany", "list"]) {
    const original = target[name].bind(kv);
    target[name] = (...args: unknown[]) => {
      counts.reads++;
      return original(...args);
    };
  }
  for (const name of ["set", "delete"]) {
    const original = target[name].bind(kv);
    target[name] = (...args: unknown[]) => {
      counts.atomics++;
      counts.mutations++;
      return original(...args);
    };
  }
  const atomic = kv.atomic.bind(kv);
  target.atomic = () => {
    const op = atomic();
    const set = op.set.bind(op);
    const del = op.delete.bind(op);
    const commit = op.commit.bind(op);
    let mutations = 0;
    op.set = (...args: Parameters<Deno.AtomicOperation["set"]>) => (mutations++, set(...args));
    op.delete = (...args: Parameters<Deno.AtomicOperation["delete"]>) => (mutations++, del(...args));
    op.commit = () => {
      counts.atomics++;
      counts.mutations += mutations;
      return commit();
    };
    return op;
  };
  return counts;
}

Deno.test("a member's hello/bye churn from one address is paced before it writes KV", async () => {
  const server = await startInProcess();
  const room = newRoomId();
  const clients: TestClient[] = [];
  try {
    // An honest member holds the room (and registered it).
    const honest = await TestClient.connect(server.signalUrl(room));
    clients.push(honest);
    await honest.hello({ since: 0 });
    await server.store.flush();
    const counts = countKv(server.kv);
    const heardBefore = honest.all.length;

    let welcomed = 0;
    let refused = 0;
    for (let i = 0; i < CYCLES; i++) {
      const churn = await TestClient.connect(server.signalUrl(room));
      clients.push(churn);
      const hello = await churn.helloFrame({ since: 0 });
      churn.send(hello);
      const answer = await churn.next((f) => f.type === "welcome" || f.type === "error");
      if (answer.type === "welcome") {
        welcomed++;
        churn.send({ type: "bye" });
      } else refused++;
      await churn.waitClosed();
      clients.pop();
    }
    // Let the last bye's presence delete land.
    await honest.until(() => honest.all.filter((f) => f.type === "presence" && f.state === "left").length >= welcomed);
    await server.store.flush();
    const presenceFrames = honest.all.slice(heardBefore).filter((f) => f.type === "presence").length;
    console.log(
      `${CYCLES} cycles: ${welcomed} welcomed, ${refused} refused; KV: ${counts.atomics} write commits, ` +
        `${counts.mutations} mutations, ${counts.reads} reads; the honest member heard ${presenceFrames} presence frames`,
    );
    assert(
      refused > 0 || counts.mutations <= 60,
      `${CYCLES} hello/bye cycles from one address were all welcomed and cost ${counts.mutations} KV mutations ` +
        `(${counts.atomics} commits, ${counts.reads} reads; ${(counts.mutations / CYCLES).toFixed(1)} per cycle), ` +
        `none counted by any budget, and sent the honest member ${presenceFrames} presence frames`,
    );
  } finally {
    for (const client of clients) await client.close().catch(() => {});
    await server.stop();
  }
});
