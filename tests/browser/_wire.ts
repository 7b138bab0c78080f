/**
 * What a page visit moves on the wire, as Chromium's DevTools protocol sees
 * it: every HTTP response's `encodedDataLength` (page and service worker
 * alike), when each request was sent and who started it, the WebSockets the
 * page opened and the frames it sent on them, and the moment the page first
 * said "Connected" (an init script notes it).
 * @module
 */
import type { BrowserContext, CDPSession, Page } from "playwright-core";

/** One HTTP exchange as the network saw it. */
export interface WireEntry {
  /** The URL (never with a fragment: browsers do not send it). */
  url: string;
  /** The resource type (Document, Script, Stylesheet, Fetch, Other, ...). */
  type: string;
  /** Who fetched it: the page, or its service worker. */
  by: "page" | "worker";
  /** What started the request: "parser" (the HTML, its preloads included), "script", "other". */
  initiator: string;
  /** Bytes received for it, headers included (`encodedDataLength`); 0 when a cache answered. */
  bytes: number;
  /** Wall-clock ms when the request was sent. */
  sentAt: number;
  /** Whether a cache (HTTP or service worker) answered, so nothing crossed the wire. */
  cached: boolean;
}

/** A WebSocket the page opened. */
export interface SocketEntry {
  /** Its URL. */
  url: string;
  /** Text of every frame the page sent on it. */
  sent: string[];
}

/** Notes, in the page, the wall-clock time it first showed "Connected". */
const CONNECTED_PROBE = `(() => {
  const seen = () => {
    if (globalThis.__connectedAt) return;
    if (document.querySelector('[data-connection="connected"]')) globalThis.__connectedAt = Date.now();
  };
  new MutationObserver(seen).observe(document, { subtree: true, childList: true, attributes: true });
})();`;

/** Records the network of a page and of its context's service workers. */
export class WireRecorder {
  #page: Page;
  #pending = new Map<string, WireEntry>();
  #done: WireEntry[] = [];
  #sockets = new Map<string, SocketEntry>();
  #session?: CDPSession;

  private constructor(page: Page) {
    this.#page = page;
  }

  /** Starts recording a page (before its first navigation) and the service workers of its context. */
  static async attach(context: BrowserContext, page: Page): Promise<WireRecorder> {
    const recorder = new WireRecorder(page);
    await page.addInitScript(CONNECTED_PROBE);
    const session = await context.newCDPSession(page);
    recorder.#session = session;
    recorder.#listen(session);
    await session.send("Network.enable");
    context.on("requestfinished", async (request) => {
      if (!request.serviceWorker()) return;
      let sizes: Awaited<ReturnType<typeof request.sizes>>;
      let response: Awaited<ReturnType<typeof request.response>>;
      try {
        sizes = await request.sizes();
        response = await request.response();
      } catch {
        return; // the browser closed meanwhile
      }
      recorder.#done.push({
        url: request.url(),
        type: request.resourceType(),
        by: "worker",
        initiator: "worker",
        bytes: response?.fromServiceWorker() ? 0 : sizes.responseBodySize + sizes.responseHeadersSize,
        sentAt: request.timing().startTime,
        cached: response?.fromServiceWorker() ?? false,
      });
    });
    return recorder;
  }

  #listen(session: CDPSession): void {
    session.on("Network.requestWillBeSent", (event) => {
      this.#pending.set(event.requestId, {
        url: event.request.url,
        type: event.type ?? "Other",
        by: "page",
        initiator: event.initiator.type,
        bytes: 0,
        sentAt: event.wallTime * 1000,
        cached: false,
      });
    });
    session.on("Network.responseReceived", (event) => {
      const entry = this.#pending.get(event.requestId);
      const r = event.response;
      if (entry) entry.cached = Boolean(r.fromDiskCache || r.fromServiceWorker || r.fromPrefetchCache);
    });
    session.on("Network.requestServedFromCache", (event) => {
      const entry = this.#pending.get(event.requestId);
      if (entry) entry.cached = true;
    });
    session.on("Network.loadingFinished", (event) => {
      const entry = this.#pending.get(event.requestId);
      if (!entry) return;
      this.#pending.delete(event.requestId);
      this.#done.push({ ...entry, bytes: entry.cached ? 0 : event.encodedDataLength });
    });
    session.on("Network.webSocketCreated", (event) => {
      this.#sockets.set(event.requestId, { url: event.url, sent: [] });
    });
    session.on("Network.webSocketFrameSent", (event) => {
      this.#sockets.get(event.requestId)?.sent.push(event.response.payloadData);
    });
  }

  /** The HTTP exchanges finished so far. */
  entries(): WireEntry[] {
    return [...this.#done];
  }

  /** The WebSockets the page opened so far. */
  sockets(): SocketEntry[] {
    return [...this.#sockets.values()];
  }

  /** When the page first showed "Connected" (wall-clock ms), once it has. */
  async connectedAt(): Promise<number> {
    await this.#page.waitForFunction(() => (globalThis as { __connectedAt?: number }).__connectedAt, undefined, {
      timeout: 30_000,
    });
    return await this.#page.evaluate(() => (globalThis as unknown as { __connectedAt: number }).__connectedAt);
  }

  /** Stops listening to the page. */
  async detach(): Promise<void> {
    await this.#session?.detach().catch(() => {});
  }
}

/** Bytes that crossed the wire for some entries. */
export function wireBytes(entries: readonly WireEntry[]): number {
  return entries.reduce((sum, entry) => sum + entry.bytes, 0);
}

/** Whether an entry is HTML, CSS or JavaScript (what a page's weight budget counts). */
export function isPageCode(entry: WireEntry): boolean {
  return ["Document", "Script", "Stylesheet"].includes(entry.type);
}

/** A table of entries for the test's output: path, type, who, initiator, bytes. */
export function byteTable(entries: readonly WireEntry[]): string {
  const rows = entries.map((e) => {
    const path = new URL(e.url).pathname;
    const name = path.length > 46 ? path.slice(0, 22) + "…" + path.slice(-23) : path;
    return `  ${name.padEnd(47)} ${e.type.padEnd(9)} ${e.by.padEnd(6)} ${e.initiator.padEnd(7)} ${
      String(e.bytes).padStart(6)
    } B${e.cached ? " (cache)" : ""}`;
  });
  return [...rows, `  ${"total".padEnd(73)} ${String(wireBytes(entries)).padStart(6)} B`].join("\n");
}
