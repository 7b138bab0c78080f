/**
 * Drives the REAL app inside the lab: the server (`lib/fresh/listen.ts main.ts`) in the server
 * namespace, one Chromium per phone, and the room UI through roles, labels and the `data-*`
 * attributes the UI renders. Shared by the scenario tests (`app_*_test.ts`) and `bench:net`.
 *
 * ```ts
 * await using lab = await Lab.create({ phones: 2 });
 * const app = await startApp(lab, { turn: true });
 * const [a, b] = await Promise.all([openPhone(lab, 0, app.url), openPhone(lab, 1, app.url)]);
 * const link = await createRoom(a, app.url);
 * await joinRoom(b, link);
 * await send(a, "hello");
 * await waitForMessages(b, ["hello"]);
 * ```
 *
 * Every `waitFor...` has a timeout and fails with what the page showed instead. Nothing here
 * asserts time; {@link Timings} records it for the test output.
 * @module
 */
import type { Page } from "playwright-core";
import type { Lab, LabProcess, Phone } from "./lab.ts";
import { serverV8Args } from "../support/server_flags.ts";

/** The repository root: the server runs from here. */
export const ROOT: string = new URL("../..", import.meta.url).pathname;
/** The app's port inside the lab (any free port in the server namespace works). */
export const APP_PORT = 8_080;
/** A phone-sized viewport. */
export const PHONE_VIEWPORT = { width: 360, height: 640 } as const;
/** Default wait: P2P setup and reconnects take seconds on a loaded 2-core machine. */
export const WAIT_MS = 30_000;

const BUILD_CMD = [Deno.execPath(), "run", "-A", "lib/fresh/dev.ts", "build", "--if-needed", "--keep-manifest"];
const SERVE_CMD = [
  Deno.execPath(),
  "run",
  ...serverV8Args(),
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-write",
  "lib/fresh/listen.ts",
  "main.ts",
];
const POLL_MS = 50;
const ROOM_URL = /\/[A-Za-z0-9_-]{22}#[A-Za-z0-9_-]{43}$/;
/** How long a "New chat" press may take to navigate before it is pressed again. */
const NEW_CHAT_RETRY_MS = 2_000;

/** Options of {@link startApp}. */
export interface StartAppOptions {
  /** Extra server environment, e.g. `{ CLIENT_RELAY_HOLD_MS: "never" }`; wins over the defaults. */
  env?: Record<string, string>;
  /** Start the lab's coturn (if not running) and give the app `TURN_URLS`/`TURN_SECRET`. Default false. */
  turn?: boolean;
  /** Port in the server namespace. Default {@link APP_PORT}. */
  port?: number;
  /** KV file; default a fresh file in the lab's temporary directory, so a restart keeps the data. */
  kvPath?: string;
}

/** The running app server. */
export interface AppServer {
  /** `http://10.77.0.1:<port>`: the origin phones open. */
  readonly url: string;
  /** The KV file the server uses (kept across {@link AppServer.restart}). */
  readonly kvPath: string;
  /** The current server process (changes on restart); its `output` holds the server's log. */
  readonly process: LabProcess;
  /** Kills the server with `signal` (default SIGKILL: a crash) and starts it again on the same KV. */
  restart(signal?: Deno.Signal): Promise<void>;
}

let built: Promise<void> | undefined;

/** Builds the islands once per test process (`dev.ts build --if-needed --keep-manifest`). */
export function buildIslands(): Promise<void> {
  built ??= (async () => {
    const out = await new Deno.Command(BUILD_CMD[0], { args: BUILD_CMD.slice(1), cwd: ROOT, stdin: "null" }).output();
    if (!out.success) {
      const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      throw new Error(`building the islands failed (${out.code}):\n${text}`);
    }
  })();
  return built;
}

/** Builds the islands if needed and starts the real app server in the lab's server namespace. */
export async function startApp(lab: Lab, options: StartAppOptions = {}): Promise<AppServer> {
  await buildIslands();
  const port = options.port ?? APP_PORT;
  const kvPath = options.kvPath ?? `${lab.dir}/app-${port}.sqlite3`;
  let turnEnv: Record<string, string> = {};
  if (options.turn) {
    try {
      lab.coturn;
    } catch {
      await lab.startCoturn();
    }
    turnEnv = lab.turnEnv();
  }
  let process = await lab.startServer({
    cmd: SERVE_CMD,
    port,
    cwd: ROOT,
    env: { HOSTNAME: lab.serverAddress, PORT: String(port), KV_PATH: kvPath, ...turnEnv, ...options.env },
  });
  return {
    url: process.url,
    kvPath,
    get process() {
      return process;
    },
    async restart(signal: Deno.Signal = "SIGKILL") {
      process = await lab.restartServer(process, signal);
    },
  };
}

