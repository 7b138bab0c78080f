/**
 * Parley as a platform runs it: `deno serve main.ts` in its own process, with
 * the default configuration (no BUS), no permission to run subprocesses, no
 * write permission except the KV file, and network and reads limited to
 * loopback and the checkout. Several of them share one KV file, as instances
 * of a deployment share its database.
 * @module
 */
import type { Browser, Page } from "playwright-core";
import { assertDelivery, buildIslands, nameOf, send, waitForMessages } from "../netlab/app.ts";
import { launchChromium } from "../support/chromium.ts";
import { launch, ListeningProcess } from "../support/listening_process.ts";
import { readMetrics } from "../support/server_metrics.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

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
export class Instance extends ListeningProcess {
  /** `http://127.0.0.1:<port>`. */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** One metric's value from `/metrics` (whichever worker answers), or NaN when absent. */
  async metric(name: string): Promise<number> {
    return (await readMetrics(this.origin)).get(name) ?? NaN;
  }

  /** Starts `deno serve main.ts` (building the islands first if needed) and waits until it listens. */
  static async start(options: InstanceOptions): Promise<Instance> {
    await buildIslands();
    const kvDir = options.kvPath.slice(0, options.kvPath.lastIndexOf("/"));
    const port = options.port ?? 0;
    return new Instance(
      await launch({
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
        name: "deno serve",
        logTag: String(port || "serve"),
      }),
    );
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

/** Launches two Chromium browsers (added to `browsers`, which the test closes), each with a relay-only page: A and B. */
export async function relayPages(browsers: Browser[]): Promise<[Page, Page]> {
  for (let i = 0; i < 2; i++) browsers.push(await launchChromium());
  return await Promise.all(
    browsers.slice(-2).map(async (browser, i) => {
      const context = await browser.newContext();
      await context.addInitScript(relayOnly);
      return nameOf(await context.newPage(), i === 0 ? "A" : "B");
    }),
  ) as [Page, Page];
}

/** Two pages in one room and what each wrote so far. */
export interface Pair {
  /** Pages A and B. */
  pages: [Page, Page];
  /** What A and what B wrote, in order. */
  sent: [string[], string[]];
}

/** A writes `a<i>` and B `b<i>`, in turn, for `i` from `from` to `to`. */
export async function writeInTurn({ pages: [a, b], sent: [sentA, sentB] }: Pair, from: number, to: number) {
  for (let i = from; i <= to; i++) {
    sentA.push(`a${i}`);
    await send(a, `a${i}`);
    sentB.push(`b${i}`);
    await send(b, `b${i}`);
  }
}

/** Both pages show every message written. */
export async function allArrived({ pages, sent }: Pair, timeoutMs: number): Promise<void> {
  for (const page of pages) await waitForMessages(page, sent.flat(), timeoutMs);
}

/** Every message is shown once, in one order on both pages, and reads Delivered on its sender. */
export async function allDelivered({ pages, sent }: Pair, timeoutMs: number): Promise<void> {
  const written = new Map([[pages[0], sent[0]], [pages[1], sent[1]]]);
  await waitFor(
    () => assertDelivery(pages, written).then(() => true, () => false),
    "every message Delivered",
    timeoutMs,
  ).catch(async (timedOut: unknown) => {
    // Say which message is missing what, rather than only that time ran out.
    await assertDelivery(pages, written);
    throw timedOut;
  });
  await assertDelivery(pages, written);
}
