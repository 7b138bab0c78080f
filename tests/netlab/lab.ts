/**
 * A real network on one machine: a server namespace that also routes, and
 * N "phone" namespaces, each on its own veth link and subnet. Profiles make
 * a link slow, lossy, UDP-less, TURN-less, peer-less or flaky; the server,
 * coturn and Chromium run inside the namespaces. Nothing is routed off the
 * machine, and the root namespace is never touched.
 *
 * ```
 *   phone1 ns                 server ns (router)               phone2 ns
 *   eth0 10.77.1.10/24 ── p1 10.77.1.1/24   p2 10.77.2.1/24 ── eth0 10.77.2.10/24
 *   default via 10.77.1.1     lo 10.77.0.1/32 (server, coturn) default via 10.77.2.1
 * ```
 *
 * Namespace names carry the test process's pid, so parallel runs do not
 * collide; `close()` (or `await using`), an `unload` handler and SIGINT/SIGTERM/
 * SIGHUP handlers all tear everything down, and the next run sweeps namespaces
 * whose process died without cleaning up.
 * @module
 */
import type { Browser } from "playwright-core";
import { type Coturn, type CoturnOptions, startCoturn } from "../support/coturn.ts";
import { launchInNamespace } from "./chromium_ns.ts";
import { type DelayProcess, startDelay } from "./delay_tool.ts";
import {
  CUT_TABLE,
  cutNftScript,
  type LinkContext,
  type NetworkProfile,
  phoneIptablesRules,
  phoneNftScript,
  type ProfileInput,
  resolveProfile,
  routerNftScript,
  shaperCommands,
} from "./profiles.ts";
import { inNs, killChild, run, type RunOptions, type RunResult, runSync, sleep } from "./shell.ts";

/** The first two octets of every lab address; each lab lives in its own namespaces, so runs can share them. */
export const LAB_NET = "10.77";
/** The server's address, on the server namespace's loopback; every phone routes to it. */
export const SERVER_ADDRESS = `${LAB_NET}.0.1`;
/** coturn's STUN/TURN port inside the server namespace (fixed: the namespace is private to the run). */
export const TURN_PORT = 3478;
/** coturn's relay ports; profiles firewall exactly this range. */
export const RELAY_PORTS: readonly [number, number] = [49_152, 49_251];
/** Most phones a lab holds: each phone's subnet is `10.77.<generation * 16 + index>.0/24`. */
export const MAX_PHONES = 15;
/**
 * How often Chromium's WebRTC rescans network interfaces (BasicNetworkManager polls every 2 s): after
 * {@link Lab.changeAddress}, an ICE restart sooner than this still gathers the old address.
 */
export const CHROMIUM_NETWORK_SCAN_MS = 2_000;
/** Most address changes per phone: the subnet scheme of {@link MAX_PHONES} runs out after that. */
export const MAX_ADDRESS_CHANGES = 14;

const PHONE_IFACE = "eth0";
const PHONE_HOST = 10;
const ROUTER_HOST = 1;
const DEFAULTS = {
  phones: 2,
  profile: "lan" as ProfileInput,
  prefix: "nl",
  serverReadyTimeoutMs: 20_000,
  stopGraceMs: 3_000,
  probeIntervalMs: 50,
  maxOutputLines: 2_000,
  turnTtlSeconds: 600,
} as const;
const SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** Options of {@link Lab.create}. */
export interface LabOptions {
  /** How many phone namespaces to build (1..15). Default 2. */
  phones?: number;
  /** The profile every phone's link starts with. Default `lan`. */
  profile?: ProfileInput;
  /** Namespace name prefix; names are `<prefix><pid>-<n>-srv` and `...-p<i>`. Default `nl`. */
  prefix?: string;
}

/** One phone: a namespace with one link to the router. */
export interface Phone {
  /** 1-based position in `lab.phones`. */
  readonly index: number;
  /** The namespace the phone's browser runs in. */
  readonly ns: string;
  /** The phone's interface inside its namespace. */
  readonly iface: string;
  /** The router's interface toward this phone, inside the server namespace. */
  readonly routerIface: string;
  /** The phone's current address; {@link Lab.changeAddress} changes it. */
  readonly address: string;
  /** How many times the address changed. */
  readonly generation: number;
  /** The profile its link has now. */
  readonly profile: NetworkProfile;
  /** False while the link is cut. */
  readonly linkUp: boolean;
}

