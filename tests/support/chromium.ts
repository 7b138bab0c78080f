/**
 * Headless Chromium from Debian's `chromium` package, driven by
 * `playwright-core`. A missing browser fails the test loudly: it is never skipped.
 * @module
 */
import { type Browser, chromium, type LaunchOptions } from "playwright-core";

/** Where Debian installs the real Chromium binary (`/usr/bin/chromium` is a wrapper script). */
export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ?? "/usr/lib/chromium/chromium";

/** Flags that keep Chromium quiet and local on a machine without internet. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Chromium still looks up Google's hosts for its own services (update.googleapis.com, accounts.google.com,
  // content-autofill.googleapis.com, redirector.gvt1.com: seen on the wire with the flags above). Those names never
  // resolve here, so no query leaves the machine; loopback and the lab's addresses are IP literals, which no rule touches.
  "--host-resolver-rules=MAP *.googleapis.com ~NOTFOUND, MAP *.google.com ~NOTFOUND, MAP *.gstatic.com ~NOTFOUND, " +
  "MAP *.gvt1.com ~NOTFOUND",
];

/** Options of `launchChromium`. */
export interface ChromiumOptions {
  /** An `executablePath` wrapper, e.g. one that runs Chromium in a network namespace. */
  executablePath?: string;
  /** Extra command-line flags. */
  args?: string[];
}

/** Launches headless Chromium, or throws with the install command when it is missing. */
export async function launchChromium(options: ChromiumOptions = {}): Promise<Browser> {
  const executablePath = options.executablePath ?? CHROMIUM_PATH;
  try {
    await Deno.stat(executablePath);
  } catch {
    throw new Error(
      `Chromium not found at ${executablePath}. Install it with \`apt-get install -y chromium\` ` +
        "(.ci/run does) or set CHROMIUM_PATH.",
    );
  }
  const launch: LaunchOptions = {
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  };
  return await chromium.launch(launch);
}
