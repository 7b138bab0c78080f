/**
 * A helper process (a browser, a WebDriver server, Xvfb) started in a session
 * of its own (`setsid`), so stopping it stops everything it started too: a
 * browser's content processes, MiniBrowser under WebKitWebDriver. Its output is
 * kept for failure messages and can be waited on line by line. Every group
 * still running is killed when the test process unloads or gets a signal.
 * @module
 */

/** Options of {@link ProcessGroup.spawn}. */
export interface ProcessGroupOptions {
  /** Environment added to this process's. */
  env?: Record<string, string>;
  /** How many output lines to keep. Default 500. */
  maxLines?: number;
}

const LIVE = new Set<ProcessGroup>();
const SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
let handlersInstalled = false;

function killAllSync(): void {
  for (const group of [...LIVE]) group.killSync();
}

const SIGNAL_HANDLERS = new Map(SIGNALS.map((signal) => [signal, () => {
  killAllSync();
  Deno.exit(signal === "SIGINT" ? 130 : 143);
}]));

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  globalThis.addEventListener("unload", killAllSync);
  for (const [signal, handler] of SIGNAL_HANDLERS) Deno.addSignalListener(signal, handler);
}

/** Forgets a group that is gone; with none left, the handlers go too (they would keep the test process alive). */
function forget(group: ProcessGroup): void {
  LIVE.delete(group);
  if (!handlersInstalled || LIVE.size > 0) return;
  handlersInstalled = false;
  globalThis.removeEventListener("unload", killAllSync);
  for (const [signal, handler] of SIGNAL_HANDLERS) Deno.removeSignalListener(signal, handler);
}

/** Process ids whose process group is `pgid` and that have not exited (zombies count as gone). */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    } catch {
      continue; // it exited while we looked
    }
    // Fields after the command name: state ppid pgrp ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z" && state !== "X") members.push(Number(entry.name));
  }
  return members;
}

function signalGroup(pgid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pgid, signal);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error; // ESRCH: nobody left
  }
}

/** A running process group; see the module doc. */
export class ProcessGroup {
  /** The leader's process id, which is also the group id. */
  readonly pid: number;
  /** What was run, for messages. */
  readonly name: string;
  /** Resolves when the leader exits. */
  readonly status: Promise<Deno.CommandStatus>;
  #lines: string[] = [];
  #maxLines: number;
  #waiters = new Set<() => void>();
  #drained: Promise<unknown>;
  #exited: Deno.CommandStatus | null = null;

  private constructor(child: Deno.ChildProcess, name: string, maxLines: number) {
    this.pid = child.pid;
    this.name = name;
    this.#maxLines = maxLines;
    this.status = child.status.then((status) => {
      this.#exited = status;
      this.#wake();
      return status;
    });
    this.#drained = Promise.all([this.#collect(child.stdout), this.#collect(child.stderr)]);
  }

  /** Starts `argv` through `setsid` (util-linux), with stdout and stderr collected. */
  static spawn(argv: readonly string[], options: ProcessGroupOptions = {}): ProcessGroup {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("setsid", {
        args: [...argv],
        env: options.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error("`setsid` is missing: apt-get install -y util-linux");
      }
      throw error;
    }
    const group = new ProcessGroup(child, argv.join(" "), options.maxLines ?? 500);
    LIVE.add(group);
    installHandlers();
    group.status.then(() => {
      if (groupMembers(group.pid).length === 0) forget(group);
    });
    return group;
  }

  async #collect(stream: ReadableStream<Uint8Array<ArrayBuffer>>): Promise<void> {
    let partial = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      this.#lines.push(...lines);
      if (this.#lines.length > this.#maxLines) this.#lines.splice(0, this.#lines.length - this.#maxLines);
      this.#wake();
    }
    if (partial) this.#lines.push(partial);
    this.#wake();
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** The exit status once the leader exited, else null. */
  get exited(): Deno.CommandStatus | null {
    return this.#exited;
  }

  /** The last lines it printed (stdout and stderr interleaved). */
  get output(): string {
    return this.#lines.join("\n");
  }

  /**
   * Waits for an output line matching `pattern` (kept lines count too) and returns its match; throws with the
   * output when the leader exits first or `timeoutMs` passes.
   */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined = undefined;
      const check = () => {
        for (const line of this.#lines) {
          const match = line.match(pattern);
          if (match) return done(() => resolve(match));
        }
        if (this.#exited) {
          done(() => reject(new Error(`${this.name} exited (${this.#exited!.code}):\n${this.output}`)));
        }
      };
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      timer = setTimeout(
        () => done(() => reject(new Error(`${this.name} printed no ${pattern} in ${timeoutMs} ms:\n${this.output}`))),
        timeoutMs,
      );
      this.#waiters.add(check);
      check();
    });
  }

  /**
   * Stops the whole group: SIGTERM, then SIGKILL for whatever is left after `graceMs`, then waits until no member
   * remains and the output is read.
   */
  async stop(graceMs = 3_000): Promise<void> {
    signalGroup(this.pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (groupMembers(this.pid).length > 0 && Date.now() < deadline) await pause(50);
    for (let round = 0; groupMembers(this.pid).length > 0; round++) {
      if (round > 100) throw new Error(`${this.name}: processes ${groupMembers(this.pid)} survived SIGKILL`);
      signalGroup(this.pid, "SIGKILL");
      await pause(50);
    }
    await this.status;
    await this.#drained;
    forget(this);
  }

  /** Kills the group at once without waiting (unload and signal handlers). */
  killSync(): void {
    signalGroup(this.pid, "SIGKILL");
    forget(this);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
