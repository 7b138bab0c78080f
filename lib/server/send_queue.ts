/**
 * Backpressure for the server's sockets: bounds the bytes waiting to be
 * written on each socket, finds sockets whose client stopped reading, and lets
 * a sender that can wait (the backlog) wait for room.
 *
 * Deno's server WebSocket writes asynchronously: `send()` copies the frame
 * into the runtime and returns, and `bufferedAmount` counts the bytes not yet
 * handed to the kernel (it drops when a frame's write completes). A client
 * that stops reading fills the kernel's buffers first (about 4 MB on Linux
 * loopback), then `bufferedAmount` grows without limit. Deno never ends such a
 * socket by itself: its idle ping and `close()` are writes queued behind the
 * stuck ones. So the bound is kept here:
 *
 * - a frame that would take a socket over `maxBytes` makes it a slow consumer
 *   (`over_bound`);
 * - a socket with bytes waiting and no write completed for `stallMs` is one too
 *   (`stalled`), so even a trickle of frames cannot keep a dead reader open;
 * - a frame that would take all sockets' waiting bytes over `totalBytes` makes
 *   its socket a slow consumer (`over_total`), unless that socket holds no more
 *   than its share (`maxBytes / 16`) and the total is not yet twice over: when
 *   the server itself falls behind (CPU contention), readers that keep up hold
 *   a few frames each, and closing them would free nothing, since what fills
 *   the total is mostly the stuck bytes of slow consumers already closed; and
 *   many sockets each holding just under their share still cannot take the
 *   process past twice the total;
 * - `ready()` lets the backlog send in windows of `maxBytes / 2`.
 *
 * Only congested sockets (bytes waiting when a frame is sent) get state here,
 * and one interval serves them all while there are any.
 * @module
 */
import { metrics } from "./metrics.ts";

/** Why a socket was found to be a slow consumer. */
export type SlowReason =
  /** A frame would have taken the bytes waiting over the bound. */
  | "over_bound"
  /** Bytes were waiting and no write completed for the stall time. */
  | "stalled"
  /** Bytes were waiting, and the frame would have taken all sockets' waiting bytes over their bound. */
  | "over_total";

/** The socket side flow control reads and acts on. */
export interface FlowSocket {
  /** Bytes handed to the socket and not yet written (WebSocket `bufferedAmount`; 0 once closed). */
  readonly bufferedAmount: number;
  /** Called once when the socket turns out to be a slow consumer: it must close (4008). */
  slowConsumer(reason: SlowReason): void;
}

/** An interval timer, injectable for tests. */
export interface IntervalTimers {
  /** Starts calling `run` every `ms`; returns a handle for `clear`. */
  set(run: () => void, ms: number): unknown;
  /** Stops an interval started by `set`. */
  clear(handle: unknown): void;
}

/** Options of {@linkcode FlowControl}. */
export interface FlowOptions {
  /** The most bytes that may wait on one socket (`SEND_QUEUE_BYTES`). */
  maxBytes: number;
  /** The most bytes that may wait on all sockets together (`SEND_QUEUE_TOTAL_BYTES`; default: no bound). */
  totalBytes?: number;
  /** How long bytes may wait with no write completing before the socket is a slow consumer, in ms. */
  stallMs: number;
  /** How often congested sockets are checked, in ms (default 20). */
  tickMs?: number;
  /** The clock, injectable for tests. */
  now?: () => number;
  /** The interval timer, injectable for tests (default: `setInterval`, unref'd). */
  timers?: IntervalTimers;
}

/** Flow state of one congested socket. */
interface Congestion {
  /** `bufferedAmount` at the last check (or when the socket became congested). */
  base: number;
  /** Bytes sent since then (UTF-16 units: at most the UTF-8 bytes Deno counts, so progress is never overstated). */
  added: number;
  /** When a write last completed (or the socket became congested). */
  progressAt: number;
  /** Senders waiting for room: [bytes needed, resolve]. Rare, so lazy. */
  waiters: [number, (ok: boolean) => void][] | null;
}

