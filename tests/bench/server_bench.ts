/**
 * Server benchmark (issue 3): Parley's signal server against PeerServer
 * (npm `peer@1.0.2` under Node.js) and a bare `Deno.upgradeWebSocket` server,
 * all measured in one run on loopback.
 *
 * Run: `deno task bench:server` (or `deno run -A tests/bench/server_bench.ts`).
 * Options: `--only=bare,peerjs,parley` (subset), `--idle=<sockets>` (default
 * 18000), `--quick` (shorter steps, 5,000 idle sockets), `--json=<file>`
 * (write the raw results).
 *
 * Method (printed with the results):
 * - Throughput: open loop. 10 client pairs send ~300-byte frames to their
 *   partner at an offered rate; each frame carries its scheduled send time.
 *   The rate doubles from 16,000/s until p99 > 50 ms (undelivered frames count
 *   as infinitely late; a failing step gets one retry), then bisects 3 times.
 *   Reported: the highest passing rate. Server and load generator CPU are
 *   sampled from /proc per step, to show which side was the bottleneck, and
 *   so is the CPU of every other process: the machine is shared, so a step
 *   waits (up to 5 s) for a quiet machine; a step that fails while others
 *   took more than 30 % of a core is run again, up to 3 times ("other cpu%").
 * - Latency: p50/p99 at a fixed 2,000 frames/s for 3 s.
 * - Idle memory: server RSS (VmRSS from /proc/<pid>/status) after 100 warm-up
 *   sockets, then again after N more idle sockets opened by 4 load-generator
 *   processes; the delta / N. The socket count held is checked after a pause.
 * - The relay contenders run side by side (each in its own process) and one
 *   generator process measures them in interleaved steps (A, B, C, A, B...),
 *   so a busy spell of the shared machine hits all of them alike; each idle
 *   measurement gets a fresh server. Load generators are separate Deno
 *   processes speaking raw WebSocket frames (zero mask), so the generator
 *   stays cheaper than the servers it measures.
 *
 * Parley is measured twice: `signal` frames (forwarded to one peer: the same
 * job as PeerServer's OFFER) and `chat` frames (relayed, appended to the room
 * log in Deno KV on disk, and acknowledged: work PeerServer does not do).
 * Only harness errors make this script exit non-zero; targets are reported,
 * not asserted.
 * @module
 */

import type { RelayLoadConfig, RelayLoadResult, StepResult, TargetResult } from "./load/relay_load.ts";
import type { IdleLoadConfig } from "./load/idle_load.ts";
import type { ProtocolName } from "./load/protocols.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const HERE = new URL("./", import.meta.url).pathname;
const HOST = "127.0.0.1";
const PEER_VERSION = "1.0.2";
const PEER_CACHE = `${Deno.env.get("HOME") ?? "/tmp"}/.cache/parley-bench`;
const P99_BOUND_MS = 50;
const FIXED_RATE = 2_000;
/**
 * Client pairs. Few connections let the generator batch its writes and reads, so on two cores it stays
 * cheaper than the servers (with 50 pairs it saturated first and every contender tied at its ceiling).
 */
const PAIRS = 10;
const WARM_SOCKETS = 100;
const IDLE_PROCESSES = 4;

const flags = new Map(
  Deno.args.map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k, v ?? "true"] as [string, string];
  }),
);
const QUICK = flags.has("quick");
const IDLE_SOCKETS = Number(flags.get("idle") ?? (QUICK ? 5_000 : 18_000));
const ONLY = new Set((flags.get("only") ?? "bare,peerjs,parley").split(","));