type PhoneState = { -readonly [K in keyof Phone]: Phone[K] };

/** Options of {@link Lab.startServer}. */
export interface LabServerOptions {
  /** The command, e.g. `[Deno.execPath(), "run", "-A", "main.ts", "--listen"]`; it runs in the server namespace. */
  cmd: string[];
  /** The TCP port it listens on at {@link SERVER_ADDRESS}; readiness is a TCP connect to it. */
  port: number;
  /** Extra environment (merged over this process's). */
  env?: Record<string, string>;
  /** Working directory. Default: this process's. */
  cwd?: string;
  /** How long to wait for the port to accept connections. Default 20 000 ms. */
  readyTimeoutMs?: number;
}

/** A process started in the server namespace. */
export class LabProcess {
  /** The options it was started with, to start it again after a kill. */
  readonly options: LabServerOptions;
  /** `http://10.77.0.1:<port>`. */
  readonly url: string;
  /** Its process id. */
  readonly pid: number;
  /** Resolves when it exits. */
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #lines: string[] = [];
  #drained: Promise<unknown>;
  #exited: Deno.CommandStatus | null = null;

  /** Wraps a spawned child whose stdout and stderr are piped. */
  constructor(child: Deno.ChildProcess, options: LabServerOptions) {
    this.#child = child;
    this.options = options;
    this.url = `http://${SERVER_ADDRESS}:${options.port}`;
    this.pid = child.pid;
    this.status = child.status.then((status) => (this.#exited = status));
    this.#drained = Promise.all([this.#collect(child.stdout), this.#collect(child.stderr)]);
  }

  async #collect(stream: ReadableStream<Uint8Array<ArrayBuffer>>): Promise<void> {
    let partial = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      this.#lines.push(...lines);
      if (this.#lines.length > DEFAULTS.maxOutputLines) {
        this.#lines.splice(0, this.#lines.length - DEFAULTS.maxOutputLines);
      }
    }
    if (partial) this.#lines.push(partial);
  }

  /** The exit status once it exited, else null. */
  get exited(): Deno.CommandStatus | null {
    return this.#exited;
  }

  /** What it printed (stdout and stderr, last 2 000 lines), for failure messages. */
  get output(): string {
    return this.#lines.join("\n");
  }

  /** Sends a signal now (SIGKILL to simulate a crash); an exited process is fine. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    killChild(this.#child, signal);
  }

  /** Sends `signal`, escalates to SIGKILL after a grace period, and waits for the exit and its output. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    this.kill(signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), DEFAULTS.stopGraceMs)));
    if ((await Promise.race([this.status, late])) === "late") this.kill("SIGKILL");
    clearTimeout(timer);
    const status = await this.status;
    await this.#drained;
    return status;
  }
}

/** Options of {@link Lab.iceServers}. */
export interface IceServerOptions {
  /** Which TURN transports to offer. Default both, UDP first. */
  transports?: ("udp" | "tcp")[];
  /** Lifetime of the REST credential. Default 600 s. */
  ttlSeconds?: number;
  /** The id part of the REST username. Default `netlab`. */
  user?: string;
}

/** Options of {@link Lab.changeAddress}. */
export interface ChangeAddressOptions {
  /** Keep the old address this long after the new one works (make-before-break). Default 0: break at once. */
  overlapMs?: number;
}

/** Options of {@link Lab.ping}. */
export interface PingOptions {
  /** Where to ping. Default: the server. */
  target?: string;
  /** How many echo requests. Default 5. */
  count?: number;
  /** Seconds between requests (root may go down to 0.002). Default 0.2. */
  intervalS?: number;
}

/** What `ping` measured. */
export interface PingResult {
  /** Requests sent. */
  transmitted: number;
  /** Replies received. */
  received: number;
  /** Lost fraction, 0..1. */
  loss: number;
  /** Round-trip times in ms as the application sees them (`ping -U`), or null when nothing came back. */
  rtt: { min: number; avg: number; max: number } | null;
  /** Ping's own output. */
  output: string;
}

let labSeq = 0;
const LIVE = new Set<Lab>();
let handlersInstalled = false;

function onUnload(): void {
  for (const lab of [...LIVE]) lab.teardownSync();
}

function onSignal(signal: Deno.Signal): void {
  console.error(`netlab: ${signal}: tearing down ${LIVE.size} lab(s)`);
  onUnload();
  Deno.exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
}
const SIGNAL_HANDLERS = new Map(SIGNALS.map((signal) => [signal, () => onSignal(signal)]));

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  globalThis.addEventListener("unload", onUnload);
  for (const [signal, handler] of SIGNAL_HANDLERS) Deno.addSignalListener(signal, handler);
}