const errorsByPage = new WeakMap<Page, string[]>();

/**
 * Launches Chromium in phone `phone` (0-based index or the Phone) with `url`'s origin treated as
 * secure (WebCrypto and WebRTC need it), clipboard allowed, and returns a blank phone-sized page.
 * Uncaught page errors are collected; see {@link pageErrors}.
 */
export async function openPhone(lab: Lab, phone: number | Phone, url: string): Promise<Page> {
  const target = typeof phone === "number" ? lab.phones[phone] : phone;
  if (!target) throw new Error(`the lab has no phone ${phone}`);
  const origin = new URL(url).origin;
  const browser = await lab.launchBrowser(target, [`--unsafely-treat-insecure-origin-as-secure=${origin}`]);
  const context = await browser.newContext({ viewport: PHONE_VIEWPORT });
  await context.addInitScript(recordPeerConnections);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const page = await context.newPage();
  const errors: string[] = [];
  errorsByPage.set(page, errors);
  page.on("pageerror", (error) => errors.push(error.message));
  return page;
}

/**
 * Runs in every page before the app: keeps each RTCPeerConnection the app creates in
 * `globalThis.__netlabPcs`, so {@link iceRole} can read the ICE role (the app does not expose it).
 */
function recordPeerConnections(): void {
  const Native = globalThis.RTCPeerConnection;
  if (!Native) return;
  const pcs: RTCPeerConnection[] = [];
  (globalThis as unknown as { __netlabPcs: RTCPeerConnection[] }).__netlabPcs = pcs;
  globalThis.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super(config);
      pcs.push(this);
    }
  };
}

/**
 * The ICE role of the page's live peer connection ("controlling": its offer started the session,
 * "controlled": it answered), from getStats' transport; null without one.
 */
export function iceRole(page: Page): Promise<string | null> {
  return page.evaluate(async () => {
    const pcs = (globalThis as unknown as { __netlabPcs?: RTCPeerConnection[] }).__netlabPcs ?? [];
    const live = pcs.filter((pc) => pc.connectionState !== "closed").at(-1);
    if (!live) return null;
    for (const stat of (await live.getStats()).values()) {
      if (stat.type === "transport" && stat.iceRole) return stat.iceRole as string;
    }
    return null;
  });
}

/** Uncaught errors the page threw so far (a scenario asserts there are none). */
export function pageErrors(page: Page): string[] {
  return errorsByPage.get(page) ?? [];
}

/** Opens the landing page, presses "New chat", waits for "Connected"; returns the invite URL with its #key. */
export async function createRoom(page: Page, appUrl: string, timeoutMs = WAIT_MS): Promise<string> {
  await page.goto(new URL("/", appUrl).href, { waitUntil: "domcontentloaded", timeout: timeoutMs });
  // Before its island hydrates the button does nothing (slow links: seconds), so press again, as a person would.
  const start = now();
  for (let presses = 1;; presses++) {
    await page.getByRole("button", { name: "New chat" }).click({ timeout: timeoutMs, noWaitAfter: true });
    const opened = await page.waitForURL(ROOM_URL, { timeout: NEW_CHAT_RETRY_MS, waitUntil: "commit" })
      .then(() => true, () => false);
    if (opened) break;
    if (now() - start > timeoutMs) {
      throw new Error(`${label(page)}: "New chat" did not open a room after ${presses} presses`);
    }
    console.log(`${label(page)}: "New chat" did nothing (not hydrated yet?); pressing again`);
  }
  await waitForConnected(page, timeoutMs);
  return page.url();
}

/** Opens an invite link and waits for "Connected". */
export async function joinRoom(page: Page, link: string, timeoutMs = WAIT_MS): Promise<void> {
  await page.goto(link, { waitUntil: "commit", timeout: timeoutMs });
  await waitForConnected(page, timeoutMs);
}

/** Waits until the connection bar says "Connected" (the signaling socket is up). */
export async function waitForConnected(page: Page, timeoutMs = WAIT_MS): Promise<void> {
  await page.locator("[data-connection=connected]").waitFor({ timeout: timeoutMs }).catch(async (error) => {
    const state = await page.locator("[data-connection]").getAttribute("data-connection").catch(() => null);
    throw new Error(`${label(page)}: not "Connected" within ${timeoutMs} ms (state: ${state})`, { cause: error });
  });
}

