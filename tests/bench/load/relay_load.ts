/**
 * Load-generator process for relay throughput and latency (open loop), for
 * several servers in one run.
 *
 * Usage: `deno run -A relay_load.ts '<json RelayLoadConfig>'`. Prints one JSON
 * {@linkcode RelayLoadResult} line on stdout; progress goes to stderr.
 *
 * Method: per target, `pairs` client pairs; every client sends frames to its
 * partner at an offered aggregate rate, paced by the clock (each frame
 * carries its *scheduled* send time, so a late sender counts against the
 * latency, not in its favour). A step warms up, measures `stepMs`, then waits
 * for the tail. A step passes when p99 ≤ `p99BoundMs`, with frames never
 * delivered counted as infinitely late; a failing step is run a second time
 * and counts as passed if that one passes. Each target first gets one step at
 * `fixedRate` (latency), then a search: the rate doubles until a step fails,
 * then bisects. The targets' steps are interleaved (A, B, C, A, B, C...), one
 * at a time, so a busy spell of the shared machine hits every target alike.
 * @module
 */

import {
  type ClientProtocol,
  clientProtocol,
  type Endpoint,
  marker,
  type ProtocolName,
  readMarker,
} from "./protocols.ts";

/** One server to measure. */
export interface RelayTarget {
  /** Name in the results. */
  label: string;
  /** Which wire protocol to speak. */
  protocol: ProtocolName;
  /** Server port on `hostname`. */
  port: number;
  /** Server process id, to report its CPU use per step (0: none). */
  serverPid: number;
}

/** Configuration passed as the first argument. */
export interface RelayLoadConfig {
  /** The servers, measured in interleaved steps. */
  targets: RelayTarget[];
  /** Server address. */
  hostname: string;
  /** Number of client pairs per target; each client sends to its partner. */
  pairs: number;
  /** Latency bound of a passing step, in ms. */
  p99BoundMs: number;
  /** Measured duration of a search step, in ms. */
  stepMs: number;
  /** Measured duration of the fixed-rate step, in ms. */
  fixedMs: number;
  /** Warm-up before each step's measurement, in ms. */
  warmupMs: number;
  /** First rate of the search, frames per second. */
  startRate: number;
  /** Cap of the search, frames per second. */
  maxRate: number;
  /** Bisection rounds after the first failing step. */
  bisections: number;
  /** Rate of the latency step, frames per second. */
  fixedRate: number;
}

/** Outcome of one step. */
export interface StepResult {
  /** Offered rate, frames per second. */
  rate: number;
  /** Frames sent during the measured window. */
  sent: number;
  /** Of those, frames delivered. */
  delivered: number;
  /** Median latency, ms. */
  p50: number;
  /** 99th percentile, ms (Infinity when more than 1 % never arrived). */
  p99: number;
  /** Largest latency seen, ms. */
  max: number;
  /** Delivered frames per second achieved in the window. */
  achieved: number;
  /** Whether the step met the bound. */
  pass: boolean;
  /** Server CPU use over the step, in % of one core (all its threads). */
  serverCpu: number;
  /** This load generator's CPU use over the step, in % of one core. */
  loadCpu: number;
  /** CPU used by other processes on the machine during the step, in % of one core. */
  foreignCpu: number;
}

/** Results of one target. */
export interface TargetResult {
  /** Every step run, in order. */
  steps: StepResult[];
  /** The highest passing step of the search, if any passed. */
  best: StepResult | null;
  /** The fixed-rate latency step. */
  fixed: StepResult;
}

/** What the process prints: results by target label. */
export interface RelayLoadResult {
  /** Results by target label. */
  results: Record<string, TargetResult>;
}

const config = JSON.parse(Deno.args[0]) as RelayLoadConfig;
/** Foreign CPU (% of one core) below which the machine counts as quiet. */
const QUIET_CPU = 15;
/** Longest wait for a quiet machine before a step runs anyway. */
const QUIET_WAIT_MS = 5_000;
/** Attempts at a step disturbed by other processes. */
const DISTURBED_RETRIES = 3;

let currentStep = -1;
let windowStart = 0;
let windowEnd = 0;
let latencies = new Float64Array(0);
let recorded = 0;
let delivered = 0;
let inflight = 0;

function onText(text: string): void {
  const m = readMarker(text);
  if (!m) return;
  inflight--;
  if (m[0] !== currentStep) return;
  const sentAt = m[1];
  if (sentAt < windowStart || sentAt >= windowEnd) return;
  const lat = performance.now() - sentAt;
  delivered++;
  if (recorded < latencies.length) latencies[recorded++] = lat;
}