function removeHandlers(): void {
  if (!handlersInstalled || LIVE.size > 0) return;
  handlersInstalled = false;
  globalThis.removeEventListener("unload", onUnload);
  for (const [signal, handler] of SIGNAL_HANDLERS) Deno.removeSignalListener(signal, handler);
}

function subnet(phoneIndex: number, generation: number): string {
  return `${LAB_NET}.${generation * 16 + phoneIndex}`;
}

/** True while process `pid` runs; a zombie (dead, waiting for its parent to reap it) counts as gone. */
export function processAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** Names of all namespaces `ip netns list` shows. */
export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await run(["ip", "netns", "list"]);
  return stdout.split("\n").map((line) => line.split(" ")[0]).filter(Boolean);
}

function killNamespaceSync(ns: string): void {
  const pids = runSync(["ip", "netns", "pids", ns], { allowFailure: true }).stdout.split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      Deno.kill(Number(pid), "SIGKILL");
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // it died on its own meanwhile
    }
  }
  runSync(["ip", "netns", "del", ns], { allowFailure: true });
}

/**
 * Removes namespaces that earlier runs with `prefix` left behind when their
 * process died (SIGKILL, power cut); namespaces of live processes stay.
 * Returns the names it removed.
 */
export async function sweepStaleNamespaces(prefix: string = DEFAULTS.prefix): Promise<string[]> {
  const pattern = new RegExp(`^${prefix}(\\d+)-\\d+-(srv|p\\d+)$`);
  const removed: string[] = [];
  for (const ns of await listNamespaces()) {
    const match = pattern.exec(ns);
    if (!match || processAlive(Number(match[1]))) continue;
    killNamespaceSync(ns);
    removed.push(ns);
  }
  return removed;
}

/** Fails loudly, with the fix, when the lab cannot run here. */
export async function checkLabPrerequisites(): Promise<void> {
  if (Deno.uid() !== 0) throw new Error("netlab needs root (network namespaces, nft, iptables); run the suite as root");
  for (
    const [tool, argv] of [["iproute2", ["ip", "netns", "list"]], ["nftables", ["nft", "--version"]], [
      "iptables",
      ["iptables", "--version"],
    ]] as const
  ) {
    try {
      await run(argv);
    } catch (error) {
      throw new Error(`netlab needs \`${argv[0]}\`: apt-get install -y ${tool} (${(error as Error).message})`);
    }
  }
}

/** A running lab; build one with {@link Lab.create} and `await using` it. */
export class Lab implements AsyncDisposable {
  /** This lab's unique id, the stem of its namespace names. */
  readonly id: string;
  /** The server (and router) namespace. */
  readonly serverNs: string;
  /** Where servers and coturn listen; reachable from every phone. */
  readonly serverAddress: string = SERVER_ADDRESS;
  /** coturn's port, once started with {@link startCoturn}. */
  readonly turnPort: number = TURN_PORT;
  /** coturn's relay port range. */
  readonly relayPorts: readonly [number, number] = RELAY_PORTS;
  /** The phones, in order. */
  readonly phones: readonly Phone[];
  /** A temporary directory for wrapper scripts and logs, removed on close. */
  readonly dir: string;
  #phones: PhoneState[];
  #namespaces: string[] = [];
  #processes = new Set<LabProcess>();
  #browsers = new Set<Browser>();
  #delays = new Map<PhoneState, DelayProcess>();
  #flaps = new Map<PhoneState, { timer?: ReturnType<typeof setTimeout>; busy?: Promise<void>; stopped: boolean }>();
  #coturn: Coturn | undefined;
  #closed = false;

