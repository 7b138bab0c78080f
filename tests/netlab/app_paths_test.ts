/**
 * Scenarios: which path the chat takes when the network allows less and less —
 * TURN only (over UDP, then over TCP), and UDP blocked with no TURN at all (the relay
 * from the first message). Plus the mutation check: with the relay fallback disabled
 * (`CLIENT_RELAY_HOLD_MS=never`, a P2P-only design) the no-TURN chat does not deliver.
 * @module
 */
import { assertEquals } from "@std/assert";
import type { Page } from "playwright-core";
import { Lab } from "./lab.ts";
import type { ProfileName } from "./profiles.ts";
import {
  type AppServer,
  assertDelivery,
  diagnosticsReport,
  exchange,
  latencies,
  now,
  openRoom,
  pageErrors,
  pathOf,
  send,
  startApp,
  statuses,
  Timings,
  trackArrivals,
  visibleMessages,
  waitForAllDelivered,
  waitForMessages,
  waitForPath,
} from "./app.ts";

/** Messages each way after the first. */
const EACH_WAY = 10;
/** How long the P2P-only mutation gets to (wrongly) deliver: well past the relay's ≤ 1 s. */
const P2P_ONLY_WAIT_MS = 6_000;

/**
 * Sends 10 each way, waits, asserts delivery of those and of `earlier` (bodies sent before, per
 * sender), and records send-to-visible.
 */
async function chat(a: Page, b: Page, timings: Timings, earlier: [string[], string[]] = [[], []]): Promise<void> {
  await Promise.all([trackArrivals(a), trackArrivals(b)]);
  const { sent: batch, sentAt } = await exchange([a, b], EACH_WAY);
  const sent = new Map([[a, [...earlier[0], ...batch.get(a)!]], [b, [...earlier[1], ...batch.get(b)!]]]);
  await Promise.all([waitForMessages(a, sent.get(b)!), waitForMessages(b, sent.get(a)!)]);
  await Promise.all([waitForAllDelivered(a), waitForAllDelivered(b)]);
  await assertDelivery([a, b], sent);
  for (const ms of await latencies(b, sentAt, batch.get(a)!)) timings.add("send to visible", ms);
  for (const ms of await latencies(a, sentAt, batch.get(b)!)) timings.add("send to visible", ms);
  assertEquals([...pageErrors(a), ...pageErrors(b)], []);
}

async function turnOnly(profile: ProfileName, protocol: "udp" | "tcp"): Promise<void> {
  const timings = new Timings(profile);
  await using lab = await Lab.create({ phones: 2, profile });
  const app: AppServer = await startApp(lab, { turn: true });
  const { a, b } = await openRoom(lab, app, timings);
  timings.add("B: time to P2P via TURN after join", await waitForPath(b, "P2P via TURN"));
  await waitForPath(a, "P2P via TURN");
  for (const page of [a, b]) {
    const [peer] = (await diagnosticsReport(page)).peers;
    assertEquals(
      { path: peer?.path, local: peer?.localType, relayProtocol: peer?.relayProtocol },
      { path: "p2p-turn", local: "relay", relayProtocol: protocol },
      `the selected pair is relayed over ${protocol}`,
    );
  }
  await chat(a, b, timings);
  timings.print();
}

Deno.test({
  name: "with only TURN between the phones the chat goes P2P via TURN, relayed over UDP",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => turnOnly("turn-only", "udp"),
});

Deno.test({
  name: "with only TURN and UDP blocked the chat goes P2P via TURN, relayed over TCP",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => turnOnly("turn-only-udp-blocked", "tcp"),
});

Deno.test({
  name: "with UDP blocked and TURN unreachable the chat flows over the relay from the first message",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const timings = new Timings("no-turn-udp-blocked");
    await using lab = await Lab.create({ phones: 2, profile: "no-turn-udp-blocked" });
    const app = await startApp(lab, { turn: true });
    const { a, b } = await openRoom(lab, app, timings);
    await trackArrivals(b);
    const sentAt = await send(a, "first");
    await waitForMessages(b, ["first"]);
    timings.add("first message: send to visible", (await latencies(b, new Map([["first", sentAt]]), ["first"]))[0]);
    assertEquals(await visibleMessages(b), ["first"]);
    await waitForPath(b, "Relay");
    await chat(a, b, timings, [["first"], []]);
    assertEquals([await pathOf(a), await pathOf(b)], ["Relay", "Relay"], "still on the relay");
    timings.print();
  },
});

Deno.test({
  name: "mutation: with the relay fallback disabled (P2P-only) the no-TURN chat delivers nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const timings = new Timings("no-turn-udp-blocked, CLIENT_RELAY_HOLD_MS=never");
    await using lab = await Lab.create({ phones: 2, profile: "no-turn-udp-blocked" });
    const app = await startApp(lab, { turn: true, env: { CLIENT_RELAY_HOLD_MS: "never" } });
    const { a, b } = await openRoom(lab, app, timings);
    const start = now();
    await send(a, "first");
    const failure = await waitForMessages(b, ["first"], P2P_ONLY_WAIT_MS).then(
      () => null,
      (error: Error) => error.message,
    );
    timings.add("waited", now() - start);
    timings.print();
    console.log(`the delivery wait failed as it must: ${failure}`);
    assertEquals(failure !== null, true, "P2P-only must not deliver without UDP and TURN");
    assertEquals(await visibleMessages(b), []);
    assertEquals((await statuses(a)).map((m) => m.status === "Delivered"), [false]);
  },
});