/** A running server under test. */
interface ServerProcess {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** One contender: how to start it and which client protocol it speaks. */
interface Contender {
  /** Row label. */
  label: string;
  /** Group for `--only`. */
  group: "bare" | "peerjs" | "parley";
  /** Client protocol for the relay measurement (undefined: not measured for throughput). */
  relay?: ProtocolName;
  /** Client protocol for idle sockets (undefined: not measured for memory). */
  idle?: ProtocolName;
  /** Starts a fresh server on `port`. */
  start(port: number): Promise<ServerProcess>;
}

/** Results of one contender. */
interface Row {
  label: string;
  search?: TargetResult;
  fixed?: StepResult;
  idle?: { requested: number; held: number; perConnKiB: number; rssBeforeMiB: number; rssAfterMiB: number };
  error?: string;
}

function log(msg: string): void {
  console.error(msg);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Every child still running, so an interrupted bench does not leave servers behind. */
const CHILDREN = new Set<Deno.ChildProcess>();

function killChildren(): void {
  for (const child of CHILDREN) {
    try {
      child.kill("SIGKILL");
    } catch { /* exited meanwhile */ }
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    killChildren();
    Deno.exit(130);
  });
}

/** Spawns `cmd` under a shell that raises the fd soft limit to the hard limit. */
function spawnWithFds(cmd: string[], env: Record<string, string> = {}, stdin: "piped" | "null" = "null") {
  const quoted = cmd.map((c) => `'${c.replaceAll("'", `'\\''`)}'`).join(" ");
  const child = new Deno.Command("sh", {
    args: ["-c", `ulimit -n "$(ulimit -Hn)"; exec ${quoted}`],
    env,
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  CHILDREN.add(child);
  child.status.then(() => CHILDREN.delete(child));
  return child;
}

async function waitForPort(port: number, child: Deno.ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${what} exited before listening`);
    try {
      const conn = await Deno.connect({ hostname: HOST, port });
      conn.close();
      return;
    } catch (err) {
      if (!(err instanceof Deno.errors.ConnectionRefused)) throw err;
    }
    await sleep(100);
  }
  throw new Error(`${what} did not listen on ${port} within 60 s`);
}

/** Keeps a child's output (for the error message if it dies) without blocking it. */
function drain(child: Deno.ChildProcess): { text: () => string } {
  let text = "";
  const dec = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) text = (text + dec.decode(chunk)).slice(-4000);
  };
  pump(child.stdout);
  pump(child.stderr);
  return { text: () => text };
}

async function startProcess(what: string, port: number, cmd: string[], env: Record<string, string> = {}) {
  const child = spawnWithFds(cmd, env);
  const out = drain(child);
  try {
    await waitForPort(port, child, what);
  } catch (err) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    throw new Error(`${(err as Error).message}\n${out.text()}`);
  }
  return {
    pid: child.pid,
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone meanwhile */ }
      }, 5_000);
      await child.status;
      clearTimeout(timer);
    },
  } satisfies ServerProcess;
}

