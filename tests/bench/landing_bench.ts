/**
 * Landing page benchmark: JavaScript bytes shipped (gzip) against the budget
 * and against Preact itself, and time from process start to the first 200
 * against a bare `Deno.serve` started the same way, in the same run.
 * @module
 */
import { appHandler } from "../support/app.ts";
import { gzipSize, pageModules } from "./page_weight.ts";
import { serverV8Args } from "../support/server_flags.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const LANDING_BUDGET_GZIP = 15 * 1024;
const STARTS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Spawns `args`, polls `/` until it answers 200, and returns the milliseconds that took. */
async function timeToFirst200(args: string[]): Promise<number> {
  const port = freePort();
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { PORT: String(port), HOSTNAME: "127.0.0.1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    while (true) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        await res.body?.cancel();
        if (res.status === 200) return performance.now() - started;
      } catch {
        // Not listening yet.
      }
      if (performance.now() - started > 30_000) throw new Error(`${args.join(" ")} did not answer in 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stderr.cancel();
  }
}

/** Runs the landing benchmark and prints its table. */
export async function runLandingBench(): Promise<{ ok: boolean }> {
  const app = await appHandler();
  const fetchPath = (path: string) => app(new Request(new URL(path, "http://bench.local")));
  const modules = await pageModules(fetchPath, "/");
  const total = modules.reduce((sum, m) => sum + m.gzipBytes, 0);

  const preactUrl = import.meta.resolve("preact");
  const preactMin = await Deno.readFile(new URL(preactUrl.replace(/[^/]+$/, "preact.min.js")))
    .catch(() => null);
  const preactGzip = preactMin ? await gzipSize(preactMin) : NaN;

  console.log("\n## Landing page JavaScript (gzip)");
  for (const m of modules) console.log(`  ${m.path.padEnd(44)} ${String(m.gzipBytes).padStart(6)} B`);
  console.log(`  ${"total".padEnd(44)} ${String(total).padStart(6)} B`);
  console.log(`  budget ${LANDING_BUDGET_GZIP} B: ${(total / LANDING_BUDGET_GZIP).toFixed(2)}x of budget`);
  if (preactMin) {
    console.log(`  Preact core alone (floor): ${preactGzip} B; landing/Preact = ${(total / preactGzip).toFixed(2)}x`);
  }

  const appArgs = [
    "run",
    ...serverV8Args(),
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "lib/fresh/listen.ts",
    "main.ts",
  ];
  const bareArgs = ["run", "--allow-net", "--allow-env", "tests/bench/peers/bare_server.ts"];
  const appTimes: number[] = [];
  const bareTimes: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    appTimes.push(await timeToFirst200(appArgs));
    bareTimes.push(await timeToFirst200(bareArgs));
  }
  const appMs = median(appTimes);
  const bareMs = median(bareTimes);
  console.log("\n## Process start to first 200 (median of 5, warm module cache)");
  console.log(`  Parley (landing page)   ${appMs.toFixed(0).padStart(6)} ms`);
  console.log(`  bare Deno.serve (peer)  ${bareMs.toFixed(0).padStart(6)} ms`);
  console.log(`  ratio Parley/bare       ${(appMs / bareMs).toFixed(2)}x`);

  const ok = total <= LANDING_BUDGET_GZIP;
  console.log(ok ? "  landing JS within budget" : `  LANDING JS OVER BUDGET: ${total} > ${LANDING_BUDGET_GZIP}`);
  return { ok };
}

if (import.meta.main) {
  const { ok } = await runLandingBench();
  if (!ok) Deno.exit(1);
}
