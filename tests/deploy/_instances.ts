/**
 * Parley as a platform runs it: `deno serve main.ts` in its own process, with
 * the default configuration (no BUS), no permission to run subprocesses, no
 * write permission except the KV file, and network and reads limited to
 * loopback and the checkout. Several of them share one KV file, as instances
 * of a deployment share its database.
 * @module
 */
import { buildIslands } from "../netlab/app.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const STARTUP_TIMEOUT_MS = 30_000;

/** Options of `startInstance`. */
export interface InstanceOptions {
  /** The KV file all instances share. */
  kvPath: string;
  /** A fixed port (needed with `parallel`: each worker would get its own ephemeral port); default 0. */
  port?: number;
  /** `deno serve --parallel` with this many workers. */
  parallel?: number;
  /** Extra environment. */
  env?: Record<string, string>;
}

function pick(names: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** A free loopback port, found by binding and releasing it. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** One `deno serve` process. */
export class Instance {
  /** Its port. */
  readonly port: number;
  /** Everything it printed. */
  readonly output: string[];
  #child: Deno.ChildProcess;
  #drained: Promise<void>;

  private constructor(child: Deno.ChildProcess, port: number, output: string[], drained: Promise<void>) {
    this.#child = child;
    this.port = port;
    this.output = output;
    this.#drained = drained;
  }

  /** `http://127.0.0.1:<port>`. */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** One metric's value from `/metrics` (whichever worker answers), or NaN when absent. */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.origin}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line ? Number(line.slice(name.length + 1)) : NaN;
  }

  /** Sends `signal` (default SIGTERM) and waits for the exit. */
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

  /** Starts `deno serve main.ts` (building the islands first if needed) and waits until it listens. */
  static async start(options: InstanceOptions): Promise<Instance> {
    await buildIslands();
    const kvDir = options.kvPath.slice(0, options.kvPath.lastIndexOf("/"));
    const port = options.port ?? 0;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "serve",
        ...(options.parallel ? ["--parallel"] : []),
        "--host=127.0.0.1",
        `--port=${port}`,
        "--allow-net=127.0.0.1",
        `--allow-read=${ROOT},${kvDir}`,
        "--allow-env",
        `--allow-write=${options.kvPath}`,
        "--no-prompt",
        "main.ts",
      ],
      cwd: ROOT,
      env: {
        // Only what Deno itself needs from the test's environment: no Parley setting leaks in.
        ...pick(["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]),
        KV_PATH: options.kvPath,
        NO_COLOR: "1",
        ...(options.parallel ? { DENO_JOBS: String(options.parallel) } : {}),
        ...options.env,
      },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output: string[] = [];
    let listening: (port: number) => void;
    const portPromise = new Promise<number>((resolve) => listening = resolve);
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
          if (Deno.env.get("SERVER_LOG")) console.error(`[${port || "serve"}] ${line}`);
          const match = /Listening on https?:\/\/[^\s]*:(\d+)\//.exec(line);
          if (match) listening(Number(match[1]));
        }
      }
      if (buffer) output.push(buffer);
    };
    const drained = Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`deno serve did not start:\n${output.join("\n")}`)),
        STARTUP_TIMEOUT_MS,
      );
      child.status.then(async (status) => {
        await drained; // everything it printed, not only what arrived before the exit
        reject(new Error(`deno serve exited (${status.code}):\n${output.join("\n")}`));
      });
    });
    failed.catch(() => {});
    try {
      return new Instance(child, await Promise.race([portPromise, failed]), output, drained);
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

/** Polls `check` until it holds; the limit only stops a stuck test, nothing asserts time. */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Runs in every page before the app: WebRTC may gather no candidate at all (relay-only
 * policy, no TURN server), so every message goes through the signaling relay, and thus
 * across the instances' bus: what these tests are about.
 */
export function relayOnly(): void {
  const Native = globalThis.RTCPeerConnection;
  if (!Native) return;
  const force = (config?: RTCConfiguration): RTCConfiguration => ({
    ...config,
    iceServers: [],
    iceTransportPolicy: "relay",
  });
  globalThis.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super(force(config));
    }
    override setConfiguration(config?: RTCConfiguration): void {
      super.setConfiguration(force(config));
    }
  };
}
