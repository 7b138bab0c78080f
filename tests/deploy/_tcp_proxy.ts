/**
 * A loopback TCP proxy the test controls, standing in for a platform's load
 * balancer: every new connection goes to the current `target` port, and the
 * test can point it elsewhere (as a platform routes around an instance that
 * died). Bytes pass untouched, so the browser's origin is the proxy's.
 * @module
 */

/** A running proxy on 127.0.0.1. */
export class TcpProxy {
  /** The port it listens on. */
  readonly port: number;
  /** Where new connections go. */
  target: number;
  #listener: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #pipes = new Set<Promise<void>>();
  #accepting: Promise<void>;

  private constructor(listener: Deno.Listener, target: number) {
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.target = target;
    this.#accepting = this.#accept();
  }

  /** Starts a proxy to `target`. */
  static start(target: number): TcpProxy {
    return new TcpProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }), target);
  }

  /** The origin browsers use: `http://127.0.0.1:<port>`. */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#conns) this.#closeQuietly(conn);
    await Promise.all(this.#pipes);
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // closed
      }
      const pipe = this.#serve(client);
      this.#pipes.add(pipe);
      pipe.finally(() => this.#pipes.delete(pipe));
    }
  }

  async #serve(client: Deno.Conn): Promise<void> {
    this.#conns.add(client);
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.target });
    } catch {
      // The target is down: the client sees its connection refused, as behind a real balancer.
      this.#closeQuietly(client);
      this.#conns.delete(client);
      return;
    }
    this.#conns.add(upstream);
    // Either side ending ends both: a killed instance drops its browsers' sockets at once.
    await Promise.race([this.#copy(client, upstream), this.#copy(upstream, client)]);
    this.#closeQuietly(client);
    this.#closeQuietly(upstream);
    this.#conns.delete(client);
    this.#conns.delete(upstream);
  }

  async #copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) return;
        let written = 0;
        while (written < n) written += await to.write(buffer.subarray(written, n));
      }
    } catch {
      // Reset or closed by the other direction.
    }
  }

  #closeQuietly(conn: Deno.Conn): void {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}
