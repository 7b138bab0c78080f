/**
 * What the signal socket's unit tests share: timings with round numbers and
 * a WebSocket whose other end is the test.
 * @module
 */
import type { SignalSocketTimings } from "../../lib/client/signal_socket.ts";

/** Round timings, so the tests' clock steps read plainly (ms). */
export const TIMINGS: SignalSocketTimings = {
  reconnectBaseMs: 1_000,
  reconnectCapMs: 30_000,
  connectTimeoutMs: 10_000,
  heartbeatIntervalMs: 25_000,
  heartbeatQuietMs: 25_000,
  heartbeatTimeoutMs: 10_000,
  livenessTimeoutMs: 3_000,
};

/** A WebSocket whose other end is the test: it records what is sent, and the test opens, feeds and closes it. */
export class FakeWebSocket {
  /** Frames sent, parsed. */
  sent: Record<string, unknown>[] = [];
  /** The handlers the code under test sets. */
  onopen: (() => void) | null = null;
  /** See {@link FakeWebSocket.onopen}. */
  onmessage: ((event: { data: string }) => void) | null = null;
  /** See {@link FakeWebSocket.onopen}. */
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  /** See {@link FakeWebSocket.onopen}. */
  onerror: (() => void) | null = null;
  /** The code the client closed it with, once it did. */
  closedWith?: number;

  /** A socket for `url`, in `readyState` (0: connecting, 1: open, 3: closed). */
  constructor(readonly url: string, public readyState = 0) {}

  /** Records a frame the client sends. */
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }

  /** The client closes it. */
  close(code = 1000) {
    this.closedWith = code;
    this.readyState = 3;
  }

  /** The server side: the socket opens. */
  open() {
    this.readyState = 1;
    this.onopen?.();
  }

  /** The server side: a frame arrives. */
  receive(frame: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The server side: the server closes it. */
  serverClose(code: number, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}
