/**
 * Scenario: both phones on lossy-3g (about 300 ms RTT to the server, 3% of incoming packets
 * dropped) exchange 50 messages each way. Every message arrives once, in order, Delivered;
 * send-to-visible p50/p95 are printed (the acceptance target is p95 ≤ 2 s, measured by
 * `deno task bench:net`, not asserted here).
 * @module
 */
import { assertEquals } from "@std/assert";
import { Lab } from "./lab.ts";
import {
  assertDelivery,
  exchange,
  latencies,
  openRoom,
  pageErrors,
  pathOf,
  startApp,
  Timings,
  trackArrivals,
  waitForAllDelivered,
  waitForMessages,
} from "./app.ts";

/** The "50 messages each way". */
const EACH_WAY = 50;
/** Pause between sends of one side: a person typing fast, not a flood. */
const GAP_MS = 100;
/** Delivery on a lossy link: re-sends take seconds. Nothing here asserts time. */
const WAIT_MS = 90_000;

Deno.test({
  name: "on lossy-3g 50 messages each way arrive once, in order, all Delivered",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const timings = new Timings("lossy-3g (both phones)");
    await using lab = await Lab.create({ phones: 2, profile: "lossy-3g" });
    const app = await startApp(lab, { turn: true });
    const { a, b } = await openRoom(lab, app, timings);
    await Promise.all([trackArrivals(a), trackArrivals(b)]);
    const { sent, sentAt } = await exchange([a, b], EACH_WAY, { gapMs: GAP_MS });
    await Promise.all([waitForMessages(a, sent.get(b)!, WAIT_MS), waitForMessages(b, sent.get(a)!, WAIT_MS)]);
    await Promise.all([waitForAllDelivered(a, WAIT_MS), waitForAllDelivered(b, WAIT_MS)]);
    await assertDelivery([a, b], sent);
    for (const ms of await latencies(b, sentAt, sent.get(a)!)) timings.add("send to visible", ms);
    for (const ms of await latencies(a, sentAt, sent.get(b)!)) timings.add("send to visible", ms);
    console.log(`paths at the end: A sees ${await pathOf(a)}, B sees ${await pathOf(b)}`);
    timings.print();
    console.log(`send-to-visible p95 ${Math.round(timings.quantile("send to visible", 0.95))} ms (target ≤ 2000 ms)`);
    assertEquals([...pageErrors(a), ...pageErrors(b)], []);
  },
});
