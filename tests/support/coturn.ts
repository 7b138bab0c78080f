/**
 * A real coturn for tests: started on a test-chosen address with a per-run
 * TURN REST secret, a temporary config and log, and killed for sure when the
 * test ends. Also drives coturn's own `turnutils_uclient` to try an
 * allocation, so tests check credentials with a client that is not ours.
 *
 * Needs the Debian package `coturn` (`turnserver`, `turnutils_uclient`): a
 * missing binary is an error, never a skip.
 * @module
 */

/** Options of {@link startCoturn}. */
export interface CoturnOptions {
  /** Address coturn listens on; a netlab harness passes an address inside its namespace. Default `127.0.0.1`. */
  listeningIp?: string;
  /** Address relayed traffic leaves from. Default: `listeningIp`. */
  relayIp?: string;
  /** STUN/TURN port for UDP and TCP. Default: a port the OS just reported free. */
  port?: number;
  /** First relay port; relay ports stay in a small range so tests can firewall them. Default: a random 100-port window. */
  minRelayPort?: number;
  /** Last relay port. Default: `minRelayPort + 99`. */
  maxRelayPort?: number;
  /** The TURN realm; browsers do not care, coturn requires one. Default `parley.test`. */
  realm?: string;
  /** The TURN REST shared secret. Default: 32 random bytes, hex, new for every run. */
  secret?: string;
  /** A command prefix to run coturn under, e.g. `["ip", "netns", "exec", "ns1"]`. Default: none. */
  wrap?: string[];
  /** More `turnserver.conf` lines, for a harness that needs them. */
  extraConfig?: string[];
  /** How long to wait for coturn's listeners before failing. Default 10 000 ms. */
  readyTimeoutMs?: number;
}

/** A running coturn; `await using` it, or call `stop()` in a `finally`. */
export interface Coturn extends AsyncDisposable {
  /** The TURN REST secret coturn checks credentials against. */
  readonly secret: string;
  /** The realm coturn announces. */
  readonly realm: string;
  /** The address coturn listens on. */
  readonly host: string;
  /** The STUN/TURN port (UDP and TCP). */
  readonly port: number;
  /** The relay port range `[min, max]`. */
  readonly relayPorts: readonly [number, number];
  /** TURN urls for `TURN_URLS`, one per transport. */
  readonly urls: { readonly udp: string; readonly tcp: string };
  /** Path of coturn's log, for a failing test to print. */
  readonly logPath: string;
  /** The whole log so far. */
  readLog(): Promise<string>;
  /** Waits until the log contains `text`, failing with the log's tail after `timeoutMs` (default 5 000). */
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
  /** Stops coturn (SIGTERM, then SIGKILL) and removes its temporary files. Safe to call twice. */
  stop(): Promise<void>;
}

const DEFAULTS = {
  listeningIp: "127.0.0.1",
  realm: "parley.test",
  readyTimeoutMs: 10_000,
  relayWindow: 100,
  stopGraceMs: 3_000,
  logPollMs: 25,
} as const;

const INSTALL_HINT = "install the Debian package `coturn` (apt-get install coturn)";

/** Every coturn this process started and has not stopped yet: killed on exit as a last resort. */
const LIVE = new Set<Deno.ChildProcess>();
globalThis.addEventListener("unload", () => {
  for (const child of LIVE) {
    try {
      child.kill("SIGKILL");
    } catch (error) {
      console.error("could not kill a leftover coturn:", error);
    }
  }
});

