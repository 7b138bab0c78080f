/**
 * A signaling client for the abuse bench and the backpressure test, on the
 * raw TCP WebSocket of `../load/raw_socket.ts` (so it can stop reading, like a
 * phone that does not read): frames parsed as they come, handed to a handler
 * or kept for `next()`.
 * @module
 */
import { RawSocket } from "../load/raw_socket.ts";
import { PROTOCOL_VERSION } from "../../../lib/protocol/version.ts";

/** A server frame as received (fields read loosely). */
export type Frame = { type: string } & Record<string, unknown>;

/** How long `next()` waits before failing: a hang guard, not a measurement. */
const NEXT_TIMEOUT_MS = 15_000;

/** Options of {@linkcode Wire.open}. */
export interface WireOptions {
  /** Server port on 127.0.0.1. */
  port: number;
  /** Room id. */
  room: string;
  /**
   * The client address this socket claims, sent as `X-Forwarded-For`: a server that trusts
   * loopback as its proxy (`TRUSTED_PROXIES=loopback`) counts the socket under it, so one machine
   * can play many clients. Without it the socket counts under 127.0.0.1.
   */
  address?: string;
  /**
   * Sees every frame first; returning true consumes it (not kept for `next()`). Without a handler
   * (or when it returns false) frames are kept until `next()` takes them.
   */
  onFrame?: (frame: Frame) => boolean;
}

/** One signaling socket. */
export class Wire {
  /** Frames not yet taken by `next()` (nor consumed by the handler). */
  readonly inbox: Frame[] = [];
  /** Resolves with the close code once the connection ended (1006 without a close frame). */
  readonly closed: Promise<number>;
  #socket: RawSocket;
  #waiters: (() => void)[] = [];
  #onFrame: ((frame: Frame) => boolean) | undefined;

  private constructor(socket: RawSocket, closed: Promise<number>, onFrame?: (frame: Frame) => boolean) {
    this.#socket = socket;
    this.closed = closed;
    this.#onFrame = onFrame;
  }

  /** Connects and upgrades; throws when the server refuses the upgrade. */
  static async open(options: WireOptions): Promise<Wire> {
    let wire: Wire | null = null;
    const early: string[] = [];
    const { promise: closed, resolve: onClosed } = Promise.withResolvers<number>();
    const socket = await RawSocket.open({
      hostname: "127.0.0.1",
      port: options.port,
      path: `/api/signal?v=${PROTOCOL_VERSION}&room=${options.room}`,
      headers: options.address === undefined ? undefined : { "X-Forwarded-For": options.address },
      onText: (text) => wire ? wire.#receive(text) : early.push(text),
      onClose: (code) => {
        onClosed(code);
        if (wire) wire.#wake();
      },
    });
    if (!(socket instanceof RawSocket)) throw new Error(`upgrade refused: ${socket.status} ${socket.body}`);
    wire = new Wire(socket, closed, options.onFrame);
    for (const text of early) wire.#receive(text);
    return wire;
  }

  /** Whether the connection has ended. */
  get isClosed(): boolean {
    return this.#socket.closed;
  }

  /** Sets (or clears) the frame handler. */
  set onFrame(handler: ((frame: Frame) => boolean) | undefined) {
    this.#onFrame = handler;
  }

  /** Sends a frame (objects are JSON-encoded). */
  send(frame: unknown): void {
    this.#socket.sendText(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Takes the first kept frame matching `match`, waiting for it; throws if the socket closes first. */
  async next(match: (frame: Frame) => boolean = () => true, timeoutMs = NEXT_TIMEOUT_MS): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.inbox.findIndex(match);
      if (index >= 0) return this.inbox.splice(index, 1)[0];
      if (this.#socket.closed) throw new Error(`socket closed (${this.#socket.closeCode}) while waiting for a frame`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame in ${timeoutMs} ms; kept: ${this.#summary()}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Stops reading (see `RawSocket.pause`). */
  pause(): void {
    this.#socket.pause();
  }

  /** Reads again. */
  resume(): void {
    this.#socket.resume();
  }

  /** Sends a close frame and waits for the end of the connection. */
  async close(code = 1000): Promise<void> {
    this.#socket.close(code);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.closed, new Promise((resolve) => timer = setTimeout(resolve, 2_000))]);
    clearTimeout(timer);
    this.#socket.abort();
    await this.#socket.settled();
  }

  /** Drops the connection without a close frame and waits until it is released. */
  async abort(): Promise<void> {
    this.#socket.abort();
    await this.#socket.settled();
  }

  #receive(text: string): void {
    const frame = JSON.parse(text) as Frame;
    if (this.#onFrame?.(frame)) return;
    this.inbox.push(frame);
    this.#wake();
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  #summary(): string {
    return this.inbox.slice(-5).map((frame) => JSON.stringify(frame).slice(0, 120)).join(" | ");
  }
}