  private constructor(id: string, dir: string, phones: number) {
    this.id = id;
    this.dir = dir;
    this.serverNs = `${id}-srv`;
    this.#phones = Array.from({ length: phones }, (_, i) => ({
      index: i + 1,
      ns: `${id}-p${i + 1}`,
      iface: PHONE_IFACE,
      routerIface: `p${i + 1}`,
      address: `${subnet(i + 1, 0)}.${PHONE_HOST}`,
      generation: 0,
      profile: resolveProfile("lan"),
      linkUp: true,
    }));
    this.phones = this.#phones;
  }

  /** Builds the namespaces, links, addresses and routes, and applies the starting profile to every phone. */
  static async create(options: LabOptions = {}): Promise<Lab> {
    const phones = options.phones ?? DEFAULTS.phones;
    if (!(phones >= 1 && phones <= MAX_PHONES)) throw new RangeError(`phones must be 1..${MAX_PHONES}, got ${phones}`);
    await checkLabPrerequisites();
    const prefix = options.prefix ?? DEFAULTS.prefix;
    await sweepStaleNamespaces(prefix);
    const id = `${prefix}${Deno.pid}-${++labSeq}`;
    const lab = new Lab(id, await Deno.makeTempDir({ prefix: `netlab-${id}-` }), phones);
    LIVE.add(lab);
    installHandlers();
    try {
      await lab.#build();
      const profile = resolveProfile(options.profile ?? DEFAULTS.profile);
      await Promise.all(lab.#phones.map((phone) => lab.applyProfile(phone, profile)));
    } catch (error) {
      await lab.close();
      throw error;
    }
    return lab;
  }

  async #build(): Promise<void> {
    const server = this.serverNs;
    for (const ns of [server, ...this.#phones.map((p) => p.ns)]) {
      await run(["ip", "netns", "add", ns]);
      this.#namespaces.push(ns);
      await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
      // IPv4 only: link-local IPv6 candidates would bypass the profiles' rules.
      await run(
        inNs(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]),
      );
    }
    await run(inNs(server, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]));
    await run(["ip", "-n", server, "addr", "add", `${SERVER_ADDRESS}/32`, "dev", "lo"]);
    for (const phone of this.#phones) {
      const net = subnet(phone.index, 0);
      // Created inside the namespaces, so no interface name ever exists in the root namespace.
      await run([
        "ip",
        "-n",
        server,
        "link",
        "add",
        phone.routerIface,
        "type",
        "veth",
        "peer",
        "name",
        phone.iface,
        "netns",
        phone.ns,
      ]);
      await run(["ip", "-n", server, "addr", "add", `${net}.${ROUTER_HOST}/24`, "dev", phone.routerIface]);
      await run(["ip", "-n", server, "link", "set", phone.routerIface, "up"]);
      await run(["ip", "-n", phone.ns, "addr", "add", `${phone.address}/24`, "dev", phone.iface]);
      await run(["ip", "-n", phone.ns, "link", "set", phone.iface, "up"]);
      // Chromium gathers no candidates without a default route.
      await run(["ip", "-n", phone.ns, "route", "add", "default", "via", `${net}.${ROUTER_HOST}`, "dev", phone.iface]);
    }
  }

  #state(phone: Phone): PhoneState {
    const state = this.#phones.find((p) => p === phone || p.ns === phone.ns);
    if (!state) throw new Error(`phone ${phone.ns} is not in lab ${this.id}`);
    return state;
  }

  #link(phone: PhoneState): LinkContext {
    return {
      phoneIface: phone.iface,
      routerIface: phone.routerIface,
      serverAddress: SERVER_ADDRESS,
      turnPort: TURN_PORT,
      relayPorts: RELAY_PORTS,
      queueNum: 0,
    };
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`lab ${this.id} is closed`);
  }

  /** Runs a command in a phone's namespace or the server's, returning its output; throws on failure unless allowed. */
  exec(where: Phone | "server", argv: string[], options: RunOptions = {}): Promise<RunResult> {
    this.#assertOpen();
    return run(inNs(where === "server" ? this.serverNs : this.#state(where).ns, argv), options);
  }

  /**
   * Sets a phone's link to `profile`: replaces its loss, delay and block rules at once, starts or stops
   * its delay tool, and (for a `flap` schedule) starts cutting the link. Any current cut ends first.
   */
  async applyProfile(phone: Phone, profile: ProfileInput): Promise<void> {
    this.#assertOpen();
    const state = this.#state(phone);
    const next = resolveProfile(profile);
    const link = this.#link(state);
    await this.#stopFlap(state);
    if (!state.linkUp) await this.setLinkUp(state, true);

    await this.exec(state, ["iptables", "-F", "INPUT"]);
    await this.exec(state, ["iptables", "-F", "OUTPUT"]);
    const delay = this.#delays.get(state);
    if (delay && delay.delayMs !== next.delayMs) {
      this.#delays.delete(state);
      await delay.stop();
    }
    // The tool must read the queue before any rule sends packets to it, or they are dropped.
    if (next.delayMs > 0 && !this.#delays.has(state)) {
      this.#delays.set(state, await startDelay(state.ns, link.queueNum, next.delayMs));
    }
    for (const rule of phoneIptablesRules(next, link)) await this.exec(state, ["iptables", ...rule]);
    await this.exec(state, ["nft", "-f", "-"], { stdin: phoneNftScript(next, link) });
    await this.exec("server", ["nft", "-f", "-"], { stdin: routerNftScript(next, link) });
    await this.#shape(state, next);
    state.profile = next;
    if (next.flap) this.#startFlap(state, next.flap.upMs, next.flap.downMs);
  }

  /** Sets (or removes) the bandwidth limit of a phone's link: a `tbf` on the phone's and the router's egress. */
  async #shape(phone: PhoneState, profile: NetworkProfile): Promise<void> {
    const sides = [
      { where: phone as Phone | "server", iface: phone.iface, kbit: profile.bandwidth?.upKbit },
      { where: "server" as const, iface: phone.routerIface, kbit: profile.bandwidth?.downKbit },
    ];
    for (const { where, iface, kbit } of sides) {
      const { reset, set } = shaperCommands(iface, kbit);
      // A link without a limit has no root qdisc to delete: that failure is the expected "nothing to reset".
      await this.exec(where, ["tc", ...reset], { allowFailure: true });
      if (set) await this.exec(where, ["tc", ...set]);
    }
  }

  #startFlap(phone: PhoneState, upMs: number, downMs: number): void {
    const flap: { timer?: ReturnType<typeof setTimeout>; busy?: Promise<void>; stopped: boolean } = { stopped: false };
    const schedule = (cut: boolean) => {
      flap.timer = setTimeout(() => {
        flap.busy = this.setLinkUp(phone, !cut).then(() => {
          if (!flap.stopped) schedule(!cut);
        });
      }, cut ? upMs : downMs);
    };
    this.#flaps.set(phone, flap);
    schedule(true);
  }

  async #stopFlap(phone: PhoneState): Promise<void> {
    const flap = this.#flaps.get(phone);
    if (!flap) return;
    this.#flaps.delete(phone);
    flap.stopped = true;
    clearTimeout(flap.timer);
    await flap.busy;
  }

  /**
   * Cuts (`false`) or restores (`true`) a phone's link: every packet entering the phone or entering the router
   * from the phone is dropped, so neither side's kernel reports an error; both just hear silence.
   */
  async setLinkUp(phone: Phone, up: boolean): Promise<void> {
    this.#assertOpen();
    const state = this.#state(phone);
    if (state.linkUp === up) return;
    if (up) {
      await this.exec(state, ["nft", "delete", "table", "inet", `${CUT_TABLE}_${state.iface}`]);
      await this.exec("server", ["nft", "delete", "table", "inet", `${CUT_TABLE}_${state.routerIface}`]);
    } else {
      await this.exec(state, ["nft", "-f", "-"], { stdin: cutNftScript(state.iface) });
      await this.exec("server", ["nft", "-f", "-"], { stdin: cutNftScript(state.routerIface) });
    }
    state.linkUp = up;
  }

  /** Cuts a phone's link for `ms`, then restores it. */
  async cutLink(phone: Phone, ms: number): Promise<void> {
    await this.setLinkUp(phone, false);
    await sleep(ms);
    await this.setLinkUp(phone, true);
  }

  /**
   * Moves a phone to a new subnet, as when a phone leaves Wi-Fi for cellular: adds the new address and
   * default route, then (after `overlapMs`) removes the old address. Returns the new address.
   */
  async changeAddress(phone: Phone, options: ChangeAddressOptions = {}): Promise<string> {
    this.#assertOpen();
    const state = this.#state(phone);
    if (state.generation >= MAX_ADDRESS_CHANGES) throw new RangeError(`phone ${state.index} changed address too often`);
    const oldNet = subnet(state.index, state.generation);
    const newNet = subnet(state.index, state.generation + 1);
    const oldAddress = state.address;
    const newAddress = `${newNet}.${PHONE_HOST}`;
    await this.exec("server", ["ip", "addr", "add", `${newNet}.${ROUTER_HOST}/24`, "dev", state.routerIface]);
    await this.exec(state, ["ip", "addr", "add", `${newAddress}/24`, "dev", state.iface]);
    await this.exec(state, [
      "ip",
      "route",
      "replace",
      "default",
      "via",
      `${newNet}.${ROUTER_HOST}`,
      "dev",
      state.iface,
    ]);
    state.address = newAddress;
    state.generation++;
    if (options.overlapMs) await sleep(options.overlapMs);
    await this.exec(state, ["ip", "addr", "del", `${oldAddress}/24`, "dev", state.iface]);
    await this.exec("server", ["ip", "addr", "del", `${oldNet}.${ROUTER_HOST}/24`, "dev", state.routerIface]);
    return newAddress;
  }

  /** Pings from a phone (default: the server), timing as an application would (`ping -U`). */
  async ping(phone: Phone, options: PingOptions = {}): Promise<PingResult> {
    const count = options.count ?? 5;
    const interval = options.intervalS ?? 0.2;
    const { stdout, stderr } = await this.exec(phone, [
      "ping",
      "-U",
      "-n",
      "-q",
      "-c",
      String(count),
      "-i",
      String(interval),
      "-W",
      "2",
      options.target ?? SERVER_ADDRESS,
    ], { allowFailure: true });
    const output = stdout + stderr;
    const counts = /(\d+) packets transmitted, (\d+) received/.exec(output);
    if (!counts) throw new Error(`could not parse ping output:\n${output}`);
    const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(output);
    const transmitted = Number(counts[1]);
    const received = Number(counts[2]);
    return {
      transmitted,
      received,
      loss: transmitted ? 1 - received / transmitted : 0,
      rtt: rtt ? { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]) } : null,
      output,
    };
  }

  /**
   * Starts a process (the app server, a test relay) in the server namespace and waits until
   * `SERVER_ADDRESS:port` accepts TCP connections; fails with its output if it exits or never listens.
   */
  async startServer(options: LabServerOptions): Promise<LabProcess> {
    this.#assertOpen();
    const child = new Deno.Command("ip", {
      args: inNs(this.serverNs, options.cmd).slice(1),
      env: options.env,
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const process = new LabProcess(child, options);
    this.#processes.add(process);
    process.status.then(() => this.#processes.delete(process));
    const deadline = Date.now() + (options.readyTimeoutMs ?? DEFAULTS.serverReadyTimeoutMs);
    const probe = ["bash", "-c", `exec 3<>/dev/tcp/${SERVER_ADDRESS}/${options.port}`];
    for (;;) {
      if (process.exited) {
        await process.stop();
        throw new Error(
          `\`${options.cmd.join(" ")}\` exited (${process.exited.code}) before listening:\n${process.output}`,
        );
      }
      if ((await this.exec("server", probe, { allowFailure: true })).code === 0) return process;
      if (Date.now() > deadline) {
        await process.stop("SIGKILL");
        throw new Error(`\`${options.cmd.join(" ")}\` did not listen on ${process.url} in time:\n${process.output}`);
      }
      await sleep(DEFAULTS.probeIntervalMs);
    }
  }

  /** Kills a server process with `signal` (SIGKILL: a crash) and starts it again with the same options. */
  async restartServer(process: LabProcess, signal: Deno.Signal = "SIGKILL"): Promise<LabProcess> {
    await process.stop(signal);
    return await this.startServer(process.options);
  }

  /** Starts coturn in the server namespace (TURN REST auth, a per-run secret); stopped on close. */
  async startCoturn(options: CoturnOptions = {}): Promise<Coturn> {
    this.#assertOpen();
    if (this.#coturn) throw new Error("coturn already runs in this lab");
    this.#coturn = await startCoturn({
      listeningIp: SERVER_ADDRESS,
      port: TURN_PORT,
      minRelayPort: RELAY_PORTS[0],
      maxRelayPort: RELAY_PORTS[1],
      wrap: ["ip", "netns", "exec", this.serverNs],
      ...options,
    });
    return this.#coturn;
  }

  /** The running coturn; throws if {@link startCoturn} was not called. */
  get coturn(): Coturn {
    if (!this.#coturn) throw new Error("call lab.startCoturn() first");
    return this.#coturn;
  }

  /** ICE servers with fresh TURN REST credentials for the lab's coturn, for a test page's RTCPeerConnection. */
  async iceServers(options: IceServerOptions = {}): Promise<RTCIceServer[]> {
    const coturn = this.coturn;
    const expiry = Math.floor(Date.now() / 1000) + (options.ttlSeconds ?? DEFAULTS.turnTtlSeconds);
    const username = `${expiry}:${options.user ?? "netlab"}`;
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(coturn.secret),
      { name: "HMAC", hash: "SHA-1" },
      false,
      ["sign"],
    );
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(username)));
    const credential = btoa(String.fromCharCode(...mac));
    const urls = (options.transports ?? ["udp", "tcp"]).map((transport) => coturn.urls[transport]);
    return [{ urls, username, credential }];
  }

  /** The app server's TURN environment (`TURN_URLS`, `TURN_SECRET`) for the lab's coturn. */
  turnEnv(): Record<string, string> {
    const coturn = this.coturn;
    return { TURN_URLS: `${coturn.urls.udp},${coturn.urls.tcp}`, TURN_SECRET: coturn.secret };
  }

  /** Launches headless Chromium inside a phone's namespace; closed on lab close. */
  async launchBrowser(phone: Phone, args: string[] = []): Promise<Browser> {
    this.#assertOpen();
    const browser = await launchInNamespace(this.dir, this.#state(phone).ns, args);
    this.#browsers.add(browser);
    browser.on("disconnected", () => this.#browsers.delete(browser));
    return browser;
  }

  /** The namespaces this lab created (server first). */
  get namespaces(): readonly string[] {
    return this.#namespaces;
  }

  /**
   * Stops everything: flaps, browsers, servers, coturn, delay tools, then kills whatever still runs in the
   * namespaces and deletes them. Runs every step even if one fails, then throws all failures together.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const errors: unknown[] = [];
    const step = async (work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const phone of this.#phones) await step(() => this.#stopFlap(phone));
    await Promise.all([...this.#browsers].map((browser) => step(() => browser.close())));
    await Promise.all([...this.#processes].map((process) => step(() => process.stop())));
    if (this.#coturn) await step(() => this.#coturn!.stop());
    await Promise.all([...this.#delays.values()].map((delay) => step(() => delay.stop())));
    this.#delays.clear();
    for (const ns of [...this.#namespaces].reverse()) {
      await step(async () => {
        // Stragglers, e.g. a browser's helper processes exiting after the browser: kill them and wait.
        const deadline = Date.now() + DEFAULTS.stopGraceMs;
        for (;;) {
          const pids = (await run(["ip", "netns", "pids", ns])).stdout.split(/\s+/).filter(Boolean).map(Number);
          if (pids.length === 0) break;
          if (Date.now() > deadline) throw new Error(`processes ${pids.join(", ")} in ${ns} survived SIGKILL`);
          for (const pid of pids) {
            try {
              Deno.kill(pid, "SIGKILL");
            } catch (error) {
              if (!(error instanceof Deno.errors.NotFound)) throw error;
            }
          }
          await sleep(DEFAULTS.probeIntervalMs);
        }
        await run(["ip", "netns", "del", ns]);
      });
    }
    this.#namespaces = [];
    await step(() => Deno.remove(this.dir, { recursive: true }));
    LIVE.delete(this);
    removeHandlers();
    if (errors.length) throw new AggregateError(errors, `lab ${this.id} did not close cleanly: ${errors.join("; ")}`);
  }

  /** Tears down without awaiting, for `unload` and signal handlers: kills every process in the namespaces and deletes them. */
  teardownSync(): void {
    this.#closed = true;
    for (const flap of this.#flaps.values()) clearTimeout(flap.timer);
    for (const delay of this.#delays.values()) delay.killSync();
    for (const ns of [...this.#namespaces].reverse()) killNamespaceSync(ns);
    this.#namespaces = [];
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) console.error(`netlab: could not remove ${this.dir}:`, error);
    }
    LIVE.delete(this);
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