/** Types `text` into the "Message" box and presses Enter; returns the time of the key press (ms, epoch, sub-ms). */
export async function send(page: Page, text: string): Promise<number> {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  const at = now();
  await box.press("Enter");
  return at;
}

/** The message bodies in the "Messages" log, in display order. */
export function visibleMessages(page: Page): Promise<string[]> {
  return page.evaluate(() => [...document.querySelectorAll("[role=log] li p")].map((p) => p.textContent ?? ""));
}

/** One own message's body and its status word. */
export interface OwnStatus {
  /** The message text. */
  body: string;
  /** "Sending", "Sent" or "Delivered" (as the UI prints it). */
  status: string;
}

/** The page's own messages with their status words, in display order. */
export function statuses(page: Page): Promise<OwnStatus[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("[role=log] li[data-own=true]")].map((li) => ({
      body: li.querySelector("p")?.textContent ?? "",
      status: li.querySelector("[data-status] span:last-child")?.textContent ?? "",
    }))
  );
}

/** The path word shown for the first other peer in "People here" ("P2P", "P2P via TURN", "Relay"), or null. */
export async function pathOf(page: Page): Promise<string | null> {
  const paths = await page.evaluate(() =>
    [...document.querySelectorAll("[data-path]")].map((el) => el.textContent ?? "")
  );
  return paths[0] ?? null;
}

/** Waits until the first other peer's path reads `path` exactly; returns how long it took (ms). */
export async function waitForPath(page: Page, path: string, timeoutMs = WAIT_MS): Promise<number> {
  return await poll(page, `path "${path}"`, timeoutMs, async () => {
    const seen = await pathOf(page);
    return { done: seen === path, shown: `path ${JSON.stringify(seen)}` };
  });
}

/**
 * Waits until every body in `expected` is visible on the page (others may be there too);
 * returns how long it took (ms). On timeout the error names what is missing.
 */
export async function waitForMessages(page: Page, expected: readonly string[], timeoutMs = WAIT_MS): Promise<number> {
  return await poll(page, `${expected.length} messages`, timeoutMs, async () => {
    const seen = new Set(await visibleMessages(page));
    const missing = expected.filter((body) => !seen.has(body));
    return { done: missing.length === 0, shown: `${missing.length} missing: ${preview(missing)}` };
  });
}

/** Waits until the page shows exactly `count` messages or more; returns how long it took (ms). */
export async function waitForCount(page: Page, count: number, timeoutMs = WAIT_MS): Promise<number> {
  return await poll(page, `${count} messages`, timeoutMs, async () => {
    const seen = (await visibleMessages(page)).length;
    return { done: seen >= count, shown: `${seen} messages` };
  });
}

/** Waits until the page has own messages and all of them read "Delivered"; returns how long it took (ms). */
export async function waitForAllDelivered(page: Page, timeoutMs = WAIT_MS): Promise<number> {
  return await poll(page, "all own messages Delivered", timeoutMs, async () => {
    const own = await statuses(page);
    const notYet = own.filter((m) => m.status !== "Delivered");
    return {
      done: own.length > 0 && notYet.length === 0,
      shown: `${notYet.length} of ${own.length} not Delivered: ${preview(notYet.map((m) => `${m.body}=${m.status}`))}`,
    };
  });
}

/**
 * The delivery assertion of every scenario: each page shows every expected body exactly once and
 * nothing else, all pages show the same order, each sender's messages keep the sender's order, and
 * every own message reads "Delivered". `sent` maps a sender page to its bodies in sending order.
 * Throws one error listing every problem found.
 */
