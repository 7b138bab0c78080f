/**
 * Headless Firefox ESR from Debian's `firefox-esr` package, driven by
 * `puppeteer-core` over WebDriver BiDi. Firefox is started here (not by
 * puppeteer's launcher) in a process group of its own, with a fresh profile
 * holding puppeteer's quiet defaults plus ours, so it can also run inside a
 * network namespace: the BiDi socket then lives on the namespace's loopback,
 * and a small bridge process in the namespace carries it over stdio. A
 * missing browser fails the test loudly: it is never skipped.
 * @module
 */
import { Browser as BrowserKind, createProfile } from "@puppeteer/browsers";
import puppeteer, { type Browser, type ConnectionTransport } from "puppeteer-core";
import { ProcessGroup } from "./process_group.ts";

/** Where Debian installs the real Firefox ESR binary (`/usr/bin/firefox-esr` is a wrapper script). */
export const FIREFOX_PATH = Deno.env.get("FIREFOX_PATH") ?? "/usr/lib/firefox-esr/firefox-esr";

/** The apt command that installs what this driver needs. */
export const FIREFOX_INSTALL = "apt-get install -y firefox-esr";

/**
 * Preferences on top of puppeteer's defaults (which keep Firefox off the network: no updates, telemetry or
 * safe-browsing lists). Host candidates are real addresses, not mDNS names, as Chromium's
 * `WebRtcHideLocalIpsWithMdns` is off in the lab: its links carry no multicast.
 */
export const FIREFOX_PREFS: Readonly<Record<string, unknown>> = {
  "remote.active-protocols": 1,
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  "browser.shell.checkDefaultBrowser": false,
  "datareporting.policy.dataSubmissionEnabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "dom.push.connection.enabled": false,
  // Remote settings (firefox.settings.services.mozilla.com, seen on the wire without this) and DNS prefetch of
  // links' hosts: nothing may leave the machine. Port 9 on loopback refuses at once.
  "services.settings.server": "http://127.0.0.1:9/v1",
  "network.dns.disablePrefetch": true,
};

const LISTENING = /^WebDriver BiDi listening on (ws:\/\/127\.0\.0\.1:\d+)/;
const BRIDGE = new URL("./_bidi_bridge.ts", import.meta.url).pathname;

/** Options of {@link launchFirefox}. */
export interface FirefoxOptions {
  /** Run Firefox inside this network namespace (`ip netns exec`, needs root). */
  netns?: string;
  /** Extra preferences, e.g. `{"media.peerconnection.enabled": false}` for a relay-only browser. */
  prefs?: Record<string, unknown>;
  /** Plain-HTTP hosts to treat as secure contexts (WebCrypto needs one), e.g. `["10.77.0.1"]`. */
  secureHosts?: string[];
  /** How long Firefox may take to open its BiDi port. Default 60 000 ms (a loaded 2-core machine). */
  startTimeoutMs?: number;
}

/** A running Firefox: puppeteer's `browser`, and `close()` (or `await using`) that stops every process it started. */
export interface Firefox extends AsyncDisposable {
  /** The puppeteer browser, connected over WebDriver BiDi. */
  readonly browser: Browser;
  /** Firefox's main process id (also its process group). */
  readonly pid: number;
  /** Closes the browser, stops its processes and the bridge, and removes the profile. */
  close(): Promise<void>;
}

/** Launches headless Firefox ESR, or throws with the install command when it is missing. */
export async function launchFirefox(options: FirefoxOptions = {}): Promise<Firefox> {
  await Deno.stat(FIREFOX_PATH).catch(() => {
    throw new Error(
      `Firefox ESR not found at ${FIREFOX_PATH}. Install it with \`${FIREFOX_INSTALL}\` ` +
        "(`npx -y deno@2 task test` does, as root) or set FIREFOX_PATH.",
    );
  });
  const profile = await Deno.makeTempDir({ prefix: "parley-firefox-" });
  const preferences: Record<string, unknown> = { ...FIREFOX_PREFS, ...options.prefs };
  if (options.secureHosts?.length) preferences["dom.securecontext.allowlist"] = options.secureHosts.join(",");
  await createProfile(BrowserKind.FIREFOX, { path: profile, preferences });

  // Firefox writes some files to the system temp dir (a remote-settings bundle): keep them in the profile, removed at stop.
  await Deno.mkdir(`${profile}/tmp`);
  const wrap = options.netns ? ["ip", "netns", "exec", options.netns] : [];
  const group = ProcessGroup.spawn(
    [...wrap, FIREFOX_PATH, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port=0"],
    // Release builds take `services.settings.server` (see FIREFOX_PREFS) only with MOZ_REMOTE_SETTINGS_DEVTOOLS.
    { env: { MOZ_CRASHREPORTER_DISABLE: "1", MOZ_REMOTE_SETTINGS_DEVTOOLS: "1", TMPDIR: `${profile}/tmp` } },
  );
  let bridge: Deno.ChildProcess | undefined;
  let browser: Browser | undefined;
  const stop = async () => {
    if (browser?.connected) {
      await Promise.race([browser.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 5_000))]);
    }
    await group.stop();
    if (bridge) {
      try {
        bridge.kill("SIGKILL");
      } catch { /* it already ended with the browser */ }
      await bridge.status;
    }
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  try {
    const [, endpoint] = await group.waitForLine(LISTENING, options.startTimeoutMs ?? 60_000);
    if (options.netns) {
      bridge = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          options.netns,
          Deno.execPath(),
          "run",
          "--no-config",
          "--allow-net=127.0.0.1",
          BRIDGE,
          `${endpoint}/session`,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      browser = await puppeteer.connect({
        transport: new StdioTransport(bridge),
        protocol: "webDriverBiDi",
        defaultViewport: null,
      });
    } else {
      browser = await puppeteer.connect({
        browserWSEndpoint: `${endpoint}/session`,
        protocol: "webDriverBiDi",
        defaultViewport: null,
      });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const connected = browser;
  return {
    browser: connected,
    pid: group.pid,
    close: stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Puppeteer's transport over a bridge process's stdio: one JSON string literal per line. */
class StdioTransport implements ConnectionTransport {
  /** Set by puppeteer: called with each message from the browser. */
  onmessage?: (message: string) => void;
  /** Set by puppeteer: called once when the bridge ends. */
  onclose?: () => void;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #child: Deno.ChildProcess;
  #encoder = new TextEncoder();

  /** Starts reading the bridge's stdout. */
  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#read();
  }

  async #read(): Promise<void> {
    let partial = "";
    try {
      for await (const text of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
        const lines = (partial + text).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) if (line) this.onmessage?.(JSON.parse(line) as string);
      }
    } finally {
      this.onclose?.();
    }
  }

  /** Sends one message to the browser. */
  send(message: string): void {
    this.#writer.write(this.#encoder.encode(JSON.stringify(message) + "\n")).catch(() => {});
  }

  /** Ends the bridge. */
  close(): void {
    this.#writer.close().catch(() => {});
  }
}
