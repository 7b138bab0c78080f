/**
 * The wire bench's browser pair: two real Chromium phones in the netlab (LAN
 * profile, phone user agent so the page picks its phone timings), counted on
 * their network interfaces, for Parley (once its DataChannel is open, chat
 * goes P2P) and for the minimal relay page. The meter (link_meter.ts) counts
 * every TCP and UDP packet between a phone and the lab's addresses, as IP bytes
 * (headers included), with everything the page does in the background
 * (WebSocket heartbeats, the server's pings, ICE consent checks and SCTP
 * heartbeats of the DataChannel).
 *
 * Order per page: the room opens (Parley: until both show "P2P"), the pair
 * idles for the window (sampled every 250 ms), then messages are sent one at a
 * time, each visible on B (and "Delivered" on A for Parley) before the next.
 * Per message, the background rate measured while idle is subtracted.
 *
 * A phone's idle DataChannel closes after 2 minutes, longer than the window, so
 * the window above measures an open one. What an idle room costs once it has
 * closed is measured on a second app server whose pages close it after 5 s
 * (`CLIENT_P2P_IDLE_MS`): P2P opens, then both show "Relay" again, then the
 * same idle window.
 * @module
 */
import type { Page } from "playwright-core";
import { Lab } from "../netlab/lab.ts";
import {
  nameOf,
  openPhone,
  ROOT,
  send,
  startApp,
  waitForAllDelivered,
  waitForConnected,
  waitForMessages,
  waitForPath,
} from "../netlab/app.ts";
import { createRoomLink } from "../../lib/client/room_link.ts";
import { installLinkMeter, readLinkMeter } from "./link_meter.ts";
import type { LinkCount } from "./net_report.ts";

/** A phone's user agent: the page then runs on its phone timings (heartbeat 15 s). */
const PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) " +
  "Chrome/156.0.0.0 Mobile Safari/537.36";
const SAMPLE_MS = 250;
const SETTLE_MS = 300;
const APP_PORT = 8_301;
const MINIMAL_PORT = 8_302;
const IDLE_CLOSE_PORT = 8_303;
/** The idle DataChannel time of the second app server's pages (`CLIENT_P2P_IDLE_MS`). */
const IDLE_CLOSE_MS = 5_000;
const MINIMAL_SERVER = new URL("./minimal_page/server.ts", import.meta.url).pathname;

/** What one page cost on the lab's links. */
export interface LabWire {
  /** The page measured. */
  name: string;
  /** How many messages were sent. */
  messages: number;
  /** Per delivered message, both phones' links, the idle background subtracted. */
  perMessage: LinkCount;
  /** Idle, per hour, one phone's link (phone A), extrapolated from the window. */
  idlePerHour: LinkCount & { wakeUps: number };
  /** When phone A's radio woke during the idle window, s into it. */
  wakeAtS: number[];
  /** The idle window, ms. */
  windowMs: number;
}

/** What an idle room cost one phone once its DataChannel had closed for idleness. */
export interface LabIdleClosed {
  /** The page measured. */
  name: string;
  /** Idle, per hour, one phone's link (phone A), extrapolated from the window. */
  idlePerHour: LinkCount & { wakeUps: number };
  /** When phone A's radio woke during the idle window, s into it. */
  wakeAtS: number[];
  /** The idle window, ms. */
  windowMs: number;
  /** The pages' idle DataChannel time, ms. */
  idleCloseMs: number;
}

