/**
 * The NFQUEUE delay tool (tests/netlab/delay/netlab_delay.c): built from
 * source with the system C compiler on first use, cached by the hash of its
 * source, never committed as a binary. `tc netem` is missing on these
 * kernels; this is the lab's delay line.
 * @module
 */
import { inNs, killChild } from "./shell.ts";

const SOURCE = new URL("./delay/netlab_delay.c", import.meta.url);
/** Where built tools are cached; override with NETLAB_CACHE. */
export const CACHE_DIR = Deno.env.get("NETLAB_CACHE") ?? "/tmp/parley-netlab-cache";
const INSTALL_HINT = "install a C compiler and libnetfilter-queue-dev (apt-get install gcc libnetfilter-queue-dev)";
const READY_TIMEOUT_MS = 5_000;

let building: Promise<string> | undefined;

/** Builds the delay tool once per source version and returns the binary's path. */
export function buildDelayTool(): Promise<string> {
  building ??= build().catch((error) => {
    building = undefined;
    throw error;
  });
  return building;
}

async function build(): Promise<string> {
  const source = await Deno.readFile(SOURCE);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", source));
  const hash = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  const binary = `${CACHE_DIR}/netlab_delay-${hash}`;
  try {
    await Deno.stat(binary);
    return binary;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.mkdir(CACHE_DIR, { recursive: true });
  // Parallel runs may build at once: each writes its own file, and the rename is atomic.
  const temporary = `${binary}.tmp-${Deno.pid}`;
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("cc", {
      args: ["-O2", "-Wall", "-o", temporary, SOURCE.pathname, "-lnetfilter_queue"],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Error(`no C compiler (\`cc\`): ${INSTALL_HINT}`);
    throw error;
  }
  if (out.code !== 0) {
    throw new Error(
      `building the NFQUEUE delay tool failed (${INSTALL_HINT}):\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  await Deno.rename(temporary, binary);
  return binary;
}

/** A running delay tool. */
export interface DelayProcess {
  /** The delay it applies per packet, in ms. */
  readonly delayMs: number;
  /** Stops it and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Kills it without waiting, for signal handlers. */
  killSync(): void;
}

/** Starts the delay tool on NFQUEUE `queueNum` inside namespace `ns` and waits until it has bound the queue. */
export async function startDelay(ns: string, queueNum: number, delayMs: number): Promise<DelayProcess> {
  const binary = await buildDelayTool();
  const child = new Deno.Command("ip", {
    args: inNs(ns, [binary, String(queueNum), String(delayMs)]).slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), READY_TIMEOUT_MS)));
  try {
    while (!seen.includes("ready\n")) {
      const next = await Promise.race([reader.read(), timeout]);
      if (next === "timeout" || next.done) {
        killChild(child, "SIGKILL");
        await child.status;
        throw new Error(`delay tool in ${ns} did not start: ${seen}${await stderr}`);
      }
      seen += next.value;
    }
  } finally {
    clearTimeout(timer);
  }
  // Keep draining stdout so the tool never blocks on a full pipe.
  const drained = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      killChild(child, "SIGTERM");
      await child.status;
      await drained;
      await stderr;
    })();
  return {
    delayMs,
    stop,
    killSync: () => killChild(child, "SIGKILL"),
  };
}
