/**
 * One measurement of the network bench, on a real page in the netlab (Parley,
 * or the minimal relay page; both render the same roles and `data-*` hooks):
 * phone A opens a new room; phone B starts loading the invite link (t0 = B's
 * navigation start, B's `performance.timeOrigin`); A sends one message as soon
 * as its "People here" list shows B. B's page itself records, with a
 * MutationObserver installed before any page script runs, when it first shows
 * "Connected", when that message first appears in its "Messages" log, and when
 * its peer list first shows A on a P2P path ("P2P" or "P2P via TURN"). Times
 * are B's `performance.now()`, so they are read on B's own clock from B's own
 * navigation start, with no polling error.
 *
 * Bytes: B's HTTP responses through CDP (`Network.loadingFinished`'s
 * `encodedDataLength`: compressed body plus headers, as received), its
 * service worker's fetches through Playwright's network events, and B's
 * link (link_meter.ts: its packets to and from the lab's addresses and their
 * IP bytes, both ways) from t0 until the driver sees the first message. Then, optionally, A sends a burst and B
 * records when each message becomes visible (send-to-visible).
 * @module
 */
import type { CDPSession, Page } from "playwright-core";
import type { Lab } from "../netlab/lab.ts";
import { nameOf, now, openPhone, send, waitForConnected } from "../netlab/app.ts";
import { createRoomLink } from "../../lib/client/room_link.ts";
import type { HttpBytes, LinkCount, P2pPath, Sample } from "./net_report.ts";
import { installLinkMeter, readLinkMeter } from "./link_meter.ts";

/** Options of {@link measureOnce}. */
export interface MeasureOptions {
  /** Give up on a measure this long after B's navigation start; it is then "never". */
  capMs: number;
  /** The message body A sends (unique per measurement, so nothing older can be mistaken for it). */
  body: string;
  /** Whether the page can reach P2P, so the measurement waits for it (up to the cap). Parley: yes. */
  p2p: boolean;
  /** Messages A sends in a burst after the first one (0: none); B records send-to-visible for each. */
  burst: number;
  /** Keep B's timeline (WebSocket events, resource timing) in the sample, to see where the round trips go. */
  trace?: boolean;
}

/** Where the page under test is served (`http://10.77.0.1:<port>`). */
export interface PageServer {
  /** The origin phones open. */
  readonly url: string;
}

const POLL_MS = 50;
/** How often A's page checks for B in its "People here" before A writes the first message, in ms. */
const SENDER_POLL_MS = 10;
/** How long A may take to open the room and connect (not measured; a lossy link makes it slow). */
const SETUP_MS = 45_000;
/** A's last console lines kept for a setup failure's message or a slow P2P sample. */
const LOG_LINES = 80;
/** A time to P2P above this keeps A's event log in the sample. */
const SLOW_P2P_MS = 5_000;
/** Extra driver-side time past the cap before the measurement is abandoned (B's page never committed). */
const DRIVER_SLACK_MS = 15_000;
/** B's HTTP is done once no request was in flight for this long (its service worker precaches after load)... */
const QUIET_MS = 1_000;
/** ...or after this much waiting past the measurement, whichever comes first. */
const QUIET_MAX_MS = 10_000;

/** The room could not be set up (A never connected): not a result, so the bench repeats the measurement. */
export class SetupError extends Error {
  /** The error's name in stack traces. */
  override name = "SetupError";
}

/** What B's page recorded, read through `page.evaluate`. */
interface PageRecord {
  connectedMs: number | null;
  firstMessageMs: number | null;
  p2pMs: number | null;
  p2pPath: P2pPath | null;
  path: string | null;
  arrivals: Record<string, number>;
  now: number;
  origin: number;
}

/**
 * Installed in B before its page's scripts: records the first sight of "Connected", of `body`, of a
 * P2P path, and (epoch ms) of every message body in the log, for send-to-visible.
 */