/** A target with its connected clients. */
interface Live {
  target: RelayTarget;
  proto: ClientProtocol;
  senders: Array<[Endpoint, Endpoint]>;
}

const lives: Live[] = [];
for (const target of config.targets) {
  const proto = clientProtocol(target.protocol, { hostname: config.hostname, port: target.port });
  const senders: Array<[Endpoint, Endpoint]> = [];
  for (let i = 0; i < config.pairs; i++) {
    const [a, b] = await proto.connectPair(i, onText);
    senders.push([a, b], [b, a]);
  }
  lives.push({ target, proto, senders });
}
await sleep(300);

/** The server being measured now: its CPU is not "other". */
let measuredPid = 0;

/** CPU time of a process in ms, from /proc (utime + stime, 100 ticks/s). */
function cpuMs(pid: number): number {
  if (!pid) return 0;
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * CPU time in ms of every process except the server and this generator, by pid (from /proc/<pid>/stat).
 * Kernel threads are included: they show up when other processes push traffic.
 */
function othersCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid || pid === measuredPid) continue;
    try {
      out.set(pid, cpuMs(pid));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // exited meanwhile
    }
  }
  return out;
}

/** CPU (% of one core) the other processes used between two samples `ms` apart. */
function othersLoad(before: Map<number, number>, after: Map<number, number>, ms: number): number {
  let used = 0;
  for (const [pid, t] of after) used += t - (before.get(pid) ?? 0);
  return (used / ms) * 100;
}

/** CPU (% of one core) that other processes use over the next `ms`. */
async function foreignCpu(ms: number): Promise<number> {
  const t0 = performance.now();
  const before = othersCpuMs();
  await sleep(ms);
  return othersLoad(before, othersCpuMs(), performance.now() - t0);
}

/**
 * Waits until the rest of the machine is quiet (other helpers' tests share these cores), at most
 * `QUIET_WAIT_MS`; returns the foreign load seen last.
 */
async function waitForQuiet(): Promise<number> {
  const deadline = performance.now() + QUIET_WAIT_MS;
  let load = await foreignCpu(300);
  while (load > QUIET_CPU && performance.now() < deadline) load = await foreignCpu(500);
  return load;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function percentile(sorted: Float64Array, count: number, total: number, q: number): number {
  const rank = Math.ceil(q * total) - 1;
  return rank < count ? sorted[Math.max(0, rank)] : Infinity;
}

async function runStep(live: Live, rate: number, measureMs: number): Promise<StepResult> {
  const { target, proto, senders } = live;
  const step = stepCounter++;
  currentStep = step;
  measuredPid = target.serverPid;
  latencies = new Float64Array(Math.ceil((rate * measureMs) / 1000 * 1.1) + 16);
  recorded = 0;
  delivered = 0;
  inflight = 0;
  const t0 = performance.now();
  windowStart = t0 + config.warmupMs;
  windowEnd = windowStart + measureMs;
  const interval = 1000 / rate;
  let k = 0;
  let sentInWindow = 0;
  let next = 0;
  let cpuStart: [number, number, number] = [0, 0, 0];
  let othersStart = new Map<number, number>();
  let serverCpu = 0;
  let loadCpu = 0;
  let foreign = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(Math.floor((now - t0) / interval), Math.ceil((windowEnd - t0) / interval));
      if (cpuStart[0] === 0 && now >= windowStart) {
        cpuStart = [now, cpuMs(target.serverPid), cpuMs(Deno.pid)];
        othersStart = othersCpuMs();
      }
      while (k < due) {
        // Rounded as the marker is, so sender and receiver agree on the window.
        const at = Math.round((t0 + k * interval) * 1000) / 1000;
        const [from, to] = senders[next];
        next = next + 1 === senders.length ? 0 : next + 1;
        from.socket.sendText(proto.frame(from, to, marker(step, at)));
        inflight++;
        if (at >= windowStart && at < windowEnd) sentInWindow++;
        k++;
      }
      if (now >= windowEnd) {
        const span = now - cpuStart[0];
        serverCpu = ((cpuMs(target.serverPid) - cpuStart[1]) / span) * 100;
        loadCpu = ((cpuMs(Deno.pid) - cpuStart[2]) / span) * 100;
        foreign = othersLoad(othersStart, othersCpuMs(), span);
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
  });
  // Tail: wait for stragglers, bounded; anything later counts as lost.
  const tailEnd = performance.now() + Math.max(1000, config.p99BoundMs * 20);
  while (delivered < sentInWindow && performance.now() < tailEnd) await sleep(20);
  const n = recorded;
  const sorted = latencies.subarray(0, n).sort();
  const result: StepResult = {
    rate,
    sent: sentInWindow,
    delivered,
    p50: percentile(sorted, n, sentInWindow, 0.5),
    p99: percentile(sorted, n, sentInWindow, 0.99),
    max: n > 0 ? sorted[n - 1] : Infinity,
    achieved: (delivered / measureMs) * 1000,
    pass: false,
    serverCpu,
    loadCpu,
    foreignCpu: foreign,
  };
  result.pass = result.p99 <= config.p99BoundMs;
  // Let a backlog from an overloaded step drain before the next one.
  const drainEnd = performance.now() + 5000;
  while (inflight > 0 && performance.now() < drainEnd) await sleep(50);
  await sleep(200);
  console.error(
    `  [${target.label}] rate ${rate}/s: p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, ` +
      `delivered ${delivered}/${sentInWindow}, cpu server ${serverCpu.toFixed(0)}% load ${loadCpu.toFixed(0)}% ` +
      `other ${foreign.toFixed(0)}% ${result.pass ? "pass" : "FAIL"}`,
  );
  return result;
}

