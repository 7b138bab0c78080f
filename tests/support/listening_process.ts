/**
 * A test subprocess that listens on a port it prints: spawned, its output
 * collected line by line, its port read from that output, and stopped with a
 * signal. The signaling server of integration tests (`server_process.ts`) and
 * the `deno serve` instances of the deploy tests (`tests/deploy/_instances.ts`)
 * are both one.
 * @module
 */

/** How long a process may take to print its port. */
const STARTUP_TIMEOUT_MS = 30_000;
/** Lines that name the port: the signal server entry's, and Deno's (`deno serve`, `Deno.serve`). */
const PORT_LINES = [/^listening (\d+)$/, /Listening on https?:\/\/[^\s]*:(\d+)\//];

/** What to spawn. */
export interface LaunchOptions {
  /** Arguments of the Deno executable. */
  args: string[];
  /** Working directory. */
  cwd: string;
  /** Environment (added to the test's own, unless `clearEnv`). */
  env: Record<string, string>;
  /** Start from an empty environment. */
  clearEnv?: boolean;
  /** What it is, for errors ("server", "deno serve"). */
  name: string;
  /** Prefix of its lines echoed to stderr when `SERVER_LOG` is set. */
  logTag: string;
}

/** A running process and what it printed. */
export interface Launched {
  /** The child process. */
  child: Deno.ChildProcess;
  /** The port it said it listens on. */
  port: number;
  /** Every line it printed so far. */
  output: string[];
  /** Resolves once both of its output streams ended. */
  drained: Promise<void>;
}

/** Spawns a Deno process and waits until it prints its port; kills it and throws when it exits or stays silent. */
export async function launch(options: LaunchOptions): Promise<Launched> {
  const child = new Deno.Command(Deno.execPath(), {
    args: options.args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
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
        if (Deno.env.get("SERVER_LOG")) console.error(`[${options.logTag}] ${line}`);
        const match = PORT_LINES.map((pattern) => pattern.exec(line)).find((found) => found !== null);
        if (match) listening(Number(match[1]));
      }
    }
    if (buffer) output.push(buffer);
  };
  const drained = Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const failed = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${options.name} did not start:\n${output.join("\n")}`)),
      STARTUP_TIMEOUT_MS,
    );
    child.status.then(async (status) => {
      await drained; // everything it printed, not only what arrived before the exit
      reject(new Error(`${options.name} exited (${status.code}):\n${output.join("\n")}`));
    });
  });
  // After a successful start the child's exit is expected, not a failure.
  failed.catch(() => {});
  try {
    return { child, port: await Promise.race([portPromise, failed]), output, drained };
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

/** A launched process: its port, its output, and a way to stop it. */
export class ListeningProcess {
  /** The port it listens on. */
  readonly port: number;
  /** Everything it printed, for failure messages. */
  readonly output: string[];
  #child: Deno.ChildProcess;
  #drained: Promise<void>;

  /** Wraps what {@link launch} started. */
  constructor(launched: Launched) {
    this.#child = launched.child;
    this.port = launched.port;
    this.output = launched.output;
    this.#drained = launched.drained;
  }

  /** The process id (e.g. for its `VmRSS` in `/proc/<pid>/status`). */
  get pid(): number {
    return this.#child.pid;
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
}
