/**
 * WebKitGTK, Safari's engine (WebCore and JavaScriptCore), driven over classic
 * WebDriver: Xvfb on a display it picks itself, WebKitWebDriver on a free
 * loopback port, MiniBrowser as the browser, npm `selenium-webdriver` as the
 * client. Xvfb and WebKitWebDriver (with the MiniBrowser and web processes it
 * starts) each run in a process group of their own, and `close()` stops both
 * and checks that the display's lock and socket are gone. A missing piece fails
 * the test loudly with the command that installs it: it is never skipped.
 * @module
 */
// @ts-types="@types/selenium-webdriver"
import { Builder, type WebDriver } from "selenium-webdriver";
import { ProcessGroup } from "./process_group.ts";

/** WebKitGTK's WebDriver server (Debian's `webkit2gtk-driver`). */
export const WEBKIT_DRIVER_PATH = Deno.env.get("WEBKIT_DRIVER_PATH") ?? "/usr/bin/WebKitWebDriver";
/** WebKitGTK's small browser, which WebKitWebDriver automates (Debian's `libwebkit2gtk-4.1-0`). */
export const MINIBROWSER_PATH = Deno.env.get("MINIBROWSER_PATH") ??
  "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
/** The virtual X server: MiniBrowser needs a display even when headless. */
export const XVFB_PATH = Deno.env.get("XVFB_PATH") ?? "/usr/bin/Xvfb";
/** The apt command that installs what this driver needs. */
export const WEBKIT_INSTALL = "apt-get install -y webkit2gtk-driver xvfb";

/** Options of {@link launchWebKit}. */
export interface WebKitOptions {
  /** Extra MiniBrowser arguments. */
  args?: string[];
  /** How long Xvfb and WebKitWebDriver may take to come up. Default 30 000 ms. */
  startTimeoutMs?: number;
}

/** A running WebKit: the WebDriver session, and `close()` (or `await using`) that stops everything it started. */
export interface WebKit extends AsyncDisposable {
  /** The selenium session on MiniBrowser. */
  readonly driver: WebDriver;
  /** The X display, e.g. `:3`. */
  readonly display: string;
  /** Ends the session, stops WebKitWebDriver (and its browser processes) and Xvfb, and checks what they left. */
  close(): Promise<void>;
}

/** Launches MiniBrowser under Xvfb through WebKitWebDriver, or throws with the install command when one is missing. */
export async function launchWebKit(options: WebKitOptions = {}): Promise<WebKit> {
  for (const path of [WEBKIT_DRIVER_PATH, MINIBROWSER_PATH, XVFB_PATH]) {
    await Deno.stat(path).catch(() => {
      throw new Error(
        `${path} is missing. Install WebKitGTK's driver and Xvfb with \`${WEBKIT_INSTALL}\` ` +
          "(`npx -y deno@2 task test` does, as root).",
      );
    });
  }
  const timeout = options.startTimeoutMs ?? 30_000;
  const xvfb = ProcessGroup.spawn([XVFB_PATH, "-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "1280x800x24"]);
  let server: ProcessGroup | undefined;
  let driver: WebDriver | undefined;
  let display = "";
  const stop = async () => {
    if (driver) {
      const quit = driver.quit().catch(() => {});
      await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    }
    await server?.stop();
    await xvfb.stop();
    if (display) await removeDisplayLeftovers(display, xvfb.pid);
  };
  try {
    display = `:${(await xvfb.waitForLine(/^(\d+)$/, timeout))[1]}`;
    const port = freePort();
    server = ProcessGroup.spawn([WEBKIT_DRIVER_PATH, `--port=${port}`, "--host=127.0.0.1"], {
      // No accessibility bus: it would start D-Bus daemons that outlive the browser.
      env: { DISPLAY: display, NO_AT_BRIDGE: "1", GTK_A11Y: "none", WEBKIT_DISABLE_COMPOSITING_MODE: "1" },
    });
    const url = `http://127.0.0.1:${port}`;
    await waitForStatus(url, server, timeout);
    driver = await new Builder().usingServer(url).withCapabilities({
      browserName: "MiniBrowser",
      "webkitgtk:browserOptions": { binary: MINIBROWSER_PATH, args: ["--automation", ...(options.args ?? [])] },
    }).build();
  } catch (error) {
    await stop();
    throw error;
  }
  const session = driver;
  return { driver: session, display, close: stop, [Symbol.asyncDispose]: stop };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function waitForStatus(url: string, server: ProcessGroup, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.exited) throw new Error(`WebKitWebDriver exited (${server.exited.code}):\n${server.output}`);
    const ready = await fetch(`${url}/status`).then(async (response) => {
      await response.body?.cancel();
      return response.ok;
    }, () => false);
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`WebKitWebDriver did not answer on ${url} in time:\n${server.output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Xvfb removes its lock file and socket on SIGTERM; after a SIGKILL they stay. Removes them only when the lock still
 * names our (now dead) server, so another run's display is never touched.
 */
async function removeDisplayLeftovers(display: string, pid: number): Promise<void> {
  const n = display.slice(1);
  const lock = await Deno.readTextFile(`/tmp/.X${n}-lock`).catch(() => "");
  if (Number(lock.trim()) !== pid) return;
  for (const path of [`/tmp/.X${n}-lock`, `/tmp/.X11-unix/X${n}`]) {
    await Deno.remove(path).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}