const slowConsumers = metrics.counter(
  "parley_slow_consumers_total",
  "Sockets closed with 4008 because their client did not read, by reason.",
);
const LIVE = new Set<FlowControl>();
metrics.gauge(
  "parley_send_waiting_bytes",
  "Bytes waiting to be written on congested sockets, slow consumers' stuck bytes included (estimate).",
  () => {
    let n = 0;
    for (const flow of LIVE) n += flow.waitingBytes;
    return n;
  },
);

const GLOBAL_INTERVAL: IntervalTimers = {
  set(run, ms) {
    const timer = setInterval(run, ms);
    Deno.unrefTimer(timer);
    return timer;
  },
  clear(handle) {
    clearInterval(handle as number);
  },
};

/** Bounds and watches the send side of every socket of one service. */
export class FlowControl {
  /** The most bytes that may wait on one socket. */
  readonly maxBytes: number;
  /** The backlog's window: it sends only while fewer bytes than this wait. */
  readonly windowBytes: number;
  /**
   * What a socket may hold waiting past the total (`maxBytes / 16`: 64 KiB by default, a few hundred chat frames),
   * as long as all sockets together hold less than twice the total: the hard ceiling.
   */
  readonly shareBytes: number;
  /** The most bytes that may wait on all sockets together. */
  readonly totalBytes: number;
  /** Bytes waiting on all congested sockets (as of their last check, plus what was sent since), stuck ones included. */
  #waiting = 0;
  /** Slow consumers closed and not yet ended: the bytes they still hold in the runtime. */
  #stuck = new Map<FlowSocket, number>();
  #stallMs: number;
  #tickMs: number;
  #now: () => number;
  #timers: IntervalTimers;
  #congested = new Map<FlowSocket, Congestion>();
  #interval: unknown = undefined;

  /** Builds the controller; it holds no timer until a socket congests. */
  constructor(options: FlowOptions) {
    this.maxBytes = options.maxBytes;
    this.windowBytes = Math.floor(options.maxBytes / 2);
    this.shareBytes = Math.floor(options.maxBytes / 16);
    this.totalBytes = options.totalBytes ?? Infinity;
    this.#stallMs = options.stallMs;
    this.#tickMs = options.tickMs ?? 20;
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? GLOBAL_INTERVAL;
    LIVE.add(this);
  }

  /** Sockets with bytes waiting at the last look. */
  get congestedCount(): number {
    return this.#congested.size;
  }

  /**
   * Bytes waiting on all sockets: on congested ones as of their last check plus what was sent
   * since, and on slow consumers closed but not yet ended. What the total bound is checked against.
   */
  get waitingBytes(): number {
    return this.#waiting;
  }

  /** Slow consumers closed whose connection has not ended yet. */
  get stuckCount(): number {
    return this.#stuck.size;
  }

  /**
   * Call before sending `length` (UTF-16 units) on `socket`: true to send it; false when it
   * would go over the bound, in which case the socket was told it is a slow consumer.
   */
  admit(socket: FlowSocket, length: number): boolean {
    const buffered = socket.bufferedAmount;
    // A watched socket's estimate is brought up to date with what it holds now.
    const state = this.#congested.size === 0 ? undefined : this.#congested.get(socket);
    if (state) this.#observe(state, buffered, this.#now());
    if (buffered === 0) {
      // The fast path: nothing waits. A socket still watched must count what it is given.
      if (state) {
        state.added += length;
        this.#waiting += length;
      }
      return true;
    }
    if (buffered + length > this.maxBytes) {
      this.#slow(socket, "over_bound");
      return false;
    }
    const watched = state ?? this.#watch(socket, buffered);
    const total = this.#waiting + length;
    if (total > this.totalBytes && (buffered + length > this.shareBytes || total > 2 * this.totalBytes)) {
      this.#slow(socket, "over_total");
      return false;
    }
    watched.added += length;
    this.#waiting += length;
    return true;
  }

  /**
   * Whether `length` more fit `socket`'s window ({@link windowBytes}, half its bound) now, without changing anything.
   * Frames one member relays to another (signals, acks) are sent only then, and refused to their sender otherwise:
   * a member pointing its whole rate burst at one reader must not push that reader over its bound (4008).
   */
  spare(socket: FlowSocket, length: number): boolean {
    return socket.bufferedAmount + length <= this.windowBytes;
  }

