/**
 * Scenario: two phones on one LAN chat through the real app; the path reaches "P2P".
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
  startApp,
  Timings,
  trackArrivals,
  waitForAllDelivered,
  waitForMessages,
  waitForPath,
} from "./app.ts";

/** Messages each way. */
const EACH_WAY = 20;

Deno.test({
  name: "on a LAN the chat goes P2P and every message arrives once, in order, Delivered",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const timings = new Timings("LAN");
    await using lab = await Lab.create({ phones: 2, profile: "lan" });
    const app = await startApp(lab);
    const { a, b } = await openRoom(lab, app, timings);
    timings.add("B: time to P2P after join", await waitForPath(b, "P2P"));
    await waitForPath(a, "P2P");
    await Promise.all([trackArrivals(a), trackArrivals(b)]);
    const { sent, sentAt } = await exchange([a, b], EACH_WAY);
    await Promise.all([waitForMessages(a, sent.get(b)!), waitForMessages(b, sent.get(a)!)]);
    await Promise.all([waitForAllDelivered(a), waitForAllDelivered(b)]);
    await assertDelivery([a, b], sent);
    for (const ms of await latencies(b, sentAt, sent.get(a)!)) timings.add("send to visible", ms);
    for (const ms of await latencies(a, sentAt, sent.get(b)!)) timings.add("send to visible", ms);
    timings.print();
    assertEquals([...pageErrors(a), ...pageErrors(b)], []);
  },
});
