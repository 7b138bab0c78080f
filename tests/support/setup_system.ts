/**
 * The first step of `deno task test`: makes sure the Debian packages the
 * suite needs are installed. It asks dpkg first, so with everything present it
 * costs a fraction of a second. As root it installs what is missing with
 * apt-get; anyone else gets the one command to run, and the task stops there.
 *
 * Usage: `deno run --allow-run --allow-env --allow-sys=uid tests/support/setup_system.ts`
 * @module
 */

/** A Debian package the tests need, and what for. */
export interface SystemPackage {
  /** The package name, as apt-get takes it. */
  name: string;
  /** Which tests need it. */
  why: string;
}

/** Every Debian package the suite needs. */
export const SYSTEM_PACKAGES: readonly SystemPackage[] = [
  { name: "chromium", why: "browser tests" },
  { name: "firefox-esr", why: "Firefox tests (puppeteer-core over WebDriver BiDi)" },
  { name: "webkit2gtk-driver", why: "WebKit tests: WebKitWebDriver and MiniBrowser, Safari's engine" },
  { name: "xvfb", why: "the display MiniBrowser needs" },
  { name: "libgl1-mesa-dri", why: "WebKitGTK's rendering under Xvfb" },
  { name: "util-linux", why: "setsid: each browser in a process group of its own" },
  { name: "coturn", why: "TURN tests" },
  { name: "iproute2", why: "network lab: namespaces and veth links" },
  { name: "iptables", why: "network lab: packet loss" },
  { name: "nftables", why: "network lab: blocked UDP, cut links, NAT" },
  { name: "iputils-ping", why: "network lab: round-trip checks" },
  { name: "gcc", why: "network lab: builds its packet delay tool" },
  { name: "libc6-dev", why: "network lab: builds its packet delay tool" },
  { name: "libnetfilter-queue-dev", why: "network lab: the delay tool's NFQUEUE library" },
];

/** The `dpkg-query` call whose output {@link missingPackages} reads. */
export function dpkgQuery(names: readonly string[]): string[] {
  return ["dpkg-query", "--show", "--showformat=${Package}\\t${db:Status-Status}\\n", ...names];
}

/** The names among `names` that `dpkg-query` output does not list as installed. */
export function missingPackages(names: readonly string[], dpkgOutput: string): string[] {
  const installed = new Set(
    dpkgOutput.split("\n").map((line) => line.split("\t")).filter(([, status]) => status === "installed")
      .map(([name]) => name.split(":")[0]),
  );
  return names.filter((name) => !installed.has(name));
}

/** The single command that installs `missing` on a fresh machine (lists first), for someone who is not root. */
export function installCommand(missing: readonly string[]): string {
  return `sudo sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${
    missing.join(" ")
  }'`;
}

async function missingNow(names: readonly string[]): Promise<string[]> {
  const [command, ...args] = dpkgQuery(names);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, { args, stdout: "piped", stderr: "null" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`dpkg-query is missing: the tests need Debian (or Ubuntu) with ${names.join(" ")}`);
    }
    throw error;
  }
  // dpkg-query exits 1 when a package was never installed; the output still lists the others.
  return missingPackages(names, new TextDecoder().decode(output.stdout));
}

async function aptGet(args: string[]): Promise<void> {
  console.log(`setup: apt-get ${args.join(" ")}`);
  const { success, code } = await new Deno.Command("apt-get", {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!success) throw new Error(`apt-get ${args[0]} failed (exit ${code})`);
}

/** Checks, installs as root, or stops with the command; returns the process exit code. */
export async function setupSystem(): Promise<number> {
  const names = SYSTEM_PACKAGES.map((p) => p.name);
  const missing = await missingNow(names);
  if (missing.length === 0) return 0;
  const reasons = SYSTEM_PACKAGES.filter((p) => missing.includes(p.name)).map((p) => `  ${p.name}: ${p.why}`);
  console.log(`setup: missing Debian packages:\n${reasons.join("\n")}`);
  if (Deno.uid() !== 0) {
    console.error(
      `setup: only root can install them. Run this, then the tests again:\n\n  ${installCommand(missing)}\n`,
    );
    return 1;
  }
  await aptGet(["update", "-qq"]);
  await aptGet(["install", "-y", "-qq", "--no-install-recommends", ...missing]);
  const still = await missingNow(names);
  if (still.length) {
    console.error(`setup: still missing after apt-get: ${still.join(" ")}`);
    return 1;
  }
  console.log(`setup: installed ${missing.join(" ")}`);
  return 0;
}

if (import.meta.main) Deno.exit(await setupSystem());
