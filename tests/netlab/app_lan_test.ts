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
  pathOf,
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

/** The idle time the server asks its pages for here (`CLIENT_P2P_IDLE_MS`), instead of a phone's 2 minutes. */
const IDLE_MS = 4_000;

Deno.test({
  name: "an idle DataChannel closes on both phones, and the next message reopens it, delivered once",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const timings = new Timings("LAN, idle DataChannel");
    await using lab = await Lab.create({ phones: 2, profile: "lan" });
    const app = await startApp(lab, { env: { CLIENT_P2P_IDLE_MS: String(IDLE_MS) } });
    const { a, b } = await openRoom(lab, app, timings);
    await Promise.all([waitForPath(a, "P2P"), waitForPath(b, "P2P")]);
    timings.add("P2P to Relay for idleness, A", await waitForPath(a, "Relay"));
    timings.add("P2P to Relay for idleness, B", await waitForPath(b, "Relay"));
    // Nobody retries an idle link: it stays closed for twice the idle time without chat.
    await new Promise((resolve) => setTimeout(resolve, 2 * IDLE_MS));
    assertEquals([await pathOf(a), await pathOf(b)], ["Relay", "Relay"]);
    await Promise.all([trackArrivals(a), trackArrivals(b)]);
    const { sent } = await exchange([a, b], 3);
    await Promise.all([waitForMessages(a, sent.get(b)!), waitForMessages(b, sent.get(a)!)]);
    timings.add("Relay to P2P after the next messages, B", await waitForPath(b, "P2P"));
    await waitForPath(a, "P2P");
    const after = await exchange([a, b], 3, { prefixes: ["A-again-", "B-again-"] });
    for (const [page, more] of after.sent) sent.get(page)!.push(...more);
    await Promise.all([waitForMessages(a, sent.get(b)!), waitForMessages(b, sent.get(a)!)]);
    await Promise.all([waitForAllDelivered(a), waitForAllDelivered(b)]);
    await assertDelivery([a, b], sent);
    timings.print();
    assertEquals([...pageErrors(a), ...pageErrors(b)], []);
  },
});