let stepCounter = 0;
/** One step at a time, handed out in arrival order: the targets' searches interleave. */
let lock: Promise<void> = Promise.resolve();

/** Runs one step when the machine is free of our other steps and quiet enough. */
async function turn(live: Live, rate: number, measureMs: number): Promise<StepResult> {
  const previous = lock;
  let release!: () => void;
  lock = new Promise((resolve) => release = resolve);
  await previous;
  try {
    await waitForQuiet();
    return await runStep(live, rate, measureMs);
  } finally {
    release();
  }
}

/**
 * A step, repeated when it failed while other processes took CPU (up to `DISTURBED_RETRIES` times):
 * they can only make a step fail, so a pass stands.
 */
async function runUndisturbed(live: Live, steps: StepResult[], rate: number): Promise<StepResult> {
  let result!: StepResult;
  for (let attempt = 0; attempt < DISTURBED_RETRIES; attempt++) {
    result = await turn(live, rate, config.stepMs);
    if (result.pass || result.foreignCpu <= QUIET_CPU * 2 || attempt === DISTURBED_RETRIES - 1) return result;
    steps.push(result);
    console.error(`  [${live.target.label}] other processes used ${result.foreignCpu.toFixed(0)}% CPU: step repeated`);
  }
  return result;
}

/** A failing step is run once more: one GC pause or scheduler hiccup should not decide the search. */
async function runStepTwice(live: Live, steps: StepResult[], rate: number): Promise<StepResult> {
  const first = await runUndisturbed(live, steps, rate);
  if (first.pass) return first;
  steps.push(first);
  return await runUndisturbed(live, steps, rate);
}

/** For the fixed-rate latency: the least disturbed of up to `DISTURBED_RETRIES` runs. */
async function runQuietest(live: Live, steps: StepResult[]): Promise<StepResult> {
  let best: StepResult | null = null;
  for (let attempt = 0; attempt < DISTURBED_RETRIES; attempt++) {
    const result = await turn(live, config.fixedRate, config.fixedMs);
    if (best === null || result.foreignCpu < best.foreignCpu) best = result;
    if (result.foreignCpu <= QUIET_CPU * 2) break;
    steps.push(result);
    console.error(`  [${live.target.label}] other processes used ${result.foreignCpu.toFixed(0)}% CPU: step repeated`);
  }
  return best!;
}

/** The fixed-rate step, then the search, for one target. */
async function measure(live: Live): Promise<TargetResult> {
  const steps: StepResult[] = [];
  const fixed = await runQuietest(live, steps);
  steps.push(fixed);
  let best: StepResult | null = null;
  let low = 0;
  let high = 0;
  let rate = config.startRate;
  while (rate <= config.maxRate) {
    const r = await runStepTwice(live, steps, rate);
    steps.push(r);
    if (!r.pass) {
      high = rate;
      break;
    }
    best = r;
    low = rate;
    rate *= 2;
  }
  for (let i = 0; i < config.bisections && high > 0; i++) {
    const mid = Math.round((low + high) / 2 / 100) * 100;
    if (mid <= low || mid >= high) break;
    const r = await runStepTwice(live, steps, mid);
    steps.push(r);
    if (r.pass) {
      best = r;
      low = mid;
    } else {
      high = mid;
    }
  }
  return { steps, best, fixed };
}

const measured = await Promise.all(lives.map(measure));
const results: Record<string, TargetResult> = {};
lives.forEach((live, i) => results[live.target.label] = measured[i]);
console.log(JSON.stringify({ results } satisfies RelayLoadResult));
for (const live of lives) for (const [a] of live.senders) a.socket.abort();
Deno.exit(0);
