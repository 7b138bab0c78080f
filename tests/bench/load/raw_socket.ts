/**
 * A minimal WebSocket client written on a bare TCP connection.
 *
 * Why not the built-in `WebSocket`: the load generator must cost less than the
 * servers it measures, so it writes pre-framed bytes with a zero mask (legal:
 * RFC 6455 only asks servers to unmask) and coalesces frames into one write;
 * and the fuzz test needs to send frames no well-behaved client would (bad
 * opcodes, oversized lengths, broken UTF-8), and to read the close code.
 * @module
 */

/** WebSocket opcodes used here. */
export const OPCODE = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
const READ_CHUNK = 64 * 1024;
const HANDSHAKE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** Options of {@linkcode RawSocket.open}. */
export interface RawSocketOptions {
  /** Server address; loopback only in this project. */
  hostname: string;
  /** Server port. */
  port: number;
  /** Request target including the query string, e.g. `/peerjs?id=a`. */
  path: string;
  /** Extra request headers (e.g. `Origin`), sent verbatim. */
  headers?: Record<string, string>;
  /** Called for every complete text frame the server sends. */
  onText?: (text: string) => void;
  /** Called for every complete binary frame the server sends. */
  onBinary?: (data: Uint8Array) => void;
  /** Called once when the connection ends; `code` is the close code (1006 when none). */
  onClose?: (code: number, reason: string) => void;
}

/** What the server answered when it refused to upgrade. */
export interface RefusedUpgrade {
  /** HTTP status of the refusal. */
  status: number;
  /** Response body, decoded as text. */
  body: string;
}

/** Encodes one client frame (FIN set, zero mask) around `payload`. */
export function encodeFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const len = payload.length;
  const headerLen = len < 126 ? 6 : len < 65536 ? 8 : 14;
  const out = new Uint8Array(headerLen + len);
  out[0] = (fin ? 0x80 : 0) | opcode;
  if (len < 126) {
    out[1] = 0x80 | len;
  } else if (len < 65536) {
    out[1] = 0x80 | 126;
    out[2] = len >> 8;
    out[3] = len & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(len));
  }
  // Mask key bytes stay zero, so the payload is copied as is.
  out.set(payload, headerLen);
  return out;
}

/** Encodes one text frame. */
export function encodeText(text: string): Uint8Array {
  return encodeFrame(OPCODE.TEXT, ENCODER.encode(text));
}

/** A client WebSocket over a raw `Deno.TcpConn`. */
export class RawSocket {
  #conn: Deno.TcpConn;
  #opts: RawSocketOptions;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #writing = false;
  #flushing: Promise<void> = Promise.resolve();
  #closed = false;
  #closeCode = 1006;
  #closeReason = "";
  #fragments: Uint8Array[] = [];
  #fragmentOpcode = 0;
  /** Set while paused: the read loop waits for it before reading again. */
  #resumed: PromiseWithResolvers<void> | null = null;
  /** Resolves when the read loop ends (connection closed either way). */
  readonly done: Promise<void>;

  private constructor(conn: Deno.TcpConn, opts: RawSocketOptions, leftover: Uint8Array) {
    this.#conn = conn;
    this.#opts = opts;
    this.done = this.#readLoop(leftover);
  }

