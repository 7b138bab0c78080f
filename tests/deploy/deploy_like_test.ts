/**
 * A deployment as the new Deno Deploy runs one: several isolated instances
 * that BroadcastChannel does not connect, one shared KV, the default
 * configuration (no BUS), no subprocesses and no writes but the database.
 * Here: three `deno serve` processes on one KV file, each behind a loopback
 * TCP proxy the test steers like a platform's router. Two Chromium browsers
 * on different instances chat through the relay; one instance is killed, its
 * browser lands on another, and nothing is lost or doubled.
 * @module
 */
import { assertEquals } from "@std/assert";
import type { Browser } from "playwright-core";
import { createRoom, joinRoom, pathOf } from "../netlab/app.ts";
import { allArrived, allDelivered, Instance, type Pair, relayPages, waitFor, writeInTurn } from "./_instances.ts";
import { TcpProxy } from "./_tcp_proxy.ts";

/** A hang guard for discovery (the first instance finds later ones within its scan interval). */
const DISCOVERY_MS = 60_000;
const WAIT_MS = 45_000;

/** Each instance sees the other two as remote, has its KV bus on, and holds nothing back. */
async function meshed(instances: Instance[]): Promise<boolean> {
  for (const instance of instances) {
    if (await instance.metric("parley_bus_kv_active") !== 1) return false;
    if (await instance.metric("parley_bus_remote_instances") !== instances.length - 1) return false;
    if (await instance.metric("parley_bus_held_messages") !== 0) return false;
  }
  return true;
}

Deno.test({
  name: "three isolated instances on one KV, default configuration: browsers on different instances chat, " +
    "one instance is killed, its browser resumes on another and nothing is lost",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "parley_deploy_" });
    const kvPath = `${dir}/kv.sqlite3`;
    const instances: Instance[] = [];
    const proxies: TcpProxy[] = [];
    const browsers: Browser[] = [];
    try {
      await t.step("three instances start with no BUS and find each other through KV", async () => {
        for (let i = 0; i < 3; i++) instances.push(await Instance.start({ kvPath }));
        const started = performance.now();
        await waitFor(() => meshed(instances), "every instance to see the two others as remote", DISCOVERY_MS);
        console.log(`  discovery took ${Math.round(performance.now() - started)} ms after the last start`);
      });

      const [one, two, three] = instances;
      const proxyA = TcpProxy.start(one.port);
      const proxyB = TcpProxy.start(two.port);
      proxies.push(proxyA, proxyB);
      let pair!: Pair;

      await t.step("A (through instance one) opens a room, B (through instance two) joins", async () => {
        pair = { pages: await relayPages(browsers), sent: [[], []] };
        const [pageA, pageB] = pair.pages;
        const link = new URL(await createRoom(pageA, proxyA.origin, WAIT_MS));
        await joinRoom(pageB, `${proxyB.origin}${link.pathname}${link.hash}`, WAIT_MS);
        await waitFor(
          async () => await one.metric("parley_peers") === 1 && await two.metric("parley_peers") === 1,
          "one peer on each of instances one and two",
          WAIT_MS,
        );
        assertEquals(await three.metric("parley_peers"), 0);
      });

      await t.step("they chat both ways over the relay, across instances", async () => {
        await writeInTurn(pair, 1, 5);
        await allArrived(pair, WAIT_MS);
        assertEquals(await Promise.all(pair.pages.map(pathOf)), ["Relay", "Relay"], "no P2P: the bus carried it");
      });

      await t.step("instance one is killed; A lands on instance three and both keep writing", async () => {
        await one.stop("SIGKILL");
        proxyA.target = three.port; // the platform routes A's reconnect elsewhere
        await writeInTurn(pair, 6, 10);
        await waitFor(async () => await three.metric("parley_peers") === 1, "A on instance three", WAIT_MS);
      });

      await t.step("every message arrives once, in one order on both sides, and reads Delivered", async () => {
        await allArrived(pair, WAIT_MS);
        await allDelivered(pair, WAIT_MS);
      });
    } finally {
      for (const browser of browsers) await browser.close();
      for (const proxy of proxies) await proxy.close();
      for (const instance of instances) await instance.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