export async function assertDelivery(pages: readonly Page[], sent: ReadonlyMap<Page, readonly string[]>) {
  const problems: string[] = [];
  const expected = new Set([...sent.values()].flat());
  const shown = await Promise.all(pages.map(visibleMessages));
  for (const [i, bodies] of shown.entries()) {
    const name = label(pages[i]);
    const counts = new Map<string, number>();
    for (const body of bodies) counts.set(body, (counts.get(body) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([body, n]) => `${body}×${n}`);
    const missing = [...expected].filter((body) => !counts.has(body));
    const extra = [...counts.keys()].filter((body) => !expected.has(body));
    if (twice.length) problems.push(`${name}: duplicated ${preview(twice)}`);
    if (missing.length) problems.push(`${name}: missing ${missing.length}: ${preview(missing)}`);
    if (extra.length) problems.push(`${name}: unexpected ${preview(extra)}`);
    for (const [sender, bodies2] of sent) {
      const mine = new Set(bodies2);
      const order = bodies.filter((body) => mine.has(body));
      const want = bodies2.filter((body) => counts.has(body));
      if (JSON.stringify(order) !== JSON.stringify(want)) {
        problems.push(`${name}: ${label(sender)}'s messages out of order: ${preview(order)}`);
      }
    }
    if (i > 0 && JSON.stringify(bodies) !== JSON.stringify(shown[0])) {
      const at = bodies.findIndex((body, k) => body !== shown[0][k]);
      problems.push(
        `${name}: order differs from ${label(pages[0])} at #${at}: ${preview(bodies.slice(at, at + 5))} vs ${
          preview(shown[0].slice(at, at + 5))
        }`,
      );
    }
  }
  for (const [sender, bodies] of sent) {
    const own = await statuses(sender);
    const mine = new Set(bodies);
    const notDelivered = own.filter((m) => mine.has(m.body) && m.status !== "Delivered");
    if (notDelivered.length) {
      problems.push(
        `${label(sender)}: ${notDelivered.length} not Delivered: ${
          preview(notDelivered.map((m) => `${m.body}=${m.status}`))
        }`,
      );
    }
  }
  if (problems.length) throw new Error(`delivery failed:\n  ${problems.join("\n  ")}`);
}

/** Two phones in one room: A (phone 0) creates it, B (phone 1) joins through the invite link. */
export interface Room {
  /** The creator's page, named "A" in failures. */
  a: Page;
  /** The joiner's page, named "B" in failures. */
  b: Page;
  /** The invite URL with its #key. */
  link: string;
}

/** Opens phones 0 and 1 on `app`, creates a room on A and joins it from B; records "room ready" in `timings`. */
export async function openRoom(lab: Lab, app: AppServer, timings?: Timings): Promise<Room> {
  const [a, b] = await Promise.all([openPhone(lab, 0, app.url), openPhone(lab, 1, app.url)]);
  nameOf(a, "A");
  nameOf(b, "B");
  const start = now();
  const link = await createRoom(a, app.url);
  await joinRoom(b, link);
  timings?.add("room created and joined", now() - start);
  return { a, b, link };
}

/** Options of {@link exchange}. */
export interface ExchangeOptions {
  /** Body prefix per side; bodies are `<prefix><i>`. Default "A"/"B" by {@link nameOf}. */
  prefixes?: [string, string];
  /** Pause between two sends of one side (ms). Default 0. */
  gapMs?: number;
  /** Called after each side's i-th send (1-based), e.g. to cut a link mid-way. */
  onSent?: (side: 0 | 1, i: number) => Promise<void> | void;
}

/** What {@link exchange} sent: bodies per sender page in order, and when each was sent (epoch ms). */
export interface Exchanged {
  /** Sender page → its bodies in sending order (the input of {@link assertDelivery}). */
  sent: Map<Page, string[]>;
  /** Body → time its Enter was pressed. */
  sentAt: Map<string, number>;
}

/** Sends `count` messages from each of the two pages at the same time, interleaved. */
export async function exchange(
  pages: [Page, Page],
  count: number,
  options: ExchangeOptions = {},
): Promise<Exchanged> {
  const prefixes = options.prefixes ?? [label(pages[0]), label(pages[1])];
  const sent = new Map<Page, string[]>(pages.map((page) => [page, []]));
  const sentAt = new Map<string, number>();
  await Promise.all(pages.map(async (page, side) => {
    for (let i = 1; i <= count; i++) {
      const body = `${prefixes[side]}${i}`;
      sentAt.set(body, await send(page, body));
      sent.get(page)!.push(body);
      await options.onSent?.(side as 0 | 1, i);
      if (options.gapMs) await new Promise((resolve) => setTimeout(resolve, options.gapMs));
    }
  }));
  return { sent, sentAt };
}

/**
 * Send-to-visible latencies (ms) of the bodies `from` sent, as seen on `to`
 * (needs {@link trackArrivals} on `to` before sending). Bodies not seen are left out.
 */
export async function latencies(to: Page, sentAt: ReadonlyMap<string, number>, bodies: readonly string[]) {
  const seen = await arrivals(to);
  return bodies.filter((body) => body in seen).map((body) => seen[body] - sentAt.get(body)!);
}

/**
 * Starts recording, inside the page, when each message body first appears in the log
 * (epoch ms, sub-ms). Read it with {@link arrivals}. Lost on reload.
 */
export async function trackArrivals(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = globalThis as unknown as { __arrivals?: Record<string, number> };
    if (w.__arrivals) return;
    const seen: Record<string, number> = (w.__arrivals = {});
    const scan = () => {
      const t = performance.timeOrigin + performance.now();
      for (const p of document.querySelectorAll("[role=log] li p")) {
        const body = p.textContent ?? "";
        if (!(body in seen)) seen[body] = t;
      }
    };
    scan();
    new MutationObserver(scan).observe(document.body, { childList: true, subtree: true, characterData: true });
  });
}