  /**
   * Connects and upgrades. Resolves to the socket, or to the refusal when the
   * server answered with a status other than 101.
   */
  static async open(opts: RawSocketOptions): Promise<RawSocket | RefusedUpgrade> {
    const conn = await Deno.connect({ hostname: opts.hostname, port: opts.port });
    try {
      conn.setNoDelay(true);
      let head = `GET ${opts.path} HTTP/1.1\r\nHost: ${opts.hostname}:${opts.port}\r\n` +
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${HANDSHAKE_KEY}\r\n` +
        `Sec-WebSocket-Version: 13\r\n`;
      for (const [name, value] of Object.entries(opts.headers ?? {})) head += `${name}: ${value}\r\n`;
      await writeAll(conn, ENCODER.encode(head + "\r\n"));
      let buf: Uint8Array = new Uint8Array(0);
      let end = -1;
      while (end < 0) {
        const chunk = new Uint8Array(READ_CHUNK);
        const n = await conn.read(chunk);
        if (n === null) throw new Error(`connection closed during handshake to ${opts.path}`);
        buf = concat(buf, chunk.subarray(0, n));
        end = indexOfHeaderEnd(buf);
      }
      const headText = DECODER.decode(buf.subarray(0, end));
      const status = Number(headText.slice(9, 12));
      let rest: Uint8Array = buf.subarray(end + 4);
      if (status === 101) return new RawSocket(conn, opts, rest.slice());
      const match = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
      const want = match ? Number(match[1]) : -1;
      while (want < 0 || rest.length < want) {
        const chunk = new Uint8Array(READ_CHUNK);
        const n = await conn.read(chunk).catch(() => null);
        if (n === null) break;
        rest = concat(rest, chunk.subarray(0, n));
      }
      conn.close();
      return { status, body: DECODER.decode(want >= 0 ? rest.subarray(0, want) : rest) };
    } catch (err) {
      try {
        conn.close();
      } catch { /* already closed by the failure we are reporting */ }
      throw err;
    }
  }

  /** Resolves once the connection has ended and no write is in flight (for leak-free tests). */
  async settled(): Promise<void> {
    await this.done;
    await this.#flushing;
  }

  /** True once the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Close code received from the server (1006 if the connection just dropped). */
  get closeCode(): number {
    return this.#closeCode;
  }

  /** Queues a text frame; frames queued in one turn go out in one write. */
  sendText(text: string): void {
    this.sendBytes(encodeText(text));
  }

  /** Queues already-encoded bytes (one or several frames, or garbage on purpose). */
  sendBytes(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#flushing = this.#flush());
    }
  }

  /** Bytes queued but not yet written: the back-pressure signal. */
  get buffered(): number {
    return this.#pendingBytes;
  }

  /** Sends a close frame with `code` and stops. */
  close(code = 1000): void {
    if (this.#closed) return;
    const payload = new Uint8Array([code >> 8, code & 0xff]);
    this.sendBytes(encodeFrame(OPCODE.CLOSE, payload));
  }

  /**
   * Stops reading the connection until `resume()`, like a phone that stops reading: what the
   * server sends piles up in the kernel's buffers, then in the server. Pings go unanswered too.
   */
  pause(): void {
    this.#resumed ??= Promise.withResolvers();
  }

  /** Reads again after `pause()`. */
  resume(): void {
    const resumed = this.#resumed;
    this.#resumed = null;
    resumed?.resolve();
  }

  /** Drops the TCP connection without a close frame. */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.resume();
    try {
      this.#conn.close();
    } catch { /* the read loop already closed it */ }
  }

  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#closed) {
        const parts = this.#pending;
        const total = this.#pendingBytes;
        this.#pending = [];
        this.#pendingBytes = 0;
        const out = parts.length === 1 ? parts[0] : new Uint8Array(total);
        if (parts.length > 1) {
          let at = 0;
          for (const p of parts) {
            out.set(p, at);
            at += p.length;
          }
        }
        await writeAll(this.#conn, out);
      }
    } catch (err) {
      // A write to a socket the server closed is an expected end: the read loop reports it.
      if (!this.#closed && !(err instanceof Deno.errors.BrokenPipe) && !(err instanceof Deno.errors.ConnectionReset)) {
        throw err;
      }
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(leftover: Uint8Array): Promise<void> {
    let buf = leftover;
    const chunk = new Uint8Array(READ_CHUNK);
    try {
      while (true) {
        const used = this.#parse(buf);
        buf = used === buf.length ? new Uint8Array(0) : buf.slice(used);
        if (this.#resumed) await this.#resumed.promise;
        if (this.#closed) break;
        let n: number | null;
        try {
          n = await this.#conn.read(chunk);
        } catch (err) {
          if (this.#closed || err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BadResource) {
            break;
          }
          throw err;
        }
        if (n === null) break;
        buf = buf.length === 0 ? chunk.slice(0, n) : concat(buf, chunk.subarray(0, n));
      }
    } finally {
      if (!this.#closed) {
        this.#closed = true;
        try {
          this.#conn.close();
        } catch { /* already closed */ }
      }
      this.#opts.onClose?.(this.#closeCode, this.#closeReason);
    }
  }

  /** Parses whole frames from `buf`; returns how many bytes it consumed. */
  #parse(buf: Uint8Array): number {
    let at = 0;
    while (buf.length - at >= 2) {
      const b0 = buf[at];
      const b1 = buf[at + 1];
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - at < 4) break;
        len = (buf[at + 2] << 8) | buf[at + 3];
        head = 4;
      } else if (len === 127) {
        if (buf.length - at < 10) break;
        len = Number(new DataView(buf.buffer, buf.byteOffset + at + 2, 8).getBigUint64(0));
        head = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) head += 4;
      if (buf.length - at < head + len) break;
      let payload = buf.subarray(at + head, at + head + len);
      if (masked) {
        const key = buf.subarray(at + head - 4, at + head);
        payload = payload.map((b, i) => b ^ key[i & 3]);
      }
      at += head + len;
      this.#onFrame(b0 & 0x0f, (b0 & 0x80) !== 0, payload);
      if (this.#closed) break;
    }
    return at;
  }

  #onFrame(opcode: number, fin: boolean, payload: Uint8Array): void {
    if (opcode === OPCODE.PING) {
      this.sendBytes(encodeFrame(OPCODE.PONG, payload.slice()));
      return;
    }
    if (opcode === OPCODE.PONG) return;
    if (opcode === OPCODE.CLOSE) {
      this.#closeCode = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
      this.#closeReason = DECODER.decode(payload.subarray(2));
      // Echo the close, then stop reading; the server closes TCP.
      this.sendBytes(encodeFrame(OPCODE.CLOSE, payload.subarray(0, 2).slice()));
      queueMicrotask(() => this.abort());
      return;
    }
    if (opcode === OPCODE.CONTINUATION || !fin) {
      if (opcode !== OPCODE.CONTINUATION) this.#fragmentOpcode = opcode;
      this.#fragments.push(payload.slice());
      if (!fin) return;
      const whole = this.#fragments.reduce((a, b) => concat(a, b), new Uint8Array(0));
      this.#fragments = [];
      opcode = this.#fragmentOpcode;
      payload = whole;
    }
    if (opcode === OPCODE.TEXT) this.#opts.onText?.(DECODER.decode(payload));
    else if (opcode === OPCODE.BINARY) this.#opts.onBinary?.(payload.slice());
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.length) at += await conn.write(data.subarray(at));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function indexOfHeaderEnd(buf: Uint8Array): number {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}
