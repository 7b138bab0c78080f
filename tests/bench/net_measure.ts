/**
 * One measurement of the network bench, on the real app in the netlab: phone A
 * opens a new room; phone B starts loading the invite link (t0 = B's navigation
 * start, B's `performance.timeOrigin`); A sends one message as soon as its
 * "People here" list shows B; B's page itself records, with a MutationObserver
 * installed before any page script runs, when that message first appears in
 * its "Messages" log and when its peer list first shows A on a P2P path
 * ("P2P" or "P2P via TURN"). Times are B's `performance.now()`, so they are
 * read on B's own clock from B's own navigation start, with no polling error.
 * @module
 */
import type { Page } from "playwright-core";
import type { Lab } from "../netlab/lab.ts";
import { type AppServer, nameOf, openPhone, send, waitForConnected } from "../netlab/app.ts";
import { createRoomLink } from "../../lib/client/room_link.ts";
import type { P2pPath, Sample } from "./net_report.ts";

/** Options of {@link measureOnce}. */
export interface MeasureOptions {
  /** Give up on a measure this long after B's navigation start; it is then "never". */
  capMs: number;
  /** The message body A sends (unique per measurement, so nothing older can be mistaken for it). */
  body: string;
}

const POLL_MS = 100;
/** How long A may take to open the room and connect (not measured; a lossy link makes it slow). */
const SETUP_MS = 45_000;
/** A's last console lines kept for a setup failure's message or a slow P2P sample. */
const LOG_LINES = 80;
/** A time to P2P above this keeps A's event log in the sample. */
const SLOW_P2P_MS = 5_000;
/** Extra driver-side time past the cap before the measurement is abandoned (B's page never committed). */
const DRIVER_SLACK_MS = 15_000;

/** The room could not be set up (A never connected): not a result, so the bench repeats the measurement. */
export class SetupError extends Error {
  /** The error's name in stack traces. */
  override name = "SetupError";
}

/** What B's page recorded, read through `page.evaluate`. */
interface PageRecord {
  firstMessageMs: number | null;
  p2pMs: number | null;
  p2pPath: P2pPath | null;
  path: string | null;
  now: number;
  origin: number;
}

/** Installed in B before its page's scripts: records the first sight of `body` and of a P2P path. */
function recorder(body: string): void {
  const state = {
    firstMessageMs: null as number | null,
    p2pMs: null as number | null,
    p2pPath: null as string | null,
    path: null as string | null,
  };
  (globalThis as unknown as { __netBench: typeof state }).__netBench = state;
  const scan = () => {
    const t = performance.now();
    if (state.firstMessageMs === null) {
      for (const p of document.querySelectorAll("[role=log] li p")) {
        if (p.textContent === body) {
          state.firstMessageMs = t;
          break;
        }
      }
    }
    const path = document.querySelector("[data-path]")?.getAttribute("data-path") ?? null;
    state.path = path;
    if (state.p2pMs === null && (path === "p2p" || path === "p2p-turn")) {
      state.p2pMs = t;
      state.p2pPath = path;
    }
  };
  new MutationObserver(scan).observe(document, {
    childList: true,
    subtree: true,
    characterData: true,
    attributes: true,
    attributeFilter: ["data-path"],
  });
}

/** Installed in A before its page's scripts: records when A first shows "Connected" (epoch ms). */
function connectedRecorder(): void {
  const w = globalThis as unknown as { __netBenchConnected?: number };
  const scan = () => {
    if (w.__netBenchConnected === undefined && document.querySelector("[data-connection=connected]")) {
      w.__netBenchConnected = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(scan).observe(document, { childList: true, subtree: true, attributes: true });
}

async function readRecord(page: Page): Promise<PageRecord | null> {
  try {
    return await page.evaluate(() => {
      const state = (globalThis as unknown as { __netBench?: Omit<PageRecord, "now"> }).__netBench;
      return state ? { ...state, now: performance.now(), origin: performance.timeOrigin } : null;
    });
  } catch (error) {
    // The page is between documents (navigation in progress): read again on the next poll.
    if (String(error).includes("Execution context was destroyed")) return null;
    throw error;
  }
}

async function closePage(page: Page): Promise<void> {
  await page.context().browser()?.close();
}

/**
 * Measures one joining: fresh browsers (empty cache and storage) on both phones, A creates the room,
 * B loads the link; returns B's times, with anything later than the cap reported as never (null).
 */
export async function measureOnce(lab: Lab, app: AppServer, options: MeasureOptions): Promise<Sample> {
  const { capMs, body } = options;
  const [a, b] = await Promise.all([openPhone(lab, 0, app.url), openPhone(lab, 1, app.url)]);
  nameOf(a, "A");
  nameOf(b, "B");
  try {
    await b.addInitScript(recorder, body);
    await a.addInitScript(connectedRecorder);
    // A opens a new room's link directly: the same URL "New chat" makes, without waiting for the landing's island.
    // A logs its client events (?debug=1), so a setup failure can say what A saw.
    const { room, key } = createRoomLink();
    const link = new URL(`/${room}#${key}`, app.url).href;
    const events: string[] = [];
    a.on("console", (message) => events.push(message.text()) > LOG_LINES && events.shift());
    try {
      await a.goto(new URL(`/${room}?debug=1#${key}`, app.url).href, { timeout: SETUP_MS });
      await waitForConnected(a, SETUP_MS);
    } catch (error) {
      throw new SetupError(`A could not open the room: ${error}\nA's last events:\n  ${events.join("\n  ")}`);
    }
    const started = performance.now();
    // B starts loading at t0; its own clock measures from there.
    const navigation = b.goto(link, { waitUntil: "commit", timeout: capMs }).then(() => null, (error) => error);
    // A writes the moment B shows up in its "People here".
    const sender = a.locator("li[data-peer]").first().waitFor({ timeout: capMs })
      .then(() => send(a, body))
      .then(() => null, (error) => error);
    let record: PageRecord | null = null;
    for (;;) {
      record = (await readRecord(b)) ?? record;
      const done = record !== null && record.firstMessageMs !== null && record.p2pMs !== null;
      if (done || (record !== null && record.now >= capMs)) break;
      if (performance.now() - started > capMs + DRIVER_SLACK_MS) break;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    const navError = await navigation;
    if (navError) console.error(`  (B's page did not load within the cap: ${String(navError).split("\n")[0]})`);
    const sendError = await sender;
    if (sendError && record?.firstMessageMs == null) {
      console.error(`  (A did not send: ${String(sendError).split("\n")[0]})`);
    }
    const within = (ms: number | null | undefined) => (ms != null && ms <= capMs ? ms : null);
    const p2pMs = within(record?.p2pMs);
    const connectedAt = await a.evaluate(() =>
      (globalThis as unknown as { __netBenchConnected?: number }).__netBenchConnected ?? null
    );
    const sample: Sample = {
      firstMessageMs: within(record?.firstMessageMs),
      p2pMs,
      p2pPath: p2pMs === null ? null : record?.p2pPath ?? null,
      finalPath: record?.path ?? null,
      aConnectedBeforeMs: record && connectedAt !== null ? record.origin - connectedAt : null,
    };
    // A slow or missing P2P path is worth a look: keep A's client events (ICE states, retries) with the sample.
    if (p2pMs === null || p2pMs > SLOW_P2P_MS) sample.aEvents = [...events];
    return sample;
  } finally {
    await Promise.all([closePage(a), closePage(b)]);
  }
}