/** When each body first appeared on the page (epoch ms), since {@link trackArrivals}. */
export function arrivals(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => (globalThis as unknown as { __arrivals?: Record<string, number> }).__arrivals ?? {});
}

/** Opens the Diagnostics drawer, presses "Copy report", closes it, and returns the parsed report. */
export async function diagnosticsReport(page: Page): Promise<DiagnosticsReport> {
  const toggle = page.getByRole("button", { name: "Diagnostics" });
  await toggle.click();
  try {
    // The drawer reads transport details on open and every 2 s; wait for the peer table.
    await page.getByRole("table").getByRole("row").nth(1).waitFor({ timeout: WAIT_MS });
    await page.getByRole("button", { name: "Copy report" }).click();
    await page.getByRole("status").filter({ hasText: "Report copied" }).waitFor({ timeout: 5_000 });
    return JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
  } finally {
    await toggle.click();
  }
}

/** The parts of the diagnostics report the scenarios read (see lib/ui/Diagnostics.tsx). */
export interface DiagnosticsReport {
  /** Per-peer transport details. */
  peers: {
    /** Peer id. */
    id: string;
    /** "p2p", "p2p-turn" or "relay". */
    path: string;
    /** ICE connection state. */
    ice?: string;
    /** Local candidate type of the selected pair. */
    localType?: string;
    /** Remote candidate type of the selected pair. */
    remoteType?: string;
    /** Protocol to the TURN server when the local candidate is relayed ("udp", "tcp"). */
    relayProtocol?: string;
  }[];
  /** Client counters (sent, delivered, resent, rejected, duplicates). */
  counters: Record<string, number>;
  /** Recent client events. */
  events: unknown[];
}

/** Named durations and samples, printed as one block in the test output. */
export class Timings {
  #title: string;
  #values = new Map<string, number[]>();

  /** A recorder whose printout starts with `title`. */
  constructor(title: string) {
    this.#title = title;
  }

  /** Records one value (ms) under `name`. */
  add(name: string, ms: number): void {
    const list = this.#values.get(name) ?? [];
    list.push(ms);
    this.#values.set(name, list);
  }

  /** Runs `fn`, records how long it took under `name`, returns its result. */
  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const start = now();
    try {
      return await fn();
    } finally {
      this.add(name, now() - start);
    }
  }

  /** The `q` quantile (0..1) of `name`'s samples (nearest rank), or NaN. */
  quantile(name: string, q: number): number {
    const list = [...(this.#values.get(name) ?? [])].sort((a, b) => a - b);
    if (list.length === 0) return NaN;
    return list[Math.min(list.length - 1, Math.max(0, Math.ceil(q * list.length) - 1))];
  }

  /** The recorded values as text: one value, or n/p50/p95/max for a series. */
  toString(): string {
    const lines = [`timings: ${this.#title}`];
    for (const [name, list] of this.#values) {
      lines.push(
        list.length === 1
          ? `  ${name}: ${ms(list[0])}`
          : `  ${name}: n=${list.length} p50=${ms(this.quantile(name, 0.5))} p95=${ms(this.quantile(name, 0.95))} max=${
            ms(Math.max(...list))
          }`,
      );
    }
    return lines.join("\n");
  }

  /** Prints {@link toString} to the test output. */
  print(): void {
    console.log(this.toString());
  }
}

/** Epoch milliseconds with sub-millisecond precision, comparable with a page's `timeOrigin + now()`. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

function label(page: Page): string {
  const phone = phoneLabels.get(page);
  return phone ?? "page";
}

const phoneLabels = new WeakMap<Page, string>();

/** Names a page in failure messages ("A", "B", ...). */
export function nameOf(page: Page, name: string): Page {
  phoneLabels.set(page, name);
  return page;
}

function preview(items: readonly string[], max = 8): string {
  const head = items.slice(0, max).map((item) => JSON.stringify(item)).join(", ");
  return items.length > max ? `${head}, … (${items.length} in all)` : head;
}

async function poll(
  page: Page,
  what: string,
  timeoutMs: number,
  check: () => Promise<{ done: boolean; shown: string }>,
): Promise<number> {
  const start = now();
  for (;;) {
    const { done, shown } = await check();
    if (done) return now() - start;
    if (now() - start > timeoutMs) {
      throw new Error(`${label(page)}: no ${what} within ${timeoutMs} ms; the page shows ${shown}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
