/**
 * Spawns a real signaling server in a subprocess for integration tests, on
 * an ephemeral loopback port and a KV file of the test's choosing, so tests
 * can kill it (SIGKILL) and restart it on the same KV.
 * @module
 */
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";
import { launch, type Launched, ListeningProcess } from "./listening_process.ts";
import { serverV8Args } from "./server_flags.ts";

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

/** A running server subprocess. */
export class ServerProcess extends ListeningProcess {
  /** The KV file it uses. */
  readonly kvPath: string;

  private constructor(launched: Launched, kvPath: string) {
    super(launched);
    this.kvPath = kvPath;
  }

  /** The signaling URL for a room, with the protocol version this code speaks. */
  signalUrl(room: string, version = String(PROTOCOL_VERSION)): string {
    return `ws://127.0.0.1:${this.port}/api/signal?v=${version}&room=${room}`;
  }

  /** The HTTP base URL. */
  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts a server and waits until it listens. */
  static async start(options: ServerProcessOptions = {}): Promise<ServerProcess> {
    const kvPath = options.kvPath ?? await tempKvPath();
    const launched = await launch({
      args: [
        "run",
        "-A",
        ...serverV8Args(),
        `--config=${new URL("deno.json", ROOT).pathname}`,
        ...[options.entry ?? DEFAULT_ENTRY].flat(),
      ],
      cwd: ROOT.pathname,
      env: { PORT: String(options.port ?? 0), HOSTNAME: "127.0.0.1", KV_PATH: kvPath, NO_COLOR: "1", ...options.env },
      name: "server",
      logTag: "server",
    });
    return new ServerProcess(launched, kvPath);
  }
}
