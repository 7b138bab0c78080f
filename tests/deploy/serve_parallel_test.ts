/**
 * `deno serve --parallel`: one process, several workers that BroadcastChannel
 * connects, one KV file, the default configuration. Two Chromium browsers
 * whose sockets land on different workers chat through the relay, and the
 * workers never turn the KV bus on (they reach each other for free).
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import type { Browser } from "playwright-core";
import { createRoom, joinRoom, pathOf } from "../netlab/app.ts";
import {
  allArrived,
  allDelivered,
  freePort,
  Instance,
  type Pair,
  relayPages,
  waitFor,
  writeInTurn,
} from "./_instances.ts";

const WAIT_MS = 45_000;
/** Reloads of B before its socket lands on the other worker (each try is about a coin toss). */
const MAX_TRIES = 30;

/** Each session's presence record in KV: its state and the instance (worker) that holds or held its socket. */
async function presenceOf(kv: Deno.Kv, room: string): Promise<Map<string, { inst: string; state: string }>> {
  const records = new Map<string, { inst: string; state: string }>();
  for await (const entry of kv.list<{ inst: string; state: string }>({ prefix: ["signal", "p", room] })) {
    // The room's seat count shares the prefix (its last key part is empty).
    if (entry.key[3] !== "") records.set(entry.key[3] as string, entry.value);
  }
  return records;
}

/** The instance (worker) that holds each online peer's socket. */
async function workersOf(kv: Deno.Kv, room: string): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  for (const [peer, record] of await presenceOf(kv, room)) if (record.state === "online") owners.set(peer, record.inst);
  return owners;
}

Deno.test({
  name: "deno serve --parallel: browsers on two different workers chat, and the workers stay off the KV bus",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "parley_parallel_" });
    const kvPath = `${dir}/kv.sqlite3`;
    let server: Instance | undefined;
    let kv: Deno.Kv | undefined;
    const browsers: Browser[] = [];
    try {
      server = await Instance.start({ kvPath, port: freePort(), parallel: 2 });
      kv = await Deno.openKv(kvPath);
      const [pageA, pageB] = await relayPages(browsers);
      const room = { id: "", link: "" };

      await t.step("A opens a room; B joins and reloads until its socket is on the other worker", async () => {
        room.link = await createRoom(pageA, server!.origin, WAIT_MS);
        room.id = new URL(room.link).pathname.slice(1);
        let workers = new Map<string, string>();
        let attempt = 1;
        for (;; attempt++) {
          await joinRoom(pageB, room.link, WAIT_MS);
          await waitFor(async () => (workers = await workersOf(kv!, room.id)).size === 2, "both peers online", WAIT_MS);
          if (new Set(workers.values()).size === 2) break;
          assert(attempt < MAX_TRIES, `B's socket landed on A's worker ${MAX_TRIES} times in a row`);
          await pageB.goto("about:blank");
          await waitFor(async () => (await workersOf(kv!, room.id)).size === 1, "B's old socket to go", WAIT_MS);
        }
        const [first, second] = [...workers.values()];
        assertNotEquals(first, second, "two workers");
        // B's pages left early (before the island took the socket, whose session no later page can resume) said bye:
        // no session of them waits as away, which would hold every "Delivered" here for the resume window.
        const states = [...(await presenceOf(kv!, room.id)).values()].map((record) => record.state);
        assertEquals(states, ["online", "online"], `presence after ${attempt} join(s) of B`);
      });

      await t.step("they chat both ways over the relay, across workers, exactly once and in one order", async () => {
        const pair: Pair = { pages: [pageA, pageB], sent: [[], []] };
        await writeInTurn(pair, 1, 5);
        await allArrived(pair, WAIT_MS);
        assertEquals([await pathOf(pageA), await pathOf(pageB)], ["Relay", "Relay"], "no P2P: the bus carried it");
        await allDelivered(pair, WAIT_MS);
      });

      await t.step("no worker turned the KV bus on: BroadcastChannel reaches them all", async () => {
        // Each answer comes from whichever worker took the connection: ask several times.
        for (let i = 0; i < 8; i++) {
          assertEquals(await server!.metric("parley_bus_kv_active"), 0);
          assertEquals(await server!.metric("parley_bus_remote_instances"), 0);
        }
      });
    } finally {
      for (const browser of browsers) await browser.close();
      kv?.close();
      await server?.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
