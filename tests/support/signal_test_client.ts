/**
 * A WebSocket client for signaling integration tests: answers the server's
 * challenge with a proof of its room key (registering a new room when asked),
 * queues every frame it receives, lets a test wait for the next frame matching
 * a predicate, and records how the socket closed.
 * @module
 */
import { admissionKey, helloProof } from "../../lib/protocol/admission.ts";
import type { ServerFrame, WelcomeFrame } from "../../lib/protocol/frames.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";

/** How long a test waits for a frame or a close before failing (a hang guard, not a timing assertion). */
const WAIT_MS = 10_000;

/** A frame as received (any server frame; fields read loosely by tests). */
export type Received = ServerFrame & Record<string, unknown>;

/** The room key test clients use unless told otherwise: every default client of a room holds the same key. */
export const TEST_ROOM_KEY: Uint8Array = new Uint8Array(32).fill(7);

/** Options of `TestClient.connect`. */
export interface TestClientOptions {
  /** Request headers (e.g. Origin). */
  headers?: Record<string, string>;
  /** The room key this client proves; default {@link TEST_ROOM_KEY}. */
  key?: Uint8Array;
}

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
  /** The room id, from the URL. */
  readonly room: string;
  /** base64url(A): the admission key of the room key this client holds, which registers a new room. */
  readonly verifier: string;
  /** The challenge's nonce, once it arrived. */
  nonce: string | null = null;
  #ws: WebSocket;
  #waiters: (() => void)[] = [];

  private constructor(ws: WebSocket, room: string, verifier: string) {
    this.#ws = ws;
    this.room = room;
    this.verifier = verifier;
    this.closed = new Promise((resolve) => {
      ws.onclose = (event) => {
        resolve({ code: event.code, reason: event.reason });
        this.#wake();
      };
    });
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data as string) as Received;
      if (frame.type === "challenge" && this.nonce === null) {
        this.nonce = frame.nonce as string;
        this.all.push(frame);
        this.#wake();
        return;
      }
      this.inbox.push(frame);
      this.all.push(frame);
      this.#wake();
    };
  }

  /** Opens a socket to `url` and waits until it is open (or fails). */
  static async connect(url: string, init: TestClientOptions = {}): Promise<TestClient> {
    const room = new URL(url).searchParams.get("room") ?? "";
    const verifier = await admissionKey(init.key ?? TEST_ROOM_KEY, room);
    // Deno's WebSocket accepts headers (e.g. Origin) as a second-argument option.
    const ws = new WebSocket(url, (init.headers ? { headers: init.headers } : undefined) as unknown as string[]);
    const client = new TestClient(ws, room, verifier);
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

  /** Waits for the server's challenge; returns its nonce. */
  async challenge(): Promise<string> {
    await this.until(() => this.nonce !== null);
    return this.nonce!;
  }

  /** The proof of this client's room key over `nonce` (default: this connection's). */
  async proof(nonce?: string): Promise<string> {
    return await helloProof(this.verifier, this.room, nonce ?? await this.challenge());
  }

  /** A `hello` with this client's proof over the challenge; `fields` add to it or override it. */
  async helloFrame(fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return { type: "hello", v: PROTOCOL_VERSION, proof: await this.proof(), ...fields };
  }

  /**
   * Says `hello` (with a proof unless `fields` gives one) and waits for the
   * welcome, sending it again with the verifier when the room is new; throws on
   * any other error frame.
   */
  async hello(fields: Record<string, unknown> = {}): Promise<WelcomeFrame> {
    const hello = await this.helloFrame(fields);
    this.send(hello);
    let frame = await this.next((f) => f.type === "welcome" || f.type === "error");
    if (frame.type === "error" && frame.code === "verifier_required" && !("verifier" in fields)) {
      this.send({ ...hello, verifier: this.verifier });
      frame = await this.next((f) => f.type === "welcome" || f.type === "error");
    }
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