  /**
   * Resolves true once `length` more can be sent within the window (at once, as `true`, when it
   * can now), or false when the socket is dropped meanwhile (slow or closed).
   */
  ready(socket: FlowSocket, length: number): true | Promise<boolean> {
    const buffered = socket.bufferedAmount;
    if (buffered === 0) return true;
    if (buffered + length <= this.windowBytes && this.#waiting + length <= this.totalBytes) return true;
    const state = this.#watch(socket, buffered);
    return new Promise((resolve) => (state.waiters ??= []).push([length, resolve]));
  }

  /** Forgets a socket that closed: its waiters get false. A slow consumer's bytes count until `ended()`. */
  forget(socket: FlowSocket): void {
    const state = this.#congested.get(socket);
    if (!state) return;
    this.#congested.delete(socket);
    this.#waiting -= state.base + state.added;
    for (const [, resolve] of state.waiters ?? []) resolve(false);
  }

  /** The socket's connection has ended: nothing of it waits any more (its stuck bytes are released). */
  ended(socket: FlowSocket): void {
    this.forget(socket);
    const stuck = this.#stuck.get(socket);
    if (stuck === undefined) return;
    this.#stuck.delete(socket);
    this.#waiting -= stuck;
  }

  /** Checks every congested socket once (the interval calls this; tests may too). */
  check(): void {
    const now = this.#now();
    for (const [socket, state] of this.#congested) {
      const buffered = socket.bufferedAmount;
      this.#observe(state, buffered, now);
      if (state.waiters) this.#wake(buffered, state);
      if (buffered === 0 && state.waiters === null) {
        this.#congested.delete(socket);
      } else if (now - state.progressAt >= this.#stallMs) {
        this.#slow(socket, "stalled");
      }
    }
    if (this.#congested.size === 0) this.#disarm();
  }

  /** Stops the interval and fails every waiter; the controller is unusable afterwards. */
  close(): void {
    for (const socket of [...this.#congested.keys()]) this.forget(socket);
    this.#stuck.clear();
    this.#waiting = 0;
    this.#disarm();
    LIVE.delete(this);
  }

  /** Takes in what a watched socket holds now: progress when less waits than was counted; the estimate follows. */
  #observe(state: Congestion, buffered: number, now: number): void {
    // Less waiting than before plus what was added: some write completed.
    if (buffered < state.base + state.added) state.progressAt = now;
    this.#waiting += buffered - state.base - state.added;
    state.base = buffered;
    state.added = 0;
  }

  #watch(socket: FlowSocket, buffered: number): Congestion {
    let state = this.#congested.get(socket);
    if (!state) {
      state = { base: buffered, added: 0, progressAt: this.#now(), waiters: null };
      this.#congested.set(socket, state);
      this.#waiting += buffered;
      this.#interval ??= this.#timers.set(() => this.check(), this.#tickMs);
    }
    return state;
  }

  /** Resolves the waiters that fit now, in order: the first that does not fit holds the rest. */
  #wake(buffered: number, state: Congestion): void {
    const waiters = state.waiters!;
    let used = buffered;
    let total = this.#waiting;
    let woken = 0;
    while (
      woken < waiters.length &&
      (used === 0 || (used + waiters[woken][0] <= this.windowBytes && total + waiters[woken][0] <= this.totalBytes))
    ) {
      used += waiters[woken][0];
      total += waiters[woken][0];
      waiters[woken++][1](true);
    }
    if (woken === waiters.length) state.waiters = null;
    else if (woken > 0) waiters.splice(0, woken);
  }

  #slow(socket: FlowSocket, reason: SlowReason): void {
    const state = this.#congested.get(socket);
    // Its bytes stay in the runtime until the connection ends: they count until `ended()`.
    const held = state ? state.base + state.added : 0;
    this.forget(socket);
    if (held > 0) {
      this.#stuck.set(socket, (this.#stuck.get(socket) ?? 0) + held);
      this.#waiting += held;
    }
    slowConsumers.inc({ reason });
    socket.slowConsumer(reason);
  }

  #disarm(): void {
    if (this.#interval === undefined) return;
    this.#timers.clear(this.#interval);
    this.#interval = undefined;
  }
}
