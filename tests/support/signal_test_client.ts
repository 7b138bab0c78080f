/**
 * A WebSocket client for signaling integration tests: queues every frame it
 * receives, lets a test wait for the next frame matching a predicate, and
 * records how the socket closed.
 * @module
 */
import type { ServerFrame, WelcomeFrame } from "../../lib/protocol/frames.ts";

/** How long a test waits for a frame or a close before failing (a hang guard, not a timing assertion). */
const WAIT_MS = 10_000;

/** A frame as received (any server frame; fields read loosely by tests). */
export type Received = ServerFrame & Record<string, unknown>;

/** How a socket closed. */
export interface Closed {
  /** The close code. */
  code: number;
  /** The close reason. */
  reason: string;
}

/** A signaling test client. */
export class TestClient {
  /** Every frame received, in order, not yet taken by `next`. */
  readonly inbox: Received[] = [];
  /** Every frame received, in order. */
  readonly all: Received[] = [];
  /** Resolves when the socket closed. */
  readonly closed: Promise<Closed>;
  /** The welcome, once `hello` succeeded. */
  welcome: WelcomeFrame | null = null;
  #ws: WebSocket;
  #waiters: (() => void)[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.closed = new Promise((resolve) => {
      ws.onclose = (event) => {
        resolve({ code: event.code, reason: event.reason });
        this.#wake();
      };
    });
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data as string) as Received;
      this.inbox.push(frame);
      this.all.push(frame);
      this.#wake();
    };
  }

  /** Opens a socket to `url` and waits until it is open (or fails). */
  static async connect(url: string, init?: { headers?: Record<string, string> }): Promise<TestClient> {
    // Deno's WebSocket accepts headers (e.g. Origin) as a second-argument option.
    const ws = new WebSocket(url, init as unknown as string[]);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`could not connect to ${url}`));
    });
    ws.onerror = () => {};
    return client;
  }

  /** Sends a frame (objects are JSON-encoded). */
  send(frame: unknown): void {
    this.#ws.send(typeof frame === "string" || frame instanceof Uint8Array ? frame : JSON.stringify(frame));
  }

  /** Sends `hello` and waits for the welcome; throws on an error frame. */
  async hello(fields: Record<string, unknown> = {}): Promise<WelcomeFrame> {
    this.send({ type: "hello", v: 1, ...fields });
    const frame = await this.next((f) => f.type === "welcome" || f.type === "error");
    if (frame.type !== "welcome") throw new Error(`hello refused: ${JSON.stringify(frame)}`);
    this.welcome = frame;
    return frame;
  }

  /** Takes the first queued frame matching `match` (waiting for it); other frames stay queued. */
  async next(match: (frame: Received) => boolean = () => true): Promise<Received> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const index = this.inbox.findIndex(match);
      if (index >= 0) return this.inbox.splice(index, 1)[0];
      if (this.#ws.readyState === WebSocket.CLOSED) {
        throw new Error(`socket closed while waiting; inbox: ${JSON.stringify(this.inbox)}`);
      }
      if (Date.now() > deadline) throw new Error(`no matching frame; inbox: ${JSON.stringify(this.inbox)}`);
      await this.#wait(deadline - Date.now());
    }
  }

  /** Waits until `check()` holds, re-checking on every frame received. */
  async until(check: () => boolean): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!check()) {
      if (this.#ws.readyState === WebSocket.CLOSED) throw new Error("socket closed while waiting");
      if (Date.now() > deadline) throw new Error(`condition not met; inbox: ${JSON.stringify(this.inbox)}`);
      await this.#wait(deadline - Date.now());
    }
  }

  /** Takes the next frame of `type`. */
  nextOf(type: string): Promise<Received> {
    return this.next((frame) => frame.type === type);
  }

  /** Waits for the socket to close; fails after the guard timeout. */
  async waitClosed(): Promise<Closed> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("socket did not close")), WAIT_MS);
    });
    try {
      return await Promise.race([this.closed, guard]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the socket and waits until it is closed. */
  async close(code = 1000): Promise<void> {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) this.#ws.close(code);
    await this.waitClosed();
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(1, ms));
      const waiter = () => done();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.push(waiter);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}
