/**
 * Spawns a real signaling server in a subprocess for integration tests, on
 * an ephemeral loopback port and a KV file of the test's choosing, so tests
 * can kill it (SIGKILL) and restart it on the same KV.
 * @module
 */
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";

/** Options of `startServer`. */
export interface ServerProcessOptions {
  /** The KV file; default: a new temp dir's `kv.sqlite3`, removed when the test module ends. */
  kvPath?: string;
  /** Extra environment (limits, windows, BUS...). */
  env?: Record<string, string>;
  /**
   * The entry module and its arguments; default: tests/support/signal_server_entry.ts. The app
   * works too: `["lib/fresh/listen.ts", "main.ts"]` (it prints Deno's "Listening on ..." line).
   */
  entry?: string | string[];
  /** A fixed port; default 0 (ephemeral). */
  port?: number;
}

const ROOT = new URL("../../", import.meta.url);

/** Temporary KV directories made here, removed when the test module ends (a restart test reuses one). */
const TEMP_DIRS = new Set<string>();
globalThis.addEventListener("unload", () => {
  for (const dir of TEMP_DIRS) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) console.error(`could not remove ${dir}:`, error);
    }
  }
});

/** A KV file in a new temporary directory that is removed when the test module ends. */
export async function tempKvPath(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "parley_kv_" });
  TEMP_DIRS.add(dir);
  return `${dir}/kv.sqlite3`;
}
const DEFAULT_ENTRY = new URL("tests/support/signal_server_entry.ts", ROOT).pathname;
const STARTUP_TIMEOUT_MS = 30_000;

/** A running server subprocess. */
export class ServerProcess {
  /** The port it listens on. */
  readonly port: number;
  /** The KV file it uses. */
  readonly kvPath: string;
  /** Everything it printed, for failure messages. */
  readonly output: string[];
  #child: Deno.ChildProcess;
  #drained: Promise<void>;

  private constructor(
    child: Deno.ChildProcess,
    port: number,
    kvPath: string,
    output: string[],
    drained: Promise<void>,
  ) {
    this.#child = child;
    this.port = port;
    this.kvPath = kvPath;
    this.output = output;
    this.#drained = drained;
  }

  /** The server's process id (e.g. for its `VmRSS` in `/proc/<pid>/status`). */
  get pid(): number {
    return this.#child.pid;
  }

  /** The signaling URL for a room, with the protocol version this code speaks. */
  signalUrl(room: string, version = String(PROTOCOL_VERSION)): string {
    return `ws://127.0.0.1:${this.port}/api/signal?v=${version}&room=${room}`;
  }

  /** The HTTP base URL. */
  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Sends a signal and waits for the process to exit; returns its status. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // already exited
    }
    const status = await this.#child.status;
    await this.#drained;
    return status;
  }

  /** Starts a server and waits until it listens. */
  static async start(options: ServerProcessOptions = {}): Promise<ServerProcess> {
    const kvPath = options.kvPath ?? await tempKvPath();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `--config=${new URL("deno.json", ROOT).pathname}`,
        ...[options.entry ?? DEFAULT_ENTRY].flat(),
      ],
      cwd: ROOT.pathname,
      env: { PORT: String(options.port ?? 0), HOSTNAME: "127.0.0.1", KV_PATH: kvPath, NO_COLOR: "1", ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output: string[] = [];
    let resolvePort: (port: number) => void;
    const portPromise = new Promise<number>((resolve) => resolvePort = resolve);
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const bytes of stream) {
        buffer += decoder.decode(bytes, { stream: true });
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          output.push(line);
          if (Deno.env.get("SERVER_LOG")) console.error(`[server] ${line}`);
          const match = /^listening (\d+)$/.exec(line) ?? /^Listening on https?:\/\/[^\s]*:(\d+)\//.exec(line);
          if (match) resolvePort(Number(match[1]));
        }
      }
      if (buffer) output.push(buffer);
    };
    const drained = Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`server did not start:\n${output.join("\n")}`)), STARTUP_TIMEOUT_MS);
      child.status.then((status) => reject(new Error(`server exited (${status.code}):\n${output.join("\n")}`)));
    });
    // After a successful start the child's exit is expected, not a failure.
    failed.catch(() => {});
    try {
      const port = await Promise.race([portPromise, failed]);
      return new ServerProcess(child, port, kvPath, output, drained);
    } catch (error) {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      await child.status;
      await drained;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