function recorder(body: string): void {
  const state = {
    connectedMs: null as number | null,
    firstMessageMs: null as number | null,
    p2pMs: null as number | null,
    p2pPath: null as string | null,
    path: null as string | null,
    arrivals: {} as Record<string, number>,
  };
  (globalThis as unknown as { __netBench: typeof state }).__netBench = state;
  const scan = () => {
    const t = performance.now();
    if (state.connectedMs === null && document.querySelector("[data-connection=connected]")) state.connectedMs = t;
    for (const p of document.querySelectorAll("[role=log] li p")) {
      const text = p.textContent ?? "";
      if (!(text in state.arrivals)) state.arrivals[text] = performance.timeOrigin + t;
      if (state.firstMessageMs === null && text === body) state.firstMessageMs = t;
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
    attributeFilter: ["data-path", "data-connection"],
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

/**
 * Installed in B before its page's scripts when tracing: marks (B's `performance.now()`) every WebSocket
 * created, opened, closed, and every frame sent and received (by its `type`, or the minimal page's `t`), and
 * when the page first renders a connection state (the island has hydrated).
 */
function tracer(): void {
  const marks: [number, string][] = [];
  (globalThis as unknown as { __netTrace: typeof marks }).__netTrace = marks;
  const mark = (what: string) => marks.push([Math.round(performance.now()), what]);
  const kind = (data: unknown) => {
    if (typeof data !== "string") return "binary";
    try {
      const frame = JSON.parse(data);
      const name = frame.type ?? frame.t ?? "?";
      return frame.code ? `${name} ${frame.code}` : String(name);
    } catch {
      return "text";
    }
  };
  const Native = globalThis.WebSocket;
  globalThis.WebSocket = class extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      mark("ws created");
      this.addEventListener("open", () => mark("ws open"));
      this.addEventListener("message", (event) => mark(`ws <- ${kind(event.data)}`));
      this.addEventListener("close", (event) => mark(`ws closed ${event.code}`));
    }
    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      mark(`ws -> ${kind(data)}`);
      super.send(data);
    }
  };
  let state: string | null = null;
  let peers = 0;
  new MutationObserver(() => {
    const now = document.querySelector("[data-connection]")?.getAttribute("data-connection") ?? null;
    if (now !== state) mark(`shows ${state = now}`);
    const shown = document.querySelectorAll("li[data-peer]").length;
    if (shown !== peers) mark(`people here: ${peers = shown}`);
  }).observe(document, { childList: true, subtree: true, attributes: true });
  document.addEventListener("DOMContentLoaded", () => mark("DOMContentLoaded"));
  // The driver typing (a fill is one input event) and pressing Enter, so the sender's reaction time shows.
  addEventListener("input", () => mark("typed"), true);
  addEventListener("keydown", (event) => (event as KeyboardEvent).key === "Enter" && mark("Enter"), true);
  // Parley's inline bootstrap leaves its work in this global: note when it ran, and when the island took it over.
  let slot: unknown;
  Object.defineProperty(globalThis, "__parley", {
    configurable: true,
    get() {
      if (slot !== undefined) mark("island takes over");
      return slot;
    },
    set(value) {
      mark("bootstrap ran");
      slot = value;
    },
  });
}

/** A page's timeline: the tracer's marks and its resource timing entries, as [epoch ms, what]. */
async function readTrace(page: Page): Promise<[number, string][]> {
  const { marks, resources, origin } = await page.evaluate(() => {
    const marks = (globalThis as unknown as { __netTrace?: [number, string][] }).__netTrace ?? [];
    const resources = performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"))
      .map((e) => {
        const r = e as PerformanceResourceTiming;
        const name = new URL(r.name).pathname.split("/").pop() || "(page)";
        return [
          [Math.round(r.startTime), `${name} requested`],
          [Math.round(r.responseStart), `${name} first byte`],
          [Math.round(r.responseEnd), `${name} loaded (${r.encodedBodySize} B)`],
        ] as [number, string][];
      }).flat();
    return { marks, resources, origin: performance.timeOrigin };
  });
  return [...marks, ...resources].map(([t, what]) => [origin + t, what]);
}