/** Options of {@link runLabWire}. */
export interface LabWireOptions {
  /** Messages sent one at a time. */
  messages: number;
  /** The idle window, ms. */
  idleMs: number;
  /** The body of each message (a counter is prepended). */
  body: string;
  /** A run of packets after at least this much silence counts as a radio wake-up. */
  wakeGapMs: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function add(a: LinkCount, b: LinkCount): LinkCount {
  return { bytes: a.bytes + b.bytes, packets: a.packets + b.packets };
}

async function phoneOf(lab: Lab, index: number, url: string, name: string): Promise<Page> {
  const page = nameOf(await openPhone(lab, index, url), name);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Emulation.setUserAgentOverride", { userAgent: PHONE_UA });
  return page;
}

/** Samples both phones' counters for `windowMs`; returns both links' totals and phone A's wake-ups. */
async function idle(
  lab: Lab,
  windowMs: number,
  wakeGapMs: number,
): Promise<{ both: LinkCount; a: LinkCount; wakeAtS: number[] }> {
  const [a0, b0] = await Promise.all(lab.phones.map((p) => readLinkMeter(lab, p)));
  let last = a0.packets;
  let lastEvent = -Infinity;
  const wakeAtS: number[] = [];
  const began = performance.now();
  while (performance.now() - began < windowMs) {
    await sleep(SAMPLE_MS);
    const t = performance.now();
    const now = await readLinkMeter(lab, lab.phones[0]);
    if (now.packets === last) continue;
    if (t - lastEvent >= wakeGapMs) wakeAtS.push(Math.round((t - began) / 100) / 10);
    last = now.packets;
    lastEvent = t;
  }
  const [a1, b1] = await Promise.all(lab.phones.map((p) => readLinkMeter(lab, p)));
  const a = { bytes: a1.bytes - a0.bytes, packets: a1.packets - a0.packets };
  const b = { bytes: b1.bytes - b0.bytes, packets: b1.packets - b0.packets };
  return { both: add(a, b), a, wakeAtS };
}

/** A room open on both phones: the pages, and how to deliver one message from A to B. */
interface PairRoom {
  /** Phone A's page (it sends). */
  a: Page;
  /** Phone B's page. */
  b: Page;
  /** Sends `body` from A and waits until B shows it (and, with P2P, A shows "Delivered"). */
  deliver(body: string): Promise<void>;
}

/** Opens a new room of `url` on both phones (until both show "P2P" when `p2p`), runs `measure`, and closes both. */
async function withPairRoom<T>(lab: Lab, url: string, p2p: boolean, measure: (room: PairRoom) => Promise<T>) {
  const [a, b] = await Promise.all([phoneOf(lab, 0, url, "A"), phoneOf(lab, 1, url, "B")]);
  try {
    const { room, key } = createRoomLink();
    const link = new URL(`/${room}#${key}`, url).href;
    await a.goto(link);
    await waitForConnected(a);
    await b.goto(link);
    await waitForConnected(b);
    if (p2p) await Promise.all([waitForPath(a, "P2P"), waitForPath(b, "P2P")]);
    const deliver = async (body: string) => {
      await send(a, body);
      await waitForMessages(b, [body]);
      if (p2p) await waitForAllDelivered(a);
    };
    return await measure({ a, b, deliver });
  } finally {
    await Promise.all([a, b].map((page) => page.context().browser()?.close()));
  }
}

/** The path each page shows to its peer. */
function pathsOf(...pages: Page[]): Promise<(string | null)[]> {
  return Promise.all(pages.map((page) => page.locator("[data-path]").first().textContent()));
}

/** Phone A's idle window, extrapolated to an hour. */
function perHour(quiet: { a: LinkCount; wakeAtS: number[] }, windowMs: number): LinkCount & { wakeUps: number } {
  const hour = 3_600_000 / windowMs;
  return { bytes: quiet.a.bytes * hour, packets: quiet.a.packets * hour, wakeUps: quiet.wakeAtS.length * hour };
}

/** Measures one page: opens the room on both phones, idles, then sends messages one at a time. */
function measurePage(lab: Lab, name: string, url: string, p2p: boolean, options: LabWireOptions): Promise<LabWire> {
  return withPairRoom(lab, url, p2p, async ({ a, b, deliver }) => {
    await deliver(`warm-up ${options.body}`);
    await sleep(2_000);
    const quiet = await idle(lab, options.idleMs, options.wakeGapMs);
    const before = await Promise.all(lab.phones.map((p) => readLinkMeter(lab, p)));
    const started = performance.now();
    for (let i = 0; i < options.messages; i++) {
      await deliver(`${i + 1} ${options.body}`);
      await sleep(SETTLE_MS);
    }
    const elapsed = performance.now() - started;
    const after = await Promise.all(lab.phones.map((p) => readLinkMeter(lab, p)));
    if (p2p) {
      const path = await pathsOf(a, b);
      if (path.some((word) => word !== "P2P")) throw new Error(`${name}: the path left P2P while measuring (${path})`);
    }
    const background = (key: keyof LinkCount) => (quiet.both[key] / options.idleMs) * elapsed;
    const delta = (key: keyof LinkCount) => after[0][key] + after[1][key] - before[0][key] - before[1][key];
    return {
      name,
      messages: options.messages,
      perMessage: {
        bytes: (delta("bytes") - background("bytes")) / options.messages,
        packets: (delta("packets") - background("packets")) / options.messages,
      },
      idlePerHour: perHour(quiet, options.idleMs),
      wakeAtS: quiet.wakeAtS,
      windowMs: options.idleMs,
    };
  });
}

/** Opens a room on both phones, waits for P2P and for its idle close, then measures the idle window. */
function measureIdleClosed(lab: Lab, url: string, options: LabWireOptions): Promise<LabIdleClosed> {
  return withPairRoom(lab, url, true, async ({ a, b, deliver }) => {
    await deliver(`warm-up ${options.body}`);
    await Promise.all([waitForPath(a, "Relay"), waitForPath(b, "Relay")]);
    await sleep(2_000);
    const quiet = await idle(lab, options.idleMs, options.wakeGapMs);
    const path = await pathsOf(a, b);
    if (path.some((word) => word !== "Relay")) throw new Error(`the idle link opened again while measuring (${path})`);
    return {
      name: "Parley, DataChannel closed when idle (browser pair)",
      idlePerHour: perHour(quiet, options.idleMs),
      wakeAtS: quiet.wakeAtS,
      windowMs: options.idleMs,
      idleCloseMs: IDLE_CLOSE_MS,
    };
  });
}

/** What the browser pair measured. */
export interface LabWireRun {
  /** Parley over its open DataChannel. */
  parley: LabWire;
  /** The minimal relay page. */
  minimal: LabWire;
  /** Parley once its idle DataChannel closed. */
  idleClosed: LabIdleClosed;
}

/** Runs the browser pair for Parley (P2P), for the minimal page and for Parley's closed idle link, in one lab. Needs root. */
export async function runLabWire(options: LabWireOptions): Promise<LabWireRun> {
  await using lab = await Lab.create({ phones: 2, profile: "lan" });
  for (const phone of lab.phones) await installLinkMeter(lab, phone);
  const app = await startApp(lab, { port: APP_PORT });
  const minimal = await lab.startServer({
    cmd: [Deno.execPath(), "run", "--allow-net", "--allow-env", "--allow-read", MINIMAL_SERVER],
    port: MINIMAL_PORT,
    cwd: ROOT,
    env: { HOSTNAME: lab.serverAddress, PORT: String(MINIMAL_PORT) },
  });
  const idleClose = await startApp(lab, {
    port: IDLE_CLOSE_PORT,
    env: { CLIENT_P2P_IDLE_MS: String(IDLE_CLOSE_MS) },
  });
  return {
    parley: await measurePage(lab, "Parley, P2P (browser pair)", app.url, true, options),
    minimal: await measurePage(lab, "minimal page (browser pair)", minimal.url, false, options),
    idleClosed: await measureIdleClosed(lab, idleClose.url, options),
  };
}