/** The absolute path of `name` on PATH; throws with an install hint when it is missing. */
export async function findExecutable(name: string): Promise<string> {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    const path = `${dir}/${name}`;
    try {
      const info = await Deno.stat(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  throw new Error(`\`${name}\` is not installed or not on PATH: ${INSTALL_HINT}`);
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A TCP port the OS says is free now (coturn then binds UDP and TCP on it). */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Starts coturn with TURN REST auth and waits until its UDP and TCP listeners are open. */
export async function startCoturn(options: CoturnOptions = {}): Promise<Coturn> {
  const turnserver = await findExecutable("turnserver");
  const host = options.listeningIp ?? DEFAULTS.listeningIp;
  const relayIp = options.relayIp ?? host;
  const port = options.port ?? (options.wrap ? 30_000 + Math.floor(Math.random() * 10_000) : freePort(host));
  const minRelayPort = options.minRelayPort ?? 49_200 + Math.floor(Math.random() * 150) * DEFAULTS.relayWindow;
  const maxRelayPort = options.maxRelayPort ?? minRelayPort + DEFAULTS.relayWindow - 1;
  const realm = options.realm ?? DEFAULTS.realm;
  const secret = options.secret ?? randomHex(32);
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs;

  const dir = await Deno.makeTempDir({ prefix: "parley-coturn-" });
  const configPath = `${dir}/turnserver.conf`;
  const logPath = `${dir}/turn.log`;
  // `use-auth-secret` implies the long-term credential mechanism; adding
  // `lt-cred-mech` as well only makes coturn print a configuration alert.
  const config = [
    `listening-ip=${host}`,
    `relay-ip=${relayIp}`,
    `listening-port=${port}`,
    `min-port=${minRelayPort}`,
    `max-port=${maxRelayPort}`,
    `realm=${realm}`,
    "use-auth-secret",
    `static-auth-secret=${secret}`,
    "fingerprint",
    "no-tls",
    "no-dtls",
    "no-cli",
    "no-multicast-peers",
    "allow-loopback-peers",
    "no-stdout-log",
    `log-file=${logPath}`,
    "simple-log",
    // Verbose logs the per-request outcome ("error 401", "ALLOCATE processed, success") tests assert on.
    "verbose",
    `pidfile=${dir}/turnserver.pid`,
    // Keep coturn away from the system database in /var/lib/turn.
    `userdb=${dir}/turndb`,
    ...(options.extraConfig ?? []),
  ];
  await Deno.writeTextFile(configPath, config.join("\n") + "\n");

  const wrap = options.wrap ?? [];
  const command = wrap.length ? wrap[0] : turnserver;
  const args = [...wrap.slice(1), ...(wrap.length ? [turnserver] : []), "-c", configPath];
  const child = new Deno.Command(command, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
  LIVE.add(child);
  let exited: Deno.CommandStatus | null = null;
  const status = child.status.then((s) => (exited = s));

  const readLog = async () => {
    try {
      return await Deno.readTextFile(logPath);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return "";
      throw error;
    }
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // TypeError: it already exited
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), DEFAULTS.stopGraceMs)));
      if ((await Promise.race([status, grace])) === "late") child.kill("SIGKILL");
      clearTimeout(timer);
    }
    await status;
    LIVE.delete(child);
    await Deno.remove(dir, { recursive: true });
  };

  const waitForLog = async (text: string | string[], timeoutMs = 5_000) => {
    const wanted = Array.isArray(text) ? text : [text];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const log = await readLog();
      if (wanted.every((t) => log.includes(t))) return;
      if (exited) {
        throw new Error(`coturn exited (code ${exited.code}) before logging ${JSON.stringify(wanted)}:\n${tail(log)}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`coturn did not log ${JSON.stringify(wanted)} within ${timeoutMs} ms:\n${tail(log)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, DEFAULTS.logPollMs));
    }
  };

  try {
    await waitForLog([
      `TCP listener opened on : ${host}:${port}`,
      `UDP listener opened on: ${host}:${port}`,
      "IO method (auth thread)",
    ], readyTimeoutMs);
  } catch (error) {
    const log = await readLog();
    await stop();
    throw new Error(
      `coturn did not start on ${host}:${port}: ${(error as Error).message.split("\n")[0]}\n${tail(log)}`,
    );
  }

  const hostInUrl = host.includes(":") ? `[${host}]` : host;
  return {
    secret,
    realm,
    host,
    port,
    relayPorts: [minRelayPort, maxRelayPort],
    urls: {
      udp: `turn:${hostInUrl}:${port}?transport=udp`,
      tcp: `turn:${hostInUrl}:${port}?transport=tcp`,
    },
    logPath,
    readLog,
    waitForLog: (text: string, timeoutMs?: number) => waitForLog(text, timeoutMs),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Options of {@link tryAllocate}. */
export interface AllocateOptions {
  /** The TURN server's address. */
  host: string;
  /** The TURN server's port. */
  port: number;
  /** The TURN username, e.g. from `/api/ice`. */
  username: string;
  /** The TURN password, e.g. from `/api/ice`. */
  credential: string;
  /** Talk to the server over TCP instead of UDP (the relay itself stays UDP, as in browsers). */
  tcp?: boolean;
  /** A command prefix, e.g. `["ip", "netns", "exec", "ns1"]`, to run the client in a namespace. */
  wrap?: string[];
  /** Kill the client if it runs longer than this. Default 30 000 ms. */
  timeoutMs?: number;
}

/** What `turnutils_uclient` reported. */
export interface AllocateResult {
  /** True when the client exited 0 and got at least one relayed address. */
  ok: boolean;
  /** The client's exit code. */
  code: number;
  /** Relayed transport addresses the server handed out. */
  relayAddresses: string[];
  /** Everything the client printed, for failure messages. */
  output: string;
}

/**
 * Allocates with coturn's own client, two peers relaying to each other
 * (`-y`), so a success means Allocate, Refresh, ChannelBind and relayed data
 * all passed authentication.
 */
export async function tryAllocate(options: AllocateOptions): Promise<AllocateResult> {
  const uclient = await findExecutable("turnutils_uclient");
  const args = [
    "-v",
    "-y",
    ...(options.tcp ? ["-t"] : []),
    ["-n", "1"],
    ["-m", "1"],
    ["-z", "1"],
    ["-p", String(options.port)],
    ["-u", options.username],
    ["-w", options.credential],
    options.host,
  ].flat();
  const wrap = options.wrap ?? [];
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 30_000);
  try {
    const out = await new Deno.Command(wrap.length ? wrap[0] : uclient, {
      args: [...wrap.slice(1), ...(wrap.length ? [uclient] : []), ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    const relayAddresses = [...output.matchAll(/Received relay addr: (\S+)/g)].map((m) => m[1]);
    const ok = out.code === 0 && relayAddresses.length > 0 && !output.includes("Cannot complete Allocation");
    return { ok, code: out.code, relayAddresses, output };
  } finally {
    clearTimeout(timer);
  }
}
