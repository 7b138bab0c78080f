/**
 * Runs the lab's system commands (`ip`, `nft`, `iptables`, `ping`...) with
 * their output captured, so a failing command fails the test with what it
 * printed instead of a bare exit code.
 * @module
 */

/** What a finished command printed and returned. */
export interface RunResult {
  /** The exit code. */
  code: number;
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/** Options of {@link run} and {@link runSync}. */
export interface RunOptions {
  /** Text fed to stdin (e.g. an `nft -f -` script). Default: none. */
  stdin?: string;
  /** Return a non-zero exit instead of throwing. Default false: a failing command is a failing test. */
  allowFailure?: boolean;
}

const decoder = new TextDecoder();

function check(argv: readonly string[], result: RunResult, options: RunOptions): RunResult {
  if (result.code !== 0 && !options.allowFailure) {
    const input = options.stdin ? `\n--- stdin ---\n${options.stdin}` : "";
    throw new Error(`\`${argv.join(" ")}\` exited ${result.code}: ${(result.stderr || result.stdout).trim()}${input}`);
  }
  return result;
}

/** Runs `argv` to completion and returns its output; throws on a non-zero exit unless allowed. */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  return check(
    argv,
    { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) },
    options,
  );
}

/** The blocking twin of {@link run}, for `unload` and signal handlers, which cannot await. */
export function runSync(argv: readonly string[], options: RunOptions = {}): RunResult {
  if (options.stdin !== undefined) throw new Error("runSync does not take stdin");
  const out = new Deno.Command(argv[0], { args: argv.slice(1), stdin: "null", stdout: "piped", stderr: "piped" })
    .outputSync();
  return check(
    argv,
    { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) },
    options,
  );
}

/** `argv` prefixed so it runs inside network namespace `ns`. */
export function inNs(ns: string, argv: readonly string[]): string[] {
  return ["ip", "netns", "exec", ns, ...argv];
}

/** Resolves after `ms`; the timer is cleared when it fires, so tests leak nothing. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends `signal` to a child; a child that already exited (Deno throws TypeError) is fine, anything else throws. */
export function killChild(child: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM"): void {
  try {
    child.kill(signal);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
}