async function ensurePeerServer(): Promise<string> {
  const bin = `${PEER_CACHE}/node_modules/peer/dist/bin/peerjs.js`;
  try {
    const pkg = JSON.parse(await Deno.readTextFile(`${PEER_CACHE}/node_modules/peer/package.json`));
    if (pkg.version === PEER_VERSION) return bin;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  log(`installing peer@${PEER_VERSION} into ${PEER_CACHE} ...`);
  await Deno.mkdir(PEER_CACHE, { recursive: true });
  const res = await new Deno.Command("npm", {
    args: ["install", "--prefix", PEER_CACHE, "--no-audit", "--no-fund", `peer@${PEER_VERSION}`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!res.success) throw new Error("npm install peer failed");
  return bin;
}

function bareServer(mode: "relay" | "forward" | "echo") {
  return (port: number) =>
    startProcess(`bare ${mode}`, port, [
      "deno",
      "run",
      "-A",
      `${HERE}server_bare.ts`,
      `--mode=${mode}`,
      `--port=${port}`,
    ]);
}

async function peerServer(port: number): Promise<ServerProcess> {
  const bin = await ensurePeerServer();
  return await startProcess("PeerServer", port, [
    "node",
    bin,
    "--port",
    String(port),
    "--host",
    HOST,
    // Defaults would cap it at 5,000 clients and drop idle ones after 60 s.
    "--concurrent_limit",
    "1000000",
    "--alive_timeout",
    "3600000",
  ]);
}

const KV_DIRS: string[] = [];
async function parleyServer(port: number): Promise<ServerProcess> {
  const kvDir = await Deno.makeTempDir({ prefix: "parley-bench-kv-" });
  KV_DIRS.push(kvDir);
  // The signal server alone (lib/server behind Deno.serve), as the integration tests run it;
  // main.ts serves the same handler behind the page router.
  const entry = `${ROOT}tests/support/signal_server_entry.ts`;
  return await startProcess("Parley", port, ["deno", "run", "-A", "--quiet", `--config=${ROOT}deno.json`, entry], {
    PORT: String(port),
    KV_PATH: `${kvDir}/kv.sqlite3`,
    // Limits are for hostile clients; the bench's one address must not trip them.
    RATE_CONN: "1000000000",
    RATE_CONN_BURST: "1000000000",
    RATE_ADDR: "1000000000",
    RATE_ADDR_BURST: "1000000000",
    RATE_CONN_BYTES: "1000000000000",
    RATE_CONN_BYTES_BURST: "1000000000000",
    RATE_ADDR_BYTES: "1000000000000",
    RATE_ADDR_BYTES_BURST: "1000000000000",
    MAX_ROOMS_PER_ADDRESS: "1000000000",
    NEW_ROOM_RATE_ADDR_BURST: "1000000000",
    JOIN_RATE_ADDR_BURST: "1000000000",
    MAX_SOCKETS_PER_ADDRESS: "1000000000",
    MAX_PENDING_PER_ADDRESS: "1000000000",
    HELLOS_QUEUED_PER_ADDRESS: "1000000",
    ABUSE_STRIKES: "1000000000",
    ALLOWED_ORIGINS: "*",
  });
}

const CONTENDERS: Contender[] = [
  { label: "bare Deno relay", group: "bare", relay: "bare", start: bareServer("relay") },
  { label: "bare Deno forward, no JSON", group: "bare", relay: "bare", start: bareServer("forward") },
  { label: "bare Deno echo", group: "bare", idle: "bare", start: bareServer("echo") },
  { label: "PeerServer 1.0.2 (Node)", group: "peerjs", relay: "peerjs", idle: "peerjs", start: peerServer },
  { label: "Parley signal", group: "parley", relay: "parley-signal", idle: "parley-signal", start: parleyServer },
  { label: "Parley chat (KV log + ack)", group: "parley", relay: "parley-chat", start: parleyServer },
];

async function runJson<T>(cmd: string[]): Promise<T> {
  const child = spawnWithFds(cmd);
  const errText = (async () => {
    let text = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      Deno.stderr.writeSync(new TextEncoder().encode(chunk));
      text = (text + chunk).slice(-2000);
    }
    return text;
  })();
  const out = await new Response(child.stdout).text();
  const status = await child.status;
  const err = await errText;
  if (!status.success) throw new Error(`${cmd.slice(-2, -1)} failed (${status.code}): ${err}`);
  return JSON.parse(out.trim().split("\n").pop()!) as T;
}

/** Starts every relay contender, then measures them in one generator process with interleaved steps. */
async function measureRelays(contenders: Contender[], rows: Map<Contender, Row>): Promise<void> {
  const servers: ServerProcess[] = [];
  try {
    const targets = [];
    for (const c of contenders) {
      const server = await c.start(nextPort++);
      servers.push(server);
      targets.push({ label: c.label, protocol: c.relay!, port: server.port, serverPid: server.pid });
    }
    const config: RelayLoadConfig = {
      targets,
      hostname: HOST,
      pairs: PAIRS,
      p99BoundMs: P99_BOUND_MS,
      stepMs: QUICK ? 1000 : 1500,
      fixedMs: QUICK ? 2000 : 3000,
      warmupMs: 500,
      startRate: 16_000,
      maxRate: 512_000,
      bisections: QUICK ? 2 : 3,
      fixedRate: FIXED_RATE,
    };
    log(`relay: ${contenders.map((c) => c.label).join(", ")}; steps interleaved`);
    const out = await runJson<RelayLoadResult>([
      "deno",
      "run",
      "-A",
      `${HERE}load/relay_load.ts`,
      JSON.stringify(config),
    ]);
    for (const c of contenders) {
      const row = rows.get(c)!;
      row.search = out.results[c.label];
      row.fixed = out.results[c.label].fixed;
    }
  } finally {
    for (const server of servers) await server.stop();
  }
}

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** A running idle load generator. */
interface IdleProc {
  child: Deno.ChildProcess;
  lines: AsyncIterator<string>;
  writer: WritableStreamDefaultWriter<Uint8Array>;
}

async function nextJson<T>(p: IdleProc): Promise<T> {
  const next = await p.lines.next();
  if (next.done) throw new Error("idle load generator ended early");
  return JSON.parse(next.value) as T;
}

async function* splitLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  const decoder = new TextDecoder();
  for await (const bytes of stream) {
    buf += decoder.decode(bytes, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
}

function startIdle(config: IdleLoadConfig): IdleProc {
  const child = spawnWithFds(["deno", "run", "-A", `${HERE}load/idle_load.ts`, JSON.stringify(config)], {}, "piped");
  (async () => {
    for await (const chunk of child.stderr) Deno.stderr.writeSync(chunk);
  })();
  return { child, lines: splitLines(child.stdout)[Symbol.asyncIterator](), writer: child.stdin.getWriter() };
}

async function stopIdle(p: IdleProc): Promise<void> {
  await p.writer.close();
  await p.child.status;
}

async function measureIdle(c: Contender, port: number): Promise<Row["idle"]> {
  const server = await c.start(port);
  const procs: IdleProc[] = [];
  try {
    const base = { protocol: c.idle!, hostname: HOST, port, concurrency: 32 };
    const warm = startIdle({ ...base, count: WARM_SOCKETS, indexBase: 10_000_000 });
    procs.push(warm);
    const w = await nextJson<{ ready: number; failed: number; errors: string[] }>(warm);
    if (w.failed > 0) throw new Error(`warm-up sockets failed: ${w.errors.join("; ")}`);
    await sleep(1500);
    const before = rssKiB(server.pid);
    const per = Math.ceil(IDLE_SOCKETS / IDLE_PROCESSES / 2) * 2;
    const t0 = performance.now();
    const batch = Array.from(
      { length: IDLE_PROCESSES },
      (_, i) => startIdle({ ...base, count: Math.min(per, IDLE_SOCKETS - i * per), indexBase: i * per }),
    );
    procs.push(...batch);
    const ready = await Promise.all(batch.map((p) => nextJson<{ ready: number; failed: number; errors: string[] }>(p)));
    const opened = ready.reduce((a, r) => a + r.ready, 0);
    const failures = ready.flatMap((r) => r.errors);
    log(
      `${c.label}: ${opened} idle sockets opened in ${((performance.now() - t0) / 1000).toFixed(1)} s` +
        (failures.length ? `; ${ready.reduce((a, r) => a + r.failed, 0)} failed, e.g. ${failures[0]}` : ""),
    );
    await sleep(3000);
    const after = rssKiB(server.pid);
    // Held = still open after the pause (a server at its fd limit drops sockets, it does not refuse them).
    for (const p of batch) await p.writer.write(new TextEncoder().encode("check\n"));
    const open = await Promise.all(batch.map((p) => nextJson<{ open: number }>(p)));
    const held = open.reduce((a, o) => a + o.open, 0);
    return {
      requested: IDLE_SOCKETS,
      held,
      perConnKiB: opened > 0 ? (after - before) / opened : NaN,
      rssBeforeMiB: before / 1024,
      rssAfterMiB: after / 1024,
    };
  } finally {
    for (const p of procs) await stopIdle(p);
    await server.stop();
  }
}

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || Number.isNaN(n)) return "-";
  if (n === null || !Number.isFinite(n)) return "inf";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (!a || !b || !Number.isFinite(a) || !Number.isFinite(b)) return "-";
  return `${(a / b).toFixed(2)}x`;
}

function printTable(rows: Row[]): void {
  const header = [
    "contender",
    `max rate p99<=${P99_BOUND_MS}ms (/s)`,
    "srv cpu%",
    "gen cpu%",
    "other cpu%",
    `p50 @${FIXED_RATE}/s`,
    `p99 @${FIXED_RATE}/s`,
    "KiB/idle sock",
    "idle held",
  ];
  const body = rows.map((r) => [
    r.label,
    r.error ? "ERROR" : fmt(r.search?.best?.rate),
    fmt(r.search?.best?.serverCpu),
    fmt(r.search?.best?.loadCpu),
    fmt(r.search?.best?.foreignCpu),
    r.fixed ? `${fmt(r.fixed.p50, 2)} ms` : "-",
    r.fixed ? `${fmt(r.fixed.p99 ?? Infinity, 2)} ms` : "-",
    fmt(r.idle?.perConnKiB, 1),
    r.idle ? `${fmt(r.idle.held)}/${fmt(r.idle.requested)}` : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const b of body) console.log(line(b));
}

function printRatios(rows: Row[]): void {
  const by = (label: string) => rows.find((r) => r.label.startsWith(label));
  const peer = by("PeerServer");
  const bareRelay = by("bare Deno relay");
  const bareEcho = by("bare Deno echo");
  const signal = by("Parley signal");
  const chat = by("Parley chat");
  const rate = (r?: Row) => r?.search?.best?.rate;
  const mem = (r?: Row) => r?.idle?.perConnKiB;
  const target = (ok: boolean | undefined) => (ok === undefined ? "n/a" : ok ? "met" : "MISSED");
  const num = (a?: number, b?: number) => (a && b && Number.isFinite(a) && Number.isFinite(b) ? a / b : undefined);
  const sigVsPeer = num(rate(signal), rate(peer));
  const memVsBare = num(mem(signal), mem(bareEcho));
  console.log("");
  console.log("Ratios (same run):");
  console.log(
    `  throughput  Parley signal / PeerServer   ${ratio(rate(signal), rate(peer))}` +
      `   (target >= 2x: ${target(sigVsPeer === undefined ? undefined : sigVsPeer >= 2)})`,
  );
  console.log(
    `  throughput  Parley chat / PeerServer     ${ratio(rate(chat), rate(peer))}   (chat also logs to KV and acks)`,
  );
  console.log(`  throughput  Parley signal / bare Deno    ${ratio(rate(signal), rate(bareRelay))}`);
  console.log(
    `  throughput  bare Deno relay / PeerServer ${ratio(rate(bareRelay), rate(peer))}   (JSON relay on the runtime)`,
  );
  console.log(
    `  throughput  bare forward / PeerServer    ${ratio(rate(by("bare Deno forward")), rate(peer))}` +
      "   (no JSON at all: the runtime's ceiling)",
  );
  console.log(`  p99 @${FIXED_RATE}/s  Parley signal / PeerServer ${ratio(signal?.fixed?.p99, peer?.fixed?.p99)}`);
  console.log(
    `  memory/idle Parley / bare Deno echo      ${ratio(mem(signal), mem(bareEcho))}` +
      `   (target <= 1.10x: ${target(memVsBare === undefined ? undefined : memVsBare <= 1.1)})`,
  );
  console.log(`  memory/idle Parley / PeerServer          ${ratio(mem(signal), mem(peer))}`);
  console.log(
    `  memory/idle bare Deno / PeerServer (Node ws) ${ratio(mem(bareEcho), mem(peer))}   (Deno's WebSocket vs Node ws)`,
  );
  const held = signal?.idle?.held;
  console.log(
    `  idle sockets held by Parley              ${fmt(held)}   (target >= 15,000: ${
      target(held === undefined ? undefined : held >= 15_000)
    })`,
  );
}

const selected = CONTENDERS.filter((c) => ONLY.has(c.group));
const rowOf = new Map(selected.map((c) => [c, { label: c.label } as Row]));
const rows = [...rowOf.values()];
let nextPort = 8600 + Math.floor(Math.random() * 200) * 10;
const t0 = performance.now();
try {
  await measureRelays(selected.filter((c) => c.relay), rowOf);
} catch (err) {
  for (const c of selected) if (c.relay) rowOf.get(c)!.error = (err as Error).message;
  log(`relay measurement: ERROR ${(err as Error).message}`);
}
for (const c of selected) {
  if (!c.idle) continue;
  const row = rowOf.get(c)!;
  try {
    log(`${c.label}: ${IDLE_SOCKETS} idle sockets`);
    row.idle = await measureIdle(c, nextPort++);
  } catch (err) {
    row.error = (err as Error).message;
    log(`${c.label}: ERROR ${row.error}`);
  }
}
for (const dir of KV_DIRS) await Deno.remove(dir, { recursive: true });

console.log("");
console.log(
  `Server benchmark, loopback, ${navigator.hardwareConcurrency} cores, ${
    ((performance.now() - t0) / 1000).toFixed(0)
  } s`,
);
console.log(
  `Throughput: open loop, ${PAIRS} pairs, ~300 B frames, highest offered rate with p99 <= ${P99_BOUND_MS} ms ` +
    `(undelivered = late). Idle: RSS delta / sockets, ${IDLE_PROCESSES} generator processes.`,
);
printTable(rows);
printRatios(rows);
for (const r of rows) if (r.error) console.log(`\n${r.label} failed: ${r.error}`);
const jsonPath = flags.get("json");
if (jsonPath) await Deno.writeTextFile(jsonPath, JSON.stringify(rows, null, 2));
// Exit explicitly: the signal listeners would keep the process alive.
Deno.exit(rows.some((r) => r.error) ? 1 : 0);