/** B's and A's timelines merged, in ms from B's navigation start (one machine, one clock); A's from t0 on. */
async function readTraces(a: Page, b: Page, bOrigin: number): Promise<string[]> {
  const [onA, onB] = await Promise.all([readTrace(a), readTrace(b)]);
  const lines: [number, string][] = [
    ...onB.map(([t, what]) => [t - bOrigin, what] as [number, string]),
    ...onA.map(([t, what]) => [t - bOrigin, `A: ${what}`] as [number, string]).filter(([t]) => t >= 0),
  ];
  return lines.sort((x, y) => x[0] - y[0]).map(([t, what]) => `${String(Math.round(t)).padStart(6)} ${what}`);
}

async function readRecord(page: Page): Promise<PageRecord | null> {
  try {
    return await page.evaluate(() => {
      const state = (globalThis as unknown as { __netBench?: Omit<PageRecord, "now" | "origin"> }).__netBench;
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

function minus(a: LinkCount, b: LinkCount): LinkCount {
  return { bytes: a.bytes - b.bytes, packets: a.packets - b.packets };
}

/** CDP resource types, folded into what the bench reports. */
function kindOf(type: string | undefined): "html" | "css" | "js" | "other" {
  if (type === "Document") return "html";
  if (type === "Stylesheet") return "css";
  if (type === "Script") return "js";
  return "other";
}

/**
 * Counts B's HTTP bytes: the page's own requests through CDP (per finished request, `encodedDataLength`:
 * compressed body and headers as received, by resource type), and its service worker's fetches through
 * Playwright's network events (their `sizes()`: encoded body plus headers; CDP on the page does not see
 * them). WebSocket frames are not requests and are not counted here. `quiet()` waits until no request has
 * been in flight for a while (the service worker precaches after the page loaded).
 */
async function countHttp(page: Page): Promise<{ session: CDPSession; bytes: HttpBytes; quiet(): Promise<void> }> {
  const session = await page.context().newCDPSession(page);
  const bytes: HttpBytes = { html: 0, css: 0, js: 0, other: 0, total: 0, requests: 0, serviceWorker: 0 };
  const types = new Map<string, string>();
  session.on("Network.responseReceived", (event) => types.set(event.requestId, event.type));
  session.on("Network.loadingFinished", (event) => {
    const type = types.get(event.requestId);
    if (type === "WebSocket") return;
    bytes[kindOf(type)] += event.encodedDataLength;
    bytes.total += event.encodedDataLength;
    bytes.requests++;
  });
  await session.send("Network.enable");
  const context = page.context();
  let inFlight = 0;
  let lastChange = performance.now();
  const pending: Promise<void>[] = [];
  const settle = () => {
    inFlight--;
    lastChange = performance.now();
  };
  context.on("request", () => {
    inFlight++;
    lastChange = performance.now();
  });
  context.on("requestfailed", settle);
  context.on("requestfinished", (request) => {
    settle();
    if (!request.serviceWorker()) return;
    pending.push(
      request.sizes().then((s) => {
        bytes.serviceWorker = (bytes.serviceWorker ?? 0) + s.responseBodySize + s.responseHeadersSize;
      }, () => {}),
    );
  });
  return {
    session,
    bytes,
    async quiet() {
      const deadline = performance.now() + QUIET_MAX_MS;
      while (performance.now() < deadline && (inFlight > 0 || performance.now() - lastChange < QUIET_MS)) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      await Promise.all(pending);
    },
  };
}

/**
 * Measures one joining: fresh browsers (empty cache and storage) on both phones, A creates the room,
 * B loads the link; returns B's times, with anything later than the cap reported as never (null).
 */
export async function measureOnce(lab: Lab, app: PageServer, options: MeasureOptions): Promise<Sample> {
  const { capMs, body } = options;
  const [a, b] = await Promise.all([openPhone(lab, 0, app.url), openPhone(lab, 1, app.url)]);
  nameOf(a, "A");
  nameOf(b, "B");
  try {
    await b.addInitScript(recorder, body);
    if (options.trace) await Promise.all([a.addInitScript(tracer), b.addInitScript(tracer)]);
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
    const http = await countHttp(b);
    await installLinkMeter(lab, lab.phones[1]);
    const linkBefore = await readLinkMeter(lab, lab.phones[1]);
    const started = performance.now();
    // B starts loading at t0; its own clock measures from there.
    const navigation = b.goto(link, { waitUntil: "commit", timeout: capMs }).then(() => null, (error) => error);
    // A writes the moment B shows up in its "People here". Checked in A's page every few ms: a locator's `waitFor`
    // polls ever more slowly (up to every 500 ms), which added 0 to 500 ms of driver delay to each first message.
    const sender = a.waitForFunction(() => document.querySelector("li[data-peer]") !== null, undefined, {
      polling: SENDER_POLL_MS,
      timeout: capMs,
    }).then(() => send(a, body))
      .then(() => null, (error) => error);
    let record: PageRecord | null = null;
    let linkToFirstMessage: LinkCount | null = null;
    for (;;) {
      record = (await readRecord(b)) ?? record;
      if (linkToFirstMessage === null && record?.firstMessageMs != null) {
        linkToFirstMessage = minus(await readLinkMeter(lab, lab.phones[1]), linkBefore);
      }
      const done = record !== null && record.firstMessageMs !== null && (!options.p2p || record.p2pMs !== null);
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
    await http.quiet();
    const httpBytes = { ...http.bytes };
    await http.session.detach().catch(() => {});
    const sample: Sample = {
      connectedMs: within(record?.connectedMs),
      firstMessageMs: within(record?.firstMessageMs),
      p2pMs,
      p2pPath: p2pMs === null ? null : record?.p2pPath ?? null,
      finalPath: record?.path ?? null,
      aConnectedBeforeMs: record && connectedAt !== null ? record.origin - connectedAt : null,
      http: httpBytes,
      linkToFirstMessage,
    };
    if (options.trace && record) {
      sample.trace = await readTraces(a, b, record.origin).catch((error) => [`(no trace: ${error})`]);
    }
    if (options.burst > 0 && sample.firstMessageMs !== null) sample.burstMs = await burst(a, b, options);
    // A slow or missing P2P path is worth a look: keep A's client events (ICE states, retries) with the sample.
    if (options.p2p && (p2pMs === null || p2pMs > SLOW_P2P_MS)) sample.aEvents = [...events];
    return sample;
  } finally {
    await Promise.all([closePage(a), closePage(b)]);
  }
}

/**
 * A sends `options.burst` messages as fast as a person pasting lines would (one after the other,
 * each a fill and an Enter); returns each one's send-to-visible on B in ms (A's Enter press to B's
 * MutationObserver seeing it; one machine, one clock), null for any not visible within the cap.
 */
async function burst(a: Page, b: Page, options: MeasureOptions): Promise<(number | null)[]> {
  const bodies = Array.from({ length: options.burst }, (_, i) => `${options.body} burst ${i + 1}`);
  const sentAt = new Map<string, number>();
  for (const text of bodies) sentAt.set(text, await send(a, text));
  const deadline = now() + options.capMs;
  let seen: Record<string, number> = {};
  while (now() < deadline) {
    seen = (await readRecord(b))?.arrivals ?? seen;
    if (bodies.every((text) => text in seen)) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return bodies.map((text) => text in seen ? seen[text] - sentAt.get(text)! : null);
}
